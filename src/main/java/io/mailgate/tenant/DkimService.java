package io.mailgate.tenant;

import io.mailgate.error.InvalidInputException;
import io.mailgate.error.NotFoundException;
import io.mailgate.error.UnprocessableException;
import io.mailgate.message.dkim.DkimAlgorithm;
import io.mailgate.message.dkim.DkimKeys;
import io.mailgate.store.DkimStore;
import io.mailgate.store.DkimStore.KeyRecord;
import io.mailgate.store.Ids;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Operator actions for DKIM: the domains a tenant owns (asserted by the operator; one tenant per domain) and the
 * tenant's signing keys for them, imported from PEM or generated. Private keys are sealed with the
 * {@link SecretBox} at once and never leave this class in any answer.
 */
public final class DkimService {

  private static final String LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
  /** A DNS name of at least two labels, the last not numeric (no IP addresses); lowercase ASCII (IDNs as xn--). */
  private static final Pattern DOMAIN = Pattern.compile("(?=.{1,253}$)(?:" + LABEL + "\\.)+(?=[a-z0-9-]*[a-z])" + LABEL);
  /** RFC 6376 3.1: a selector is one or more DNS labels. */
  private static final Pattern SELECTOR = Pattern.compile("(?=.{1,63}$)" + LABEL + "(?:\\." + LABEL + ")*");

  private final Vertx vertx;
  private final DkimStore store;
  private final SecretBox secrets;

  /** The most tenants whose domains are remembered; past it the memory starts again. */
  private static final int MAX_CACHED_TENANTS = 10_000;

  private record Owned(List<DkimStore.DomainRecord> domains, long until) {}

  private final long cacheNanos;
  private final java.util.concurrent.ConcurrentHashMap<UUID, Owned> owned = new java.util.concurrent.ConcurrentHashMap<>();

  public DkimService(Vertx vertx, DkimStore store, SecretBox secrets) {
    this(vertx, store, secrets, java.time.Duration.ZERO);
  }

  /**
   * @param domainsCacheTtl how long a tenant's domains are remembered for {@link #ownedDomains} (the Mailgun API checks
   *     the path's domain on every call; MAILGATE_AUTH_CACHE_TTL, like API keys): a change made through another
   *     process is seen within it, one made through this instance at once
   */
  public DkimService(Vertx vertx, DkimStore store, SecretBox secrets, java.time.Duration domainsCacheTtl) {
    this.cacheNanos = domainsCacheTtl.toNanos();
    this.vertx = vertx;
    this.store = store;
    this.secrets = secrets;
  }

  public Future<List<String>> domains(UUID tenantId) {
    return existing(tenantId).compose(x -> store.domains(tenantId));
  }

  /** The domains the tenant owns with the time each was added, for a caller already known to be the tenant. */
  public Future<List<DkimStore.DomainRecord>> ownedDomains(UUID tenantId) {
    long now = System.nanoTime();
    Owned o = owned.get(tenantId);
    if (o != null && now - o.until() < 0) {
      return Future.succeededFuture(o.domains());
    }
    return store.domainRecords(tenantId).onSuccess(list -> {
      if (cacheNanos > 0) {
        if (owned.size() >= MAX_CACHED_TENANTS) {
          owned.clear();
        }
        owned.put(tenantId, new Owned(List.copyOf(list), now + cacheNanos));
      }
    });
  }

  /** The tenant's DKIM keys (public parts), for a caller already known to be the tenant. */
  public Future<List<KeyRecord>> ownedKeys(UUID tenantId) {
    return store.keys(tenantId);
  }

  /**
   * Replaces the tenant's domains. A domain owned by another tenant answers 409 {@code domain_taken}; removing a
   * domain that still has DKIM keys answers 409 {@code domain_has_keys} (keys are never deleted implicitly).
   */
  public Future<List<String>> setDomains(UUID tenantId, List<Object> domains) {
    if (tenantId == null) {
      return Future.failedFuture(new NotFoundException("tenant"));
    }
    TreeSet<String> set = new TreeSet<>();
    try {
      for (int i = 0; i < domains.size(); i++) {
        set.add(domain(domains.get(i), "domains[" + i + "]"));
      }
    } catch (InvalidInputException e) {
      return Future.failedFuture(e);
    }
    owned.remove(tenantId);
    return store.replaceDomains(tenantId, List.copyOf(set)).onComplete(ar -> owned.remove(tenantId));
  }

  /**
   * Adds a key for one of the tenant's domains: {@code privateKeyPem} imported, or a new key generated when it is
   * null ({@code algorithm} defaults to rsa-sha256). Key work runs on a worker thread.
   */
  public Future<KeyRecord> addKey(UUID tenantId, String domainValue, String selectorValue, String algorithmValue,
                                  String privateKeyPem) {
    String domain;
    String selector;
    DkimAlgorithm requested;
    try {
      domain = domain(domainValue, "domain");
      selector = selector(selectorValue);
      requested = algorithm(algorithmValue);
    } catch (InvalidInputException e) {
      return existing(tenantId).compose(x -> Future.failedFuture(e));
    }
    return existing(tenantId)
        .compose(x -> store.domains(tenantId))
        .compose(owned -> owned.contains(domain) ? Future.succeededFuture() : Future.failedFuture(notOwned(domain)))
        .compose(x -> vertx.executeBlocking(() -> privateKeyPem == null
            ? DkimKeys.generate(requested == null ? DkimAlgorithm.RSA_SHA256 : requested)
            : DkimKeys.parsePem(privateKeyPem, requested), false))
        .compose(km -> {
          byte[] pkcs8 = km.pkcs8();
          byte[] sealed = secrets.seal(pkcs8);
          Arrays.fill(pkcs8, (byte) 0);
          return store.insertKey(Ids.newId(), tenantId, domain, selector, km.algorithm().tag(), sealed, km.publicKeyBase64());
        })
        .compose(r -> r.isPresent() ? Future.succeededFuture(r.get()) : Future.failedFuture(notOwned(domain)));
  }

  public Future<List<KeyRecord>> keys(UUID tenantId) {
    return existing(tenantId).compose(x -> store.keys(tenantId));
  }

  public Future<Void> deleteKey(UUID tenantId, UUID keyId) {
    return existing(tenantId)
        .compose(x -> keyId == null ? Future.succeededFuture(false) : store.deleteKey(tenantId, keyId))
        .compose(ok -> ok ? Future.succeededFuture() : Future.failedFuture(new NotFoundException("DKIM key")));
  }

  /** The DNS name where a key's record is published. */
  public static String dnsName(KeyRecord k) {
    return DkimKeys.dnsName(k.selector(), k.domain());
  }

  /** The TXT record to publish for a key. */
  public static String dnsRecord(KeyRecord k) {
    return DkimKeys.dnsRecord(DkimAlgorithm.byTag(k.algorithm()).orElseThrow(), k.publicKey());
  }

  private Future<Void> existing(UUID tenantId) {
    if (tenantId == null) {
      return Future.failedFuture(new NotFoundException("tenant"));
    }
    return store.tenantExists(tenantId).compose(ok -> ok ? Future.succeededFuture() : Future.failedFuture(new NotFoundException("tenant")));
  }

  /** A domain as stored: lowercase; a trailing dot is not accepted. */
  static String domain(Object value, String field) {
    if (value == null) {
      throw new InvalidInputException("missing_field", field + " is required", field);
    }
    if (!(value instanceof String s)) {
      throw new InvalidInputException("invalid_field", field + " must be a string", field);
    }
    String d = s.toLowerCase(Locale.ROOT);
    if (!DOMAIN.matcher(d).matches()) {
      throw new InvalidInputException("invalid_domain", field + " must be a domain name such as example.com (ASCII; IDNs as xn--)",
          field);
    }
    return d;
  }

  private static String selector(String value) {
    if (value == null) {
      throw new InvalidInputException("missing_field", "selector is required", "selector");
    }
    String s = value.toLowerCase(Locale.ROOT);
    if (!SELECTOR.matcher(s).matches()) {
      throw new InvalidInputException("invalid_field",
          "selector must be 1 to 63 characters of DNS labels (letters, digits, '-', separated by '.')", "selector");
    }
    return s;
  }

  private static DkimAlgorithm algorithm(String value) {
    if (value == null) {
      return null;
    }
    return DkimAlgorithm.byTag(value).orElseThrow(() ->
        new InvalidInputException("invalid_field", "algorithm must be rsa-sha256 or ed25519-sha256", "algorithm"));
  }

  private static UnprocessableException notOwned(String domain) {
    return new UnprocessableException("domain_not_owned",
        "domain " + domain + " is not one of the tenant's domains (PUT /v1/admin/tenants/{id}/domains)");
  }
}

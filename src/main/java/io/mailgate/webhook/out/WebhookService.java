package io.mailgate.webhook.out;

import io.mailgate.error.ConflictException;
import io.mailgate.error.InvalidInputException;
import io.mailgate.error.NotFoundException;
import io.mailgate.store.Ids;
import io.mailgate.store.WebhookStore;
import io.mailgate.store.WebhookStore.DeliveryRecord;
import io.mailgate.store.WebhookStore.WebhookRecord;
import io.mailgate.tenant.SecretBox;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/**
 * Registering a tenant's webhooks (checked: the format, the events, the URL against {@link UrlPolicy}, the bound per
 * tenant) and its signing key (random, sealed with {@link SecretBox}, shown only to its tenant). Both the native
 * API and the Mailgun API go through here.
 */
public final class WebhookService {

  /** Mailgun allows at most three URLs per domain and event. */
  public static final int MAX_MAILGUN_URLS = 3;

  private static final SecureRandom RANDOM = new SecureRandom();

  private final Vertx vertx;
  private final WebhookStore store;
  private final SecretBox secrets;
  private final UrlPolicy urls;
  private final int maxPerTenant;

  public WebhookService(Vertx vertx, WebhookStore store, SecretBox secrets, UrlPolicy urls, int maxPerTenant) {
    this.vertx = vertx;
    this.store = store;
    this.secrets = secrets;
    this.urls = urls;
    this.maxPerTenant = maxPerTenant;
  }

  public Future<List<WebhookRecord>> list(UUID tenant) {
    return store.list(tenant, null);
  }

  public Future<WebhookRecord> get(UUID tenant, UUID id) {
    return store.get(tenant, id).map(o -> o.orElseThrow(() -> new NotFoundException("webhook")));
  }

  /** A native webhook: one URL, our event types, a format. */
  public Future<WebhookRecord> create(UUID tenant, String url, List<String> events, String format) {
    List<String> names = WebhookEvents.nativeNames(events);
    String f = format(format);
    UUID id = Ids.newId();
    return checkedUrl(url, "url")
        .compose(u -> ensureKey(tenant).compose(k -> insert(tenant, id, null, u, f, names, WebhookEvents.matchKeys(names, false))))
        .compose(x -> get(tenant, id));
  }

  /** Changes a native webhook; null arguments keep what it has. A Mailgun domain's webhook keeps its event. */
  public Future<WebhookRecord> update(UUID tenant, UUID id, String url, List<String> events, String format) {
    return get(tenant, id).compose(w -> {
      boolean mailgun = w.domain() != null;
      if (mailgun && events != null) {
        throw new InvalidInputException("invalid_field", "the events of a webhook made through the Mailgun API are its"
            + " id there; change them with /v3/domains/{domain}/webhooks", "events");
      }
      List<String> names = events == null ? w.names() : WebhookEvents.nativeNames(events);
      String f = format == null ? w.format() : format(format);
      Future<String> u = url == null ? Future.succeededFuture(w.url()) : checkedUrl(url, "url");
      return u.compose(checked -> store.update(tenant, id, checked, f, names, WebhookEvents.matchKeys(names, mailgun)))
          .compose(found -> get(tenant, id));
    });
  }

  public Future<Void> delete(UUID tenant, UUID id) {
    return store.delete(tenant, id).compose(found -> found ? Future.<Void>succeededFuture()
        : Future.failedFuture(new NotFoundException("webhook")));
  }

  public Future<List<DeliveryRecord>> deliveries(UUID tenant, UUID id, String state, Long before, int limit) {
    return get(tenant, id).compose(w -> store.deliveries(tenant, id, state, before, limit));
  }

  // --- the Mailgun shape: per domain (checked by the caller) and Mailgun webhook id, up to three URLs

  /** A domain's webhooks, by their URL, for one Mailgun id or (null) all. */
  public Future<List<WebhookRecord>> domainHooks(UUID tenant, String domain, String name) {
    return store.list(tenant, domain).map(all -> all.stream().filter(w -> name == null || w.names().equals(List.of(name))).toList());
  }

  /** Mailgun's POST: the id must have no URLs yet. @return the URLs it has now */
  public Future<List<String>> createDomainHooks(UUID tenant, String domain, String name, List<String> given) {
    String id = mailgunId(name);
    return checkedUrls(given).compose(list -> domainHooks(tenant, domain, id).compose(existing -> {
      if (!existing.isEmpty()) {
        return Future.failedFuture(new ConflictException("webhook_exists", "Webhook already exists"));
      }
      return ensureKey(tenant).compose(k -> addDomainHooks(tenant, domain, id, list)).map(list);
    }));
  }

  /** Mailgun's PUT: the id's URLs become the given ones. @return them */
  public Future<List<String>> replaceDomainHooks(UUID tenant, String domain, String name, List<String> given) {
    String id = mailgunId(name);
    return checkedUrls(given).compose(list -> domainHooks(tenant, domain, id).compose(existing -> {
      if (existing.isEmpty()) {
        return Future.failedFuture(new NotFoundException("webhook"));
      }
      List<String> have = existing.stream().map(WebhookRecord::url).toList();
      List<String> added = list.stream().filter(u -> !have.contains(u)).toList();
      return store.deleteDomainHooks(tenant, domain, id, list)
          .compose(n -> addDomainHooks(tenant, domain, id, added)).map(list);
    }));
  }

  /** Mailgun's DELETE. @return the URLs it had */
  public Future<List<String>> deleteDomainHooks(UUID tenant, String domain, String name) {
    String id = mailgunId(name);
    return domainHooks(tenant, domain, id).compose(existing -> {
      if (existing.isEmpty()) {
        return Future.failedFuture(new NotFoundException("webhook"));
      }
      return store.deleteDomainHooks(tenant, domain, id, List.of()).map(n -> existing.stream().map(WebhookRecord::url).toList());
    });
  }

  private Future<Void> addDomainHooks(UUID tenant, String domain, String id, List<String> urls) {
    Future<Void> f = Future.succeededFuture();
    for (String u : urls) {
      f = f.compose(x -> insert(tenant, Ids.newId(), domain, u, "mailgun", List.of(id), WebhookEvents.matchKeys(List.of(id), true)));
    }
    return f;
  }

  /** A Mailgun webhook id, or a 400 that names the ids there are. */
  public static String mailgunId(String name) {
    String n = name == null ? "" : name.toLowerCase(Locale.ROOT);
    if (!WebhookEvents.MAILGUN.containsKey(n)) {
      throw new InvalidInputException("invalid_event_type", "Invalid webhook id: '"
          + io.mailgate.message.EmailAddress.printable(String.valueOf(name)) + "'; one of " + WebhookEvents.MAILGUN_IDS, "id");
    }
    return n;
  }

  // --- the signing key

  /** The tenant's signing key, made on first use. */
  public Future<String> signingKey(UUID tenant) {
    return ensureKey(tenant).map(sealed -> new String(secrets.open(sealed), StandardCharsets.UTF_8));
  }

  /** A new key: calls signed from now on (retries of earlier events too) carry signatures made with it. */
  public Future<String> rotateSigningKey(UUID tenant) {
    String key = newKey();
    return store.rotateSigningKey(tenant, secrets.seal(key.getBytes(StandardCharsets.UTF_8))).map(key);
  }

  private Future<byte[]> ensureKey(UUID tenant) {
    return store.signingKey(tenant).compose(k -> k.isPresent() ? Future.succeededFuture(k.get())
        : store.ensureSigningKey(tenant, secrets.seal(newKey().getBytes(StandardCharsets.UTF_8))));
  }

  /** 32 random bytes in hex: Mailgun's signing keys are hex strings too, used as the HMAC key as they are written. */
  private static String newKey() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  // --- checks

  private Future<Void> insert(UUID tenant, UUID id, String domain, String url, String format, List<String> names,
                              List<String> match) {
    return store.insert(tenant, id, domain, url, format, names, match, maxPerTenant).compose(ok -> ok
        ? Future.<Void>succeededFuture()
        : Future.failedFuture(new ConflictException("too_many_webhooks", "a tenant has at most " + maxPerTenant
            + " webhooks (MAILGATE_WEBHOOK_MAX_PER_TENANT)")));
  }

  private Future<String> checkedUrl(String url, String field) {
    try {
      UrlPolicy.Target t = urls.parse(url, field);
      return urls.resolve(vertx, t, field).map(r -> t.uri().toString());
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }

  private Future<List<String>> checkedUrls(List<String> given) {
    if (given.isEmpty()) {
      return Future.failedFuture(new InvalidInputException("missing_field", "url is required", "url"));
    }
    List<String> distinct = new ArrayList<>(new LinkedHashSet<>(given));
    if (distinct.size() > MAX_MAILGUN_URLS) {
      return Future.failedFuture(new InvalidInputException("too_many_items", "at most " + MAX_MAILGUN_URLS
          + " url per webhook", "url"));
    }
    List<Future<String>> checks = distinct.stream().map(u -> checkedUrl(u, "url")).toList();
    return Future.all(checks).map(x -> checks.stream().map(Future::result).toList());
  }

  private static String format(String f) {
    if (f == null) {
      return "mailgun";
    }
    if (!f.equals("mailgun") && !f.equals("native")) {
      throw new InvalidInputException("invalid_field", "format must be mailgun or native", "format");
    }
    return f;
  }
}

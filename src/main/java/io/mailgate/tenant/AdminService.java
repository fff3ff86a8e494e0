package io.mailgate.tenant;

import io.mailgate.backend.BackendType;
import io.mailgate.backend.BackendTypes;
import io.mailgate.error.InvalidInputException;
import io.mailgate.error.NotFoundException;
import io.mailgate.error.UnprocessableException;
import io.mailgate.store.BackendRecord;
import io.mailgate.store.BackendStore;
import io.mailgate.store.Ids;
import io.mailgate.store.TenantStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/** Operator actions: tenants with their API keys, backends with their sealed secrets, and routing a tenant to a backend. */
public final class AdminService {

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  /** A new tenant and its API key, which exists only in this value. */
  public record NewTenant(Tenant tenant, String apiKey) {}

  private final TenantStore tenants;
  private final BackendStore backends;
  private final BackendTypes types;
  private final SecretBox secrets;

  private final KeyCache keys;
  private final io.mailgate.events.Reputation.Thresholds thresholds;
  private volatile boolean unsubscribeAvailable;

  /**
   * {@code keyCacheTtl}: how long a tenant found by its API key is remembered (zero: not at all); {@code thresholds}:
   * the global reputation thresholds, which a tenant's own ones are checked against.
   */
  public AdminService(TenantStore tenants, BackendStore backends, BackendTypes types, SecretBox secrets,
                      java.time.Duration keyCacheTtl, io.mailgate.events.Reputation.Thresholds thresholds) {
    this.keys = new KeyCache(keyCacheTtl.toMillis(), 10_000);
    this.thresholds = thresholds;
    this.tenants = tenants;
    this.backends = backends;
    this.types = types;
    this.secrets = secrets;
  }

  /** Whether one-click unsubscribe can be turned on (MAILGATE_PUBLIC_URL is set); set once at start. */
  public AdminService unsubscribeAvailable(boolean available) {
    this.unsubscribeAvailable = available;
    return this;
  }

  public Future<NewTenant> createTenant(String name, String region) {
    return createTenant(name, region, new JsonObject());
  }

  /** @param policy optional {@code allowedRegions}, {@code maxRatePerSecond}, {@code maxConcurrentChunks}, {@code reputationThresholds} */
  public Future<NewTenant> createTenant(String name, String region, JsonObject policy) {
    try {
      checkName(name, "name");
      String r = Regions.parse(region, "region");
      TenantStore.Policy p = policy(policy, new TenantStore.Policy(List.of(), null, null));
      if (p.unsubscribeDefault() && !unsubscribeAvailable) {
        return Future.failedFuture(unsubscribeUnavailable("unsubscribeDefault"));
      }
      String key = ApiKeys.generate();
      return tenants.insert(Ids.newId(), name, r, ApiKeys.hash(key), p).map(t -> new NewTenant(t, key));
    } catch (InvalidInputException e) {
      return Future.failedFuture(e);
    }
  }

  /**
   * Changes a tenant's policy: the fields present replace the current ones ({@code null} clears a limit).
   * Narrowing the allowed regions does not touch the route; the dispatcher then defers what would leave them.
   */
  public Future<Tenant> updateTenant(UUID id, JsonObject patch) {
    for (String k : List.of("name", "region")) {
      if (patch.containsKey(k)) {
        // a tenant's residency region is what its routes were checked against: it cannot change under them
        return Future.failedFuture(new InvalidInputException("unknown_field",
            k + " cannot be changed (allowedRegions, maxRatePerSecond, maxConcurrentChunks, reputationThresholds,"
                + " unsubscribeDefault and unsubscribeMailto can)", k));
      }
    }
    return tenant(id).compose(t -> {
      TenantStore.Policy p = policy(patch, new TenantStore.Policy(t.allowedRegions(), t.maxRatePerSecond(), t.maxConcurrentChunks(),
          t.unsubscribeDefault(), t.unsubscribeMailto(), t.reputationThresholds()));
      if (p.unsubscribeDefault() && !t.unsubscribeDefault() && !unsubscribeAvailable) {
        return Future.failedFuture(unsubscribeUnavailable("unsubscribeDefault"));
      }
      keys.forget(id);
      return tenants.setPolicy(id, p);
    }).compose(ok -> tenant(id));
  }

  private TenantStore.Policy policy(JsonObject in, TenantStore.Policy current) {
    for (String k : in.fieldNames()) {
      if (!POLICY_FIELDS.contains(k)) {
        throw new InvalidInputException("unknown_field", "unknown field '" + k + "'", k);
      }
    }
    List<String> allowed = current.allowedRegions();
    if (in.containsKey("allowedRegions")) {
      Object v = in.getValue("allowedRegions");
      if (v == null) {
        allowed = List.of();
      } else if (v instanceof io.vertx.core.json.JsonArray a && a.size() <= 20) {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (Object o : a) {
          if (!(o instanceof String s)) {
            throw new InvalidInputException("invalid_field", "allowedRegions must be an array of region codes", "allowedRegions");
          }
          String r = Regions.parse(s, "allowedRegions");
          if (!out.contains(r)) {
            out.add(r);
          }
        }
        allowed = List.copyOf(out);
      } else {
        throw new InvalidInputException("invalid_field", "allowedRegions must be an array of at most 20 region codes", "allowedRegions");
      }
    }
    Double rate = current.maxRatePerSecond();
    if (in.containsKey("maxRatePerSecond")) {
      Object v = in.getValue("maxRatePerSecond");
      if (v != null && (!(v instanceof Number n) || n.doubleValue() <= 0 || n.doubleValue() > 1_000_000)) {
        throw new InvalidInputException("invalid_field", "maxRatePerSecond must be a number above 0 (or null)", "maxRatePerSecond");
      }
      rate = v == null ? null : ((Number) v).doubleValue();
    }
    Integer chunks = current.maxConcurrentChunks();
    if (in.containsKey("maxConcurrentChunks")) {
      Object v = in.getValue("maxConcurrentChunks");
      if (v != null && (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || n.intValue() < 1 || n.intValue() > 100_000)) {
        throw new InvalidInputException("invalid_field", "maxConcurrentChunks must be a whole number above 0 (or null)", "maxConcurrentChunks");
      }
      chunks = v == null ? null : ((Number) v).intValue();
    }
    JsonObject own = current.reputationThresholds();
    if (in.containsKey("reputationThresholds")) {
      own = thresholds.checkOverride(in.getValue("reputationThresholds"), "reputationThresholds");
    }
    boolean unsubscribe = current.unsubscribeDefault();
    if (in.containsKey("unsubscribeDefault")) {
      if (!(in.getValue("unsubscribeDefault") instanceof Boolean b)) {
        throw new InvalidInputException("invalid_field", "unsubscribeDefault must be true or false", "unsubscribeDefault");
      }
      unsubscribe = b;
    }
    String mailto = current.unsubscribeMailto();
    if (in.containsKey("unsubscribeMailto")) {
      Object v = in.getValue("unsubscribeMailto");
      if (v != null && !(v instanceof String)) {
        throw new InvalidInputException("invalid_field", "unsubscribeMailto must be an address (or null)", "unsubscribeMailto");
      }
      String problem = v == null ? null : io.mailgate.message.EmailAddress.problem((String) v);
      if (problem != null) {
        throw new InvalidInputException("invalid_address", "unsubscribeMailto: " + problem, "unsubscribeMailto");
      }
      mailto = (String) v;
      if (mailto != null) {
        // a mailto: URI in the List-Unsubscribe header: ASCII, an IDN domain as A-labels
        io.mailgate.message.EmailAddress a = io.mailgate.message.EmailAddress.parse(mailto, "unsubscribeMailto");
        if (a.utf8Local()) {
          throw new InvalidInputException("invalid_address", "unsubscribeMailto: an address with a UTF-8 local part"
              + " cannot go in the List-Unsubscribe header; give an ASCII address", "unsubscribeMailto");
        }
        mailto = a.asciiForm();
      }
    }
    return new TenantStore.Policy(allowed, rate, chunks, unsubscribe, mailto, own);
  }

  private static final List<String> POLICY_FIELDS = List.of("allowedRegions", "maxRatePerSecond", "maxConcurrentChunks",
      "reputationThresholds", "unsubscribeDefault", "unsubscribeMailto", "name", "region");

  /** One-click unsubscribe needs MAILGATE_PUBLIC_URL: the links must point somewhere. */
  public static UnprocessableException unsubscribeUnavailable(String field) {
    return new UnprocessableException("unsubscribe_unavailable",
        field + ": one-click unsubscribe needs MAILGATE_PUBLIC_URL, which is not set on this gateway");
  }

  /**
   * Lifts a tenant's hold (set by the reputation guard): its chunks are claimed again, and its reputation is judged
   * afresh on the mail sent from now on. Resuming a tenant that is not held changes nothing.
   */
  public Future<Tenant> resumeTenant(UUID id) {
    return tenants.resume(id).map(t -> t.orElseThrow(() -> new NotFoundException("tenant")));
  }

  public Future<Tenant> tenant(UUID id) {
    return id == null ? Future.failedFuture(new NotFoundException("tenant"))
        : tenants.get(id).map(t -> t.orElseThrow(() -> new NotFoundException("tenant")));
  }

  public Future<List<Tenant>> tenants(UUID after, int limit) {
    return tenants.list(after, limit);
  }

  public Future<Optional<Tenant>> authenticate(String apiKey) {
    if (apiKey == null || !apiKey.startsWith(ApiKeys.PREFIX) || apiKey.length() > 100) {
      return Future.succeededFuture(Optional.empty());
    }
    byte[] hash = ApiKeys.hash(apiKey);
    Optional<Tenant> cached = keys.get(hash);
    if (cached.isPresent()) {
      return Future.succeededFuture(cached);
    }
    return tenants.findByApiKeyHash(hash).onSuccess(t -> t.ifPresent(x -> keys.put(hash, x)));
  }

  /** Validates the settings for the type, seals the secret ones and stores the backend. */
  public Future<BackendRecord> createBackend(String name, String type, String region, JsonObject settings) {
    try {
      checkName(name, "name");
      BackendType t = types.get(type);
      String r = Regions.parse(region, "region");
      JsonObject all = settings == null ? new JsonObject() : settings;
      t.validate(all);
      checkProviderRegion(t, all, r);
      JsonObject visible = new JsonObject();
      JsonObject secret = new JsonObject();
      all.forEach(e -> (t.secretSettings().contains(e.getKey()) ? secret : visible).put(e.getKey(), e.getValue()));
      byte[] sealed = secret.isEmpty() ? null : secrets.seal(secret.encode().getBytes(StandardCharsets.UTF_8));
      return backends.insert(Ids.newId(), name, t.name(), r, visible, sealed);
    } catch (InvalidInputException e) {
      return Future.failedFuture(e);
    }
  }

  /**
   * Changes a backend's region and/or settings. Settings replace the old ones, except that secret settings left out
   * keep their stored values (so an operator can change a port without re-entering a password).
   */
  public Future<BackendRecord> updateBackend(UUID id, JsonObject patch) {
    for (String k : patch.fieldNames()) {
      if (!k.equals("region") && !k.equals("settings")) {
        return Future.failedFuture(new InvalidInputException("unknown_field", "unknown field '" + k + "' (region and settings can change)", k));
      }
    }
    return backend(id).compose(b -> {
      BackendType t = types.get(b.type());
      String region = patch.containsKey("region") ? Regions.parse(patch.getString("region"), "region") : b.region();
      JsonObject all = b.settings().copy();
      if (patch.containsKey("settings")) {
        if (!(patch.getValue("settings") instanceof JsonObject s)) {
          throw new InvalidInputException("invalid_field", "settings must be an object", "settings");
        }
        all = s.copy();
      }
      if (b.sealedSecrets() != null) {
        JsonObject old = new JsonObject(new String(secrets.open(b.sealedSecrets()), StandardCharsets.UTF_8));
        for (String k : old.fieldNames()) {
          if (!all.containsKey(k)) {
            all.put(k, old.getValue(k));
          }
        }
      }
      t.validate(all);
      checkProviderRegion(t, all, region);
      JsonObject visible = new JsonObject();
      JsonObject secret = new JsonObject();
      all.forEach(e -> (t.secretSettings().contains(e.getKey()) ? secret : visible).put(e.getKey(), e.getValue()));
      byte[] sealed = secret.isEmpty() ? null : secrets.seal(secret.encode().getBytes(StandardCharsets.UTF_8));
      return backends.update(id, region, visible, sealed).map(r -> r.orElseThrow(() -> new NotFoundException("backend")));
    });
  }

  /**
   * Fails with 422 {@code backend_cannot_send_message} when the tenant's route (primary or fallback) goes to a backend
   * that cannot send one message to several recipients as it is ({@link BackendType#cannotSendOneMessage()}).
   */
  public Future<Void> checkOneMessageRoute(UUID tenantId) {
    return tenant(tenantId).compose(t -> {
      List<UUID> route = new java.util.ArrayList<>();
      if (t.backendId() != null) {
        route.add(t.backendId());
      }
      if (t.fallbackId() != null) {
        route.add(t.fallbackId());
      }
      Future<Void> f = Future.succeededFuture();
      for (UUID id : route) {
        f = f.compose(v -> backends.get(id).compose(b -> {
          String why = b.isEmpty() ? null : types.get(b.get().type()).cannotSendOneMessage();
          return why == null ? Future.<Void>succeededFuture() : Future.<Void>failedFuture(new UnprocessableException(
              "backend_cannot_send_message", "this message goes to several recipients as one message (a shared message"
              + " or a whole MIME message), and the tenant's backend '" + b.get().name() + "' (" + b.get().type()
              + ") cannot send it: " + why));
        }));
      }
      return f;
    });
  }

  public Future<BackendRecord> backend(UUID id) {
    return id == null ? Future.failedFuture(new NotFoundException("backend"))
        : backends.get(id).map(b -> b.orElseThrow(() -> new NotFoundException("backend")));
  }

  public Future<List<BackendRecord>> backends(UUID after, int limit) {
    return backends.list(after, limit);
  }

  /** The names of the secret settings a backend has (never their values). */
  public List<String> secretNames(BackendRecord b) {
    if (b.sealedSecrets() == null) {
      return List.of();
    }
    return new JsonObject(new String(secrets.open(b.sealedSecrets()), StandardCharsets.UTF_8)).fieldNames().stream().sorted().toList();
  }

  /** Routes the tenant's mail to the named backend, without a fallback. */
  public Future<Tenant> setBackend(UUID tenantId, String backendName) {
    return setRoute(tenantId, backendName, null);
  }

  /**
   * Routes the tenant's mail to {@code backendName}, and to {@code fallbackName} (optional) while the primary is
   * unhealthy. Both must be in the tenant's region or one it allows: otherwise 422, and the route is unchanged.
   */
  public Future<Tenant> setRoute(UUID tenantId, String backendName, String fallbackName) {
    if (backendName == null || backendName.isBlank()) {
      return Future.failedFuture(new InvalidInputException("missing_field", "backend is required", "backend"));
    }
    if (backendName.equals(fallbackName)) {
      return Future.failedFuture(new InvalidInputException("invalid_field", "fallback must differ from backend", "fallback"));
    }
    return tenant(tenantId).compose(t -> named(backendName, "backend").compose(primary ->
            (fallbackName == null ? Future.<BackendRecord>succeededFuture(null) : named(fallbackName, "fallback"))
                .compose(fallback -> {
                  allowedFor(t, primary, "backend");
                  if (fallback != null) {
                    allowedFor(t, fallback, "fallback");
                  }
                  keys.forget(tenantId);
                  return tenants.setRoute(tenantId, primary.id(), fallback == null ? null : fallback.id());
                })))
        .compose(ok -> tenant(tenantId));
  }

  private Future<BackendRecord> named(String name, String field) {
    return backends.byName(name).compose(b -> b.isEmpty()
        ? Future.failedFuture(new InvalidInputException("unknown_backend", "no backend named '" + name + "'", field))
        : Future.succeededFuture(b.get()));
  }

  /** The declared residency region must be where the provider's settings send the mail. */
  private static void checkProviderRegion(BackendType t, JsonObject settings, String region) {
    t.providerRegion(settings).ifPresent(p -> {
      if (!p.equals(region)) {
        throw new UnprocessableException("region_mismatch", "the settings send mail to the provider's '" + p
            + "' region, but the backend is declared in region '" + region + "'");
      }
    });
  }

  /** Residency: an EU tenant is never routed through a US backend unless it allows the US region. */
  private static void allowedFor(Tenant t, BackendRecord b, String field) {
    if (!t.allows(b.region())) {
      throw new UnprocessableException("region_not_allowed", field + " '" + b.name() + "' is in region '" + b.region()
          + "', but tenant '" + t.name() + "' is in region '" + t.region() + "'"
          + (t.allowedRegions().isEmpty() ? " and allows no other" : " and allows only " + t.allowedRegions()));
    }
  }

  /** Deletes a tenant with its jobs, recipients, keys and domains; 409 while one of its jobs is not final. */
  public Future<Void> deleteTenant(UUID id) {
    keys.forget(id);
    return tenants.delete(id).compose(found -> found ? Future.<Void>succeededFuture() : Future.failedFuture(new NotFoundException("tenant")));
  }

  /** Deletes a backend; 409 while a tenant routes to it. */
  public Future<Void> deleteBackend(UUID id) {
    return backends.delete(id).compose(found -> found ? Future.<Void>succeededFuture() : Future.failedFuture(new NotFoundException("backend")));
  }

  public Future<Long> tenantCount() {
    return tenants.count();
  }

  /** The box that seals secrets at rest (DKIM keys are sealed with it too). */
  public SecretBox secrets() {
    return secrets;
  }

  private static void checkName(String name, String field) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new InvalidInputException(name == null ? "missing_field" : "invalid_field",
          field + " must be 1 to 64 letters, digits, '.', '_' or '-'", field);
    }
  }
}

package io.mailgate.tenant;

import io.mailgate.backend.BackendType;
import io.mailgate.backend.BackendTypes;
import io.mailgate.error.InvalidInputException;
import io.mailgate.error.NotFoundException;
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

  public AdminService(TenantStore tenants, BackendStore backends, BackendTypes types, SecretBox secrets) {
    this.tenants = tenants;
    this.backends = backends;
    this.types = types;
    this.secrets = secrets;
  }

  public Future<NewTenant> createTenant(String name, String region) {
    try {
      checkName(name, "name");
      String r = Regions.parse(region, "region");
      String key = ApiKeys.generate();
      return tenants.insert(Ids.newId(), name, r, ApiKeys.hash(key)).map(t -> new NewTenant(t, key));
    } catch (InvalidInputException e) {
      return Future.failedFuture(e);
    }
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
    return tenants.findByApiKeyHash(ApiKeys.hash(apiKey));
  }

  /** Validates the settings for the type, seals the secret ones and stores the backend. */
  public Future<BackendRecord> createBackend(String name, String type, String region, JsonObject settings) {
    try {
      checkName(name, "name");
      BackendType t = types.get(type);
      String r = Regions.parse(region, "region");
      JsonObject all = settings == null ? new JsonObject() : settings;
      t.validate(all);
      JsonObject visible = new JsonObject();
      JsonObject secret = new JsonObject();
      all.forEach(e -> (t.secretSettings().contains(e.getKey()) ? secret : visible).put(e.getKey(), e.getValue()));
      byte[] sealed = secret.isEmpty() ? null : secrets.seal(secret.encode().getBytes(StandardCharsets.UTF_8));
      return backends.insert(Ids.newId(), name, t.name(), r, visible, sealed);
    } catch (InvalidInputException e) {
      return Future.failedFuture(e);
    }
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

  /** Routes the tenant's mail to the named backend. */
  public Future<Tenant> setBackend(UUID tenantId, String backendName) {
    if (backendName == null || backendName.isBlank()) {
      return Future.failedFuture(new InvalidInputException("missing_field", "backend is required", "backend"));
    }
    return tenant(tenantId)
        .compose(t -> backends.byName(backendName))
        .compose(b -> b.isEmpty()
            ? Future.failedFuture(new InvalidInputException("unknown_backend", "no backend named '" + backendName + "'", "backend"))
            : tenants.setBackend(tenantId, b.get().id()))
        .compose(ok -> tenant(tenantId));
  }

  public Future<Long> tenantCount() {
    return tenants.count();
  }

  private static void checkName(String name, String field) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new InvalidInputException(name == null ? "missing_field" : "invalid_field",
          field + " must be 1 to 64 letters, digits, '.', '_' or '-'", field);
    }
  }
}

package io.mailgate.store;

import io.mailgate.error.ConflictException;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** SQL for backends. */
public final class BackendStore {

  private static final String SELECT = "SELECT id, name, type, region, settings, secrets, version, health, health_reason,"
      + " health_changed_at, created_at, updated_at FROM backends";

  private final Pool pool;

  public BackendStore(Pool pool) {
    this.pool = pool;
  }

  public Future<BackendRecord> insert(UUID id, String name, String type, String region, JsonObject settings, byte[] sealedSecrets) {
    return pool.preparedQuery("INSERT INTO backends (id, name, type, region, settings, secrets) VALUES ($1, $2, $3, $4, $5, $6)")
        .execute(Tuple.of(id, name, type, region, settings, sealedSecrets == null ? null : Buffer.buffer(sealedSecrets)))
        .recover(e -> SqlErrors.isUniqueViolation(e)
            ? Future.failedFuture(new ConflictException("backend_exists", "a backend named '" + name + "' already exists"))
            : Future.failedFuture(e))
        .compose(r -> get(id).map(Optional::orElseThrow));
  }

  public Future<Optional<BackendRecord>> get(UUID id) {
    return pool.preparedQuery(SELECT + " WHERE id = $1").execute(Tuple.of(id)).map(BackendStore::first);
  }

  public Future<Optional<BackendRecord>> byName(String name) {
    return pool.preparedQuery(SELECT + " WHERE name = $1").execute(Tuple.of(name)).map(BackendStore::first);
  }

  public Future<List<BackendRecord>> list(UUID after, int limit) {
    return pool.preparedQuery(SELECT + " WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2")
        .execute(Tuple.of(after, limit))
        .map(rows -> {
          List<BackendRecord> out = new ArrayList<>();
          rows.forEach(r -> out.add(map(r)));
          return out;
        });
  }

  /** New settings and/or region: a new version, which dispatchers pick up for new chunks; health starts over. */
  public Future<Optional<BackendRecord>> update(UUID id, String region, JsonObject settings, byte[] sealedSecrets) {
    return pool.preparedQuery("""
            UPDATE backends SET region = $2, settings = $3, secrets = $4, version = version + 1,
                                health = 'healthy', health_reason = NULL, health_changed_at = now(), updated_at = now()
            WHERE id = $1""")
        .execute(Tuple.of(id, region, settings, sealedSecrets == null ? null : Buffer.buffer(sealedSecrets)))
        .compose(r -> get(id));
  }

  /** What a dispatcher saw of the backend's health (circuit opened or closed, credentials refused). */
  /** Deletes a backend no tenant routes to. @return false if there is no such backend */
  public Future<Boolean> delete(UUID id) {
    return pool.withTransaction(c -> c.preparedQuery("""
            SELECT name FROM tenants WHERE backend_id = $1 OR fallback_backend_id = $1 ORDER BY name LIMIT 5""")
        .execute(Tuple.of(id))
        .compose(users -> {
          if (users.size() > 0) {
            List<String> names = new ArrayList<>();
            users.forEach(r -> names.add(r.getString(0)));
            return Future.failedFuture(new io.mailgate.error.ConflictException("backend_in_use",
                "tenants route to this backend: " + String.join(", ", names) + (users.size() == 5 ? ", ..." : "")));
          }
          return c.preparedQuery("DELETE FROM backends WHERE id = $1").execute(Tuple.of(id)).map(r -> r.rowCount() == 1);
        }));
  }

  public Future<Void> setHealth(UUID id, String health, String reason) {
    return pool.preparedQuery("""
            UPDATE backends SET health = $2, health_reason = $3, health_changed_at = now()
            WHERE id = $1 AND (health <> $2 OR health_reason IS DISTINCT FROM $3)""")
        .execute(Tuple.of(id, health, reason)).mapEmpty();
  }

  private static Optional<BackendRecord> first(RowSet<Row> rows) {
    var it = rows.iterator();
    return it.hasNext() ? Optional.of(map(it.next())) : Optional.empty();
  }

  private static BackendRecord map(Row r) {
    Buffer secrets = r.getBuffer("secrets");
    Object settings = r.getValue("settings");
    return new BackendRecord(r.getUUID("id"), r.getString("name"), r.getString("type"), r.getString("region"),
        settings instanceof JsonObject j ? j : new JsonObject(),
        secrets == null ? null : secrets.getBytes(), r.getInteger("version"), r.getString("health"),
        r.getString("health_reason"), r.getOffsetDateTime("health_changed_at"),
        r.getOffsetDateTime("created_at"), r.getOffsetDateTime("updated_at"));
  }
}

package io.mailgate.store;

import io.mailgate.error.ConflictException;
import io.mailgate.tenant.Tenant;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** SQL for tenants. */
public final class TenantStore {

  private static final String SELECT = """
      SELECT t.id, t.name, t.region, t.backend_id, b.name AS backend_name, t.created_at
      FROM tenants t LEFT JOIN backends b ON b.id = t.backend_id
      """;

  private final Pool pool;

  public TenantStore(Pool pool) {
    this.pool = pool;
  }

  public Future<Tenant> insert(UUID id, String name, String region, byte[] apiKeyHash) {
    return pool.preparedQuery("INSERT INTO tenants (id, name, region, api_key_hash) VALUES ($1, $2, $3, $4)")
        .execute(Tuple.of(id, name, region, Buffer.buffer(apiKeyHash)))
        .recover(e -> SqlErrors.isUniqueViolation(e)
            ? Future.failedFuture(new ConflictException("tenant_exists", "a tenant named '" + name + "' already exists"))
            : Future.failedFuture(e))
        .compose(r -> get(id).map(Optional::orElseThrow));
  }

  public Future<Optional<Tenant>> get(UUID id) {
    return pool.preparedQuery(SELECT + " WHERE t.id = $1").execute(Tuple.of(id)).map(TenantStore::first);
  }

  public Future<Optional<Tenant>> findByApiKeyHash(byte[] hash) {
    return pool.preparedQuery(SELECT + " WHERE t.api_key_hash = $1").execute(Tuple.of(Buffer.buffer(hash))).map(TenantStore::first);
  }

  public Future<List<Tenant>> list(UUID after, int limit) {
    return pool.preparedQuery(SELECT + " WHERE ($1::uuid IS NULL OR t.id > $1) ORDER BY t.id LIMIT $2")
        .execute(Tuple.of(after, limit))
        .map(rows -> {
          List<Tenant> out = new ArrayList<>();
          rows.forEach(r -> out.add(map(r)));
          return out;
        });
  }

  /** @return false if there is no such tenant */
  public Future<Boolean> setBackend(UUID tenantId, UUID backendId) {
    return pool.preparedQuery("UPDATE tenants SET backend_id = $2, updated_at = now() WHERE id = $1")
        .execute(Tuple.of(tenantId, backendId))
        .map(r -> r.rowCount() == 1);
  }

  public Future<Long> count() {
    return pool.query("SELECT count(*) FROM tenants").execute().map(r -> r.iterator().next().getLong(0));
  }

  private static Optional<Tenant> first(RowSet<Row> rows) {
    var it = rows.iterator();
    return it.hasNext() ? Optional.of(map(it.next())) : Optional.empty();
  }

  private static Tenant map(Row r) {
    return new Tenant(r.getUUID("id"), r.getString("name"), r.getString("region"), r.getUUID("backend_id"),
        r.getString("backend_name"), r.getOffsetDateTime("created_at"));
  }
}

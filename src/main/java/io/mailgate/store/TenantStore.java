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
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** SQL for tenants. */
public final class TenantStore {

  private static final String SELECT = """
      SELECT t.id, t.name, t.region, t.allowed_regions, t.backend_id, b.name AS backend_name,
             t.fallback_backend_id, f.name AS fallback_name, t.max_rate_per_second, t.max_concurrent_chunks, t.created_at,
             t.hold_reason, t.hold_detail, t.held_at, t.unsubscribe_default, t.unsubscribe_mailto, t.reputation_thresholds
      FROM tenants t LEFT JOIN backends b ON b.id = t.backend_id LEFT JOIN backends f ON f.id = t.fallback_backend_id
      """;

  private final Pool pool;

  public TenantStore(Pool pool) {
    this.pool = pool;
  }

  /**
   * A tenant's adjustable policy: other regions it allows, its limits (null: none), whether its jobs carry a one-click
   * unsubscribe unless they say otherwise, the mailto address of List-Unsubscribe (null: none), and its own reputation
   * thresholds (null: the global ones).
   */
  public record Policy(List<String> allowedRegions, Double maxRatePerSecond, Integer maxConcurrentChunks,
                       boolean unsubscribeDefault, String unsubscribeMailto, io.vertx.core.json.JsonObject reputationThresholds) {
    public Policy(List<String> allowedRegions, Double maxRatePerSecond, Integer maxConcurrentChunks) {
      this(allowedRegions, maxRatePerSecond, maxConcurrentChunks, false, null, null);
    }
  }

  public Future<Tenant> insert(UUID id, String name, String region, byte[] apiKeyHash, Policy policy) {
    return pool.preparedQuery("""
            INSERT INTO tenants (id, name, region, api_key_hash, allowed_regions, max_rate_per_second, max_concurrent_chunks,
                                 unsubscribe_default, unsubscribe_mailto, reputation_thresholds)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""")
        .execute(Tuple.tuple(java.util.Arrays.asList(id, name, region, Buffer.buffer(apiKeyHash),
            policy.allowedRegions().toArray(new String[0]), policy.maxRatePerSecond(), policy.maxConcurrentChunks(),
            policy.unsubscribeDefault(), policy.unsubscribeMailto(), policy.reputationThresholds())))
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

  /** Sets the route: a primary backend and an optional fallback. @return false if there is no such tenant */
  public Future<Boolean> setRoute(UUID tenantId, UUID backendId, UUID fallbackId) {
    return pool.preparedQuery("UPDATE tenants SET backend_id = $2, fallback_backend_id = $3, updated_at = now() WHERE id = $1")
        .execute(Tuple.of(tenantId, backendId, fallbackId))
        .map(r -> r.rowCount() == 1);
  }

  /** @return false if there is no such tenant */
  public Future<Boolean> setPolicy(UUID tenantId, Policy policy) {
    return pool.preparedQuery("""
            UPDATE tenants SET allowed_regions = $2, max_rate_per_second = $3, max_concurrent_chunks = $4,
                               unsubscribe_default = $5, unsubscribe_mailto = $6, reputation_thresholds = $7, updated_at = now()
            WHERE id = $1""")
        .execute(Tuple.tuple(java.util.Arrays.asList(tenantId, policy.allowedRegions().toArray(new String[0]),
            policy.maxRatePerSecond(), policy.maxConcurrentChunks(), policy.unsubscribeDefault(), policy.unsubscribeMailto(),
            policy.reputationThresholds())))
        .map(r -> r.rowCount() == 1);
  }

  /**
   * Deletes the tenant and everything it owns, in one transaction, if none of its jobs is still queued, running or
   * paused. @return false if there is no such tenant
   */
  public Future<Boolean> delete(UUID tenantId) {
    return pool.withTransaction(c -> c.preparedQuery("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE").execute(Tuple.of(tenantId))
        .compose(found -> {
          if (found.size() == 0) {
            return Future.succeededFuture(false);
          }
          return c.preparedQuery("SELECT count(*) FROM jobs WHERE tenant_id = $1 AND state IN ('queued', 'running', 'paused')")
              .execute(Tuple.of(tenantId))
              .compose(active -> {
                long n = active.iterator().next().getLong(0);
                if (n > 0) {
                  return Future.failedFuture(new ConflictException("tenant_active", "the tenant has " + n
                      + " job(s) queued, running or paused; cancel them first"));
                }
                Future<?> f = Future.succeededFuture();
                for (String sql : DELETE_TENANT) {
                  f = f.compose(x -> c.preparedQuery(sql).execute(Tuple.of(tenantId)));
                }
                return f.map(true);
              });
        }));
  }

  // children before parents; every table that holds a tenant's data is listed here
  private static final List<String> DELETE_TENANT = List.of(
      "DELETE FROM idempotency_keys WHERE tenant_id = $1",
      "DELETE FROM suppressions WHERE tenant_id = $1",
      "DELETE FROM events WHERE tenant_id = $1",
      "DELETE FROM stats_hourly WHERE tenant_id = $1",
      "DELETE FROM stats_daily WHERE tenant_id = $1",
      "DELETE FROM stats_tags_hourly WHERE tenant_id = $1",
      "DELETE FROM stats_summary_hourly WHERE tenant_id = $1",
      "DELETE FROM stats_summary_daily WHERE tenant_id = $1",
      // the operators' cached statistics (StatsCache) held the tenant's counters
      "UPDATE stats_summarized SET generation = generation + 1 WHERE $1::uuid IS NOT NULL",
      "DELETE FROM job_message_parts WHERE job_id IN (SELECT id FROM jobs WHERE tenant_id = $1)",
      "DELETE FROM job_messages WHERE job_id IN (SELECT id FROM jobs WHERE tenant_id = $1)",
      "DELETE FROM job_attachment_parts WHERE job_id IN (SELECT id FROM jobs WHERE tenant_id = $1)",
      "DELETE FROM job_attachments WHERE job_id IN (SELECT id FROM jobs WHERE tenant_id = $1)",
      "DELETE FROM recipients WHERE job_id IN (SELECT id FROM jobs WHERE tenant_id = $1)",
      "DELETE FROM chunks WHERE job_id IN (SELECT id FROM jobs WHERE tenant_id = $1)",
      "DELETE FROM jobs WHERE tenant_id = $1",
      "DELETE FROM dkim_keys WHERE tenant_id = $1",
      "DELETE FROM tenant_domains WHERE tenant_id = $1",
      "DELETE FROM webhook_deliveries WHERE tenant_id = $1",
      "DELETE FROM webhooks WHERE tenant_id = $1",
      "DELETE FROM webhook_signing_keys WHERE tenant_id = $1",
      "DELETE FROM tenants WHERE id = $1");

  /** Holds a tenant: no chunk of it is claimed until {@link #resume}. @return whether it was not held before */
  public Future<Boolean> hold(UUID id, String reason, String detail) {
    return pool.preparedQuery("""
            UPDATE tenants SET hold_reason = $2, hold_detail = $3, held_at = now(), updated_at = now()
            WHERE id = $1 AND hold_reason IS NULL""")
        .execute(Tuple.of(id, reason, detail)).map(r -> r.rowCount() == 1);
  }

  /** Lifts a tenant's hold (an operator's decision); its reputation is judged afresh from now on. */
  public Future<Optional<Tenant>> resume(UUID id) {
    return pool.preparedQuery("""
            UPDATE tenants SET hold_reason = NULL, hold_detail = NULL, held_at = NULL, resumed_at = now(), updated_at = now()
            WHERE id = $1""")
        .execute(Tuple.of(id)).compose(r -> get(id));
  }

  /** Tenants not held, with when they were last resumed (null: never). */
  public Future<java.util.Map<UUID, OffsetDateTime>> unheld() {
    return pool.query("SELECT id, resumed_at FROM tenants WHERE hold_reason IS NULL").execute().map(rows -> {
      java.util.Map<UUID, OffsetDateTime> out = new java.util.HashMap<>();
      rows.forEach(r -> out.put(r.getUUID(0), r.getOffsetDateTime(1)));
      return out;
    });
  }

  public Future<Long> held() {
    return pool.query("SELECT count(*) FROM tenants WHERE hold_reason IS NOT NULL").execute()
        .map(r -> r.iterator().next().getLong(0));
  }

  /** The tenants with their own reputation thresholds, and those overrides. */
  public Future<java.util.Map<UUID, io.vertx.core.json.JsonObject>> thresholdOverrides() {
    return pool.query("SELECT id, reputation_thresholds FROM tenants WHERE reputation_thresholds IS NOT NULL").execute().map(rows -> {
      java.util.Map<UUID, io.vertx.core.json.JsonObject> out = new java.util.HashMap<>();
      rows.forEach(r -> out.put(r.getUUID(0), (io.vertx.core.json.JsonObject) r.getJson(1)));
      return out;
    });
  }

  public Future<Long> count() {
    return pool.query("SELECT count(*) FROM tenants").execute().map(r -> r.iterator().next().getLong(0));
  }

  private static Optional<Tenant> first(RowSet<Row> rows) {
    var it = rows.iterator();
    return it.hasNext() ? Optional.of(map(it.next())) : Optional.empty();
  }

  private static Tenant map(Row r) {
    String[] allowed = r.getArrayOfStrings("allowed_regions");
    return new Tenant(r.getUUID("id"), r.getString("name"), r.getString("region"),
        allowed == null ? List.of() : List.of(allowed), r.getUUID("backend_id"), r.getString("backend_name"),
        r.getUUID("fallback_backend_id"), r.getString("fallback_name"), r.getDouble("max_rate_per_second"),
        r.getInteger("max_concurrent_chunks"), r.getOffsetDateTime("created_at"), r.getString("hold_reason"),
        r.getString("hold_detail"), r.getOffsetDateTime("held_at"), r.getBoolean("unsubscribe_default"),
        r.getString("unsubscribe_mailto"), (io.vertx.core.json.JsonObject) r.getJson("reputation_thresholds"));
  }
}

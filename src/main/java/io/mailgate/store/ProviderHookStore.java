package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** SQL of provider webhooks in: whose jobs a backend's events may name. */
public final class ProviderHookStore {

  // a job counts only for a tenant routed to the backend (primary or fallback): a provider account's signed events
  // cannot reach another tenant's recipients, whatever job ids they name
  private static final String TENANTS = """
      SELECT j.id, j.tenant_id FROM jobs j JOIN tenants t ON t.id = j.tenant_id
      WHERE j.id = ANY($1::uuid[]) AND ($2 IN (t.backend_id, t.fallback_backend_id))""";

  private final Pool pool;

  public ProviderHookStore(Pool pool) {
    this.pool = pool;
  }

  /** The tenant of each of the jobs whose tenant is routed to {@code backendId}; other jobs are left out. */
  public Future<Map<UUID, UUID>> tenantsOfJobs(UUID backendId, List<UUID> jobs) {
    if (jobs.isEmpty()) {
      return Future.succeededFuture(Map.of());
    }
    return pool.preparedQuery(TENANTS).execute(Tuple.of(jobs.toArray(UUID[]::new), backendId)).map(rows -> {
      Map<UUID, UUID> out = new HashMap<>();
      for (Row r : rows) {
        out.put(r.getUUID(0), r.getUUID(1));
      }
      return out;
    });
  }
}

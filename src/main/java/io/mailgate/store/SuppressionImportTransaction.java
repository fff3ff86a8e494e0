package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;
import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * One CSV import of a tenant's suppressions as a single transaction on one connection: batches as they arrive, then
 * COMMIT. Until the commit nothing is visible; a rollback leaves the list as it was.
 */
public final class SuppressionImportTransaction {

  /*
   * One statement per batch. The last line of an address and tag wins: its reason, code and detail; created_at is
   * the last one given, else the listed one's (or now). Within the batch lines are folded by GROUP BY in line order;
   * against the list (rows from before, or from an earlier batch of this import) ON CONFLICT does the same, so where
   * the batches split the file changes nothing. Lines with and without a time go in two inserts (on disjoint keys),
   * since an upsert cannot tell from EXCLUDED whether a time was given. ON CONFLICT probes the primary key per row,
   * whatever the statistics say (a join against the list was planned as a scan of the tenant's rows per batch,
   * stale statistics being all the planner has mid-import). xmax = 0 marks a row this statement inserted (an updated
   * one carries the lock taken for the update).
   */
  static final String WRITE_BATCH = """
      WITH x AS (
        SELECT a, t, (array_agg(r ORDER BY i DESC))[1] AS r, (array_agg(c ORDER BY i DESC))[1] AS c,
               (array_agg(d ORDER BY i DESC))[1] AS d,
               (array_agg(at ORDER BY i DESC) FILTER (WHERE at IS NOT NULL))[1] AS at
        FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[])
             WITH ORDINALITY AS u(a, t, r, c, d, at, i)
        GROUP BY a, t),
      dated AS (
        INSERT INTO suppressions AS s (tenant_id, address, tag, reason, code, detail, created_at)
        SELECT $1, a, t, r, c, d, at FROM x WHERE at IS NOT NULL
        ON CONFLICT (tenant_id, address, tag) DO UPDATE
          SET reason = EXCLUDED.reason, code = EXCLUDED.code, detail = EXCLUDED.detail, source_event = NULL,
              created_at = EXCLUDED.created_at
        RETURNING s.xmax = 0 AS added),
      undated AS (
        INSERT INTO suppressions AS s (tenant_id, address, tag, reason, code, detail)
        SELECT $1, a, t, r, c, d FROM x WHERE at IS NULL
        ON CONFLICT (tenant_id, address, tag) DO UPDATE
          SET reason = EXCLUDED.reason, code = EXCLUDED.code, detail = EXCLUDED.detail, source_event = NULL
        RETURNING s.xmax = 0 AS added)
      SELECT ((SELECT count(*) FILTER (WHERE added) FROM dated) + (SELECT count(*) FILTER (WHERE added) FROM undated))::int
             AS added
      """;

  private final SqlConnection conn;
  private final Transaction tx;
  private final UUID tenantId;
  private boolean finished;

  private SuppressionImportTransaction(SqlConnection conn, Transaction tx, UUID tenantId) {
    this.conn = conn;
    this.tx = tx;
    this.tenantId = tenantId;
  }

  static Future<SuppressionImportTransaction> begin(Pool pool, UUID tenantId) {
    return pool.getConnection().compose(c -> c.begin()
        .map(tx -> new SuppressionImportTransaction(c, tx, tenantId))
        .onFailure(e -> c.close()));
  }

  /**
   * Writes one batch (addresses lower case, tag '' for every job; code, detail and createdAt may hold nulls).
   * @return how many of them were not on the list before
   */
  public Future<Integer> write(String[] address, String[] tag, String[] reason, Integer[] code, String[] detail,
                               OffsetDateTime[] createdAt) {
    return conn.preparedQuery(WRITE_BATCH)
        .execute(Tuple.tuple().addValue(tenantId).addValue(address).addValue(tag).addValue(reason).addValue(code)
            .addValue(detail).addValue(createdAt))
        .map(rows -> rows.iterator().next().getInteger("added"));
  }

  public Future<Void> commit() {
    finished = true;
    return tx.commit().onComplete(ar -> conn.close());
  }

  /** Rolls back and returns the connection; safe to call more than once. */
  public Future<Void> rollback() {
    if (finished) {
      return Future.succeededFuture();
    }
    finished = true;
    return tx.rollback().transform(ar -> conn.close());
  }
}

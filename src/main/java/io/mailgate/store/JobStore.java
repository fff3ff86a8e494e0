package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** SQL for jobs as their tenant sees them: intake, reads, pause, resume, cancel. Every query is scoped to a tenant. */
public final class JobStore {

  private static final String JOB_WITH_COUNTS = """
      SELECT j.id, j.state, j.recipients, j.created_at, j.updated_at,
             coalesce(sum(c.n_queued), 0) AS q, coalesce(sum(c.n_sending), 0) AS sg, coalesce(sum(c.n_sent), 0) AS st,
             coalesce(sum(c.n_deferred), 0) AS d, coalesce(sum(c.n_failed), 0) AS f, coalesce(sum(c.n_cancelled), 0) AS x
      FROM jobs j LEFT JOIN chunks c ON c.job_id = j.id
      """;

  private final Pool pool;

  public JobStore(Pool pool) {
    this.pool = pool;
  }

  public Future<IngestTransaction> beginIngest(UUID jobId) {
    return IngestTransaction.begin(pool, jobId);
  }

  /** The job an Idempotency-Key created, and the hash of the request that created it. */
  public record IdempotentJob(UUID jobId, byte[] requestHash) {}

  public Future<Optional<IdempotentJob>> findIdempotencyKey(UUID tenantId, String key) {
    return pool.preparedQuery("SELECT job_id, request_hash FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
        .execute(Tuple.of(tenantId, key))
        .map(rows -> {
          var it = rows.iterator();
          if (!it.hasNext()) {
            return Optional.empty();
          }
          Row r = it.next();
          Buffer h = r.getBuffer("request_hash");
          return Optional.of(new IdempotentJob(r.getUUID("job_id"), h.getBytes()));
        });
  }

  public Future<Optional<JobRecord>> get(UUID tenantId, UUID jobId) {
    return pool.preparedQuery(JOB_WITH_COUNTS + " WHERE j.id = $1 AND j.tenant_id = $2 GROUP BY j.id")
        .execute(Tuple.of(jobId, tenantId))
        .map(rows -> {
          var it = rows.iterator();
          return it.hasNext() ? Optional.of(map(it.next())) : Optional.empty();
        });
  }

  /** Newest first; {@code before} is the last id of the previous page. */
  public Future<List<JobRecord>> list(UUID tenantId, UUID before, int limit) {
    return pool.preparedQuery(JOB_WITH_COUNTS
            + " WHERE j.tenant_id = $1 AND ($2::uuid IS NULL OR j.id < $2) GROUP BY j.id ORDER BY j.id DESC LIMIT $3")
        .execute(Tuple.of(tenantId, before, limit))
        .map(rows -> {
          List<JobRecord> out = new ArrayList<>();
          rows.forEach(r -> out.add(map(r)));
          return out;
        });
  }

  public Future<Optional<String>> state(UUID tenantId, UUID jobId) {
    return pool.preparedQuery("SELECT state FROM jobs WHERE id = $1 AND tenant_id = $2")
        .execute(Tuple.of(jobId, tenantId))
        .map(rows -> {
          var it = rows.iterator();
          return it.hasNext() ? Optional.of(it.next().getString(0)) : Optional.empty();
        });
  }

  /** @return true if the job was queued or running and is now paused */
  public Future<Boolean> pause(UUID tenantId, UUID jobId) {
    return pool.preparedQuery("""
            UPDATE jobs SET state = 'paused', updated_at = now()
            WHERE id = $1 AND tenant_id = $2 AND state IN ('queued', 'running')""")
        .execute(Tuple.of(jobId, tenantId)).map(r -> r.rowCount() == 1);
  }

  /** @return true if the job was paused and is now queued (never started), running, or completed (nothing left) */
  public Future<Boolean> resume(UUID tenantId, UUID jobId) {
    return pool.preparedQuery("""
            UPDATE jobs SET state = CASE
                WHEN NOT EXISTS (SELECT 1 FROM chunks WHERE job_id = $1 AND state <> 'done') THEN 'completed'
                WHEN started_at IS NULL THEN 'queued' ELSE 'running' END,
              updated_at = now()
            WHERE id = $1 AND tenant_id = $2 AND state = 'paused'""")
        .execute(Tuple.of(jobId, tenantId)).map(r -> r.rowCount() == 1);
  }

  /**
   * Cancels the job and every recipient not yet handed to a backend. Chunks a dispatcher holds are finished by
   * that dispatcher (it sees the cancellation); the others are closed here, their counts moved to cancelled.
   *
   * @return true if the job was not already final
   */
  public Future<Boolean> cancel(UUID tenantId, UUID jobId) {
    return pool.withTransaction(c -> c.preparedQuery("""
            UPDATE jobs SET state = 'cancelled', updated_at = now()
            WHERE id = $1 AND tenant_id = $2 AND state IN ('queued', 'running', 'paused')""")
        .execute(Tuple.of(jobId, tenantId))
        .compose(r -> {
          if (r.rowCount() == 0) {
            return Future.succeededFuture(false);
          }
          return c.preparedQuery("""
                  UPDATE recipients SET state = 'cancelled', next_attempt_at = NULL, updated_at = now()
                  WHERE job_id = $1 AND state IN ('queued', 'deferred')""")
              .execute(Tuple.of(jobId))
              // SKIP LOCKED: a chunk a claim holds is left to that claim, which is waiting for the job row this
              // transaction holds (waiting for the chunk would deadlock); its dispatcher finds nothing to send
              // and closes it.
              .compose(x -> c.preparedQuery("""
                  UPDATE chunks SET state = 'done', n_cancelled = n_cancelled + n_queued + n_deferred,
                                    n_queued = 0, n_deferred = 0
                  WHERE job_id = $1 AND chunk_no IN (
                    SELECT chunk_no FROM chunks WHERE job_id = $1 AND state = 'ready' FOR UPDATE SKIP LOCKED)""")
                  .execute(Tuple.of(jobId)))
              .map(true);
        }));
  }

  /** Keyset page of a job's recipients by seq, optionally of one state. The caller checked the job's tenant. */
  public Future<List<RecipientRecord>> recipients(UUID jobId, String state, int afterSeq, int limit) {
    return pool.preparedQuery("""
            SELECT seq, email, state, attempts, last_code, last_message, message_id, possible_duplicate,
                   next_attempt_at, updated_at
            FROM recipients
            WHERE job_id = $1 AND seq > $2 AND ($3::text IS NULL OR state = $3)
            ORDER BY seq LIMIT $4""")
        .execute(Tuple.of(jobId, afterSeq, state, limit))
        .map(rows -> {
          List<RecipientRecord> out = new ArrayList<>();
          for (Row r : rows) {
            out.add(new RecipientRecord(r.getInteger("seq"), r.getString("email"), r.getString("state"),
                r.getInteger("attempts"), r.getInteger("last_code"), r.getString("last_message"),
                r.getString("message_id"), r.getBoolean("possible_duplicate"), r.getOffsetDateTime("next_attempt_at"),
                r.getOffsetDateTime("updated_at")));
          }
          return out;
        });
  }

  private static JobRecord map(Row r) {
    return new JobRecord(r.getUUID("id"), r.getString("state"), r.getInteger("recipients"),
        new JobRecord.Counts(r.getLong("q"), r.getLong("sg"), r.getLong("st"), r.getLong("d"), r.getLong("f"), r.getLong("x")),
        r.getOffsetDateTime("created_at"), r.getOffsetDateTime("updated_at"));
  }
}

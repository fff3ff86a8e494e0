package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import io.vertx.core.json.JsonObject;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** SQL for jobs as their tenant sees them: intake, reads, pause, resume, cancel. Every query is scoped to a tenant. */
public final class JobStore {

  private static final String JOB_WITH_COUNTS = """
      SELECT j.id, j.state, j.recipients, j.priority, j.expires_at, j.send_at, j.created_at, j.updated_at,
             coalesce(sum(c.n_queued), 0) AS q, coalesce(sum(c.n_sending), 0) AS sg, coalesce(sum(c.n_sent), 0) AS st,
             coalesce(sum(c.n_deferred), 0) AS d, coalesce(sum(c.n_failed), 0) AS f, coalesce(sum(c.n_cancelled), 0) AS x,
             coalesce(sum(c.n_expired), 0) AS e, coalesce(sum(c.n_suppressed), 0) AS sp,
             (SELECT t.hold_reason FROM tenants t WHERE t.id = j.tenant_id) AS hold,
             (j.spec ->> 'testMode') IS NOT NULL AS test_mode
      FROM jobs j LEFT JOIN chunks c ON c.job_id = j.id
      """;

  /** Dispatchers LISTEN on this channel; a notification sent in a transaction is delivered at its commit. */
  public static final String WORK_CHANNEL = "mailgate_work";
  static final String NOTIFY_WORK = "SELECT pg_notify('" + WORK_CHANNEL + "', $1)";

  /**
   * The payload of a notification: which lane has new work ({@code high}: the priority lane, else {@code campaign})
   * and which process accepted it ({@code high/node-a}), so that process, which takes its own jobs at once, can let it
   * pass.
   */
  public String notice(int priority) {
    return (priority >= 2 ? "high" : "campaign") + "/" + nodeId;
  }

  // Many small jobs in one statement, hence one transaction and one WAL flush (group commit). A job whose
  // Idempotency-Key is taken already (a retry, or a concurrent twin) is left out, with its recipients and chunks;
  // the foreign keys are checked at the end of the statement, when the jobs are there.
  private static final String INSERT_GROUP = """
      WITH j AS (
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::jsonb[], $4::int[], $5::int[], $6::smallint[], $7::timestamptz[],
                             $8::text[], $9::bytea[], $15::timestamptz[])
                 AS j(id, tenant_id, spec, recipients, chunk_size, priority, expires_at, idem_key, idem_hash, send_at)
      ), k AS (
        INSERT INTO idempotency_keys (tenant_id, key, request_hash, job_id)
        SELECT tenant_id, idem_key, idem_hash, id FROM j WHERE idem_key IS NOT NULL
        ON CONFLICT (tenant_id, key) DO NOTHING
        RETURNING job_id
      ), ok AS (
        SELECT j.* FROM j WHERE j.idem_key IS NULL OR j.id IN (SELECT job_id FROM k)
      ), ij AS (
        INSERT INTO jobs (id, tenant_id, spec, recipients, chunk_size, priority, expires_at, send_at)
        SELECT id, tenant_id, spec, recipients, chunk_size, priority, expires_at, send_at FROM ok
      ), ir AS (
        INSERT INTO recipients (job_id, seq, email, vars)
        SELECT r.job_id, r.seq, r.email, r.vars::jsonb
        FROM unnest($10::uuid[], $11::int[], $12::text[], $13::text[]) AS r(job_id, seq, email, vars)
        WHERE r.job_id IN (SELECT id FROM ok)
      ), ic AS (
        INSERT INTO chunks (job_id, chunk_no, first_seq, end_seq, n_queued, priority, tenant_id, not_before)
        SELECT ok.id, g, g * ok.chunk_size, LEAST((g + 1) * ok.chunk_size, ok.recipients),
               LEAST((g + 1) * ok.chunk_size, ok.recipients) - g * ok.chunk_size, ok.priority, ok.tenant_id,
               greatest(coalesce(ok.send_at, now()), now())
        FROM ok CROSS JOIN LATERAL generate_series(0, (ok.recipients - 1) / ok.chunk_size) AS g
      )
      SELECT array(SELECT id FROM ok) AS accepted,
             (SELECT count(pg_notify('mailgate_work', CASE WHEN p = 2 THEN 'high/' ELSE 'campaign/' END || $14))
              FROM (SELECT DISTINCT priority AS p FROM ok) lanes) AS woken
      """;

  // A cancel's recipients not yet handed to a backend, each with its 'cancelled' event
  private static final String CANCEL_RECIPIENTS = """
      WITH u AS (
        UPDATE recipients SET state = 'cancelled', next_attempt_at = NULL, updated_at = now()
        WHERE job_id = $1 AND state IN ('queued', 'deferred')
        RETURNING job_id, seq, email, attempts, message_id
      ), ev AS (
        INSERT INTO events (tenant_id, job_id, seq, email, type, attempt, message_id, sender_domain, recipient_domain)
        SELECT $2, u.job_id, u.seq, lower(u.email), 'cancelled', u.attempts, u.message_id, mailgate_domain(j.spec ->> 'from'),
               mailgate_domain(u.email)
        FROM u JOIN jobs j ON j.id = u.job_id
        RETURNING id, tenant_id, job_id, email, type, severity, code, message, backend_id, sender_domain, recipient_domain
      )""" + EventSql.consequences(3) + """
      SELECT count(*) FROM u
      """;

  /** A whole job ready to be written with others in one statement. */
  public record NewJob(UUID id, UUID tenantId, JsonObject spec, int chunkSize, int priority, OffsetDateTime expiresAt,
                       OffsetDateTime sendAt, String idempotencyKey, byte[] requestHash, String[] emails, String[] varsJson) {}

  private final Pool pool;
  private final String nodeId;
  private final EventSql events;
  private final int partBytes;

  /** @param partBytes the size of a stored part of a job's file or message (MAILGATE_BLOB_CHUNK_BYTES) */
  public JobStore(Pool pool, String nodeId, EventSql events, int partBytes) {
    this.pool = pool;
    this.nodeId = nodeId;
    this.events = events;
    this.partBytes = partBytes;
  }

  /** The size of a stored part of a job's file or message (MAILGATE_BLOB_CHUNK_BYTES). */
  public int partBytes() {
    return partBytes;
  }

  /**
   * Writes the jobs in one statement (durable when it completes: one commit). @return the ids written; a job missing
   * from them had its Idempotency-Key taken already
   */
  public Future<java.util.Set<UUID>> insertGroup(List<NewJob> jobs) {
    int n = jobs.size();
    int total = jobs.stream().mapToInt(j -> j.emails().length).sum();
    UUID[] id = new UUID[n];
    UUID[] tenant = new UUID[n];
    JsonObject[] spec = new JsonObject[n];
    Integer[] recipients = new Integer[n];
    Integer[] chunkSize = new Integer[n];
    Short[] priority = new Short[n];
    OffsetDateTime[] expires = new OffsetDateTime[n];
    OffsetDateTime[] sendAt = new OffsetDateTime[n];
    String[] key = new String[n];
    Buffer[] hash = new Buffer[n];
    UUID[] rJob = new UUID[total];
    Integer[] rSeq = new Integer[total];
    String[] rEmail = new String[total];
    String[] rVars = new String[total];
    int k = 0;
    for (int i = 0; i < n; i++) {
      NewJob j = jobs.get(i);
      id[i] = j.id();
      tenant[i] = j.tenantId();
      spec[i] = j.spec();
      recipients[i] = j.emails().length;
      chunkSize[i] = j.chunkSize();
      priority[i] = (short) j.priority();
      expires[i] = j.expiresAt();
      sendAt[i] = j.sendAt();
      key[i] = j.idempotencyKey();
      hash[i] = j.idempotencyKey() == null ? null : Buffer.buffer(j.requestHash());
      for (int s = 0; s < j.emails().length; s++, k++) {
        rJob[k] = j.id();
        rSeq[k] = s;
        rEmail[k] = j.emails()[s];
        rVars[k] = j.varsJson()[s];
      }
    }
    return pool.preparedQuery(INSERT_GROUP)
        .execute(Tuple.tuple(java.util.Arrays.asList(id, tenant, spec, recipients, chunkSize, priority, expires, key, hash,
            rJob, rSeq, rEmail, rVars, nodeId, sendAt)))
        .map(rows -> {
          UUID[] accepted = rows.iterator().next().getArrayOfUUIDs("accepted");
          return accepted == null ? java.util.Set.of() : java.util.Set.of(accepted);
        });
  }

  public Future<IngestTransaction> beginIngest(UUID jobId) {
    return IngestTransaction.begin(pool, jobId, this);
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
          return c.preparedQuery(CANCEL_RECIPIENTS)
              .execute(events.append(Tuple.of(jobId, tenantId)))
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
        new JobRecord.Counts(r.getLong("q"), r.getLong("sg"), r.getLong("st"), r.getLong("d"), r.getLong("f"), r.getLong("x"),
            r.getLong("e"), r.getLong("sp")),
        r.getInteger("priority"), r.getOffsetDateTime("expires_at"), r.getOffsetDateTime("send_at"),
        r.getOffsetDateTime("created_at"), r.getOffsetDateTime("updated_at"),
        r.getString("hold"), r.getBoolean("test_mode"));
  }
}

package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;
import java.util.UUID;

/**
 * One job's intake as a single transaction on one connection: recipient batches as they arrive, then the job,
 * its chunks and its idempotency key, then COMMIT. Until the commit nothing is visible; a rollback leaves nothing.
 */
public final class IngestTransaction {

  // unnest with ordinality: one statement per batch, seq numbers from the batch's offset
  private static final String INSERT_RECIPIENTS = """
      INSERT INTO recipients (job_id, seq, email, vars)
      SELECT $1, $2 + u.i::int - 1, u.email, u.vars::jsonb
      FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS u(email, vars, i)
      """;
  private static final String INSERT_JOB = """
      INSERT INTO jobs (id, tenant_id, spec, recipients, chunk_size, priority, expires_at, send_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
      """;
  private static final String INSERT_CHUNKS = """
      INSERT INTO chunks (job_id, chunk_no, first_seq, end_seq, n_queued, priority, tenant_id, not_before)
      SELECT $1, g, g * $2, LEAST((g + 1) * $2, $3), LEAST((g + 1) * $2, $3) - g * $2, $4, $5,
             greatest(coalesce($6::timestamptz, now()), now())
      FROM generate_series(0, ($3 - 1) / $2) AS g
      """;
  private static final String INSERT_MESSAGE = """
      INSERT INTO job_messages (job_id, message) VALUES ($1, $2)
      """;
  private static final String INSERT_ATTACHMENT = """
      INSERT INTO job_attachments (job_id, idx, filename, content_type, content_id, data) VALUES ($1, $2, $3, $4, $5, $6)
      """;
  private static final String INSERT_IDEMPOTENCY = """
      INSERT INTO idempotency_keys (tenant_id, key, request_hash, job_id) VALUES ($1, $2, $3, $4)
      """;

  private final SqlConnection conn;
  private final Transaction tx;
  private final UUID jobId;
  private final JobStore jobs;
  private boolean finished;

  private IngestTransaction(SqlConnection conn, Transaction tx, UUID jobId, JobStore jobs) {
    this.jobs = jobs;
    this.conn = conn;
    this.tx = tx;
    this.jobId = jobId;
  }

  static Future<IngestTransaction> begin(io.vertx.sqlclient.Pool pool, UUID jobId, JobStore jobs) {
    return pool.getConnection().compose(c -> c.begin()
        .map(tx -> new IngestTransaction(c, tx, jobId, jobs))
        .onFailure(e -> c.close()));
  }

  public UUID jobId() {
    return jobId;
  }

  /** Inserts recipients {@code firstSeq ..} in one statement. */
  public Future<Void> insertRecipients(int firstSeq, String[] emails, String[] varsJson) {
    return conn.preparedQuery(INSERT_RECIPIENTS)
        .execute(Tuple.of(jobId, firstSeq, emails, varsJson))
        .mapEmpty();
  }

  /** Writes the job row, its chunks and its idempotency key, wakes the dispatchers (at commit), and commits. */
  public Future<Void> commit(UUID tenantId, JsonObject spec, int recipients, int chunkSize, int priority,
                             java.time.OffsetDateTime expiresAt, java.time.OffsetDateTime sendAt,
                             String idempotencyKey, byte[] requestHash) {
    return commit(tenantId, spec, recipients, chunkSize, priority, expiresAt, sendAt, idempotencyKey, requestHash, null);
  }

  /** @param message the caller's whole MIME message of the job, stored beside it (null: none) */
  public Future<Void> commit(UUID tenantId, JsonObject spec, int recipients, int chunkSize, int priority,
                             java.time.OffsetDateTime expiresAt, java.time.OffsetDateTime sendAt,
                             String idempotencyKey, byte[] requestHash, byte[] message) {
    return commit(tenantId, spec, recipients, chunkSize, priority, expiresAt, sendAt, idempotencyKey, requestHash, message,
        java.util.List.of());
  }

  /** @param attachments the job's files, stored beside it in {@code job_attachments} in their order */
  public Future<Void> commit(UUID tenantId, JsonObject spec, int recipients, int chunkSize, int priority,
                             java.time.OffsetDateTime expiresAt, java.time.OffsetDateTime sendAt,
                             String idempotencyKey, byte[] requestHash, byte[] message,
                             java.util.List<io.mailgate.message.Attachment> attachments) {
    Future<?> f = conn.preparedQuery(INSERT_JOB)
        .execute(Tuple.of(jobId, tenantId, spec, recipients, chunkSize, (short) priority, expiresAt, sendAt))
        .compose(r -> conn.preparedQuery(INSERT_CHUNKS)
            .execute(Tuple.of(jobId, chunkSize, recipients, (short) priority, tenantId, sendAt)));
    if (message != null) {
      f = f.compose(r -> conn.preparedQuery(INSERT_MESSAGE).execute(Tuple.of(jobId, Buffer.buffer(message))));
    }
    if (!attachments.isEmpty()) {
      java.util.List<Tuple> rows = new java.util.ArrayList<>(attachments.size());
      for (int i = 0; i < attachments.size(); i++) {
        io.mailgate.message.Attachment a = attachments.get(i);
        rows.add(Tuple.of(jobId, (short) i, a.filename(), a.contentType(), a.contentId(), Buffer.buffer(a.data())));
      }
      f = f.compose(r -> conn.preparedQuery(INSERT_ATTACHMENT).executeBatch(rows));
    }
    if (idempotencyKey != null) {
      f = f.compose(r -> conn.preparedQuery(INSERT_IDEMPOTENCY)
          .execute(Tuple.of(tenantId, idempotencyKey, Buffer.buffer(requestHash), jobId)));
    }
    return f.compose(r -> conn.preparedQuery(JobStore.NOTIFY_WORK).execute(Tuple.of(jobs.notice(priority))))
        .compose(r -> tx.commit())
        // a failed statement has already rolled the transaction back; either way the connection goes back
        .onComplete(ar -> {
          finished = true;
          conn.close();
        })
        .mapEmpty();
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

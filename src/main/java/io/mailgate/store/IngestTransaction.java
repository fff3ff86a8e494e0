package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;
import java.util.UUID;

/**
 * One job's intake as a single transaction on one connection: recipient batches as they arrive, a file's or MIME
 * message's parts as they are read, then the job, its chunks, its files' and message's rows and its idempotency key,
 * then COMMIT. Until the commit nothing is visible; a rollback leaves nothing.
 *
 * <p>Parts are written one statement each, the next part read while the one before is written: an upload of any size
 * holds two parts of {@code MAILGATE_BLOB_CHUNK_BYTES} at most. Their foreign key to their file's row is checked at
 * COMMIT (the row goes in with the job, after them).
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
      INSERT INTO job_messages (job_id, size) VALUES ($1, $2)
      """;
  private static final String INSERT_MESSAGE_PART = """
      INSERT INTO job_message_parts (job_id, part, data) VALUES ($1, $2, $3)
      """;
  private static final String INSERT_ATTACHMENT = """
      INSERT INTO job_attachments (job_id, idx, filename, content_type, content_id, size) VALUES ($1, $2, $3, $4, $5, $6)
      """;
  private static final String INSERT_ATTACHMENT_PART = """
      INSERT INTO job_attachment_parts (job_id, idx, part, data) VALUES ($1, $2, $3, $4)
      """;
  private static final String INSERT_IDEMPOTENCY = """
      INSERT INTO idempotency_keys (tenant_id, key, request_hash, job_id) VALUES ($1, $2, $3, $4)
      """;

  private final SqlConnection conn;
  private final Transaction tx;
  private final UUID jobId;
  private final JobStore jobs;
  /** The rows of job_attachments for the files written, their sizes set as their parts are. */
  private final java.util.List<Object[]> files = new java.util.ArrayList<>();
  private long messageSize = -1;
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

  /**
   * Writes one of the job's files, its parts as {@code parts} gives them; its row in {@code job_attachments} (the
   * next {@code idx}, in the order files are written) goes in at commit. {@code parts} is closed whatever the outcome.
   */
  public Future<Void> insertAttachment(String filename, String contentType, String contentId, BlobParts parts) {
    short idx = (short) files.size();
    Object[] row = {jobId, idx, filename, contentType, contentId, null};
    files.add(row);
    return writeParts(parts, INSERT_ATTACHMENT_PART, (part, data) -> Tuple.of(jobId, idx, part, data))
        .map(size -> {
          row[5] = size;
          return null;
        });
  }

  /**
   * Writes the caller's MIME message of the job, its parts as {@code parts} gives them; its row in
   * {@code job_messages} goes in at commit. {@code parts} is closed whatever the outcome. @return its size
   */
  public Future<Long> insertMessage(BlobParts parts) {
    return writeParts(parts, INSERT_MESSAGE_PART, (part, data) -> Tuple.of(jobId, part, data))
        .map(size -> messageSize = size);
  }

  /** Each part a statement of its own; the next part is read while the one before is written. */
  private Future<Long> writeParts(BlobParts parts, String sql, java.util.function.BiFunction<Integer, Buffer, Tuple> row) {
    return writeFrom(parts, sql, row, 0, 0, Future.succeededFuture())
        .eventually(parts::close);
  }

  private Future<Long> writeFrom(BlobParts parts, String sql, java.util.function.BiFunction<Integer, Buffer, Tuple> row,
                                 int part, long size, Future<?> writing) {
    Future<Buffer> next = parts.next();
    return Future.all(writing, next).compose(x -> {
      Buffer data = next.result();
      if (data.length() == 0) {
        return Future.succeededFuture(size);
      }
      Future<?> w = conn.preparedQuery(sql).execute(row.apply(part, data));
      return writeFrom(parts, sql, row, part + 1, size + data.length(), w);
    });
  }

  /**
   * Writes the job row, its chunks, the rows of the files and message written before, and its idempotency key, wakes
   * the dispatchers (at commit), and commits.
   */
  public Future<Void> commit(UUID tenantId, JsonObject spec, int recipients, int chunkSize, int priority,
                             java.time.OffsetDateTime expiresAt, java.time.OffsetDateTime sendAt,
                             String idempotencyKey, byte[] requestHash) {
    return commit(tenantId, spec, recipients, chunkSize, priority, expiresAt, sendAt, idempotencyKey, requestHash,
        java.util.List.of());
  }

  /**
   * @param attachments files already in memory (the job API's), written in parts of {@code MAILGATE_BLOB_CHUNK_BYTES}
   *     after those written before, in their order
   */
  public Future<Void> commit(UUID tenantId, JsonObject spec, int recipients, int chunkSize, int priority,
                             java.time.OffsetDateTime expiresAt, java.time.OffsetDateTime sendAt,
                             String idempotencyKey, byte[] requestHash,
                             java.util.List<io.mailgate.message.Attachment> attachments) {
    Future<?> f = conn.preparedQuery(INSERT_JOB)
        .execute(Tuple.of(jobId, tenantId, spec, recipients, chunkSize, (short) priority, expiresAt, sendAt))
        .compose(r -> conn.preparedQuery(INSERT_CHUNKS)
            .execute(Tuple.of(jobId, chunkSize, recipients, (short) priority, tenantId, sendAt)));
    if (messageSize >= 0) {
      f = f.compose(r -> conn.preparedQuery(INSERT_MESSAGE).execute(Tuple.of(jobId, messageSize)));
    }
    for (io.mailgate.message.Attachment a : attachments) {
      f = f.compose(r -> insertAttachment(a.filename(), a.contentType(), a.contentId(),
          BlobParts.of(a.data(), jobs.partBytes())));
    }
    if (!attachments.isEmpty() || !files.isEmpty()) {
      f = f.compose(r -> conn.preparedQuery(INSERT_ATTACHMENT).executeBatch(files.stream().map(Tuple::wrap).toList()));
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

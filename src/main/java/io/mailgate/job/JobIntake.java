package io.mailgate.job;

import io.mailgate.config.GatewayConfig.LimitsConfig;
import io.mailgate.error.InvalidInputException;
import io.mailgate.error.OverloadedException;
import io.mailgate.error.UnprocessableException;
import io.mailgate.store.IngestTransaction;
import io.mailgate.store.JobStore;
import io.mailgate.store.SqlErrors;
import io.mailgate.store.Ids;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.parsetools.RecordParser;
import io.vertx.core.streams.ReadStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Accepts jobs: validates them, writes the job and every recipient in one transaction, and answers only once it
 * committed. NDJSON bodies stream into the database in batches with backpressure (the request is paused while
 * {@code ingestBatchesInFlight} batches are being written), so memory does not grow with the list.
 */
public final class JobIntake {

  /** A job that was accepted (now, or earlier under the same Idempotency-Key). */
  public record Accepted(UUID jobId, int recipients, boolean replayed) {}

  private final JobStore jobs;
  private final LimitsConfig limits;
  private final int chunkSize;
  private final JobSpecParser specParser;
  private final RecipientParser recipientParser;
  private final AtomicInteger ingests = new AtomicInteger();
  private final Runnable onAccepted;
  private final io.vertx.core.Vertx vertx;

  public JobIntake(io.vertx.core.Vertx vertx, JobStore jobs, LimitsConfig limits, int chunkSize, Runnable onAccepted) {
    this.vertx = vertx;
    this.jobs = jobs;
    this.limits = limits;
    this.chunkSize = chunkSize;
    this.specParser = new JobSpecParser(limits);
    this.recipientParser = new RecipientParser(limits);
    this.onAccepted = onAccepted;
  }

  /**
   * A whole JSON job. Admission comes before the body is read: the number of bodies held in memory is bounded by
   * {@code MAILGATE_INGEST_MAX_CONCURRENT}, not by the number of clients.
   */
  public Future<Accepted> submitJson(UUID tenantId, java.util.function.Supplier<Future<Buffer>> readBody, String idempotencyKey) {
    InvalidInputException badKey = checkIdempotencyKey(idempotencyKey);
    if (badKey != null) {
      return Future.failedFuture(badKey);
    }
    return admitted(() -> readBody.get()
        .timeout(limits.ingestTimeout().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
        .recover(e -> Future.failedFuture(e instanceof java.util.concurrent.TimeoutException ? timedOut() : e))
        .compose(body -> submitJsonBody(tenantId, body, idempotencyKey)));
  }

  /** A whole JSON job already read within the body limit (the caller was admitted). */
  private Future<Accepted> submitJsonBody(UUID tenantId, Buffer body, String idempotencyKey) {
    byte[] hash = sha256(body);
    JsonObject json;
    try {
      json = new JsonObject(body);
    } catch (DecodeException | ClassCastException e) {
      return Future.failedFuture(new InvalidInputException("invalid_json", "body is not a JSON object: " + shortReason(e), null));
    }
    JobSpec spec;
    String[] emails;
    String[] vars;
    try {
      spec = specParser.parse(json, true);
      Object rs = json.getValue("recipients");
      if (rs == null) {
        throw new InvalidInputException("no_recipients", "recipients is required", "recipients");
      }
      if (!(rs instanceof JsonArray list)) {
        throw new InvalidInputException("invalid_field", "recipients must be an array", "recipients");
      }
      if (list.isEmpty()) {
        throw new InvalidInputException("no_recipients", "a job needs at least one recipient", "recipients");
      }
      if (list.size() > limits.maxRecipientsPerJob()) {
        throw new InvalidInputException("too_many_recipients", "at most " + limits.maxRecipientsPerJob() + " recipients per job", "recipients");
      }
      emails = new String[list.size()];
      vars = new String[list.size()];
      for (int i = 0; i < list.size(); i++) {
        try {
          RecipientParser.Parsed p = recipientParser.parse(list.getValue(i));
          emails[i] = p.email();
          vars[i] = p.varsJson();
        } catch (InvalidInputException e) {
          throw new InvalidInputException(e.code(), "recipients[" + i + "]: " + e.getMessage(), "recipients[" + i + "]." + e.field(), null);
        }
      }
    } catch (InvalidInputException e) {
      return Future.failedFuture(e);
    }
    return withIdempotency(tenantId, idempotencyKey, hash, () -> {
      UUID jobId = Ids.newId();
      return jobs.beginIngest(jobId).compose(tx -> {
        Future<Void> inserts = Future.succeededFuture();
        int batch = limits.ingestBatchRows();
        for (int from = 0; from < emails.length; from += batch) {
          int to = Math.min(emails.length, from + batch);
          int first = from;
          // statements queue on the connection in order; each batch is its own statement
          inserts = Future.all(inserts, tx.insertRecipients(first, Arrays.copyOfRange(emails, from, to), Arrays.copyOfRange(vars, from, to))).mapEmpty();
        }
        return inserts
            .compose(v -> tx.commit(tenantId, spec.toJson(), emails.length, chunkSize, idempotencyKey, hash))
            .map(v -> new Accepted(jobId, emails.length, false))
            .onFailure(e -> tx.rollback());
      });
    });
  }

  /** An NDJSON job: the first line is the job, each following line one recipient. */
  public Future<Accepted> submitNdjson(UUID tenantId, ReadStream<Buffer> body, String idempotencyKey) {
    InvalidInputException badKey = checkIdempotencyKey(idempotencyKey);
    if (badKey != null) {
      return Future.failedFuture(badKey);
    }
    return admitted(() -> {
      if (idempotencyKey == null) {
        return new NdjsonIngest(tenantId, body, null).run();
      }
      return jobs.findIdempotencyKey(tenantId, idempotencyKey).compose(found -> {
        if (found.isEmpty()) {
          return new NdjsonIngest(tenantId, body, idempotencyKey).run();
        }
        // a retry: hash the body without storing it, then answer as the first time (or refuse a different body)
        return hashStream(body).compose(hash -> replay(tenantId, found.get(), hash));
      });
    });
  }

  private Future<Accepted> withIdempotency(UUID tenantId, String key, byte[] hash, Supplier<Future<Accepted>> create) {
    if (key == null) {
      return create.get();
    }
    return jobs.findIdempotencyKey(tenantId, key).compose(found -> found.isPresent()
        ? replay(tenantId, found.get(), hash)
        : create.get().recover(e -> raceLost(tenantId, key, hash, e)));
  }

  /** Two requests with one key committed at once: the loser answers like a retry. */
  private Future<Accepted> raceLost(UUID tenantId, String key, byte[] hash, Throwable e) {
    if (!SqlErrors.isUniqueViolation(e)) {
      return Future.failedFuture(e);
    }
    return jobs.findIdempotencyKey(tenantId, key).compose(found -> found.isPresent()
        ? replay(tenantId, found.get(), hash)
        : Future.failedFuture(e));
  }

  private Future<Accepted> replay(UUID tenantId, JobStore.IdempotentJob job, byte[] hash) {
    if (!MessageDigest.isEqual(job.requestHash(), hash)) {
      return Future.failedFuture(new UnprocessableException("idempotency_key_reused",
          "this Idempotency-Key was used for a different request body"));
    }
    return jobs.get(tenantId, job.jobId()).map(j -> new Accepted(job.jobId(), j.map(r -> r.recipients()).orElse(0), true));
  }

  private Future<Accepted> admitted(Supplier<Future<Accepted>> work) {
    if (ingests.incrementAndGet() > limits.maxConcurrentIngests()) {
      ingests.decrementAndGet();
      return Future.failedFuture(new OverloadedException(
          "too many job submissions in progress (" + limits.maxConcurrentIngests() + "); retry shortly", 1));
    }
    Future<Accepted> f;
    try {
      f = work.get();
    } catch (RuntimeException e) {
      f = Future.failedFuture(e);
    }
    return f.andThen(ar -> {
      ingests.decrementAndGet();
      if (ar.succeeded() && !ar.result().replayed()) {
        onAccepted.run();
      }
    });
  }

  private InvalidInputException checkIdempotencyKey(String key) {
    if (key != null && (key.isEmpty() || key.length() > limits.maxIdempotencyKeyChars() || !key.chars().allMatch(c -> c > 32 && c < 127))) {
      return new InvalidInputException("invalid_idempotency_key",
          "Idempotency-Key must be 1 to " + limits.maxIdempotencyKeyChars() + " printable ASCII characters", "Idempotency-Key");
    }
    return null;
  }

  private Future<byte[]> hashStream(ReadStream<Buffer> body) {
    MessageDigest md = sha256();
    Promise<byte[]> p = Promise.promise();
    RecordParser lines = RecordParser.newDelimited("\n", new LineLimitedStream(body, limits.maxNdjsonLineBytes()));
    lines.exceptionHandler(e -> p.tryFail(e instanceof LineLimitedStream.TooLong t ? lineTooLong(t.line) : e));
    lines.handler(line -> {
      md.update(line.getBytes());
      md.update((byte) '\n');
    });
    lines.endHandler(v -> p.tryComplete(md.digest()));
    lines.resume();
    return p.future();
  }

  private io.mailgate.error.RequestTimeoutException timedOut() {
    return new io.mailgate.error.RequestTimeoutException("the job was not received within " + limits.ingestTimeout().toSeconds()
        + " s (MAILGATE_INGEST_TIMEOUT); nothing was stored");
  }

  private InvalidInputException lineTooLong(long line) {
    return new InvalidInputException("line_too_long",
        "line " + line + " is longer than " + limits.maxNdjsonLineBytes() + " bytes", null, line);
  }

  private static byte[] sha256(Buffer b) {
    return sha256().digest(b.getBytes());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String shortReason(Exception e) {
    String m = e.getMessage() == null ? "" : e.getMessage();
    int nl = m.indexOf('\n');
    m = nl < 0 ? m : m.substring(0, nl);
    return m.length() > 200 ? m.substring(0, 200) : m;
  }

  /**
   * One NDJSON submission in flight. All callbacks run on the request's event loop. Recipients accumulate into a
   * batch of {@code ingestBatchRows}; full batches are written while the next fills, and the request is paused
   * whenever {@code ingestBatchesInFlight} writes are outstanding.
   */
  private final class NdjsonIngest {
    private final UUID tenantId;
    private final String idempotencyKey;
    private final RecordParser lines;
    private final MessageDigest md = sha256();
    private final Promise<Accepted> result = Promise.promise();
    private final UUID jobId = Ids.newId();
    private IngestTransaction tx;
    private byte[] hash;
    private JobSpec spec;
    private long lineNo;
    private int count;
    private int batchStart;
    private String[] emails;
    private String[] vars;
    private int fill;
    private int inFlight;
    private boolean ended;
    private boolean failed;

    NdjsonIngest(UUID tenantId, ReadStream<Buffer> body, String idempotencyKey) {
      this.tenantId = tenantId;
      this.idempotencyKey = idempotencyKey;
      // the line limit is enforced on the bytes as they arrive: RecordParser.maxRecordSize would also count the
      // complete lines the parser holds while it is paused (transaction opening, batches in flight)
      this.lines = RecordParser.newDelimited("\n", new LineLimitedStream(body, limits.maxNdjsonLineBytes()));
    }

    Future<Accepted> run() {
      newBatch();
      // a client that trickles its body would hold an ingest slot and a database transaction: bound the whole upload
      long deadline = vertx.setTimer(limits.ingestTimeout().toMillis(), id -> fail(timedOut()));
      result.future().onComplete(ar -> vertx.cancelTimer(deadline));
      lines.exceptionHandler(e -> fail(e instanceof LineLimitedStream.TooLong t ? lineTooLong(t.line) : e));
      lines.handler(this::onLine);
      lines.endHandler(v -> {
        ended = true;
        maybeFinish();
      });
      // the request was paused while the caller was authenticated: start reading
      lines.resume();
      return result.future().recover(e -> hash != null && idempotencyKey != null
          ? raceLost(tenantId, idempotencyKey, hash, e)
          : Future.failedFuture(e));
    }

    private void onLine(Buffer raw) {
      if (failed) {
        return;
      }
      lineNo++;
      md.update(raw.getBytes());
      md.update((byte) '\n');
      int len = raw.length();
      if (len > 0 && raw.getByte(len - 1) == '\r') {
        raw = raw.getBuffer(0, len - 1);
        len--;
      }
      if (isBlank(raw)) {
        return;
      }
      JsonObject obj;
      try {
        obj = new JsonObject(raw);
      } catch (DecodeException | ClassCastException e) {
        fail(new InvalidInputException("invalid_json", "line " + lineNo + " is not a JSON object: " + shortReason(e), null, lineNo));
        return;
      }
      try {
        if (spec == null) {
          spec = specParser.parse(obj, false);
          // nothing is read until the transaction is open
          lines.pause();
          jobs.beginIngest(jobId).onComplete(ar -> {
            if (ar.failed()) {
              fail(ar.cause());
            } else {
              tx = ar.result();
              if (failed) {
                tx.rollback();
              } else {
                lines.resume();
              }
            }
          });
          return;
        }
        RecipientParser.Parsed p = recipientParser.parse(obj);
        if (count >= limits.maxRecipientsPerJob()) {
          throw new InvalidInputException("too_many_recipients", "at most " + limits.maxRecipientsPerJob() + " recipients per job", null);
        }
        emails[fill] = p.email();
        vars[fill] = p.varsJson();
        fill++;
        count++;
        if (fill == emails.length) {
          writeBatch();
        }
      } catch (InvalidInputException e) {
        fail(e.atLine(lineNo));
      }
    }

    private void newBatch() {
      emails = new String[limits.ingestBatchRows()];
      vars = new String[limits.ingestBatchRows()];
      fill = 0;
      batchStart = count;
    }

    private void writeBatch() {
      String[] e = fill == emails.length ? emails : Arrays.copyOf(emails, fill);
      String[] v = fill == vars.length ? vars : Arrays.copyOf(vars, fill);
      int first = batchStart;
      newBatch();
      inFlight++;
      if (inFlight >= limits.ingestBatchesInFlight()) {
        lines.pause();
      }
      tx.insertRecipients(first, e, v).onComplete(ar -> {
        inFlight--;
        if (ar.failed()) {
          fail(ar.cause());
          return;
        }
        if (!failed && !ended && inFlight < limits.ingestBatchesInFlight()) {
          lines.resume();
        }
        maybeFinish();
      });
    }

    private void maybeFinish() {
      if (failed || !ended) {
        return;
      }
      if (spec == null) {
        fail(new InvalidInputException("missing_job", "the body is empty: the first line must be the job", null, 1L));
        return;
      }
      if (tx == null) {
        return; // the transaction is still being opened
      }
      if (fill > 0) {
        writeBatch();
        return;
      }
      if (inFlight > 0) {
        return;
      }
      if (count == 0) {
        fail(new InvalidInputException("no_recipients", "a job needs at least one recipient line after the job line", null, lineNo));
        return;
      }
      failed = true; // no further events matter
      hash = md.digest();
      tx.commit(tenantId, spec.toJson(), count, chunkSize, idempotencyKey, hash)
          .onSuccess(v -> result.complete(new Accepted(jobId, count, false)))
          .onFailure(result::fail);
    }

    private void fail(Throwable e) {
      if (failed) {
        return;
      }
      failed = true;
      lines.pause();
      if (tx != null) {
        tx.rollback();
      }
      result.tryFail(e);
    }

    private boolean isBlank(Buffer b) {
      for (int i = 0; i < b.length(); i++) {
        byte c = b.getByte(i);
        if (c != ' ' && c != '\t' && c != '\r') {
          return false;
        }
      }
      return true;
    }
  }
}

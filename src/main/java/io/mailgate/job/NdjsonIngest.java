package io.mailgate.job;

import io.mailgate.config.GatewayConfig.LimitsConfig;
import io.mailgate.error.InvalidInputException;
import io.mailgate.job.JobIntake.Accepted;
import io.mailgate.store.Ids;
import io.mailgate.store.IngestTransaction;
import io.mailgate.store.JobStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.core.parsetools.RecordParser;
import io.vertx.core.streams.ReadStream;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.UUID;

/**
 * One NDJSON submission in flight: the first line is the job, each following line one recipient, streamed into one
 * transaction. Recipients accumulate into a batch of {@code ingestBatchRows}; full batches are written while the next
 * fills, and the request is paused whenever {@code ingestBatchesInFlight} writes are outstanding, so memory does not
 * grow with the list. All callbacks run on the request's event loop.
 */
final class NdjsonIngest {

  /** What an NDJSON ingest needs of the intake around it. */
  record Setup(Vertx vertx, JobStore jobs, LimitsConfig limits, JobSpecParser specParser, RecipientParser recipientParser,
               Idempotency idempotency, int chunkSize, int smallJobRecipients) {}

  private final Setup s;
  private final UUID tenantId;
  private final JobSpecParser.TenantDefaults defaults;
  private final String idempotencyKey;
  private final RecordParser lines;
  private final MessageDigest md = Idempotency.sha256();
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

  NdjsonIngest(Setup setup, UUID tenantId, JobSpecParser.TenantDefaults defaults, ReadStream<Buffer> body,
               String idempotencyKey) {
    this.defaults = defaults;
    this.s = setup;
    this.tenantId = tenantId;
    this.idempotencyKey = idempotencyKey;
    // the line limit is enforced on the bytes as they arrive: RecordParser.maxRecordSize would also count the
    // complete lines the parser holds while it is paused (transaction opening, batches in flight)
    this.lines = RecordParser.newDelimited("\n", new LineLimitedStream(body, s.limits().maxNdjsonLineBytes()));
  }

  Future<Accepted> run() {
    newBatch();
    // a client that trickles its body would hold a stream slot and a database transaction: bound the whole upload
    long deadline = s.vertx().setTimer(s.limits().ingestTimeout().toMillis(), id -> fail(JobIntake.timedOut(s.limits())));
    result.future().onComplete(ar -> s.vertx().cancelTimer(deadline));
    lines.exceptionHandler(e -> fail(e instanceof LineLimitedStream.TooLong t ? JobIntake.lineTooLong(s.limits(), t.line) : e));
    lines.handler(this::onLine);
    lines.endHandler(v -> {
      ended = true;
      maybeFinish();
    });
    // the request was paused while the caller was authenticated: start reading
    lines.resume();
    return result.future().recover(e -> s.idempotency().raceLost(tenantId, idempotencyKey, hash, e));
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
      fail(new InvalidInputException("invalid_json", "line " + lineNo + " is not a JSON object: " + JobIntake.shortReason(e),
          null, lineNo));
      return;
    }
    try {
      if (spec == null) {
        spec = s.specParser().parse(obj, false, defaults);
        if (spec.shape() != io.mailgate.message.Campaign.Shape.PERSONAL) {
          throw new InvalidInputException("invalid_field", "a shared message (to, cc) is sent with a JSON body of at"
              + " most MAILGATE_MAX_SHARED_RECIPIENTS recipients, not NDJSON", "to", lineNo);
        }
        // nothing is read until the transaction is open
        lines.pause();
        s.jobs().beginIngest(jobId).onComplete(ar -> {
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
      RecipientParser.Parsed p = s.recipientParser().parse(obj);
      if (count >= s.limits().maxRecipientsPerJob()) {
        throw new InvalidInputException("too_many_recipients", "at most " + s.limits().maxRecipientsPerJob()
            + " recipients per job", null);
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
    } catch (io.mailgate.error.PayloadTooLargeException e) {
      fail(e);
    }
  }

  private void newBatch() {
    emails = new String[s.limits().ingestBatchRows()];
    vars = new String[s.limits().ingestBatchRows()];
    fill = 0;
    batchStart = count;
  }

  private void writeBatch() {
    String[] e = fill == emails.length ? emails : Arrays.copyOf(emails, fill);
    String[] v = fill == vars.length ? vars : Arrays.copyOf(vars, fill);
    int first = batchStart;
    newBatch();
    inFlight++;
    if (inFlight >= s.limits().ingestBatchesInFlight()) {
      lines.pause();
    }
    tx.insertRecipients(first, e, v).onComplete(ar -> {
      inFlight--;
      if (ar.failed()) {
        fail(ar.cause());
        return;
      }
      if (!failed && !ended && inFlight < s.limits().ingestBatchesInFlight()) {
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
    int priority = spec.priorityFor(count, s.smallJobRecipients()).code;
    tx.commit(tenantId, spec.toJson(), count, s.chunkSize(), priority, spec.expiresAt(), spec.sendAt(), idempotencyKey, hash,
        spec.attachments())
        .onSuccess(v -> result.complete(new Accepted(jobId, count, false, tenantId, priority,
            (count + s.chunkSize() - 1) / s.chunkSize())))
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

  private static boolean isBlank(Buffer b) {
    for (int i = 0; i < b.length(); i++) {
      byte c = b.getByte(i);
      if (c != ' ' && c != '\t' && c != '\r') {
        return false;
      }
    }
    return true;
  }
}

package io.mailgate.job;

import io.mailgate.config.GatewayConfig.IntakeConfig;
import io.mailgate.config.GatewayConfig.LimitsConfig;
import io.mailgate.error.InvalidInputException;
import io.mailgate.error.RequestTimeoutException;
import io.mailgate.message.MimeMessage;
import io.mailgate.store.BlobParts;
import io.mailgate.store.FileParts;
import io.mailgate.store.Ids;
import io.mailgate.store.JobStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.parsetools.RecordParser;
import io.vertx.core.streams.ReadStream;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Accepts jobs, and answers only once a job and all its recipients are committed. Every submission is admitted by
 * cost first ({@link Admission}). Small JSON jobs are written with the others waiting at the same moment, in one
 * statement ({@link GroupCommitter}); larger JSON jobs in a transaction of their own, in batches; NDJSON bodies
 * stream into a transaction with backpressure ({@link NdjsonIngest}).
 */
public final class JobIntake {

  /**
   * A job that was accepted (now, or earlier under the same Idempotency-Key): its tenant, priority and number of
   * chunks, for the dispatcher of this process to take it at once.
   */
  public record Accepted(UUID jobId, int recipients, boolean replayed, UUID tenantId, int priority, int chunks) {
    Accepted(UUID jobId, int recipients, boolean replayed) {
      this(jobId, recipients, replayed, null, 0, 0);
    }
  }

  private final Vertx vertx;
  private final JobStore jobs;
  private final LimitsConfig limits;
  private final IntakeConfig intake;
  private final int chunkSize;
  private final JobSpecParser specParser;
  private final RecipientParser recipientParser;
  private final Idempotency idempotency;
  private final Admission admission;
  private final NdjsonIngest.Setup ndjson;
  private final java.util.function.Consumer<Accepted> onAccepted;
  private final Map<Thread, GroupCommitter> committers = new ConcurrentHashMap<>();
  private java.util.function.Function<UUID, Future<Void>> oneMessageRoutes = tenant -> Future.succeededFuture();

  public JobIntake(Vertx vertx, JobStore jobs, LimitsConfig limits, IntakeConfig intake, int chunkSize,
                   java.util.function.Consumer<Accepted> onAccepted) {
    this(vertx, jobs, limits, intake, chunkSize, false, onAccepted);
  }

  /** @param unsubscribeAvailable whether jobs may ask for one-click unsubscribe (MAILGATE_PUBLIC_URL is set) */
  public JobIntake(Vertx vertx, JobStore jobs, LimitsConfig limits, IntakeConfig intake, int chunkSize,
                   boolean unsubscribeAvailable, java.util.function.Consumer<Accepted> onAccepted) {
    this.vertx = vertx;
    this.jobs = jobs;
    this.limits = limits;
    this.intake = intake;
    this.chunkSize = chunkSize;
    this.specParser = new JobSpecParser(limits, unsubscribeAvailable);
    this.recipientParser = new RecipientParser(limits);
    this.idempotency = new Idempotency(jobs, limits.maxIdempotencyKeyChars());
    this.admission = new Admission(vertx, new Admission.Bounds(intake.maxBytes(), intake.maxStreams(), intake.queueSize(),
        intake.queueTimeout().toMillis(), intake.tenantShare()));
    this.ndjson = new NdjsonIngest.Setup(vertx, jobs, limits, specParser, recipientParser, idempotency, chunkSize,
        intake.smallJobRecipients());
    this.onAccepted = onAccepted;
  }

  public LimitsConfig limits() {
    return limits;
  }

  public Admission admission() {
    return admission;
  }

  /** Checks a tenant's route before a shared or MIME job is stored (none by default); call once, at start-up. */
  public JobIntake oneMessageRoutes(java.util.function.Function<UUID, Future<Void>> check) {
    this.oneMessageRoutes = check;
    return this;
  }

  /**
   * A MIME job as read from its request: its fields as a JSON job (recipients, tags...), and the message, in the
   * temporary file {@code path} (its upload), or {@code text} for a client that sent it as a plain field.
   */
  public record MimeJob(JsonObject job, String path, byte[] text) {}

  /**
   * A caller's whole MIME message to the recipients of {@code job} (Mailgun's messages.mime): admitted by its declared
   * size first (or {@code maxMimeMessageBytes} when unknown), then read ({@code read}, which streams it to disk),
   * its fields validated like a JSON job's (tags, metadata, sendAt, testMode, recipients), then the message checked
   * while it is written in parts ({@link MimeMessage.Checker}), with the job, in one transaction: a message refused
   * half-way leaves nothing. The temporary file is the caller's to delete once this completes.
   */
  public Future<Accepted> submitMime(UUID tenantId, long declaredBytes, Supplier<Future<MimeJob>> read) {
    long cost = declaredBytes >= 0 ? declaredBytes : limits.maxMimeMessageBytes();
    return admitted(admission.admit(tenantId, cost, false), () -> read.get()
        .timeout(limits.ingestTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .recover(e -> Future.failedFuture(e instanceof java.util.concurrent.TimeoutException ? timedOut(limits) : e))
        .compose(m -> mimeJob(tenantId, m)));
  }

  /** Stands in for a MIME job's From while its fields are checked, before the message is read. */
  private static final String MIME_FIELDS_FROM = "mime@mailgate.example";

  private Future<Accepted> mimeJob(UUID tenantId, MimeJob m) {
    JobSpec checked;
    String[] emails;
    try {
      // the job's own fields are checked as any job's, before the message is read: the message stands in for from,
      // subject and body
      JsonObject fields = m.job().copy().put("from", MIME_FIELDS_FROM).put("subject", "mime").put("text", "");
      JsonArray list = (JsonArray) fields.remove("recipients");
      checked = specParser.parse(fields, false, JobSpecParser.TenantDefaults.NONE);
      if (list == null || list.isEmpty()) {
        throw new InvalidInputException("no_recipients", "a job needs at least one recipient", "recipients");
      }
      emails = new String[list.size()];
      for (int i = 0; i < list.size(); i++) {
        emails[i] = recipientParser.parse(list.getValue(i)).email();
      }
      checkShared(emails, new String[emails.length]);
    } catch (InvalidInputException e) {
      return Future.failedFuture(e);
    }
    UUID jobId = Ids.newId();
    int priority = checked.priorityFor(emails.length, intake.smallJobRecipients()).code;
    BlobParts source = m.path() != null ? new FileParts(vertx, m.path(), limits.blobChunkBytes())
        : BlobParts.of(m.text(), limits.blobChunkBytes());
    CheckedMimeParts message = new CheckedMimeParts(vertx, source, limits.blobChunkBytes(), limits.maxMimeHeaderBytes());
    return oneMessageRoutes.apply(tenantId).compose(ok -> jobs.beginIngest(jobId)).compose(tx -> tx.insertMessage(message)
        .compose(size -> {
          MimeMessage.Checked msg = message.checked();
          JobSpec spec = new JobSpec(msg.from(), null, msg.subject() == null ? "" : msg.subject(), null, null, Map.of(),
              checked.tags(), checked.priority(), checked.expiresAt(), checked.sendAt(), null, checked.metadata(),
              checked.testMode(), io.mailgate.message.Campaign.Shape.MIME, null, null);
          return tx.insertRecipients(0, emails, new String[emails.length])
              .compose(v -> tx.commit(tenantId, spec.toJson(), emails.length, chunkSize, priority, spec.expiresAt(),
                  spec.sendAt(), null, null));
        })
        .map(v -> new Accepted(jobId, emails.length, false, tenantId, priority, (emails.length + chunkSize - 1) / chunkSize))
        .onFailure(e -> tx.rollback()));
  }

  /**
   * A whole JSON job. Admission comes before the body is read, by its declared size ({@code declaredBytes}, or the
   * largest JSON body allowed when the request has no Content-Length): what the bodies held in memory weigh is
   * bounded, not the number of clients.
   */
  public Future<Accepted> submitJson(UUID tenantId, JobSpecParser.TenantDefaults defaults, long declaredBytes,
                                     Supplier<Future<Buffer>> readBody, String idempotencyKey) {
    InvalidInputException badKey = idempotency.check(idempotencyKey);
    if (badKey != null) {
      return Future.failedFuture(badKey);
    }
    long cost = declaredBytes >= 0 ? declaredBytes : limits.maxJsonBodyBytes();
    return admitted(admission.admit(tenantId, cost, false), () -> readBody.get()
        .timeout(limits.ingestTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .recover(e -> Future.failedFuture(e instanceof java.util.concurrent.TimeoutException ? timedOut(limits) : e))
        .compose(body -> submitJsonBody(tenantId, defaults, body, idempotencyKey)));
  }

  /**
   * A file of a form (Mailgun's attachment and inline parts), its name, type and Content-ID checked, its bytes in the
   * temporary file {@code path} (its upload) until the job is stored.
   */
  public record FormFile(String filename, String contentType, String contentId, String path) {}

  /** A Mailgun form as read from its request: its fields as a JSON job, and its files. */
  public record FormJob(JsonObject job, java.util.List<FormFile> files) {}

  /**
   * A job from a form (Mailgun's messages with its attachment and inline parts): admitted by its declared size (or
   * {@code maxBytes} when unknown), read ({@code read} streams the files to disk), validated like a JSON job and,
   * with files, written with them in one transaction, each read back from its file a part at a time. The temporary
   * files are the caller's to delete once this completes.
   */
  public Future<Accepted> submitForm(UUID tenantId, JobSpecParser.TenantDefaults defaults, long declaredBytes,
                                     long maxBytes, Supplier<Future<FormJob>> read) {
    long cost = declaredBytes >= 0 ? declaredBytes : maxBytes;
    return admitted(admission.admit(tenantId, cost, false), () -> read.get()
        .timeout(limits.ingestTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .recover(e -> Future.failedFuture(e instanceof java.util.concurrent.TimeoutException ? timedOut(limits) : e))
        .compose(form -> submitJob(tenantId, defaults, form.job(), form.files(), null, null)));
  }

  /** An NDJSON job: the first line is the job, each following line one recipient. */
  public Future<Accepted> submitNdjson(UUID tenantId, JobSpecParser.TenantDefaults defaults, ReadStream<Buffer> body,
                                       String idempotencyKey) {
    InvalidInputException badKey = idempotency.check(idempotencyKey);
    if (badKey != null) {
      return Future.failedFuture(badKey);
    }
    return admitted(admission.admit(tenantId, 0, true), () -> {
      if (idempotencyKey == null) {
        return new NdjsonIngest(ndjson, tenantId, defaults, body, null).run();
      }
      return jobs.findIdempotencyKey(tenantId, idempotencyKey).compose(found -> {
        if (found.isEmpty()) {
          return new NdjsonIngest(ndjson, tenantId, defaults, body, idempotencyKey).run();
        }
        // a retry: hash the body without storing it, then answer as the first time (or refuse a different body)
        return hashStream(body).compose(hash -> idempotency.replay(tenantId, found.get(), hash));
      });
    });
  }

  /** A whole JSON job already read within the body limit (the caller was admitted). */
  private Future<Accepted> submitJsonBody(UUID tenantId, JobSpecParser.TenantDefaults defaults, Buffer body,
                                          String idempotencyKey) {
    byte[] hash = Idempotency.sha256(body);
    JsonObject json;
    try {
      json = new JsonObject(body);
    } catch (DecodeException | ClassCastException e) {
      return Future.failedFuture(new InvalidInputException("invalid_json", "body is not a JSON object: " + shortReason(e), null));
    }
    return submitJob(tenantId, defaults, json, java.util.List.of(), idempotencyKey, hash);
  }

  /** @param files a form's files (none for a JSON body, whose {@code attachments} the spec carries) */
  private Future<Accepted> submitJob(UUID tenantId, JobSpecParser.TenantDefaults defaults, JsonObject json,
                                     java.util.List<FormFile> files, String idempotencyKey, byte[] hash) {
    java.util.concurrent.Callable<Checked> check = () -> checked(json, defaults);
    // decoding attachments (up to MAILGATE_MAX_JSON_ATTACHMENT_BYTES of base64) is for a worker, not the event loop
    Future<Checked> checked;
    if (json.getValue("attachments") instanceof JsonArray a && !a.isEmpty()) {
      checked = vertx.executeBlocking(check, false);
    } else {
      try {
        checked = Future.succeededFuture(check.call());
      } catch (Exception e) {
        checked = Future.failedFuture(e);
      }
    }
    return checked.compose(c -> {
      int priority = c.spec().priorityFor(c.emails().length, intake.smallJobRecipients()).code;
      if (c.spec().shape() != io.mailgate.message.Campaign.Shape.PERSONAL) {
        return oneMessageRoutes.apply(tenantId)
            .compose(ok -> store(tenantId, c.spec(), files, priority, c.emails(), c.vars(), idempotencyKey, hash));
      }
      return store(tenantId, c.spec(), files, priority, c.emails(), c.vars(), idempotencyKey, hash);
    });
  }

  /** A JSON job checked: its spec and its recipients. */
  private record Checked(JobSpec spec, String[] emails, String[] vars) {}

  private Checked checked(JsonObject json, JobSpecParser.TenantDefaults defaults) {
    JobSpec spec = specParser.parse(json, true, defaults);
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
    String[] emails = new String[list.size()];
    String[] vars = new String[list.size()];
    for (int i = 0; i < list.size(); i++) {
      try {
        RecipientParser.Parsed p = recipientParser.parse(list.getValue(i));
        emails[i] = p.email();
        vars[i] = p.varsJson();
      } catch (InvalidInputException e) {
        throw new InvalidInputException(e.code(), "recipients[" + i + "]: " + e.getMessage(), "recipients[" + i + "]." + e.field(), null);
      }
    }
    if (spec.shape() == io.mailgate.message.Campaign.Shape.SHARED) {
      checkShared(emails, vars);
    }
    return new Checked(spec, emails, vars);
  }

  private Future<Accepted> store(UUID tenantId, JobSpec spec, java.util.List<FormFile> files, int priority,
                                 String[] emails, String[] vars, String idempotencyKey, byte[] hash) {
    // a job with files has a transaction of its own (a group's one statement carries no files)
    if (emails.length <= intake.groupMaxRecipients() && spec.attachments().isEmpty() && files.isEmpty()) {
      JobStore.NewJob job = new JobStore.NewJob(Ids.newId(), tenantId, spec.toJson(), chunkSize, priority, spec.expiresAt(), spec.sendAt(),
          idempotencyKey, hash, emails, vars);
      int chunks = (emails.length + chunkSize - 1) / chunkSize;
      return committer().submit(job).compose(written -> written
          ? Future.succeededFuture(new Accepted(job.id(), emails.length, false, tenantId, priority, chunks))
          : idempotency.replay(tenantId, idempotencyKey, hash));
    }
    return bigJob(tenantId, spec, files, priority, emails, vars, idempotencyKey, hash);
  }

  /** A shared message's recipients: no vars (nothing is substituted), at most MAILGATE_MAX_SHARED_RECIPIENTS. */
  private void checkShared(String[] emails, String[] vars) {
    if (emails.length > limits.maxSharedRecipients()) {
      throw new InvalidInputException("too_many_recipients", "a shared message (to, cc) has at most "
          + limits.maxSharedRecipients() + " recipients (MAILGATE_MAX_SHARED_RECIPIENTS)", "recipients");
    }
    for (int i = 0; i < vars.length; i++) {
      if (vars[i] != null) {
        throw new InvalidInputException("invalid_recipient", "recipients[" + i + "]: a shared message (to, cc) is the"
            + " same for every recipient: vars are not allowed", "recipients[" + i + "].vars");
      }
    }
  }

  /**
   * A JSON job too big for a group, or with files: its own transaction, recipients in batches of
   * {@code ingestBatchRows}, then a form's files, each read back from its temporary file a part at a time.
   */
  private Future<Accepted> bigJob(UUID tenantId, JobSpec spec, java.util.List<FormFile> files, int priority,
                                  String[] emails, String[] vars, String key, byte[] hash) {
    Future<Accepted> pre = key == null ? Future.succeededFuture()
        : jobs.findIdempotencyKey(tenantId, key).compose(found -> found.isPresent()
            ? idempotency.replay(tenantId, found.get(), hash) : Future.succeededFuture());
    return pre.compose(replayed -> {
      if (replayed != null) {
        return Future.succeededFuture(replayed);
      }
      UUID jobId = Ids.newId();
      return jobs.beginIngest(jobId).compose(tx -> {
        Future<Void> inserts = Future.succeededFuture();
        int batch = limits.ingestBatchRows();
        for (int from = 0; from < emails.length; from += batch) {
          int to = Math.min(emails.length, from + batch);
          int first = from;
          // statements queue on the connection in order; each batch is its own statement
          inserts = Future.all(inserts, tx.insertRecipients(first, Arrays.copyOfRange(emails, from, to),
              Arrays.copyOfRange(vars, from, to))).mapEmpty();
        }
        for (FormFile file : files) {
          inserts = inserts.compose(v -> tx.insertAttachment(file.filename(), file.contentType(), file.contentId(),
              new FileParts(vertx, file.path(), limits.blobChunkBytes())));
        }
        JsonObject stored = spec.toJson();
        if (!files.isEmpty()) {
          // the stored spec counts the job's files: a form's, then any of its own
          stored.put("attachments", files.size() + spec.attachments().size());
        }
        return inserts
            .compose(v -> tx.commit(tenantId, stored, emails.length, chunkSize, priority, spec.expiresAt(),
                spec.sendAt(), key, hash, spec.attachments()))
            .map(v -> new Accepted(jobId, emails.length, false, tenantId, priority, (emails.length + chunkSize - 1) / chunkSize))
            .onFailure(e -> tx.rollback());
      }).recover(e -> idempotency.raceLost(tenantId, key, hash, e));
    });
  }

  /**
   * This event loop's group committer: one per loop, its groups written from that loop. Keyed by the loop's thread:
   * every request has a context of its own (a duplicate of the loop's), so the context would give one per request.
   */
  private GroupCommitter committer() {
    return committers.computeIfAbsent(Thread.currentThread(), t -> new GroupCommitter(jobs, intake.groupMaxJobs(),
        intake.groupMaxRecipients(), intake.groupWriters()));
  }

  private Future<Accepted> admitted(Future<Admission.Ticket> ticket, Supplier<Future<Accepted>> work) {
    return ticket.compose(t -> {
      Future<Accepted> f;
      try {
        f = work.get();
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      return f.andThen(ar -> {
        t.release();
        if (ar.succeeded() && !ar.result().replayed()) {
          onAccepted.accept(ar.result());
        }
      });
    });
  }

  private Future<byte[]> hashStream(ReadStream<Buffer> body) {
    MessageDigest md = Idempotency.sha256();
    Promise<byte[]> p = Promise.promise();
    RecordParser lines = RecordParser.newDelimited("\n", new LineLimitedStream(body, limits.maxNdjsonLineBytes()));
    lines.exceptionHandler(e -> p.tryFail(e instanceof LineLimitedStream.TooLong t ? lineTooLong(limits, t.line) : e));
    lines.handler(line -> {
      md.update(line.getBytes());
      md.update((byte) '\n');
    });
    lines.endHandler(v -> p.tryComplete(md.digest()));
    lines.resume();
    return p.future();
  }

  static RequestTimeoutException timedOut(LimitsConfig limits) {
    return new RequestTimeoutException("the job was not received within " + limits.ingestTimeout().toSeconds()
        + " s (MAILGATE_INGEST_TIMEOUT); nothing was stored");
  }

  static InvalidInputException lineTooLong(LimitsConfig limits, long line) {
    return new InvalidInputException("line_too_long",
        "line " + line + " is longer than " + limits.maxNdjsonLineBytes() + " bytes", null, line);
  }

  static String shortReason(Exception e) {
    String m = e.getMessage() == null ? "" : e.getMessage();
    int nl = m.indexOf('\n');
    m = nl < 0 ? m : m.substring(0, nl);
    return m.length() > 200 ? m.substring(0, 200) : m;
  }
}

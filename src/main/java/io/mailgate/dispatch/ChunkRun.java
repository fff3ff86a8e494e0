package io.mailgate.dispatch;

import io.mailgate.backend.Delivery;
import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.RateLimiter;
import io.mailgate.events.BounceClassifier;
import io.mailgate.message.Campaign;
import io.mailgate.message.ComposedMessage;
import io.mailgate.message.MessageSigner;
import io.mailgate.message.MimeComposer;
import io.mailgate.stats.GatewayMetrics;
import io.mailgate.store.DispatchStore;
import io.mailgate.store.ClaimStore.Claim;
import io.mailgate.store.DispatchStore.Update;
import io.vertx.core.Future;
import io.vertx.core.WorkerExecutor;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;

/**
 * One leased chunk being sent: the {@link Delivery} its backend works through. Marks recipients 'sending' in windows
 * of {@code markAhead} just before the backend takes them (so after a crash only a window's worth more than what
 * was really in flight is flagged as possibly sent twice), turns each outcome into the recipient's next state (sent,
 * deferred with a retry time, failed) and hands it to the {@link StateWriter}.
 */
final class ChunkRun implements Delivery {

  /** Why a run stopped before its end; decides what happens to recipients not yet sent. */
  enum Stop { PAUSED, CANCELLED, LEASE_LOST, SHUTDOWN, BACKEND_DOWN, STORE_FAILED, EXPIRED }

  final Claim claim;
  private final JobContext job;
  private final List<OutboundRecipient> recipients;
  private final boolean[] reported;
  private final StateWriter writer;
  private final WorkerExecutor signing;
  private final RetryPolicy retry;
  private final GatewayMetrics metrics;
  private final java.util.function.Supplier<String> backendName;
  private final RateLimiter tenantRate;
  private final java.util.function.Consumer<Outcome> observer;
  private Future<Void> lastWrite = Future.succeededFuture();
  private Stop stop;
  private final DispatchStore store;
  private final String owner;
  private final int markAhead;
  private final boolean[] marked;
  /** Recipients (a prefix of the list) the backend was allowed to take, and those a mark was asked for. */
  private int announced;
  private int markRequested;
  private int markedUpTo;
  private Future<Void> marking = Future.succeededFuture();
  /** What the events of this run share, and where the backend says it sends (for outcomes that do not say). */
  private final DispatchStore.Origin origin;
  private final java.util.function.Supplier<String> endpoint;

  ChunkRun(Claim claim, JobContext job, List<OutboundRecipient> recipients, StateWriter writer, WorkerExecutor signing,
           RetryPolicy retry, GatewayMetrics metrics, java.util.function.Supplier<String> backendName, RateLimiter tenantRate,
           java.util.function.Consumer<Outcome> observer, DispatchStore store, String owner, int markAhead,
           boolean premarked, DispatchStore.Origin origin, java.util.function.Supplier<String> endpoint) {
    this.origin = origin;
    this.endpoint = endpoint;
    this.store = store;
    this.owner = owner;
    this.markAhead = Math.max(1, markAhead);
    this.marked = new boolean[claim.endSeq() - claim.firstSeq()];
    if (premarked) {
      // the claim marked them 'sending' already
      recipients.forEach(r -> marked[r.seq() - claim.firstSeq()] = true);
      markRequested = recipients.size();
      markedUpTo = recipients.size();
    }
    this.signing = signing;
    this.tenantRate = tenantRate;
    this.observer = observer;
    this.claim = claim;
    this.job = job;
    this.recipients = recipients;
    this.reported = new boolean[claim.endSeq() - claim.firstSeq()];
    this.writer = writer;
    this.retry = retry;
    this.metrics = metrics;
    this.backendName = backendName;
  }

  @Override
  public Campaign campaign() {
    return job.campaign();
  }

  @Override
  public MimeComposer composer() {
    return job.composer();
  }

  @Override
  public Future<ComposedMessage> message(OutboundRecipient r) {
    if (job.campaign().oneMessage()) {
      return job.one().get(this::oneMessage);
    }
    MessageSigner signer = job.signer();
    if (signer == null && !job.campaign().attachments().isEmpty()) {
      // a message with attachments may be megabytes (and the first one encodes them): off the event loop
      return signing.executeBlocking(() -> job.composer().compose(r.seq(), r.email(), r.vars()), false);
    }
    if (signer == null) {
      try {
        return Future.succeededFuture(job.composer().compose(r.seq(), r.email(), r.vars()));
      } catch (RuntimeException e) {
        return Future.failedFuture(e);
      }
    }
    // composing and signing together on the signing pool: an RSA signature must not hold the event loop
    return signing.executeBlocking(() -> signer.sign(job.composer().compose(r.seq(), r.email(), r.vars())), false);
  }

  /** A shared or MIME job's message for all its recipients (the same bytes, one Message-ID). */
  private Future<ComposedMessage> oneMessage() {
    Campaign c = job.campaign();
    MessageSigner signer = job.signer();
    java.util.concurrent.Callable<ComposedMessage> compose = () -> {
      ComposedMessage m = c.shape() == Campaign.Shape.MIME ? c.mime().toComposed(c.messageId(0))
          : job.composer().composeShared(job.createdAt());
      return signer == null ? m : signer.sign(m);
    };
    // a MIME message may be megabytes: copied and signed off the event loop, like every signature
    return signing.executeBlocking(compose, false);
  }

  @Override
  public List<OutboundRecipient> recipients() {
    return recipients;
  }

  @Override
  public boolean highPriority() {
    return claim.highPriority();
  }

  @Override
  public boolean stopped() {
    return stop != null;
  }

  /**
   * Backends take recipients in list order and ask {@code ready(n)} for every {@code n} they take, before sending
   * them: so the first {@code announced} recipients are those handed out, and they are marked before it completes.
   * Never fails: if the marks cannot be written the run stops, and the backend, seeing {@link #stopped()}, sends
   * nothing more.
   */
  @Override
  public Future<Void> ready(int messages) {
    if (job.expired()) {
      stop(Stop.EXPIRED); // nothing more is handed to the backend; what is left ends 'expired'
      return Future.succeededFuture();
    }
    announced = Math.min(recipients.size(), announced + messages);
    Future<Void> m = markThrough(announced);
    if (m.succeeded()) {
      return admitted(messages); // the usual case: no waiting, no extra futures per send
    }
    return m.transform(ar -> {
      if (ar.failed()) {
        stop(Stop.STORE_FAILED);
        return Future.succeededFuture();
      }
      return admitted(messages);
    });
  }

  /** The dispatcher's unwritten outcomes below their bound, and the tenant's rate. */
  private Future<Void> admitted(int messages) {
    Future<Void> written = writer.ready();
    return tenantRate == null ? written : written.compose(v -> tenantRate.acquire(messages));
  }

  @Override
  public Future<Void> reportAll(Outcome outcome) {
    return markAll().map(v -> {
      recipients.forEach(r -> report(r, outcome, 0));
      return null;
    });
  }

  /** Every recipient marked (for the runs that report all of them without sending: held, backend unavailable). */
  Future<Void> markAll() {
    announced = recipients.size();
    return markThrough(recipients.size()).recover(e -> {
      stop(Stop.STORE_FAILED);
      return Future.succeededFuture();
    });
  }

  /**
   * Completes once the first {@code k} recipients are marked; keeps up to one and a half windows ahead of the
   * backend so it rarely waits (the next mark starts when less than half a window is left).
   */
  private Future<Void> markThrough(int k) {
    int size = recipients.size();
    boolean behind = markRequested < k;
    boolean low = markRequested < size && markRequested - k < markAhead / 2;
    if (behind || low) {
      int from = markRequested;
      int to = Math.min(size, Math.max(from, k) + markAhead);
      markRequested = to;
      marking = marking.compose(v -> markWindow(from, to));
    }
    if (markedUpTo >= k) {
      return Future.succeededFuture();
    }
    return marking;
  }

  private Future<Void> markWindow(int from, int to) {
    if (stop != null) {
      markedUpTo = to;
      return Future.succeededFuture(); // nothing more will be sent
    }
    int[] seqs = new int[to - from];
    for (int i = from; i < to; i++) {
      seqs[i - from] = recipients.get(i).seq();
    }
    return store.mark(claim.ref(), owner, seqs).map(m -> {
      for (int seq : m.seqs()) {
        marked[seq - claim.firstSeq()] = true;
      }
      markedUpTo = to;
      if (!m.leaseHeld()) {
        stop(Stop.LEASE_LOST);
      } else if (m.seqs().length < seqs.length) {
        // some were cancelled since the chunk was read: the job is being cancelled, send nothing more
        stop(Stop.CANCELLED);
      }
      return null;
    });
  }

  Stop stopReason() {
    return stop;
  }

  void stop(Stop reason) {
    // a lost lease wins over everything: the recipients belong to another dispatcher now
    if (stop == null || reason == Stop.LEASE_LOST || reason == Stop.CANCELLED && stop != Stop.LEASE_LOST) {
      stop = reason;
    }
  }

  @Override
  public void report(OutboundRecipient r, Outcome outcome, long latencyNanos) {
    int idx = r.seq() - claim.firstSeq();
    if (reported[idx] || !marked[idx]) {
      // not marked: never handed out (a backend reporting what it did not take), or skipped as cancelled
      return;
    }
    reported[idx] = true;
    observer.accept(outcome);
    Update u = toUpdate(r, outcome);
    metrics.send(backendName.get(), u.state(), latencyNanos);
    lastWrite = writer.add(u, claim.highPriority());
  }

  /** Completes when every outcome reported so far is in the database (batches are written in order). */
  Future<Void> written() {
    return lastWrite;
  }

  /** Recipients marked sending for this run that no backend call reported. */
  int[] unreported() {
    return recipients.stream().filter(r -> marked[r.seq() - claim.firstSeq()] && !reported[r.seq() - claim.firstSeq()])
        .mapToInt(OutboundRecipient::seq).toArray();
  }

  /** Completes when no mark is being written (so {@link #unreported()} is final). */
  Future<Void> marksSettled() {
    return marking.otherwiseEmpty();
  }

  /** Text from outside (a server's reply, a provider's error body) as the database can store it, bounded. */
  static String clean(String s) {
    if (s == null) {
      return null;
    }
    String t = s.indexOf('\0') >= 0 ? s.replace('\0', ' ') : s;
    return t.length() > 1000 ? t.substring(0, 1000) : t;
  }

  /**
   * A permanent failure's code as the classifier reads it: SMTP refuses for good with 5xx; a 4xx here is an HTTP
   * status (a provider's 400, 422), which says nothing of the address.
   */
  private static Integer smtpCode(Integer code) {
    return code != null && code >= 500 && code < 600 ? code : null;
  }

  private Update toUpdate(OutboundRecipient r, Outcome outcome) {
    int chunk = claim.chunkNo();
    if (outcome instanceof Outcome.Sent s) {
      return new Update(claim.jobId(), r.seq(), chunk, "sent", s.code(), clean(s.message()), clean(s.messageId()), null, false,
          origin, s.peer() != null ? clean(s.peer()) : endpoint.get(), clean(s.tlsName()), null);
    }
    if (outcome instanceof Outcome.Permanent p) {
      return new Update(claim.jobId(), r.seq(), chunk, "failed", p.code(), clean(p.message()), null, null, false, origin,
          endpoint.get(), null, BounceClassifier.classify(smtpCode(p.code()), p.message()).label());
    }
    Outcome.Temporary t = (Outcome.Temporary) outcome;
    boolean mayGiveUp = t.fault() != Outcome.Fault.CREDENTIALS && t.fault() != Outcome.Fault.THROTTLED
        && t.fault() != Outcome.Fault.POLICY;
    long seed = claim.jobId().getLeastSignificantBits() * 31 + claim.chunkNo() * 1_000_003L + r.attempt();
    RetryPolicy.Decision d = retry.next(r.attempt(), t.retryAfter(), job.createdAt(), OffsetDateTime.now(ZoneOffset.UTC),
        mayGiveUp, seed);
    if (d.giveUp()) {
      // temporary failures until the attempts ran out: a soft bounce, unless the fault is ours or the backend's
      String severity = t.fault() == Outcome.Fault.RECIPIENT ? BounceClassifier.classify(t.code(), t.message()).label() : "other";
      return new Update(claim.jobId(), r.seq(), chunk, "failed", t.code(), clean(d.reason() + "; last: " + t.message()), null,
          null, t.possibleDuplicate(), origin, endpoint.get(), null, severity);
    }
    return new Update(claim.jobId(), r.seq(), chunk, "deferred", t.code(), clean(t.message()), null, d.delay().toMillis(),
        t.possibleDuplicate(), origin, endpoint.get(), null, null);
  }
}

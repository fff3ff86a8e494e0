package io.mailgate.dispatch;

import io.mailgate.backend.BackendTypes;
import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.RateLimiter;
import io.mailgate.config.GatewayConfig.DispatchConfig;
import io.mailgate.message.Campaign;
import io.mailgate.message.EmailAddress;
import io.mailgate.stats.GatewayMetrics;
import io.mailgate.store.BackendStore;
import io.mailgate.store.ClaimStore;
import io.mailgate.store.ClaimStore.Claim;
import io.mailgate.store.ClaimStore.PriorityClaim;
import io.mailgate.store.DispatchStore;
import io.mailgate.store.DispatchStore.ChunkRef;
import io.mailgate.store.DispatchStore.DueRecipient;
import io.mailgate.store.DispatchStore.JobRow;
import io.mailgate.store.JobStore;
import io.mailgate.tenant.SecretBox;
import io.mailgate.util.JsonValues;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.pubsub.PgSubscriber;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Claims chunks and sends them, in two lanes. The campaign lane claims one chunk at a time in fair order, while it
 * runs fewer than {@code maxChunksInFlight} of them and only for backends with room; the priority lane (high
 * priority: transactional mail) claims up to {@code maxPriorityChunks} small chunks in one statement, with its own
 * room per backend, so a one-recipient job never waits for a campaign's slots. The recipients held in memory stay
 * below both bounds times the chunk size. A new job wakes it at once: in this process directly, in every other
 * through PostgreSQL LISTEN/NOTIFY; polling every {@code MAILGATE_DISPATCH_POLL_INTERVAL} is the fallback.
 * Leases are renewed while a chunk runs; pause and cancel are seen within {@code MAILGATE_CONTROL_POLL_INTERVAL}.
 * On stop it claims nothing more, lets sends in flight finish, puts unsent recipients back and releases its chunks.
 */
public final class Dispatcher extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(Dispatcher.class);

  private final DispatchStore store;
  private final ClaimStore claims;
  private final PgConnectOptions listenTo;
  private final DispatchConfig config;
  private final RetryPolicy retry;
  private final GatewayMetrics metrics;
  private final String nodeId;
  private final BackendStore backendStore;
  private final SecretBox secrets;
  private final BackendTypes types;
  private final SignerLookup signers;
  private final Map<ChunkRef, ChunkRun> runs = new HashMap<>();
  private final Map<ChunkRef, Future<Void>> running = new HashMap<>();
  private final Map<UUID, RateLimiter> tenantRates = new HashMap<>();
  private final List<Long> periodic = new ArrayList<>();
  private JobContexts jobs;
  private CircuitBreakers circuits;
  private BackendSlots slots;
  private StateWriter writer;
  private ChunkReleaser releaser;
  private WorkerExecutor signing;
  private PgSubscriber subscriber;
  private int campaignRunning;
  private int priorityRunning;
  private boolean claimingCampaign;
  private int priorityClaiming;
  private int priorityReserved;
  private final Set<Future<Void>> priorityClaimsInFlight = new HashSet<>();
  private boolean priorityAgain;
  private boolean scanWanted = true;
  private long pausedUntil;
  private Handoff handoff;
  private final java.util.concurrent.atomic.AtomicInteger backlog = new java.util.concurrent.atomic.AtomicInteger();
  private volatile java.util.concurrent.ConcurrentHashMap<UUID, Integer> tenantBacklog =
      new java.util.concurrent.ConcurrentHashMap<>();
  private boolean countingBacklog;
  private boolean expireFailing;
  private volatile Runnable onRoom;
  private int claimFailures;
  private boolean stopping;
  private long priorityTimer = -1;
  private long lastTakeoverCheck;
  private Future<Void> claimInFlight = Future.succeededFuture();
  private final io.mailgate.unsubscribe.UnsubscribeTokens unsubscribe;
  private final io.mailgate.events.EventService events;
  private final io.mailgate.backend.TestModeBackend testMode = new io.mailgate.backend.TestModeBackend(8);

  public Dispatcher(DispatchStore store, ClaimStore claims, PgConnectOptions listenTo, BackendStore backendStore,
                    SecretBox secrets, BackendTypes types, DispatchConfig config, RetryPolicy retry, GatewayMetrics metrics,
                    String nodeId, SignerLookup signers) {
    this(store, claims, listenTo, backendStore, secrets, types, config, retry, metrics, nodeId, signers, null);
  }

  /** @param unsubscribe makes the links of jobs with one-click unsubscribe (null: such jobs are held) */
  public Dispatcher(DispatchStore store, ClaimStore claims, PgConnectOptions listenTo, BackendStore backendStore,
                    SecretBox secrets, BackendTypes types, DispatchConfig config, RetryPolicy retry, GatewayMetrics metrics,
                    String nodeId, SignerLookup signers, io.mailgate.unsubscribe.UnsubscribeTokens unsubscribe) {
    this(store, claims, listenTo, backendStore, secrets, types, config, retry, metrics, nodeId, signers, unsubscribe, null);
  }

  /** @param events records the {@code delivered} events of test-mode sends (null: test-mode sends end at sent) */
  public Dispatcher(DispatchStore store, ClaimStore claims, PgConnectOptions listenTo, BackendStore backendStore,
                    SecretBox secrets, BackendTypes types, DispatchConfig config, RetryPolicy retry, GatewayMetrics metrics,
                    String nodeId, SignerLookup signers, io.mailgate.unsubscribe.UnsubscribeTokens unsubscribe,
                    io.mailgate.events.EventService events) {
    this.events = events;
    this.unsubscribe = unsubscribe;
    this.store = store;
    this.claims = claims;
    this.listenTo = listenTo;
    this.signers = signers;
    this.backendStore = backendStore;
    this.secrets = secrets;
    this.types = types;
    this.config = config;
    this.retry = retry;
    this.metrics = metrics;
    this.nodeId = nodeId;
  }

  @Override
  public Future<?> start() {
    // backend instances (their connections, timers) belong to this verticle's event loop
    slots = new BackendSlots(vertx, backendStore, secrets, types, config.chunksPerBackend());
    circuits = new CircuitBreakers(config.circuitFailures(), config.circuitOpenTime(), backendStore, this::backendDown);
    writer = new StateWriter(vertx, store, config.stateFlushBatch(), config.stateFlushInterval().toMillis());
    releaser = new ChunkReleaser(vertx, store, nodeId, config.releaseFlushBatch(), config.releaseFlushInterval().toMillis());
    jobs = new JobContexts(store, signers, unsubscribe, config.jobCache(), config.jobCacheMimeBytes());
    handoff = new Handoff(config.handoffQueue());
    signing = vertx.createSharedWorkerExecutor("mailgate-signing", config.signingThreads());
    long lease = config.leaseTime().toMillis();
    periodic.add(vertx.setPeriodic(Math.max(1000, lease / 3), id -> renewLeases()));
    periodic.add(vertx.setPeriodic(config.controlPollInterval().toMillis(), id -> pollJobStates()));
    periodic.add(vertx.setPeriodic(Math.max(1000, lease / 2), id -> reap()));
    periodic.add(vertx.setPeriodic(config.expirySweepInterval().toMillis(), id -> expire()));
    periodic.add(vertx.setPeriodic(config.backlogCheckInterval().toMillis(), id -> countBacklog()));
    // the fallback for a missed wake-up: look for work every poll interval (less often while claims fail)
    periodic.add(vertx.setPeriodic(config.pollInterval().toMillis(), id -> {
      if (System.nanoTime() - pausedUntil >= 0) {
        scanWanted = true;
        claimMore();
      }
    }));
    listen();
    claimMore();
    LOG.atInfo().addKeyValue("node", nodeId).addKeyValue("maxChunks", config.maxChunksInFlight())
        .addKeyValue("maxPriorityChunks", config.maxPriorityChunks()).addKeyValue("chunkSize", config.chunkSize())
        .log("dispatcher started");
    return Future.succeededFuture();
  }

  /**
   * Whether {@code tenant} may add to the priority lane's backlog: while fewer than {@code MAILGATE_INGEST_MAX_BACKLOG}
   * of its chunks are due and unclaimed (all processes' together, as last counted, plus what this process accepted
   * since) anyone may; past it, only a tenant holding less than {@code share} of the bound. Intake holds new JSON jobs
   * of the others back, so the backlog stays bounded when sending cannot keep up, and a tenant whose backend is down
   * (its mail piling up, unclaimable) does not hold up the rest. Thread-safe. {@code onRoom} is called when a count
   * or a claim may have made room.
   */
  public boolean hasRoom(UUID tenant, double share) {
    int max = config.maxBacklog();
    return backlog.get() < max || tenantBacklog.getOrDefault(tenant, 0) < Math.max(1, (int) (max * share));
  }

  private void countBacklog() {
    if (countingBacklog) {
      return;
    }
    countingBacklog = true;
    int before = backlog.get();
    claims.dueHighPriority(config.maxBacklog() + 1).onComplete(ar -> {
      countingBacklog = false;
      if (ar.failed()) {
        return; // the gate stays as it was; the next count tries again
      }
      int total = ar.result().values().stream().mapToInt(Integer::intValue).sum();
      // what was accepted while counting may or may not be in the count: kept, so the gate errs towards closed
      backlog.set(total + Math.max(0, backlog.get() - before));
      tenantBacklog = new java.util.concurrent.ConcurrentHashMap<>(ar.result());
      if (onRoom != null) {
        onRoom.run();
      }
    });
  }

  public void onRoom(Runnable onRoom) {
    this.onRoom = onRoom;
  }

  /** Work may be waiting: claim now instead of at the next poll. Thread-safe. */
  public void wakeUp() {
    if (context != null) {
      context.runOnContext(v -> {
        scanWanted = true;
        claimMore();
      });
    }
  }

  /**
   * This process just accepted a job: a high-priority one is handed to the priority lane by id (no search of the
   * queue), any other wakes the campaign lane. Thread-safe.
   */
  public void accepted(UUID tenantId, UUID jobId, int priority, int chunks) {
    if (context == null) {
      return;
    }
    boolean handed = priority >= ClaimStore.HIGH && tenantId != null;
    if (handed) {
      backlog.addAndGet(chunks); // counted until the next look at the queue
      tenantBacklog.merge(tenantId, chunks, Integer::sum);
    }
    context.runOnContext(v -> {
      if (handed) {
        for (int i = 0; i < chunks; i++) {
          handoff.add(tenantId, new ChunkRef(jobId, i, 0, 0));
        }
        claimPriority();
      } else {
        claimCampaign();
      }
    });
  }

  /**
   * LISTEN on the channel intake notifies at each commit, so a job accepted by any gateway process is claimed within
   * milliseconds. The subscriber reconnects by itself; while it is away, polling finds the work.
   */
  private void listen() {
    if (listenTo == null) {
      return;
    }
    subscriber = PgSubscriber.subscriber(vertx, listenTo).reconnectPolicy(retries -> stopping ? -1L : 1000L);
    subscriber.channel(JobStore.WORK_CHANNEL).handler(notice -> {
      // "high/node-a": new work in the priority lane, accepted by node-a (this process hands its own to itself)
      int slash = notice.indexOf('/');
      String lane = slash < 0 ? notice : notice.substring(0, slash);
      boolean ours = slash >= 0 && notice.substring(slash + 1).equals(nodeId);
      if ("high".equals(lane)) {
        if (!ours) {
          scanWanted = true;
          claimPriority();
        }
      } else {
        claimCampaign();
      }
    });
    subscriber.connect().onFailure(e -> LOG.atWarn().addKeyValue("error", e.getMessage())
        .log("cannot LISTEN for new jobs; polling every " + config.pollInterval().toMillis() + " ms instead"));
  }

  private void claimMore() {
    claimPriority();
    claimCampaign();
  }

  /**
   * A chunk of the priority lane ended: claim again shortly, once for all the chunks ending meanwhile, rather than
   * one claim statement per chunk.
   */
  private void claimPrioritySoon() {
    if (priorityTimer < 0 && !stopping) {
      priorityTimer = vertx.setTimer(config.priorityClaimDelay().toMillis(), id -> {
        priorityTimer = -1;
        claimPriority();
      });
    }
  }

  /** The campaign lane (and takeovers of either lane): one chunk per statement, in fair order. */
  private void claimCampaign() {
    // counted from the claim, not from when its recipients are loaded
    if (stopping || claimingCampaign || campaignRunning >= config.maxChunksInFlight()) {
      return;
    }
    claimingCampaign = true;
    Promise<Void> claimDone = Promise.promise();
    claimInFlight = claimDone.future();
    long lease = config.leaseTime().toMillis();
    Future<Optional<Claim>> claim;
    if (System.nanoTime() - lastTakeoverCheck >= config.pollInterval().toNanos()) {
      // expired leases first, at most once per poll interval: a dead dispatcher's chunks are taken over within one
      // lease time plus one poll interval, even while this dispatcher's backends are full
      lastTakeoverCheck = System.nanoTime();
      claim = claims.takeOver(nodeId, lease, circuits.unavailable()).compose(taken -> {
        if (taken.isPresent()) {
          lastTakeoverCheck = 0; // there may be more
          return Future.succeededFuture(taken);
        }
        return claims.claim(nodeId, lease, slots.full(), circuits.unavailable(), config.claimCandidates());
      });
    } else {
      claim = claims.claim(nodeId, lease, slots.full(), circuits.unavailable(), config.claimCandidates());
    }
    claim.onComplete(ar -> {
      claimingCampaign = false;
      if (ar.succeeded() && ar.result().isPresent() && stopping) {
        // claimed while stopping: hand the chunk back untouched (none of its recipients was started)
        store.finish(List.of(ar.result().get().ref()), nodeId).onComplete(x -> claimDone.complete());
        return;
      }
      claimDone.complete();
      if (claimSucceeded(ar) && ar.result().isPresent()) {
        run(ar.result().get(), null, null);
        claimCampaign();
      }
    });
  }

  /**
   * The priority lane: as many small chunks as there is room for, in one statement: first those this process just
   * accepted (by id), else, when other processes notified new work or the poll says so, a search of the queue with
   * tenants taking turns.
   */
  private void claimPriority() {
    int room = config.maxPriorityChunks() - priorityRunning - priorityReserved;
    if (stopping || room <= 0) {
      return;
    }
    int claimers = config.priorityClaimers();
    if (priorityClaiming >= claimers) {
      priorityAgain = true; // woken during claims: claim again when one ends, the new work may have missed them
      return;
    }
    if (handoff.takeOverflowed()) {
      scanWanted = true;
    }
    if (handoff.isEmpty() && (!scanWanted || priorityClaiming > 0)) {
      // a search runs alone: searches side by side would only find each other's chunks locked
      priorityAgain |= scanWanted;
      return;
    }
    List<ChunkRef> byId = handoff.isEmpty() ? List.of() : handoff.take(room);
    boolean scan = byId.isEmpty();
    if (scan) {
      scanWanted = false;
    }
    int reserved = scan ? room : byId.size();
    priorityClaiming++;
    priorityReserved += reserved;
    priorityAgain = false;
    Promise<Void> claimDone = Promise.promise();
    priorityClaimsInFlight.add(claimDone.future());
    // claims side by side each get their share of every backend's room, so together they never exceed it
    int perBackend = Math.max(1, config.priorityChunksPerBackend() / claimers);
    Map<UUID, Integer> backendRoom = new HashMap<>();
    slots.priorityRoom(config.priorityChunksPerBackend()).forEach((id, r) -> backendRoom.put(id, r / claimers));
    long lease = config.leaseTime().toMillis();
    Future<List<PriorityClaim>> claimed = scan
        ? claims.claimPriority(nodeId, lease, circuits.unavailable(), backendRoom, room, perBackend, config.markAhead())
        : claims.claimPriorityById(nodeId, lease, circuits.unavailable(), backendRoom, perBackend, config.markAhead(), byId);
    claimed.onComplete(ar -> {
      priorityClaiming--;
      priorityReserved -= reserved;
      priorityClaimsInFlight.remove(claimDone.future());
      if (ar.succeeded() && stopping) {
        // claimed while stopping: put their recipients back untouched and release them
        List<Future<?>> back = new ArrayList<>();
        for (PriorityClaim pc : ar.result()) {
          int[] seqs = pc.premarked() == null ? new int[0] : pc.premarked().stream().mapToInt(DueRecipient::seq).toArray();
          back.add(store.unstart(pc.claim().jobId(), seqs, "queued").compose(v -> store.finish(List.of(pc.claim().ref()), nodeId)));
        }
        Future.join(back).onComplete(x -> claimDone.complete());
        return;
      }
      claimDone.complete();
      if (claimSucceeded(ar)) {
        ar.result().forEach(pc -> run(pc.claim(), pc.job(), pc.premarked()));
        if (!ar.result().isEmpty()) {
          // claimed: no longer waiting (the next count corrects this estimate), so intake may go on at once
          int left = backlog.updateAndGet(n -> Math.max(0, n - ar.result().size()));
          ar.result().forEach(pc -> tenantBacklog.computeIfPresent(pc.claim().tenantId(), (t, n) -> n > 1 ? n - 1 : null));
          if (left < config.maxBacklog() && onRoom != null) {
            onRoom.run();
          }
        }
        if (scan ? ar.result().size() == room : ar.result().size() < byId.size()) {
          // the search filled the room: there is more; or some handed over could not be leased now (their backend
          // is full or away, or their tenant at its limit): the search finds them later
          scanWanted = true;
        }
      } else if (!scan) {
        scanWanted = true; // the chunks handed over are still in the queue
      }
      if (priorityAgain || !handoff.isEmpty()) {
        claimPriority(); // what arrived while this claim ran goes in the next, at once
      } else if (scan && scanWanted) {
        claimPrioritySoon();
      }
    });
  }

  /**
   * Mailgun reports a test-mode message delivered: so do we, once its send is written (a crash in between leaves it
   * sent, without the delivered event).
   */
  private Future<Void> testModeDelivered(ChunkRun run, Claim claim) {
    List<io.mailgate.backend.TestModeBackend.Taken> taken = testMode.take(run);
    if (events == null || taken.isEmpty()) {
      return Future.succeededFuture();
    }
    List<io.mailgate.store.EventStore.Incoming> delivered = new ArrayList<>(taken.size());
    for (var t : taken) {
      delivered.add(new io.mailgate.store.EventStore.Incoming(claim.tenantId(), claim.jobId(), t.seq(), t.email(),
          "delivered", null, 250, io.mailgate.backend.TestModeBackend.MESSAGE, t.messageId(), claim.backendId(),
          io.mailgate.backend.TestModeBackend.PEER, null));
    }
    return events.record(delivered).<Void>mapEmpty()
        .recover(e -> {
          LOG.atWarn().addKeyValue("job", claim.jobId()).addKeyValue("error", e.getMessage())
              .log("test mode: the delivered events could not be recorded; the recipients stay sent");
          return Future.succeededFuture();
        });
  }

  /** Logs a database that went away once, not at every poll, and says when claiming works again. */
  private boolean claimSucceeded(io.vertx.core.AsyncResult<?> ar) {
    if (ar.succeeded()) {
      if (claimFailures > 0) {
        LOG.atInfo().addKeyValue("failures", claimFailures).log("claiming works again");
      }
      claimFailures = 0;
      return true;
    }
    if (claimFailures++ % 50 == 0) {
      LOG.atWarn().addKeyValue("error", ar.cause().getMessage()).addKeyValue("failures", claimFailures)
          .log("claiming failed; backing off");
    }
    long backoff = Math.min(config.pollInterval().toMillis() << Math.min(claimFailures, 5), Math.max(config.pollInterval().toMillis(), 5000));
    pausedUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff);
    return false;
  }

  /**
   * Sends one claimed chunk. {@code row} is its job as the claim read it (priority lane), {@code premarked} its
   * recipients already marked 'sending' by the claim (null: read and mark them here).
   */
  private void run(Claim claim, JobRow row, List<DueRecipient> premarked) {
    ChunkRef ref = claim.ref();
    boolean priority = claim.highPriority();
    if (claim.takenOverFrom() != null) {
      metrics.takeover();
      LOG.atWarn().addKeyValue("job", claim.jobId()).addKeyValue("chunk", claim.chunkNo())
          .addKeyValue("from", claim.takenOverFrom())
          .log("took over a chunk whose lease expired; its recipients left 'sending' are sent again, flagged possibleDuplicate");
    }
    BackendSlots.Slot slot = slots.acquire(claim.backendId(), claim.backendVersion(), priority);
    circuits.chunkStarted(claim.backendId());
    RateLimiter tenantRate = tenantRate(claim);
    Promise<Void> done = Promise.promise();
    running.put(ref, done.future());
    if (priority) {
      priorityRunning++;
    } else {
      campaignRunning++;
    }
    metrics.chunksInFlight(running.size());
    String[] unprepared = {null};
    jobs.get(claim.jobId(), row)
        .recover(e -> {
          // the job cannot be prepared (a DKIM key that does not decrypt, a spec that no longer compiles): hold its
          // recipients with the reason rather than leave the chunk to expire and fail again
          unprepared[0] = "cannot prepare the job: " + e.getMessage();
          LOG.atError().addKeyValue("job", claim.jobId()).addKeyValue("error", e.getMessage()).log("job cannot be prepared");
          return Future.succeededFuture(JobContext.unavailable());
        })
        .compose(job -> (premarked != null ? Future.succeededFuture(premarked)
            : store.due(claim, nodeId, senderDomain(job), job.campaign() == null ? null : job.campaign().tags())).compose(due -> {
          List<OutboundRecipient> rs = new ArrayList<>(due.size());
          // with one-click unsubscribe each recipient's link joins its vars ({{unsubscribeUrl}}), for every backend
          Campaign c = job.campaign();
          due.forEach(d -> rs.add(new OutboundRecipient(d.seq(), new EmailAddress(d.email()),
              c == null ? JsonValues.toPlainMap(d.vars()) : c.varsFor(d.seq(), JsonValues.toPlainMap(d.vars())), d.attempt())));
          // the backend's name is known once its instance is set up (it may still be loading here)
          ChunkRun run = new ChunkRun(claim, job, rs, writer, signing, retry, metrics, () -> slot.name, tenantRate,
              outcome -> circuits.observe(claim.backendId(), slot.name, outcome), store, nodeId, config.markAhead(),
              premarked != null, new DispatchStore.Origin(claim.tenantId(), claim.backendId(), claim.backendRegion(),
                  senderDomain(job)), () -> endpoint(slot));
          runs.put(ref, run);
          if (stopping) {
            run.stop(ChunkRun.Stop.SHUTDOWN); // stop() ran while this chunk was loading
          }
          if (unprepared[0] != null) {
            return run.reportAll(new Outcome.Temporary(null, unprepared[0], Outcome.Fault.POLICY))
                .compose(v -> run.written())
                .compose(v -> release(run));
          }
          if (!claim.residencyAllows()) {
            // the backend's region changed after the route was set: hold the mail, never send it out of region
            String why = "residency: backend '" + slot.name + "' is in region '" + claim.backendRegion() + "', tenant region '"
                + claim.tenantRegion() + "' allows " + (claim.allowedRegions().isEmpty() ? "no other" : claim.allowedRegions());
            LOG.atError().addKeyValue("job", claim.jobId()).addKeyValue("backend", slot.name).log(why);
            return run.reportAll(new Outcome.Temporary(null, why, Outcome.Fault.POLICY))
                .compose(v -> run.written())
                .compose(v -> release(run));
          }
          Future<io.mailgate.backend.MailBackend> backend = job.testMode() ? Future.succeededFuture(testMode) : slot.backend;
          return backend
              .compose(b -> b.deliver(run))
              .recover(e -> {
                // the backend cannot be built (bad settings, undecryptable secret): defer, with the reason
                String why = "backend unavailable: " + e.getMessage();
                return run.reportAll(new Outcome.Temporary(null, why, Outcome.Fault.BACKEND));
              })
              .compose(v -> run.written())
              .compose(v -> job.testMode() ? testModeDelivered(run, claim) : Future.<Void>succeededFuture())
              .compose(v -> release(run));
        }))
        .onFailure(e -> LOG.atError().addKeyValue("job", claim.jobId()).addKeyValue("chunk", claim.chunkNo())
            .addKeyValue("error", String.valueOf(e.getMessage())).setCause(e).log("chunk run failed; its lease will expire"))
        .onComplete(ar -> {
          runs.remove(ref);
          running.remove(ref);
          if (priority) {
            priorityRunning--;
          } else {
            campaignRunning--;
          }
          slots.release(slot, priority);
          circuits.chunkEnded(claim.backendId());
          metrics.chunksInFlight(running.size());
          done.complete();
          if (priority) {
            claimPrioritySoon();
          } else {
            claimCampaign();
          }
        });
  }

  private static String senderDomain(JobContext job) {
    return job.campaign() == null ? null : io.mailgate.message.EmailAddress.asciiLower(job.campaign().from().address().domain());
  }

  private static String endpoint(BackendSlots.Slot slot) {
    return slot.backend != null && slot.backend.succeeded() ? slot.backend.result().endpoint() : null;
  }

  /** Puts recipients not sent back (unless the lease is gone), releases the chunk, completes the job if done. */
  private Future<Void> release(ChunkRun run) {
    ChunkRun.Stop stop = run.stopReason();
    if (stop == ChunkRun.Stop.LEASE_LOST) {
      return Future.succeededFuture(); // another dispatcher owns these recipients now
    }
    String back = stop == ChunkRun.Stop.CANCELLED ? "cancelled" : stop == ChunkRun.Stop.EXPIRED ? "expired" : "queued";
    return run.marksSettled()
        .compose(v -> store.unstart(run.claim.jobId(), run.unreported(), back))
        .compose(v -> releaser.release(run.claim.ref(), run.claim.highPriority()))
        .map(finished -> {
          if (finished.isPresent() && finished.get().jobCompleted()) {
            LOG.atLevel(run.claim.highPriority() ? org.slf4j.event.Level.DEBUG : org.slf4j.event.Level.INFO)
                .addKeyValue("job", run.claim.jobId()).log("job completed");
          }
          return null;
        });
  }

  /** The tenant's own rate (messages per second in this dispatcher), if it has one. */
  private RateLimiter tenantRate(Claim claim) {
    Double rate = claim.tenantRatePerSecond();
    if (rate == null) {
      tenantRates.remove(claim.tenantId());
      return null;
    }
    RateLimiter l = tenantRates.get(claim.tenantId());
    if (l == null || Math.abs(l.ratePerSecond() - rate) > 1e-9 * rate) {
      l = new RateLimiter(context, rate);
      tenantRates.put(claim.tenantId(), l);
    }
    return l;
  }

  /** A backend's circuit opened: chunks running on it stop and give their unsent recipients back. */
  private void backendDown(UUID backendId) {
    runs.values().stream().filter(r -> r.claim.backendId().equals(backendId)).forEach(r -> r.stop(ChunkRun.Stop.BACKEND_DOWN));
  }

  private void renewLeases() {
    if (runs.isEmpty()) {
      return;
    }
    List<ChunkRef> held = new ArrayList<>(runs.keySet());
    store.renew(nodeId, config.leaseTime().toMillis(), held).onSuccess(kept -> {
      Set<ChunkRef> still = new HashSet<>(kept);
      for (ChunkRef r : held) {
        ChunkRun run = runs.get(r);
        if (run != null && !still.contains(r)) {
          LOG.atWarn().addKeyValue("job", r.jobId()).addKeyValue("chunk", r.chunkNo()).log("lease lost; stopping the chunk");
          run.stop(ChunkRun.Stop.LEASE_LOST);
        }
      }
    }).onFailure(e -> LOG.atWarn().addKeyValue("error", e.getMessage()).log("renewing leases failed"));
  }

  private void pollJobStates() {
    if (runs.isEmpty()) {
      return;
    }
    Set<UUID> ids = new HashSet<>();
    runs.keySet().forEach(r -> ids.add(r.jobId()));
    store.jobStates(ids).onSuccess(states -> runs.values().forEach(run -> {
      String s = states.get(run.claim.jobId());
      if ("paused".equals(s)) {
        run.stop(ChunkRun.Stop.PAUSED);
      } else if ("cancelled".equals(s)) {
        run.stop(ChunkRun.Stop.CANCELLED);
      }
    }));
  }

  private void reap() {
    store.sweep().onFailure(e -> LOG.atWarn().addKeyValue("error", e.getMessage()).log("sweeping loose ends failed"));
    store.reapAbandoned()
        .onSuccess(n -> {
          if (n > 0) {
            LOG.atInfo().addKeyValue("chunks", n).log("released chunks abandoned by a dead dispatcher of paused or cancelled jobs");
          }
        })
        .onFailure(e -> LOG.atWarn().addKeyValue("error", e.getMessage()).log("reaping abandoned chunks failed"));
  }

  private void expire() {
    store.expire()
        .onSuccess(n -> {
          if (n > 0) {
            LOG.atInfo().addKeyValue("chunks", n).log("expired the recipients of jobs past their expiresAt");
          }
        })
        .onSuccess(n -> expireFailing = false)
        .onFailure(e -> {
          // once per run of failures (the database away, say), not every sweep
          if (!expireFailing) {
            LOG.atWarn().addKeyValue("error", e.getMessage()).log("expiring jobs failed; retrying at every sweep");
          }
          expireFailing = true;
        });
  }

  @Override
  public Future<?> stop() {
    stopping = true;
    periodic.forEach(vertx::cancelTimer);
    if (priorityTimer >= 0) {
      vertx.cancelTimer(priorityTimer);
    }
    runs.values().forEach(r -> r.stop(ChunkRun.Stop.SHUTDOWN));
    LOG.atInfo().addKeyValue("chunks", running.size()).log("dispatcher stopping: finishing sends in flight");
    List<Future<Void>> all = new ArrayList<>(running.values());
    all.add(claimInFlight);
    all.addAll(priorityClaimsInFlight);
    Future<Void> unlisten = subscriber == null ? Future.succeededFuture() : subscriber.close().otherwiseEmpty();
    return Future.join(all).<Void>mapEmpty()
        .timeout(config.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)
        .recover(e -> forceRelease())
        .compose(v -> writer.flush())
        .compose(v -> unlisten)
        .compose(v -> slots.closeAll())
        .compose(v -> signing.close())
        .onComplete(ar -> LOG.atInfo().log("dispatcher stopped"));
  }

  /** The grace period is over: whatever is still in flight goes back to queued, to be sent again later. */
  private Future<Void> forceRelease() {
    List<Future<Void>> releases = new ArrayList<>();
    for (ChunkRun run : new ArrayList<>(runs.values())) {
      LOG.atWarn().addKeyValue("job", run.claim.jobId()).addKeyValue("chunk", run.claim.chunkNo())
          .log("sends still in flight after the grace period; releasing the chunk");
      releases.add(writer.flush().compose(v -> release(run)));
    }
    return Future.join(releases).mapEmpty();
  }
}

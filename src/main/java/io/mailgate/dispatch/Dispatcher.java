package io.mailgate.dispatch;

import io.mailgate.backend.BackendTypes;
import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.RateLimiter;
import io.mailgate.config.GatewayConfig.DispatchConfig;
import io.mailgate.job.JobSpec;
import io.mailgate.message.EmailAddress;
import io.mailgate.message.MimeComposer;
import io.mailgate.stats.GatewayMetrics;
import io.mailgate.store.BackendStore;
import io.mailgate.store.DispatchStore;
import io.mailgate.store.DispatchStore.ChunkRef;
import io.mailgate.store.DispatchStore.Claim;
import io.mailgate.tenant.SecretBox;
import io.mailgate.util.JsonValues;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.WorkerExecutor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Claims chunks and sends them. Claims only while it runs fewer than {@code maxChunksInFlight} chunks and only for
 * backends with room, so the recipients held in memory stay below {@code maxChunksInFlight × chunkSize} whatever
 * the job sizes. Leases are renewed while a chunk runs; pause and cancel are seen within
 * {@code MAILGATE_CONTROL_POLL_INTERVAL}. On stop it claims nothing more, lets sends in flight finish, puts unsent
 * recipients back and releases its chunks.
 */
public final class Dispatcher extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(Dispatcher.class);
  /** How long a compiled job (and the DKIM key it signs with) is reused: the key lookup's own cache time. */
  private static final long JOB_CONTEXT_TTL_NANOS = 60_000_000_000L;

  private final DispatchStore store;
  private final DispatchConfig config;
  private final RetryPolicy retry;
  private final GatewayMetrics metrics;
  private final String nodeId;
  private final BackendStore backendStore;
  private final SecretBox secrets;
  private final BackendTypes types;
  private final Map<ChunkRef, ChunkRun> runs = new HashMap<>();
  private final Map<ChunkRef, Future<Void>> running = new HashMap<>();
  private final Map<UUID, Future<JobContext>> jobs = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<UUID, Future<JobContext>> e) {
      return size() > config.jobCache();
    }
  };
  private final SignerLookup signers;
  private final Map<UUID, RateLimiter> tenantRates = new HashMap<>();
  private CircuitBreakers circuits;
  private BackendSlots slots;
  private StateWriter writer;
  private WorkerExecutor signing;
  private boolean claiming;
  private int claimFailures;
  private boolean stopping;
  private long claimTimer = -1;
  private long lastTakeoverCheck;
  private Future<Void> claimInFlight = Future.succeededFuture();
  private final List<Long> periodic = new ArrayList<>();

  public Dispatcher(DispatchStore store, BackendStore backendStore, SecretBox secrets, BackendTypes types,
                    DispatchConfig config, RetryPolicy retry, GatewayMetrics metrics, String nodeId, SignerLookup signers) {
    this.signers = signers;
    this.store = store;
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
    signing = vertx.createSharedWorkerExecutor("mailgate-signing", config.signingThreads());
    long lease = config.leaseTime().toMillis();
    periodic.add(vertx.setPeriodic(Math.max(1000, lease / 3), id -> renewLeases()));
    periodic.add(vertx.setPeriodic(config.controlPollInterval().toMillis(), id -> pollJobStates()));
    periodic.add(vertx.setPeriodic(Math.max(1000, lease / 2), id -> reap()));
    claimMore();
    LOG.atInfo().addKeyValue("node", nodeId).addKeyValue("maxChunks", config.maxChunksInFlight())
        .addKeyValue("chunkSize", config.chunkSize()).log("dispatcher started");
    return Future.succeededFuture();
  }

  /** Work may be waiting (a job was just accepted): claim now instead of at the next poll. Thread-safe. */
  public void wakeUp() {
    if (context != null) {
      context.runOnContext(v -> claimMore());
    }
  }

  private void claimMore() {
    // running, not runs: a chunk counts from its claim, not from when its recipients are loaded
    if (stopping || claiming || running.size() >= config.maxChunksInFlight()) {
      return;
    }
    claiming = true;
    Promise<Void> claimDone = Promise.promise();
    claimInFlight = claimDone.future();
    long lease = config.leaseTime().toMillis();
    Future<java.util.Optional<Claim>> claim;
    if (System.nanoTime() - lastTakeoverCheck >= config.pollInterval().toNanos()) {
      // expired leases first, at most once per poll interval: a dead dispatcher's chunks are taken over within one
      // lease time plus one poll interval, even while this dispatcher's backends are full
      lastTakeoverCheck = System.nanoTime();
      claim = store.takeOver(nodeId, lease, circuits.unavailable()).compose(taken -> {
        if (taken.isPresent()) {
          lastTakeoverCheck = 0; // there may be more
          return Future.succeededFuture(taken);
        }
        return store.claim(nodeId, lease, slots.full(), circuits.unavailable(), config.claimCandidates());
      });
    } else {
      claim = store.claim(nodeId, lease, slots.full(), circuits.unavailable(), config.claimCandidates());
    }
    claim.onComplete(ar -> {
      claiming = false;
      if (ar.succeeded() && ar.result().isPresent() && stopping) {
        // claimed while stopping: hand the chunk back untouched (none of its recipients was started)
        store.finish(DispatchStore.ref(ar.result().get()), nodeId).onComplete(x -> claimDone.complete());
        return;
      }
      claimDone.complete();
      if (ar.succeeded()) {
        if (claimFailures > 0) {
          LOG.atInfo().addKeyValue("failures", claimFailures).log("claiming works again");
        }
        claimFailures = 0;
        if (ar.result().isPresent()) {
          run(ar.result().get());
          claimMore();
          return;
        }
      } else {
        // the database is away: back off, and say so once, not every poll
        if (claimFailures++ % 50 == 0) {
          LOG.atWarn().addKeyValue("error", ar.cause().getMessage()).addKeyValue("failures", claimFailures)
              .log("claiming a chunk failed; backing off");
        }
      }
      scheduleClaim();
    });
  }

  private void scheduleClaim() {
    if (claimTimer < 0 && !stopping) {
      long delay = config.pollInterval().toMillis() << Math.min(claimFailures, 5);
      claimTimer = vertx.setTimer(Math.min(delay, Math.max(config.pollInterval().toMillis(), 5000)), id -> {
        claimTimer = -1;
        claimMore();
      });
    }
  }

  private void run(Claim claim) {
    ChunkRef ref = DispatchStore.ref(claim);
    if (claim.takenOverFrom() != null) {
      metrics.takeover();
      LOG.atWarn().addKeyValue("job", claim.jobId()).addKeyValue("chunk", claim.chunkNo())
          .addKeyValue("from", claim.takenOverFrom())
          .log("took over a chunk whose lease expired; its recipients left 'sending' are sent again, flagged possibleDuplicate");
    }
    BackendSlots.Slot slot = slots.acquire(claim.backendId(), claim.backendVersion());
    circuits.chunkStarted(claim.backendId());
    RateLimiter tenantRate = tenantRate(claim);
    Promise<Void> done = Promise.promise();
    running.put(ref, done.future());
    metrics.chunksInFlight(running.size());
    String[] unprepared = {null};
    jobContext(claim.jobId())
        .recover(e -> {
          // the job cannot be prepared (a DKIM key that does not decrypt, a spec that no longer compiles): hold its
          // recipients with the reason rather than leave the chunk to expire and fail again
          unprepared[0] = "cannot prepare the job: " + e.getMessage();
          LOG.atError().addKeyValue("job", claim.jobId()).addKeyValue("error", e.getMessage()).log("job cannot be prepared");
          return Future.succeededFuture(JobContext.unavailable());
        })
        .compose(job -> store.due(claim).compose(due -> {
          List<OutboundRecipient> rs = new ArrayList<>(due.size());
          due.forEach(d -> rs.add(new OutboundRecipient(d.seq(), new EmailAddress(d.email()), JsonValues.toPlainMap(d.vars()), d.attempt())));
          ChunkRun run = new ChunkRun(claim, job, rs, writer, signing, retry, metrics, slot.name, tenantRate,
              outcome -> circuits.observe(claim.backendId(), slot.name, outcome), store, nodeId, config.markAhead());
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
          return slot.backend
              .compose(b -> b.deliver(run))
              .recover(e -> {
                // the backend cannot be built (bad settings, undecryptable secret): defer, with the reason
                String why = "backend unavailable: " + e.getMessage();
                return run.reportAll(new Outcome.Temporary(null, why, Outcome.Fault.BACKEND));
              })
              .compose(v -> run.written())
              .compose(v -> release(run));
        }))
        .onFailure(e -> LOG.atError().addKeyValue("job", claim.jobId()).addKeyValue("chunk", claim.chunkNo())
            .addKeyValue("error", String.valueOf(e.getMessage())).setCause(e).log("chunk run failed; its lease will expire"))
        .onComplete(ar -> {
          runs.remove(ref);
          running.remove(ref);
          slots.release(slot);
          circuits.chunkEnded(claim.backendId());
          metrics.chunksInFlight(running.size());
          done.complete();
          claimMore();
        });
  }

  /** Puts recipients not sent back (unless the lease is gone), releases the chunk, completes the job if done. */
  private Future<Void> release(ChunkRun run) {
    ChunkRun.Stop stop = run.stopReason();
    if (stop == ChunkRun.Stop.LEASE_LOST) {
      return Future.succeededFuture(); // another dispatcher owns these recipients now
    }
    String back = stop == ChunkRun.Stop.CANCELLED ? "cancelled" : "queued";
    ChunkRef ref = DispatchStore.ref(run.claim);
    return run.marksSettled()
        .compose(v -> store.unstart(run.claim.jobId(), run.unreported(), back))
        .compose(v -> store.finish(ref, nodeId))
        .compose(state -> state.isPresent() && state.get().equals("done")
            ? store.completeIfDone(run.claim.jobId()).map(completed -> {
                if (completed) {
                  LOG.atInfo().addKeyValue("job", run.claim.jobId()).log("job completed");
                }
                return null;
              })
            : Future.succeededFuture())
        .mapEmpty();
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

  private Future<JobContext> jobContext(UUID jobId) {
    Future<JobContext> f = jobs.get(jobId);
    boolean stale = f != null && f.succeeded() && System.nanoTime() - f.result().loadedAt() > JOB_CONTEXT_TTL_NANOS;
    if (f == null || f.failed() || stale) {
      f = store.job(jobId).compose(opt -> {
        DispatchStore.JobRow row = opt.orElseThrow(() -> new IllegalStateException("job " + jobId + " does not exist"));
        var campaign = JobSpec.fromStored(row.spec()).compile(row.id(), row.tenantId());
        return signers.signer(row.tenantId(), campaign.from().address().domain()).map(signer ->
            new JobContext(campaign, new MimeComposer(campaign), signer.orElse(null), row.chunkSize(), row.createdAt(),
                System.nanoTime()));
      });
      jobs.put(jobId, f);
    }
    return f;
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

  @Override
  public Future<?> stop() {
    stopping = true;
    periodic.forEach(vertx::cancelTimer);
    if (claimTimer >= 0) {
      vertx.cancelTimer(claimTimer);
    }
    runs.values().forEach(r -> r.stop(ChunkRun.Stop.SHUTDOWN));
    LOG.atInfo().addKeyValue("chunks", running.size()).log("dispatcher stopping: finishing sends in flight");
    List<Future<Void>> all = new ArrayList<>(running.values());
    all.add(claimInFlight);
    return Future.join(all).<Void>mapEmpty()
        .timeout(config.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)
        .recover(e -> forceRelease())
        .compose(v -> writer.flush())
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

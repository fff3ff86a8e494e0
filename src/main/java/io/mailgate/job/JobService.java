package io.mailgate.job;

import io.mailgate.error.ConflictException;
import io.mailgate.error.InvalidInputException;
import io.mailgate.error.NotFoundException;
import io.mailgate.store.JobRecord;
import io.mailgate.store.JobStore;
import io.mailgate.store.RecipientRecord;
import io.vertx.core.Future;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.BiFunction;

/**
 * A tenant's view of its jobs: reads, and pause, resume and cancel. Every call takes the tenant: another
 * tenant's job is not found, exactly like a missing one.
 */
public final class JobService {

  public static final Set<String> RECIPIENT_STATES = Set.of("queued", "sending", "sent", "deferred", "failed",
      "cancelled", "expired", "suppressed", "delivered", "bounced", "complained");

  private final JobStore store;

  public JobService(JobStore store) {
    this.store = store;
  }

  public Future<JobRecord> get(UUID tenantId, UUID jobId) {
    return store.get(tenantId, jobId).map(j -> j.orElseThrow(() -> new NotFoundException("job")));
  }

  public Future<List<JobRecord>> list(UUID tenantId, UUID before, int limit) {
    return store.list(tenantId, before, limit);
  }

  public Future<List<RecipientRecord>> recipients(UUID tenantId, UUID jobId, String state, int afterSeq, int limit) {
    if (state != null && !RECIPIENT_STATES.contains(state)) {
      return Future.failedFuture(new InvalidInputException("invalid_parameter", "state must be one of " + RECIPIENT_STATES, "state"));
    }
    return store.state(tenantId, jobId).compose(s -> s.isEmpty()
        ? Future.failedFuture(new NotFoundException("job"))
        : store.recipients(jobId, state, afterSeq, limit));
  }

  /** Stops claiming the job's chunks; chunks being sent stop within the control poll interval. */
  public Future<JobRecord> pause(UUID tenantId, UUID jobId) {
    return transition(tenantId, jobId, store::pause, Set.of("paused"), "pause");
  }

  public Future<JobRecord> resume(UUID tenantId, UUID jobId) {
    return transition(tenantId, jobId, store::resume, Set.of("queued", "running", "completed"), "resume");
  }

  public Future<JobRecord> cancel(UUID tenantId, UUID jobId) {
    return transition(tenantId, jobId, store::cancel, Set.of("cancelled"), "cancel");
  }

  /** Applies the change; a job already in a target state answers as is (idempotent), any other state is a conflict. */
  private Future<JobRecord> transition(UUID tenantId, UUID jobId, BiFunction<UUID, UUID, Future<Boolean>> change,
                                       Set<String> alreadyDone, String verb) {
    return change.apply(tenantId, jobId).compose(changed -> get(tenantId, jobId).map(job -> {
      if (!changed && !alreadyDone.contains(job.state())) {
        throw new ConflictException("invalid_state", "cannot " + verb + " a job that is " + job.state());
      }
      return job;
    }));
  }
}

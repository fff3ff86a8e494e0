package io.mailgate.job;

import io.mailgate.store.JobStore;
import io.mailgate.store.JobStore.NewJob;
import io.mailgate.util.GroupWriter;
import io.vertx.core.Future;

/**
 * Group commit for small jobs: jobs submitted while a write is under way wait for the next one, and each write takes
 * every waiting job (up to {@code maxJobs} jobs and {@code maxRecipients} recipients) in one statement, so one
 * commit and one WAL flush serve them all. An idle gateway writes a job at once; under load the groups grow by
 * themselves, without a timer. Each job is answered only after the commit that contains it ({@link GroupWriter}).
 * One instance per event loop, used from that loop only.
 */
final class GroupCommitter {

  private final GroupWriter<NewJob, Boolean> writer;

  GroupCommitter(JobStore store, int maxJobs, int maxRecipients, int writers) {
    this.writer = new GroupWriter<>(maxJobs, maxRecipients, writers, job -> job.emails().length,
        jobs -> store.insertGroup(jobs).map(accepted -> jobs.stream().map(j -> accepted.contains(j.id())).toList()));
  }

  /** @return true once the job is committed; false if its Idempotency-Key was taken (nothing was written for it) */
  Future<Boolean> submit(NewJob job) {
    return writer.submit(job);
  }
}

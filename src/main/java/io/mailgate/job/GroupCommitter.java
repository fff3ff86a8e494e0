package io.mailgate.job;

import io.mailgate.store.JobStore;
import io.mailgate.store.JobStore.NewJob;
import io.mailgate.store.SqlErrors;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * Group commit for small jobs: jobs submitted while a write is under way wait for the next one, and each write takes
 * every waiting job (up to {@code maxJobs} jobs and {@code maxRecipients} recipients) in one statement, so one
 * commit and one WAL flush serve them all. An idle gateway writes a job at once; under load the groups grow by
 * themselves, without a timer. Each job is answered only after the commit that contains it. One instance per event
 * loop, used from that loop only.
 */
final class GroupCommitter {

  private record Pending(NewJob job, Promise<Boolean> done) {}

  private final JobStore store;
  private final int maxJobs;
  private final int maxRecipients;
  private final int writers;
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  private int writing;

  GroupCommitter(JobStore store, int maxJobs, int maxRecipients, int writers) {
    this.store = store;
    this.maxJobs = Math.max(1, maxJobs);
    this.maxRecipients = Math.max(1, maxRecipients);
    this.writers = Math.max(1, writers);
  }

  /** @return true once the job is committed; false if its Idempotency-Key was taken (nothing was written for it) */
  Future<Boolean> submit(NewJob job) {
    Promise<Boolean> p = Promise.promise();
    queue.add(new Pending(job, p));
    pump();
    return p.future();
  }

  private void pump() {
    while (writing < writers && !queue.isEmpty()) {
      List<Pending> group = new ArrayList<>();
      int recipients = 0;
      while (!queue.isEmpty() && group.size() < maxJobs
          && (group.isEmpty() || recipients + queue.peek().job().emails().length <= maxRecipients)) {
        Pending p = queue.poll();
        recipients += p.job().emails().length;
        group.add(p);
      }
      writing++;
      write(group).onComplete(ar -> {
        writing--;
        pump();
      });
    }
  }

  private Future<Void> write(List<Pending> group) {
    return store.insertGroup(group.stream().map(Pending::job).toList()).transform(ar -> {
      if (ar.succeeded()) {
        Set<UUID> accepted = ar.result();
        group.forEach(p -> p.done().complete(accepted.contains(p.job().id())));
        return Future.succeededFuture();
      }
      if (group.size() == 1 || SqlErrors.isUnavailable(ar.cause())) {
        group.forEach(p -> p.done().fail(ar.cause()));
        return Future.succeededFuture();
      }
      // one job the database refuses must not fail the others: write each alone
      List<Future<Void>> each = new ArrayList<>();
      for (Pending p : group) {
        each.add(write(List.of(p)));
      }
      return Future.join(each).mapEmpty();
    });
  }
}

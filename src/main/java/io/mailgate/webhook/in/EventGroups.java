package io.mailgate.webhook.in;

import io.mailgate.events.EventService;
import io.mailgate.store.EventStore.Incoming;
import io.mailgate.store.EventStore.Recorded;
import io.mailgate.store.SqlErrors;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Group commit of webhook events: calls that arrive while a write is under way wait for the next one, and each write
 * takes every waiting call (up to {@code maxEvents} events) in one {@link EventService#record} statement, so one
 * commit serves them all. An idle gateway writes a call at once; under load the groups grow by themselves. Each call
 * is answered after the commit that holds its events. A group the database refuses is written again call by call,
 * so one call's trouble is its own. One instance per event loop, used from that loop only.
 */
final class EventGroups {

  private record Pending(List<Incoming> events, Promise<Void> done) {}

  private final EventService events;
  private final int maxEvents;
  private final int writers;
  private final Consumer<Recorded> written;
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  private int writing;

  EventGroups(EventService events, int maxEvents, int writers, Consumer<Recorded> written) {
    this.events = events;
    this.maxEvents = Math.max(1, maxEvents);
    this.writers = Math.max(1, writers);
    this.written = written;
  }

  /** Completes once the events are committed. */
  Future<Void> record(List<Incoming> batch) {
    if (batch.isEmpty()) {
      return Future.succeededFuture();
    }
    Promise<Void> p = Promise.promise();
    queue.add(new Pending(batch, p));
    pump();
    return p.future();
  }

  private void pump() {
    while (writing < writers && !queue.isEmpty()) {
      List<Pending> group = new ArrayList<>();
      int n = 0;
      while (!queue.isEmpty() && (group.isEmpty() || n + queue.peek().events().size() <= maxEvents)) {
        Pending p = queue.poll();
        n += p.events().size();
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
    List<Incoming> all = group.size() == 1 ? group.get(0).events() : new ArrayList<>();
    if (group.size() > 1) {
      group.forEach(p -> all.addAll(p.events()));
    }
    return events.record(all).transform(ar -> {
      if (ar.succeeded()) {
        written.accept(ar.result());
        group.forEach(p -> p.done().complete());
        return Future.succeededFuture();
      }
      if (group.size() == 1 || SqlErrors.isUnavailable(ar.cause())) {
        group.forEach(p -> p.done().fail(ar.cause()));
        return Future.succeededFuture();
      }
      List<Future<Void>> each = new ArrayList<>();
      for (Pending p : group) {
        each.add(write(List.of(p)));
      }
      return Future.join(each).mapEmpty();
    });
  }
}

package io.mailgate.webhook.in;

import io.mailgate.events.EventService;
import io.mailgate.store.EventStore.Incoming;
import io.mailgate.store.EventStore.Recorded;
import io.mailgate.util.GroupWriter;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.Collections;
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

  private final GroupWriter<List<Incoming>, Void> writer;

  EventGroups(EventService events, int maxEvents, int writers, Consumer<Recorded> written) {
    // no bound on the calls in a group: only on their events
    this.writer = new GroupWriter<>(Integer.MAX_VALUE, maxEvents, writers, List::size, calls -> {
      List<Incoming> all = calls.size() == 1 ? calls.get(0) : new ArrayList<>();
      if (calls.size() > 1) {
        calls.forEach(all::addAll);
      }
      return events.record(all).map(recorded -> {
        written.accept(recorded);
        return Collections.<Void>nCopies(calls.size(), null);
      });
    });
  }

  /** Completes once the events are committed. */
  Future<Void> record(List<Incoming> batch) {
    return batch.isEmpty() ? Future.succeededFuture() : writer.submit(batch);
  }
}

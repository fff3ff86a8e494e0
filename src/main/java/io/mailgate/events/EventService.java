package io.mailgate.events;

import io.mailgate.error.InvalidInputException;
import io.mailgate.message.EmailAddress;
import io.mailgate.store.EventStore;
import io.mailgate.store.EventStore.Incoming;
import io.mailgate.store.EventStore.Recorded;
import io.vertx.core.Future;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The entry point for what happens to a message after the send: provider webhooks, inbound bounces and feedback
 * loops hand their events here. A batch is checked whole (a bad event refuses the batch, nothing is stored), then
 * written in one statement: the events, the recipients' states, the suppressions they call for (hard bounces,
 * complaints, unsubscribes, repeated soft bounces) and the statistics. Events whose recipient is not found are
 * recorded against the tenant alone and counted, never refused: a provider must not retry them forever.
 */
public final class EventService {

  private static final Logger LOG = LoggerFactory.getLogger(EventService.class);

  /** The most events one call may record. */
  public static final int MAX_BATCH = 10_000;

  private final EventStore store;

  public EventService(EventStore store) {
    this.store = store;
  }

  public Future<Recorded> record(List<Incoming> events) {
    try {
      check(events);
    } catch (InvalidInputException e) {
      return Future.failedFuture(e);
    }
    List<Incoming> normal = events.stream().map(EventService::normalised).toList();
    return store.unknownTenants(normal.stream().map(Incoming::tenantId).distinct().toList()).compose(unknown -> {
      if (!unknown.isEmpty()) {
        return Future.failedFuture(new io.mailgate.error.NotFoundException("tenant " + unknown.get(0)));
      }
      return store.record(normal);
    }).onSuccess(r -> {
      if (r.unmatched() > 0) {
        LOG.atWarn().addKeyValue("unmatched", r.unmatched()).addKeyValue("source", normal.get(0).source())
            .log("events for recipients that were not found; recorded for the tenant alone");
      }
    });
  }

  static void check(List<Incoming> events) {
    if (events.size() > MAX_BATCH) {
      throw new InvalidInputException("too_many_events", "at most " + MAX_BATCH + " events per call, got " + events.size(), null);
    }
    for (int i = 0; i < events.size(); i++) {
      Incoming e = events.get(i);
      String at = "events[" + i + "]";
      if (e.tenantId() == null) {
        throw new InvalidInputException("invalid_event", at + ": tenant is required", at);
      }
      if (e.type() == null || !EventStore.LATER_TYPES.contains(e.type())) {
        throw new InvalidInputException("invalid_event_type", at + ": type must be one of " + EventStore.LATER_TYPES
            + ", got " + (e.type() == null ? "none" : "'" + EmailAddress.printable(e.type()) + "'"), at + ".type");
      }
      if (e.type().equals("bounced") && !("hard".equals(e.severity()) || "soft".equals(e.severity()))) {
        throw new InvalidInputException("invalid_event", at + ": a bounce's severity must be hard or soft", at + ".severity");
      }
      String problem = EmailAddress.problem(e.email());
      if (problem != null) {
        throw new InvalidInputException("invalid_address", at + ": " + problem, at + ".email");
      }
      if (e.seq() != null && (e.seq() < 0 || e.jobId() == null)) {
        throw new InvalidInputException("invalid_event", at + ": seq needs a job and must not be negative", at + ".seq");
      }
      if (e.source() == null || !e.source().matches("[a-z0-9:_-]{1,64}")) {
        throw new InvalidInputException("invalid_event", at + ": source must be 1 to 64 of a-z 0-9 : _ -", at + ".source");
      }
      if (e.sourceId() != null && (e.sourceId().isEmpty() || e.sourceId().length() > 256)) {
        throw new InvalidInputException("invalid_event", at + ": sourceId must be 1 to 256 characters", at + ".sourceId");
      }
    }
  }

  private static Incoming normalised(Incoming e) {
    return new Incoming(e.tenantId(), e.jobId(), e.seq(), e.email().toLowerCase(Locale.ROOT), e.type(),
        e.type().equals("bounced") ? e.severity() : null, e.code(), clip(e.message(), 1000), clip(e.messageId(), 998),
        e.backendId(), e.source(), e.sourceId());
  }

  private static String clip(String s, int max) {
    if (s == null) {
      return null;
    }
    String t = s.indexOf('\0') >= 0 ? s.replace('\0', ' ') : s;
    return t.length() > max ? t.substring(0, max) : t;
  }

}

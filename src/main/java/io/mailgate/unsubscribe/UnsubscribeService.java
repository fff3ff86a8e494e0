package io.mailgate.unsubscribe;

import io.mailgate.error.NotFoundException;
import io.mailgate.events.EventService;
import io.mailgate.store.EventStore;
import io.vertx.core.Future;
import java.util.List;
import java.util.Optional;

/**
 * One-click unsubscribe (RFC 8058): a link's token is checked without the database; a confirmed unsubscribe becomes
 * an {@code unsubscribed} event through {@link EventService} (which adds the {@code unsubscribe} suppression and the
 * counters), with source {@code one-click} and the token's job and seq as its id, so a repeated POST records nothing.
 */
public final class UnsubscribeService {

  /** The source of the events this records. */
  public static final String SOURCE = "one-click";

  private final UnsubscribeTokens tokens;
  private final EventStore store;
  private final EventService events;

  public UnsubscribeService(UnsubscribeTokens tokens, EventStore store, EventService events) {
    this.tokens = tokens;
    this.store = store;
    this.events = events;
  }

  /** What the token names, if it is one of ours. */
  public Optional<UnsubscribeTokens.Target> verify(String token) {
    return tokens.verify(token);
  }

  /**
   * Unsubscribes the recipient the token names. Fails with {@link NotFoundException} when that recipient no longer
   * exists (its tenant or job deleted): nothing is stored then. @return whether this call recorded it (false: it was
   * recorded before)
   */
  public Future<Boolean> unsubscribe(UnsubscribeTokens.Target t) {
    return store.recipientEmail(t.tenantId(), t.jobId(), t.seq()).compose(email -> {
      if (email.isEmpty()) {
        return Future.failedFuture(new NotFoundException("recipient"));
      }
      EventStore.Incoming e = new EventStore.Incoming(t.tenantId(), t.jobId(), t.seq(), email.get(), "unsubscribed", null,
          null, "one-click unsubscribe (RFC 8058)", null, null, SOURCE, t.sourceId());
      return events.record(List.of(e)).map(r -> r.recorded() > 0);
    });
  }
}

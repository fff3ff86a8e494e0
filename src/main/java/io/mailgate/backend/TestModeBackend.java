package io.mailgate.backend;

import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Stands in for the routed backend when a job is sent in test mode (Mailgun's {@code o:testmode}, our
 * {@code "testMode": true}): every message is composed and signed as it would be, then dropped, and the recipient
 * reported sent. What was "sent" is kept per delivery until {@link #take(Delivery)}, so the dispatcher can record the
 * {@code delivered} events Mailgun emits for test-mode messages once the sends are written.
 */
public final class TestModeBackend implements MailBackend {

  /** Where the events say a test-mode message went. */
  public static final String PEER = "test-mode";
  public static final String MESSAGE = "test mode: accepted, not delivered";

  /** One recipient "sent" in test mode. */
  public record Taken(int seq, String email, String messageId) {}

  private final int window;
  private final Map<Delivery, List<Taken>> taken = new ConcurrentHashMap<>();

  public TestModeBackend(int window) {
    this.window = window;
  }

  @Override
  public Future<Void> deliver(Delivery delivery) {
    List<Taken> list = java.util.Collections.synchronizedList(new ArrayList<>());
    taken.put(delivery, list);
    return PerRecipientSender.run(delivery, window, r -> delivery.message(r).map(msg -> {
      String id = delivery.campaign().messageId(r.seq());
      list.add(new Taken(r.seq(), r.email().value(), id));
      return (Outcome) new Outcome.Sent(id, 250, MESSAGE, PEER, null);
    }));
  }

  /** The recipients a delivery "sent", once; empty when it sent none. */
  public List<Taken> take(Delivery delivery) {
    List<Taken> list = taken.remove(delivery);
    return list == null ? List.of() : List.copyOf(list);
  }

  @Override
  public Future<Void> close() {
    return Future.succeededFuture();
  }

  @Override
  public String endpoint() {
    return PEER;
  }
}

package io.mailgate.backend;

import io.vertx.core.Future;

/**
 * Stands in for the routed backend when a job is sent in test mode (Mailgun's {@code o:testmode}, our
 * {@code "testMode": true}): every message is composed and signed as it would be, then dropped, and the recipient
 * reported sent, its event without a backend (the Mailgun API shows it {@code delivered}, as Mailgun does).
 */
public final class TestModeBackend implements MailBackend {

  /** Where the events say a test-mode message went. */
  public static final String PEER = "test-mode";
  public static final String MESSAGE = "test mode: accepted, not delivered";

  private final int window;

  public TestModeBackend(int window) {
    this.window = window;
  }

  @Override
  public Future<Void> deliver(Delivery delivery) {
    return PerRecipientSender.run(delivery, window, r -> delivery.message(r).map(msg -> {
      String id = delivery.campaign().messageId(r.seq());
      return (Outcome) new Outcome.Sent(id, 250, MESSAGE, PEER, null);
    }));
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

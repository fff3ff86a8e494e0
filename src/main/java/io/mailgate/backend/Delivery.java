package io.mailgate.backend;

import io.mailgate.message.Campaign;
import io.mailgate.message.ComposedMessage;
import io.mailgate.message.MimeComposer;
import io.vertx.core.Future;
import java.util.List;

/**
 * A chunk's due recipients, handed by the dispatcher to one backend. The backend takes them in list order, asks
 * {@link #ready(int)} for every {@code n} it takes before sending them, reports an outcome for each recipient it
 * starts, and starts no more once {@link #stopped()} turns true (pause, cancel, lost lease, shutdown).
 */
public interface Delivery {

  Campaign campaign();

  /** Shared per job: renders full MIME messages for backends that need them. */
  MimeComposer composer();

  /**
   * One recipient's full MIME message as it must go out: composed, and DKIM-signed when the tenant has a key for
   * the From domain (signing runs on a worker pool). SMTP and file backends send exactly these bytes.
   */
  Future<ComposedMessage> message(OutboundRecipient recipient);

  List<OutboundRecipient> recipients();

  /** Transactional mail of the priority lane: a backend serves it before campaign mail waiting for the same connections. */
  default boolean highPriority() {
    return false;
  }

  boolean stopped();

  /**
   * Completes when the dispatcher can take more outcomes. Backends wait on it before starting a send, which bounds
   * the outcomes not yet written to the database, and so the sends repeated after a crash.
   */
  default Future<Void> ready() {
    return ready(1);
  }

  /** Like {@link #ready()}, before a send of {@code messages} messages in one call (a provider batch). */
  default Future<Void> ready(int messages) {
    return Future.succeededFuture();
  }

  /** The outcome of one recipient, and how long the backend took for it (for a batch call: the call's time). */
  void report(OutboundRecipient recipient, Outcome outcome, long latencyNanos);

  /**
   * The same outcome for every recipient, none of them sent (the backend cannot work at all). Like a send, it takes
   * the recipients first, so their outcomes count.
   */
  default Future<Void> reportAll(Outcome outcome) {
    return ready(recipients().size()).map(v -> {
      recipients().forEach(r -> report(r, outcome, 0));
      return null;
    });
  }
}

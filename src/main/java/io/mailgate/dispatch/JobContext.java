package io.mailgate.dispatch;

import io.mailgate.message.Campaign;
import io.mailgate.message.MessageSigner;
import io.mailgate.message.MimeComposer;
import java.time.OffsetDateTime;

/**
 * A job compiled for sending, cached by the dispatcher while its chunks run (reloaded after a minute, so a deleted
 * DKIM key stops signing); {@code signer} may be null.
 */
record JobContext(Campaign campaign, MimeComposer composer, MessageSigner signer, int chunkSize, OffsetDateTime createdAt,
                  OffsetDateTime expiresAt, boolean testMode, long loadedAt, OneMessage one) {

  JobContext(Campaign campaign, MimeComposer composer, MessageSigner signer, int chunkSize, OffsetDateTime createdAt,
             OffsetDateTime expiresAt, boolean testMode, long loadedAt) {
    this(campaign, composer, signer, chunkSize, createdAt, expiresAt, testMode, loadedAt, new OneMessage());
  }

  /**
   * The one message of a shared or MIME job, composed and signed once for all its recipients while this context
   * lives, so that they all get the same bytes. Used from the dispatcher's event loop.
   */
  static final class OneMessage {
    private io.vertx.core.Future<io.mailgate.message.ComposedMessage> message;

    io.vertx.core.Future<io.mailgate.message.ComposedMessage> get(
        java.util.function.Supplier<io.vertx.core.Future<io.mailgate.message.ComposedMessage>> make) {
      if (message == null || message.failed()) {
        message = make.get();
      }
      return message;
    }
  }

  /** Past its expiry: nothing more of it may be handed to a backend. */
  boolean expired() {
    return expiresAt != null && !expiresAt.isAfter(OffsetDateTime.now());
  }


  /** Stands in for a job that cannot be prepared (its key cannot be decrypted...): its recipients are only held. */
  static JobContext unavailable() {
    return new JobContext(null, null, null, 0, OffsetDateTime.now(), null, false, System.nanoTime());
  }
}

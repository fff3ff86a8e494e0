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
                  OffsetDateTime expiresAt, boolean testMode, long loadedAt) {

  /** Past its expiry: nothing more of it may be handed to a backend. */
  boolean expired() {
    return expiresAt != null && !expiresAt.isAfter(OffsetDateTime.now());
  }


  /** Stands in for a job that cannot be prepared (its key cannot be decrypted...): its recipients are only held. */
  static JobContext unavailable() {
    return new JobContext(null, null, null, 0, OffsetDateTime.now(), null, false, System.nanoTime());
  }
}

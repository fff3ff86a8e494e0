package io.mailgate.backend;

import io.mailgate.message.Campaign;
import io.mailgate.message.MimeComposer;
import java.util.List;

/**
 * A chunk's due recipients, handed by the dispatcher to one backend. The backend reports an outcome for each
 * recipient it starts, and starts no more once {@link #stopped()} turns true (pause, cancel, lost lease, shutdown).
 */
public interface Delivery {

  Campaign campaign();

  /** Shared per job: renders full MIME messages for backends that need them. */
  MimeComposer composer();

  List<OutboundRecipient> recipients();

  boolean stopped();

  /** The outcome of one recipient, and how long the backend took for it (for a batch call: the call's time). */
  void report(OutboundRecipient recipient, Outcome outcome, long latencyNanos);
}

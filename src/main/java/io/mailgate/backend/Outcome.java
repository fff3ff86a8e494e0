package io.mailgate.backend;

import java.time.Duration;

/** What happened to one recipient's send. The dispatcher turns it into a recipient state. */
public sealed interface Outcome {

  /**
   * Accepted by the backend. {@code messageId} is the backend's id (or ours, for SMTP). {@code peer} is the server
   * actually connected to ("address:port" as resolved), {@code tlsName} the TLS server name where TLS was used; null
   * when the backend does not know them (the dispatcher then records the backend's configured endpoint).
   */
  record Sent(String messageId, Integer code, String message, String peer, String tlsName) implements Outcome {
    public Sent(String messageId, Integer code, String message) {
      this(messageId, code, message, null, null);
    }
  }

  /** Whose fault a temporary failure is; the backend's own faults count towards its circuit breaker. */
  enum Fault {
    /** About this recipient only (greylisting, a full mailbox, a 4xx to RCPT). */
    RECIPIENT,
    /** The backend cannot take mail now: connection refused, timeouts, 5xx from an HTTP API. */
    BACKEND,
    /** The backend refuses our credentials (SMTP AUTH failure, HTTP 401/403): unhealthy until an operator acts. */
    CREDENTIALS,
    /** The backend asks us to slow down (HTTP 429): retry later, but it is healthy. */
    THROTTLED,
    /** The routing policy forbids sending now (the backend is outside the tenant's regions): held, never failed. */
    POLICY
  }

  /**
   * Not sent now, worth retrying: SMTP 4xx, connection errors, timeouts, HTTP 429/5xx. {@code retryAfter} is the
   * backend's own hint, if any. {@code possibleDuplicate} marks a send that may have been delivered anyway
   * (a timeout after the final "." of DATA).
   */
  record Temporary(Integer code, String message, Duration retryAfter, boolean possibleDuplicate, Fault fault)
      implements Outcome {
    public Temporary(Integer code, String message) {
      this(code, message, null, false, Fault.RECIPIENT);
    }

    public Temporary(Integer code, String message, Fault fault) {
      this(code, message, null, false, fault);
    }
  }

  /** Refused for good (SMTP 5xx, an invalid request): the recipient fails at once. */
  record Permanent(Integer code, String message) implements Outcome {}
}

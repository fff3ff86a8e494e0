package io.mailgate.backend;

import java.time.Duration;

/** What happened to one recipient's send. The dispatcher turns it into a recipient state. */
public sealed interface Outcome {

  /** Accepted by the backend. {@code messageId} is the backend's id (or ours, for SMTP). */
  record Sent(String messageId, Integer code, String message) implements Outcome {}

  /**
   * Not sent now, worth retrying: SMTP 4xx, connection errors, timeouts, HTTP 429/5xx. {@code retryAfter} is the
   * backend's own hint, if any. {@code possibleDuplicate} marks a send that may have been delivered anyway
   * (a timeout after the final "." of DATA).
   */
  record Temporary(Integer code, String message, Duration retryAfter, boolean possibleDuplicate) implements Outcome {
    public Temporary(Integer code, String message) {
      this(code, message, null, false);
    }
  }

  /** Refused for good (SMTP 5xx, an invalid request): the recipient fails at once. */
  record Permanent(Integer code, String message) implements Outcome {}
}

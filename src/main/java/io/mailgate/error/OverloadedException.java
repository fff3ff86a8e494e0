package io.mailgate.error;

/** Admission control: the gateway has no room for this request now; the client should retry later. */
public class OverloadedException extends MailgateException {
  private final int retryAfterSeconds;

  public OverloadedException(String message, int retryAfterSeconds) {
    super("overloaded", message);
    this.retryAfterSeconds = retryAfterSeconds;
  }

  public int retryAfterSeconds() {
    return retryAfterSeconds;
  }
}

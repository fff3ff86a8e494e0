package io.mailgate.error;

/** A body or a line is larger than its documented limit. */
public class PayloadTooLargeException extends MailgateException {
  public PayloadTooLargeException(String message) {
    super("payload_too_large", message);
  }
}

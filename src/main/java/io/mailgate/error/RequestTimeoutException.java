package io.mailgate.error;

/** The client took longer than the documented limit to send its request; nothing was stored. */
public class RequestTimeoutException extends MailgateException {
  public RequestTimeoutException(String message) {
    super("request_timeout", message);
  }
}

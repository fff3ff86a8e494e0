package io.mailgate.error;

/** The caller did not prove who it is: credentials or a signature missing, or not ours. */
public class NotAuthenticatedException extends MailgateException {
  public NotAuthenticatedException(String code, String message) {
    super(code, message);
  }
}

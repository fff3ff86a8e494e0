package io.mailgate.error;

/** Well-formed but refused by policy (an Idempotency-Key reused with another body, a region not allowed). */
public class UnprocessableException extends MailgateException {
  public UnprocessableException(String code, String message) {
    super(code, message);
  }
}

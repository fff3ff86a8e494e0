package io.mailgate.error;

/** The request clashes with the current state (a duplicate name, pausing a completed job). */
public class ConflictException extends MailgateException {
  public ConflictException(String code, String message) {
    super(code, message);
  }
}

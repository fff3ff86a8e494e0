package io.mailgate.error;

/** The caller is known (or its signature checks out) but this call is refused: stale, replayed, not allowed. */
public class ForbiddenException extends MailgateException {
  public ForbiddenException(String code, String message) {
    super(code, message);
  }
}

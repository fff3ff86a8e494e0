package io.mailgate.error;

/**
 * A domain failure with a stable machine-readable code. Domain code throws these; the HTTP layer alone
 * decides which status each one answers with.
 */
public abstract class MailgateException extends RuntimeException {
  private final String code;

  protected MailgateException(String code, String message) {
    super(message, null, false, false);
    this.code = code;
  }

  public String code() {
    return code;
  }
}

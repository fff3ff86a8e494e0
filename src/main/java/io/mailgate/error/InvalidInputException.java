package io.mailgate.error;

/** The request is malformed or breaks a documented limit; nothing was stored. */
public class InvalidInputException extends MailgateException {
  private final String field;
  private final Long line;

  public InvalidInputException(String code, String message, String field, Long line) {
    super(code, message);
    this.field = field;
    this.line = line;
  }

  public InvalidInputException(String code, String message, String field) {
    this(code, message, field, null);
  }

  public String field() {
    return field;
  }

  public Long line() {
    return line;
  }

  /** The same failure, located at a 1-based line of an NDJSON body. */
  public InvalidInputException atLine(long line) {
    return new InvalidInputException(code(), "line " + line + ": " + getMessage(), field, line);
  }
}

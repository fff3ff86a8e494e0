package io.mailgate.backend.smtp;

/**
 * A connection-level failure (connect, TLS, greeting, auth, timeout, socket closed). Such failures are
 * temporary for the recipient: they say nothing about the address. {@code reply} is set when the server said why.
 */
public class SmtpException extends RuntimeException {
  private final SmtpReply reply;
  private final boolean afterData;
  private final boolean authentication;

  public SmtpException(String message, SmtpReply reply, boolean afterData) {
    this(message, reply, afterData, false);
  }

  public SmtpException(String message, SmtpReply reply, boolean afterData, boolean authentication) {
    super(message, null, false, false);
    this.reply = reply;
    this.afterData = afterData;
    this.authentication = authentication;
  }

  /** The server refused our credentials. */
  public boolean authentication() {
    return authentication;
  }

  public SmtpException(String message) {
    this(message, null, false);
  }

  public SmtpReply reply() {
    return reply;
  }

  /** The failure came after the final "." was written: the message may have been delivered. */
  public boolean afterData() {
    return afterData;
  }
}

package io.mailgate.api.mailgun;

/**
 * A failure that exists only in Mailgun's dialect of HTTP: the exact status and message Mailgun gives (401
 * {@code Forbidden}, 404 {@code Domain not found: x}). Domain failures keep their own types and are mapped by
 * {@link MailgunFailureHandler}.
 */
final class MailgunAnswer extends RuntimeException {
  final int status;

  MailgunAnswer(int status, String message) {
    super(message, null, false, false);
    this.status = status;
  }

  /** Mailgun answers a missing or wrong key with 401 and the plain-text body {@code Forbidden}. */
  static MailgunAnswer forbidden() {
    return new MailgunAnswer(401, "Forbidden");
  }

  /** A domain the caller does not own answers like a missing one, so another tenant's domain cannot be told apart. */
  static MailgunAnswer domainNotFound(String domain) {
    return new MailgunAnswer(404, "Domain not found: " + io.mailgate.message.EmailAddress.printable(domain));
  }

  static MailgunAnswer notFound() {
    return new MailgunAnswer(404, "Not Found");
  }
}

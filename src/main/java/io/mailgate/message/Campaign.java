package io.mailgate.message;

import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A job's message, compiled once: sender, templates and headers. Backends ask it for each recipient's
 * message, in the form they need (full MIME for SMTP and files; the parts for HTTP providers).
 */
public record Campaign(
    UUID jobId,
    UUID tenantId,
    Mailbox from,
    Mailbox replyTo,
    Template subject,
    Template text,
    Template html,
    Map<String, String> headers,
    List<String> tags) {

  /** Stable across retries of one recipient, so a receiver can drop the duplicate of a re-sent message. */
  public String messageId(int seq) {
    return "<" + seq + "." + jobId.toString().replace("-", "") + "@" + from.address().domain() + ">";
  }

  /** The subject for one recipient; a value with a line break cannot start a new header. */
  public String renderSubject(Map<String, Object> vars) {
    return singleLine(subject.render(vars));
  }

  static String singleLine(String s) {
    if (s.indexOf('\r') < 0 && s.indexOf('\n') < 0 && s.indexOf('\0') < 0) {
      return s;
    }
    return s.replace("\r\n", " ").replace('\r', ' ').replace('\n', ' ').replace('\0', ' ');
  }
}

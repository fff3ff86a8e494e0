package io.mailgate.message;

import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A job's message, compiled once: sender, templates and headers. Backends ask it for each recipient's
 * message, in the form they need (full MIME for SMTP and files; the parts for HTTP providers).
 *
 * <p>Its {@link Shape} says whether each recipient gets a message of its own (the templates rendered with its vars),
 * or all get the same one: a {@code SHARED} message with the header lists {@code to} and {@code cc}, or the caller's
 * own {@code MIME} message ({@code mime}). A shared or MIME message has one Message-ID for every recipient.
 * {@code attachments}: the files of a personal or shared job, sent with every recipient's message (none for MIME).
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
    List<String> tags,
    ListUnsubscribe unsubscribe,
    Shape shape,
    List<Mailbox> to,
    List<Mailbox> cc,
    MimeMessage mime,
    List<Attachment> attachments) {

  /** How a job's message is made for its recipients. */
  public enum Shape {
    /** One message per recipient, the templates rendered with its vars. */
    PERSONAL,
    /** One message for all recipients, showing the {@code to} and {@code cc} lists; the others are blind copies. */
    SHARED,
    /** The caller's whole MIME message, the same for all recipients, sent as given (DKIM signature added). */
    MIME
  }

  public Campaign {
    shape = shape == null ? Shape.PERSONAL : shape;
    to = to == null ? List.of() : to;
    cc = cc == null ? List.of() : cc;
    attachments = attachments == null ? List.of() : List.copyOf(attachments);
  }

  public Campaign(UUID jobId, UUID tenantId, Mailbox from, Mailbox replyTo, Template subject, Template text, Template html,
                  Map<String, String> headers, List<String> tags, ListUnsubscribe unsubscribe, Shape shape,
                  List<Mailbox> to, List<Mailbox> cc, MimeMessage mime) {
    this(jobId, tenantId, from, replyTo, subject, text, html, headers, tags, unsubscribe, shape, to, cc, mime, null);
  }

  public Campaign(UUID jobId, UUID tenantId, Mailbox from, Mailbox replyTo, Template subject, Template text, Template html,
                  Map<String, String> headers, List<String> tags, ListUnsubscribe unsubscribe) {
    this(jobId, tenantId, from, replyTo, subject, text, html, headers, tags, unsubscribe, Shape.PERSONAL, null, null, null, null);
  }

  /** True when every recipient gets the same message (shared or MIME). */
  public boolean oneMessage() {
    return shape != Shape.PERSONAL;
  }

  /** The bytes the attachments hold once encoded, for the dispatcher's cache bound. */
  public long attachmentWeight() {
    long w = 0;
    for (Attachment a : attachments) {
      w += a.weight();
    }
    return w;
  }

  /** The template variable of a recipient's unsubscribe link. */
  public static final String UNSUBSCRIBE_URL_VAR = "unsubscribeUrl";

  public Campaign(UUID jobId, UUID tenantId, Mailbox from, Mailbox replyTo, Template subject, Template text, Template html,
                  Map<String, String> headers, List<String> tags) {
    this(jobId, tenantId, from, replyTo, subject, text, html, headers, tags, null);
  }

  /**
   * A recipient's template variables: with one-click unsubscribe, {@code unsubscribeUrl} is its link (replacing a
   * variable of that name), so every way of rendering (ours, a provider's substitution) shows the same link.
   */
  public Map<String, Object> varsFor(int seq, Map<String, Object> vars) {
    if (unsubscribe == null) {
      return vars;
    }
    Map<String, Object> out = new java.util.HashMap<>(vars);
    out.put(UNSUBSCRIBE_URL_VAR, unsubscribe.url(seq));
    return out;
  }

  /**
   * The headers of one recipient's message besides the job's own: List-Unsubscribe and List-Unsubscribe-Post
   * (RFC 8058) with one-click unsubscribe, else none.
   */
  public Map<String, String> recipientHeaders(int seq) {
    if (unsubscribe == null) {
      return Map.of();
    }
    Map<String, String> h = new java.util.LinkedHashMap<>();
    h.put("List-Unsubscribe", unsubscribe.header(seq));
    h.put("List-Unsubscribe-Post", ListUnsubscribe.ONE_CLICK);
    return h;
  }

  /**
   * Stable across retries of one recipient, so a receiver can drop the duplicate of a re-sent message:
   * {@code <seq.jobId@domain>}; the one message of a shared job is {@code <jobId@domain>} for all (jobId without
   * dashes, the From domain), a MIME message keeps its own Message-ID (else gets that one).
   */
  public String messageId(int seq) {
    if (shape == Shape.MIME && mime.messageId() != null) {
      return mime.messageId();
    }
    String job = jobId.toString().replace("-", "");
    // ASCII: an IDN From domain as A-labels
    return oneMessage() ? "<" + job + "@" + from.address().asciiDomain() + ">"
        : "<" + seq + "." + job + "@" + from.address().asciiDomain() + ">";
  }

  /** Subject, text and html for one recipient, for providers that take the parts rather than a MIME message. */
  public RenderedParts render(Map<String, Object> vars) {
    return new RenderedParts(renderSubject(vars),
        text == null ? null : MimeComposer.normalizeLineBreaks(text.render(vars)),
        html == null ? null : MimeComposer.normalizeLineBreaks(html.render(vars)));
  }

  /**
   * The templates as parts a provider can substitute itself, if every template uses plain variables only.
   * Subject and text variables are raw; in html, {@code {{x}}} variables must be HTML-escaped.
   */
  public java.util.Optional<BatchForm> batchForm() {
    var s = TemplateParts.parse(subject.source());
    var t = text == null ? java.util.Optional.<TemplateParts>empty() : TemplateParts.parse(text.source());
    var h = html == null ? java.util.Optional.<TemplateParts>empty() : TemplateParts.parse(html.source());
    if (s.isEmpty() || text != null && t.isEmpty() || html != null && h.isEmpty()) {
      return java.util.Optional.empty();
    }
    return java.util.Optional.of(new BatchForm(s.get(), t.orElse(null), h.orElse(null)));
  }

  /** Subject, text and html templates as parts; text or html may be null. Subject values go through {@link #singleLine}. */
  public record BatchForm(TemplateParts subject, TemplateParts text, TemplateParts html) {}

  /** The subject for one recipient; a value with a line break cannot start a new header. */
  public String renderSubject(Map<String, Object> vars) {
    return singleLine(subject.render(vars));
  }

  public static String singleLine(String s) {
    if (s.indexOf('\r') < 0 && s.indexOf('\n') < 0 && s.indexOf('\0') < 0) {
      return s;
    }
    return s.replace("\r\n", " ").replace('\r', ' ').replace('\n', ' ').replace('\0', ' ');
  }
}

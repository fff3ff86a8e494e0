package io.mailgate.job;

import io.mailgate.config.GatewayConfig.LimitsConfig;
import io.mailgate.error.InvalidInputException;
import io.mailgate.message.HeaderValues;
import io.mailgate.message.Mailbox;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/** Validates the job part of a submission (everything but recipients) against the documented limits. */
public final class JobSpecParser {

  /** Set by the gateway from the job itself; a job may not supply them as custom headers. */
  private static final Set<String> RESERVED_HEADERS = Set.of("from", "to", "cc", "bcc", "subject", "date",
      "message-id", "mime-version", "content-type", "content-transfer-encoding", "reply-to", "return-path",
      "received", "dkim-signature", "sender");
  private static final Set<String> FIELDS = Set.of("from", "replyTo", "subject", "text", "html", "headers", "tags",
      "priority", "expiresAt", "sendAt", "testMode", "unsubscribe", "metadata", "recipients", "tenantId", "to", "cc",
      "attachments");
  private static final Set<String> ATTACHMENT_FIELDS = Set.of("filename", "contentType", "content", "inline", "contentId");
  /** The most a job's metadata may weigh, names and values together: Mailgun's bound on a message's send options. */
  public static final int MAX_METADATA_BYTES = 16 * 1024;

  /** What a job of the tenant gets unless it says otherwise: one-click unsubscribe, and its mailto address. */
  public record TenantDefaults(boolean unsubscribe, String unsubscribeMailto) {
    public static final TenantDefaults NONE = new TenantDefaults(false, null);
  }

  private final LimitsConfig limits;
  private final boolean unsubscribeAvailable;

  public JobSpecParser(LimitsConfig limits) {
    this(limits, false);
  }

  /** @param unsubscribeAvailable whether MAILGATE_PUBLIC_URL is set, without which no job may ask for unsubscribe */
  public JobSpecParser(LimitsConfig limits, boolean unsubscribeAvailable) {
    this.limits = limits;
    this.unsubscribeAvailable = unsubscribeAvailable;
  }

  public JobSpec parse(JsonObject j, boolean allowRecipients) {
    return parse(j, allowRecipients, TenantDefaults.NONE);
  }

  /**
   * @param allowRecipients whether a {@code recipients} field may be present (JSON bodies; NDJSON first lines
   *     carry none)
   * @param defaults the tenant's, for what the job leaves out
   */
  public JobSpec parse(JsonObject j, boolean allowRecipients, TenantDefaults defaults) {
    for (String f : j.fieldNames()) {
      if (!FIELDS.contains(f) || f.equals("recipients") && !allowRecipients) {
        throw new InvalidInputException("unknown_field", "unknown field '" + printable(f) + "'", f);
      }
    }
    Mailbox from = Mailbox.parse(string(j, "from", true), "from");
    String replyToRaw = string(j, "replyTo", false);
    Mailbox replyTo = replyToRaw == null ? null : Mailbox.parse(replyToRaw, "replyTo");
    String subject = string(j, "subject", true);
    HeaderValues.rejectLineBreaks(subject, "subject");
    if (subject.length() > limits.maxSubjectChars()) {
      throw new InvalidInputException("too_long", "subject is longer than " + limits.maxSubjectChars() + " characters", "subject");
    }
    String text = template(j, "text");
    String html = template(j, "html");
    if (text == null && html == null) {
      throw new InvalidInputException("missing_body", "one of text or html is required", "text");
    }
    String priority = string(j, "priority", false);
    Map<String, String> headers = headers(j);
    boolean shared = j.containsKey("to") || j.containsKey("cc");
    List<Mailbox> to = shared ? mailboxes(j, "to") : null;
    List<Mailbox> cc = shared ? mailboxes(j, "cc") : null;
    if (shared && to.size() + cc.size() > limits.maxSharedRecipients()) {
      throw new InvalidInputException("too_many_recipients", "to and cc list at most " + limits.maxSharedRecipients()
          + " addresses together (MAILGATE_MAX_SHARED_RECIPIENTS)", "to");
    }
    if (shared && Boolean.TRUE.equals(j.getValue("unsubscribe"))) {
      throw new InvalidInputException("invalid_field", "a shared message (to, cc) is the same for every recipient and"
          + " cannot carry one-click unsubscribe links, which are per recipient", "unsubscribe");
    }
    // a tenant's unsubscribe default is for messages of their own: a shared one goes without
    JobSpec.Unsubscribe unsubscribe = shared ? null : unsubscribe(j, defaults);
    if (unsubscribe != null) {
      for (String name : headers.keySet()) {
        if (name.equalsIgnoreCase("List-Unsubscribe") || name.equalsIgnoreCase("List-Unsubscribe-Post")) {
          throw new InvalidInputException("reserved_header", name + " is set by the gateway when the job has one-click"
              + " unsubscribe", "headers." + name);
        }
      }
    }
    java.time.OffsetDateTime expiresAt = expiresAt(j);
    java.time.OffsetDateTime sendAt = sendAt(j, expiresAt);
    JobSpec spec = new JobSpec(from, replyTo, subject, text, html, headers, tags(j),
        priority == null ? null : Priority.parse(priority, "priority"), expiresAt, sendAt, unsubscribe, metadata(j),
        testMode(j), shared ? io.mailgate.message.Campaign.Shape.SHARED : io.mailgate.message.Campaign.Shape.PERSONAL,
        to, cc, attachments(j));
    // compile once here, so a template error is a 400 now and not a failure at send time
    var campaign = spec.compile(UUID.randomUUID(), UUID.randomUUID());
    String[] names = {"subject", "text", "html"};
    var templates = new io.mailgate.message.Template[] {campaign.subject(), campaign.text(), campaign.html()};
    for (int i = 0; i < templates.length; i++) {
      var t = templates[i];
      if (t != null && t.sectionDepth() > limits.maxSectionDepth()) {
        throw new InvalidInputException("invalid_template", "sections nest deeper than " + limits.maxSectionDepth() + " levels", "text");
      }
      if (shared && t != null && t.usesVariables()) {
        throw new InvalidInputException("invalid_template", names[i] + " uses template variables, but a shared message"
            + " (to, cc) is the same for every recipient: no per-recipient substitution", names[i]);
      }
    }
    return spec;
  }

  /**
   * {@code "attachments": [{"filename", "contentType", "content" (base64), "inline", "contentId"}]}: at most
   * MAILGATE_MAX_ATTACHMENTS files of at most MAILGATE_MAX_JSON_ATTACHMENT_BYTES decoded bytes together. An inline
   * part ({@code inline: true}, or a {@code contentId}) is referenced from the html as {@code cid:<contentId>}
   * (default: its file name).
   */
  private List<io.mailgate.message.Attachment> attachments(JsonObject j) {
    Object v = j.getValue("attachments");
    List<io.mailgate.message.Attachment> out = new ArrayList<>();
    if (v == null) {
      return out;
    }
    if (!(v instanceof JsonArray a)) {
      throw new InvalidInputException("invalid_attachment", "attachments must be an array of objects", "attachments");
    }
    if (a.size() > limits.maxAttachments()) {
      throw new InvalidInputException("too_many_attachments", "at most " + limits.maxAttachments()
          + " attachments are allowed (MAILGATE_MAX_ATTACHMENTS), got " + a.size(), "attachments");
    }
    long total = 0;
    Set<String> ids = new java.util.HashSet<>();
    for (int i = 0; i < a.size(); i++) {
      String at = "attachments[" + i + "]";
      if (!(a.getValue(i) instanceof JsonObject o)) {
        throw new InvalidInputException("invalid_attachment", at + " must be an object", at);
      }
      for (String f : o.fieldNames()) {
        if (!ATTACHMENT_FIELDS.contains(f)) {
          throw new InvalidInputException("unknown_field", "unknown field '" + printable(f) + "' in " + at, at + "." + printable(f));
        }
      }
      String filename = io.mailgate.message.Attachment.filename(string(o, "filename", at + ".filename"),
          limits.maxAttachmentNameChars(), at + ".filename");
      String type = io.mailgate.message.Attachment.contentType(string(o, "contentType", at + ".contentType"), null,
          at + ".contentType");
      Object inline = o.getValue("inline");
      if (inline != null && !(inline instanceof Boolean)) {
        throw new InvalidInputException("invalid_attachment", at + ".inline must be true or false", at + ".inline");
      }
      String cid = string(o, "contentId", at + ".contentId");
      if (Boolean.FALSE.equals(inline) && cid != null) {
        throw new InvalidInputException("invalid_attachment", at + ".contentId is for inline parts, but inline is false",
            at + ".contentId");
      }
      if (Boolean.TRUE.equals(inline) || cid != null) {
        String field = cid != null ? at + ".contentId" : at + ".filename";
        cid = io.mailgate.message.Attachment.contentId(cid != null ? cid : filename, field);
        if (!ids.add(cid)) {
          throw new InvalidInputException("invalid_attachment", field + ": another inline part has the Content-ID "
              + cid, field);
        }
      }
      String content = string(o, "content", at + ".content");
      if (content == null) {
        throw new InvalidInputException("invalid_attachment", at + ".content is required (the file's bytes, base64)",
            at + ".content");
      }
      if (total + content.length() / 4L * 3 - 2 > limits.maxJsonAttachmentBytes()) {
        throw tooLarge();
      }
      byte[] data;
      try {
        data = java.util.Base64.getDecoder().decode(content.indexOf('\n') < 0 && content.indexOf('\r') < 0 ? content
            : content.replace("\r", "").replace("\n", ""));
      } catch (IllegalArgumentException e) {
        throw new InvalidInputException("invalid_attachment", at + ".content is not valid base64", at + ".content");
      }
      total += data.length;
      if (total > limits.maxJsonAttachmentBytes()) {
        throw tooLarge();
      }
      out.add(new io.mailgate.message.Attachment(filename, type, cid, data));
    }
    return out;
  }

  private io.mailgate.error.PayloadTooLargeException tooLarge() {
    return new io.mailgate.error.PayloadTooLargeException("attachments are larger than "
        + limits.maxJsonAttachmentBytes() + " bytes together, decoded (MAILGATE_MAX_JSON_ATTACHMENT_BYTES)");
  }

  /** A string field of an attachment (null when absent). */
  private static String string(JsonObject o, String name, String field) {
    Object v = o.getValue(name);
    if (v != null && !(v instanceof String)) {
      throw new InvalidInputException("invalid_attachment", field + " must be a string", field);
    }
    return (String) v;
  }

  /** {@code "to": ["Ann <ann@example.com>", ...]}: a header list of a shared message, each entry one mailbox. */
  private static List<Mailbox> mailboxes(JsonObject j, String field) {
    Object v = j.getValue(field);
    List<Mailbox> out = new ArrayList<>();
    if (v == null) {
      return out;
    }
    if (!(v instanceof JsonArray a)) {
      throw new InvalidInputException("invalid_field", field + " must be an array of addresses", field);
    }
    for (int i = 0; i < a.size(); i++) {
      if (!(a.getValue(i) instanceof String s)) {
        throw new InvalidInputException("invalid_field", field + "[" + i + "] must be a string", field);
      }
      out.add(Mailbox.parse(s, field + "[" + i + "]"));
    }
    return out;
  }

  /** {@code "unsubscribe": true|false}, else the tenant's default; refused when the gateway cannot make links. */
  private JobSpec.Unsubscribe unsubscribe(JsonObject j, TenantDefaults defaults) {
    Object v = j.getValue("unsubscribe");
    if (v != null && !(v instanceof Boolean)) {
      throw new InvalidInputException("invalid_field", "unsubscribe must be true or false", "unsubscribe");
    }
    boolean on = v == null ? defaults.unsubscribe() : (Boolean) v;
    if (!on) {
      return null;
    }
    if (!unsubscribeAvailable) {
      throw io.mailgate.tenant.AdminService.unsubscribeUnavailable("unsubscribe");
    }
    return new JobSpec.Unsubscribe(defaults.unsubscribeMailto());
  }

  /** An ISO-8601 time with its offset ({@code 2026-12-24T18:00:00Z}), in the future. */
  private static java.time.OffsetDateTime expiresAt(JsonObject j) {
    java.time.OffsetDateTime t = time(j, "expiresAt");
    if (t != null && !t.isAfter(java.time.OffsetDateTime.now())) {
      throw new InvalidInputException("invalid_field", "expiresAt is in the past", "expiresAt");
    }
    return t;
  }

  /**
   * When the job may be sent, at most {@code MAILGATE_MAX_SEND_AHEAD} from now and before {@code expiresAt}; a time
   * in the past means at once (a retried request arrives late, and is still meant).
   */
  private java.time.OffsetDateTime sendAt(JsonObject j, java.time.OffsetDateTime expiresAt) {
    java.time.OffsetDateTime t = time(j, "sendAt");
    if (t == null) {
      return null;
    }
    if (t.isAfter(java.time.OffsetDateTime.now().plus(limits.maxSendAhead()))) {
      throw new InvalidInputException("invalid_field", "sendAt is more than " + limits.maxSendAhead().toHours()
          + " hours ahead (MAILGATE_MAX_SEND_AHEAD)", "sendAt");
    }
    if (expiresAt != null && !t.isBefore(expiresAt)) {
      throw new InvalidInputException("invalid_field", "sendAt must be before expiresAt", "sendAt");
    }
    return t;
  }

  private static boolean testMode(JsonObject j) {
    Object v = j.getValue("testMode");
    if (v != null && !(v instanceof Boolean)) {
      throw new InvalidInputException("invalid_field", "testMode must be true or false", "testMode");
    }
    return Boolean.TRUE.equals(v);
  }

  private static java.time.OffsetDateTime time(JsonObject j, String field) {
    String v = string(j, field, false);
    if (v == null) {
      return null;
    }
    try {
      return java.time.OffsetDateTime.parse(v);
    } catch (java.time.format.DateTimeParseException e) {
      throw new InvalidInputException("invalid_field", field + " must be an ISO-8601 time with an offset, such as "
          + "2026-12-24T18:00:00Z", field);
    }
  }

  private String template(JsonObject j, String field) {
    String t = string(j, field, false);
    if (t != null && t.getBytes(StandardCharsets.UTF_8).length > limits.maxTemplateBytes()) {
      throw new InvalidInputException("too_long", field + " is larger than " + limits.maxTemplateBytes() + " bytes", field);
    }
    return t;
  }

  private Map<String, String> headers(JsonObject j) {
    Object v = j.getValue("headers");
    Map<String, String> out = new LinkedHashMap<>();
    if (v == null) {
      return out;
    }
    if (!(v instanceof JsonObject h)) {
      throw new InvalidInputException("invalid_field", "headers must be an object of name to value", "headers");
    }
    if (h.size() > limits.maxHeaders()) {
      throw new InvalidInputException("too_many_headers", "at most " + limits.maxHeaders() + " headers are allowed, got " + h.size(), "headers");
    }
    for (String name : h.fieldNames()) {
      String field = "headers." + printable(name);
      if (!validHeaderName(name)) {
        throw new InvalidInputException("invalid_header_name", "'" + printable(name) + "' is not a valid header name", field);
      }
      if (RESERVED_HEADERS.contains(name.toLowerCase(Locale.ROOT))) {
        throw new InvalidInputException("reserved_header", name + " is set by the gateway and cannot be given as a header", field);
      }
      if (!(h.getValue(name) instanceof String value)) {
        throw new InvalidInputException("invalid_field", field + " must be a string", field);
      }
      HeaderValues.rejectLineBreaks(value, field);
      if (value.length() > limits.maxHeaderValueChars()) {
        throw new InvalidInputException("too_long", field + " is longer than " + limits.maxHeaderValueChars() + " characters", field);
      }
      out.put(name, value);
    }
    return out;
  }

  /**
   * {@code "metadata": {"name": "value"}}: stored with the job, never sent. At most MAILGATE_MAX_VARS entries and
   * {@link #MAX_METADATA_BYTES} in all; names are printable ASCII.
   */
  private Map<String, String> metadata(JsonObject j) {
    Object v = j.getValue("metadata");
    Map<String, String> out = new LinkedHashMap<>();
    if (v == null) {
      return out;
    }
    if (!(v instanceof JsonObject m)) {
      throw new InvalidInputException("invalid_field", "metadata must be an object of name to string value", "metadata");
    }
    if (m.size() > limits.maxVarsPerRecipient()) {
      throw new InvalidInputException("too_many_vars", "at most " + limits.maxVarsPerRecipient() + " metadata entries are allowed", "metadata");
    }
    long bytes = 0;
    for (String name : m.fieldNames()) {
      String field = "metadata." + printable(name);
      if (name.isEmpty() || name.length() > limits.maxTagChars() || !HeaderValues.isPlainAscii(name) || name.indexOf('\t') >= 0) {
        throw new InvalidInputException("invalid_field",
            "metadata names must be printable ASCII of 1 to " + limits.maxTagChars() + " characters", field);
      }
      if (!(m.getValue(name) instanceof String value)) {
        throw new InvalidInputException("invalid_field", field + " must be a string", field);
      }
      bytes += name.length() + value.getBytes(StandardCharsets.UTF_8).length;
      if (bytes > MAX_METADATA_BYTES) {
        throw new InvalidInputException("too_long", "metadata is larger than " + MAX_METADATA_BYTES + " bytes", "metadata");
      }
      out.put(name, value);
    }
    return out;
  }

  private List<String> tags(JsonObject j) {
    Object v = j.getValue("tags");
    List<String> out = new ArrayList<>();
    if (v == null) {
      return out;
    }
    if (!(v instanceof JsonArray a)) {
      throw new InvalidInputException("invalid_field", "tags must be an array of strings", "tags");
    }
    if (a.size() > limits.maxTags()) {
      throw new InvalidInputException("too_many_tags", "at most " + limits.maxTags() + " tags are allowed, got " + a.size(), "tags");
    }
    for (Object t : a) {
      if (!(t instanceof String s) || s.isEmpty() || s.length() > limits.maxTagChars() || !HeaderValues.isPlainAscii(s) || s.indexOf('\t') >= 0) {
        throw new InvalidInputException("invalid_tag",
            "each tag must be printable ASCII of 1 to " + limits.maxTagChars() + " characters", "tags");
      }
      out.add(s);
    }
    return out;
  }

  static boolean validHeaderName(String name) {
    if (name.isEmpty() || name.length() > 76) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      // ';' is legal in a field name but would end the name list of a DKIM signature
      if (c < 33 || c > 126 || c == ':' || c == ';') {
        return false;
      }
    }
    return true;
  }

  private static String string(JsonObject j, String field, boolean required) {
    Object v = j.getValue(field);
    if (v == null) {
      if (required) {
        throw new InvalidInputException("missing_field", field + " is required", field);
      }
      return null;
    }
    if (!(v instanceof String s)) {
      throw new InvalidInputException("invalid_field", field + " must be a string", field);
    }
    if (required && s.isBlank()) {
      throw new InvalidInputException("missing_field", field + " must not be empty", field);
    }
    return s;
  }

  static String printable(String s) {
    return io.mailgate.message.EmailAddress.printable(s);
  }
}

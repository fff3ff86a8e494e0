package io.mailgate.job;

import io.mailgate.message.Campaign;
import io.mailgate.message.Mailbox;
import io.mailgate.message.MimeComposer;
import io.mailgate.message.Template;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A job without its recipients, validated: the message, stored in {@code jobs.spec} and compiled for dispatch, and
 * how it is dispatched ({@code priority} when given, {@code expiresAt}, {@code sendAt}: not sent before), stored in
 * columns of {@code jobs}.
 * {@code unsubscribe} is the one-click unsubscribe that applies (the job's own choice, else its tenant's default),
 * null when none: resolved at intake, so a queued job does not change with its tenant's settings. {@code metadata} is
 * the caller's own name-value pairs, stored with the job and never sent (a Mailgun request's {@code v:} variables).
 * {@code testMode}: composed and signed as usual, never handed to a backend (Mailgun's {@code o:testmode}).
 *
 * <p>{@code shape}: {@link Campaign.Shape#PERSONAL}, a message per recipient from the templates (the usual job);
 * {@link Campaign.Shape#SHARED}, one message for all recipients with the header lists {@code to} and {@code cc}
 * (recipients in neither are blind copies), no per-recipient substitution; {@link Campaign.Shape#MIME}, a whole
 * message given by the caller, stored beside the job ({@code job_messages}, in parts) and sent as is ({@code from} and
 * {@code subject} are read from it, for events).
 *
 * <p>{@code attachments}: files sent with every message, stored beside the job ({@code job_attachments}, in parts);
 * its stored spec keeps only their number. A Mailgun form's files are not in it: they are stored from their
 * temporary files, a part at a time, and counted in the stored spec.
 */
public record JobSpec(
    Mailbox from,
    Mailbox replyTo,
    String subject,
    String text,
    String html,
    Map<String, String> headers,
    List<String> tags,
    Priority priority,
    java.time.OffsetDateTime expiresAt,
    java.time.OffsetDateTime sendAt,
    Unsubscribe unsubscribe,
    Map<String, String> metadata,
    boolean testMode,
    Campaign.Shape shape,
    List<Mailbox> to,
    List<Mailbox> cc,
    List<io.mailgate.message.Attachment> attachments) {

  public JobSpec {
    shape = shape == null ? Campaign.Shape.PERSONAL : shape;
    to = to == null ? List.of() : List.copyOf(to);
    cc = cc == null ? List.of() : List.copyOf(cc);
    attachments = attachments == null ? List.of() : List.copyOf(attachments);
  }

  public JobSpec(Mailbox from, Mailbox replyTo, String subject, String text, String html, Map<String, String> headers,
                 List<String> tags, Priority priority, java.time.OffsetDateTime expiresAt, java.time.OffsetDateTime sendAt,
                 Unsubscribe unsubscribe, Map<String, String> metadata, boolean testMode, Campaign.Shape shape,
                 List<Mailbox> to, List<Mailbox> cc) {
    this(from, replyTo, subject, text, html, headers, tags, priority, expiresAt, sendAt, unsubscribe, metadata, testMode,
        shape, to, cc, null);
  }

  /** This spec with the files {@code attachments} (loaded for dispatch). */
  public JobSpec withAttachments(List<io.mailgate.message.Attachment> files) {
    return new JobSpec(from, replyTo, subject, text, html, headers, tags, priority, expiresAt, sendAt, unsubscribe,
        metadata, testMode, shape, to, cc, files);
  }

  /** How many attachments a stored spec's job has in {@code job_attachments} (the spec keeps only the count). */
  public static int storedAttachments(JsonObject stored) {
    return stored.getInteger("attachments", 0);
  }

  /** A message per recipient (the usual job). */
  public JobSpec(Mailbox from, Mailbox replyTo, String subject, String text, String html, Map<String, String> headers,
                 List<String> tags, Priority priority, java.time.OffsetDateTime expiresAt, java.time.OffsetDateTime sendAt,
                 Unsubscribe unsubscribe, Map<String, String> metadata, boolean testMode) {
    this(from, replyTo, subject, text, html, headers, tags, priority, expiresAt, sendAt, unsubscribe, metadata, testMode,
        Campaign.Shape.PERSONAL, null, null);
  }

  /** The job's messages carry List-Unsubscribe (and {@code mailto}, when not null, in it). */
  public record Unsubscribe(String mailto) {}

  /** The priority given, or by size: jobs of at most {@code smallJob} recipients are high priority. */
  public Priority priorityFor(int recipients, int smallJob) {
    return priority != null ? priority : recipients <= smallJob ? Priority.HIGH : Priority.NORMAL;
  }


  public JsonObject toJson() {
    JsonObject h = new JsonObject();
    headers.forEach(h::put);
    JsonObject j = new JsonObject()
        .put("from", from.toString())
        .put("subject", subject)
        .put("headers", h)
        .put("tags", new JsonArray(List.copyOf(tags)));
    if (replyTo != null) {
      j.put("replyTo", replyTo.toString());
    }
    if (text != null) {
      j.put("text", text);
    }
    if (html != null) {
      j.put("html", html);
    }
    if (!metadata.isEmpty()) {
      JsonObject m = new JsonObject();
      metadata.forEach(m::put);
      j.put("metadata", m);
    }
    if (testMode) {
      j.put("testMode", true);
    }
    if (shape == Campaign.Shape.SHARED) {
      j.put("to", new JsonArray(to.stream().map(Mailbox::toString).toList()));
      j.put("cc", new JsonArray(cc.stream().map(Mailbox::toString).toList()));
    } else if (shape == Campaign.Shape.MIME) {
      j.put("mime", true);
    }
    if (!attachments.isEmpty()) {
      j.put("attachments", attachments.size());
    }
    if (unsubscribe != null) {
      JsonObject u = new JsonObject();
      if (unsubscribe.mailto() != null) {
        u.put("mailto", unsubscribe.mailto());
      }
      j.put("unsubscribe", u);
    }
    return j;
  }

  /** Reads a spec written by {@link #toJson()}; it was validated when the job was accepted. */
  public static JobSpec fromStored(JsonObject j) {
    Map<String, String> headers = new LinkedHashMap<>();
    JsonObject h = j.getJsonObject("headers", new JsonObject());
    h.fieldNames().forEach(k -> headers.put(k, h.getString(k)));
    List<String> tags = j.getJsonArray("tags", new JsonArray()).stream().map(String::valueOf).toList();
    String replyTo = j.getString("replyTo");
    JsonObject u = j.getJsonObject("unsubscribe");
    Map<String, String> metadata = new LinkedHashMap<>();
    JsonObject m = j.getJsonObject("metadata", new JsonObject());
    m.fieldNames().forEach(k -> metadata.put(k, m.getString(k)));
    return new JobSpec(Mailbox.parse(j.getString("from"), "from"),
        replyTo == null ? null : Mailbox.parse(replyTo, "replyTo"),
        j.getString("subject"), j.getString("text"), j.getString("html"), headers, tags, null, null, null,
        u == null ? null : new Unsubscribe(u.getString("mailto")), metadata, j.getBoolean("testMode", false),
        j.getBoolean("mime", false) ? Campaign.Shape.MIME : j.containsKey("to") ? Campaign.Shape.SHARED : Campaign.Shape.PERSONAL,
        mailboxes(j.getJsonArray("to")), mailboxes(j.getJsonArray("cc")));
  }

  private static List<Mailbox> mailboxes(JsonArray a) {
    return a == null ? List.of() : a.stream().map(v -> Mailbox.parse(String.valueOf(v), "to")).toList();
  }

  /** The job's message without one-click unsubscribe links (a check of its templates, a job without them). */
  public Campaign compile(UUID jobId, UUID tenantId) {
    return compile(jobId, tenantId, null);
  }

  /** @param unsubscribe the job's links when {@link #unsubscribe()} asks for them, else null */
  public Campaign compile(UUID jobId, UUID tenantId, io.mailgate.message.ListUnsubscribe unsubscribe) {
    return compile(jobId, tenantId, unsubscribe, null);
  }

  /**
   * @param mime the stored message of a {@link Campaign.Shape#MIME} job (null otherwise, or for a check of the
   *     templates)
   */
  public Campaign compile(UUID jobId, UUID tenantId, io.mailgate.message.ListUnsubscribe unsubscribe,
                          io.mailgate.message.MimeMessage mime) {
    // a MIME job's subject is the message's own, kept for its events: never a template
    return new Campaign(jobId, tenantId, from, replyTo,
        Template.compile(shape == Campaign.Shape.MIME ? "" : subject, Template.Escaping.NONE, "subject"),
        text == null ? null : Template.compile(MimeComposer.normalizeLineBreaks(text), Template.Escaping.NONE, "text"),
        html == null ? null : Template.compile(MimeComposer.normalizeLineBreaks(html), Template.Escaping.HTML, "html"),
        headers, tags, unsubscribe, shape, to, cc, mime, attachments);
  }
}

package io.mailgate.backend.sendgrid;

import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.http.ProviderTemplate;
import io.mailgate.message.Campaign;
import io.mailgate.message.Mailbox;
import io.mailgate.message.RenderedParts;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The JSON of {@code POST /v3/mail/send} for one call: one personalization per recipient with its substitutions
 * (the templates' variables as {@code {{key}}} tags) and, when the subject has variables, its rendered subject;
 * or, for templates SendGrid cannot substitute, one recipient's rendered message.
 */
final class SendGridRequests {

  static final String JOB_ARG = "mailgate_job";
  static final String RECIPIENT_ARG = "mailgate_recipient";

  private final Campaign campaign;
  /** Text and html with substitution tags; null when each recipient needs the gateway's rendering. */
  private final ProviderTemplate template;
  /** The subject when it is the same for everyone, else null (each personalization has its own). */
  private final String fixedSubject;

  private SendGridRequests(Campaign campaign, ProviderTemplate template, String fixedSubject) {
    this.campaign = campaign;
    this.template = template;
    this.fixedSubject = fixedSubject;
  }

  static SendGridRequests of(Campaign campaign) {
    var form = campaign.batchForm();
    // literal text never contains "{{" (the template parser splits on it), so a {{key}} tag is never mistaken
    ProviderTemplate t = form.map(f -> ProviderTemplate.of(null, f.text(), f.html(), k -> "{{" + k + "}}", Set.of()))
        .orElse(null);
    String subject = form.isPresent() && form.get().subject().varNames().isEmpty() ? campaign.renderSubject(Map.of()) : null;
    return new SendGridRequests(campaign, t, subject);
  }

  boolean batchable() {
    return template != null;
  }

  JsonObject batch(List<OutboundRecipient> recipients) {
    JsonArray personalizations = new JsonArray();
    for (OutboundRecipient r : recipients) {
      JsonObject p = personalization(r);
      if (!template.slots().isEmpty()) {
        JsonObject subs = new JsonObject();
        template.values(r.vars()).forEach((k, v) -> subs.put("{{" + k + "}}", v));
        p.put("substitutions", subs);
      }
      if (fixedSubject == null) {
        p.put("subject", campaign.renderSubject(r.vars()));
      }
      personalizations.add(p);
    }
    JsonObject body = new JsonObject().put("personalizations", personalizations);
    if (fixedSubject != null) {
      body.put("subject", fixedSubject);
    }
    return common(body, template.text(), template.html());
  }

  JsonObject single(OutboundRecipient r) {
    RenderedParts parts = campaign.render(r.vars());
    JsonObject body = new JsonObject()
        .put("personalizations", new JsonArray().add(personalization(r)))
        .put("subject", parts.subject());
    return common(body, parts.text(), parts.html());
  }

  /** One recipient: its address, its seq, and its own headers (List-Unsubscribe), which SendGrid takes per personalization. */
  private JsonObject personalization(OutboundRecipient r) {
    JsonObject p = new JsonObject()
        .put("to", new JsonArray().add(new JsonObject().put("email", r.email().value())))
        .put("custom_args", new JsonObject().put(RECIPIENT_ARG, Integer.toString(r.seq())));
    Map<String, String> own = campaign.recipientHeaders(r.seq());
    if (!own.isEmpty()) {
      JsonObject h = new JsonObject();
      own.forEach(h::put);
      p.put("headers", h);
    }
    return p;
  }

  private JsonObject common(JsonObject body, String text, String html) {
    body.put("from", address(campaign.from()));
    if (campaign.replyTo() != null) {
      body.put("reply_to", address(campaign.replyTo()));
    }
    JsonArray content = new JsonArray();
    boolean hasText = text != null && !text.isEmpty();
    boolean hasHtml = html != null && !html.isEmpty();
    if (hasText || !hasHtml) {
      // text/plain first, as SendGrid requires; a value must have at least one character
      content.add(new JsonObject().put("type", "text/plain").put("value", hasText ? text : " "));
    }
    if (hasHtml) {
      content.add(new JsonObject().put("type", "text/html").put("value", html));
    }
    body.put("content", content);
    if (!campaign.headers().isEmpty()) {
      JsonObject headers = new JsonObject();
      campaign.headers().forEach(headers::put);
      body.put("headers", headers);
    }
    if (!campaign.tags().isEmpty()) {
      body.put("categories", new JsonArray(List.copyOf(campaign.tags())));
    }
    body.put("custom_args", new JsonObject().put(JOB_ARG, campaign.jobId().toString()));
    if (!campaign.attachments().isEmpty()) {
      body.put("attachments", attachments(campaign));
    }
    return body;
  }

  /** SendGrid's {@code attachments}: content (base64, encoded once per job), filename, type, disposition, content_id. */
  static JsonArray attachments(Campaign campaign) {
    JsonArray out = new JsonArray();
    for (io.mailgate.message.Attachment a : campaign.attachments()) {
      JsonObject j = new JsonObject().put("content", a.base64()).put("filename", a.filename()).put("type", a.contentType())
          .put("disposition", a.inline() ? "inline" : "attachment");
      if (a.inline()) {
        j.put("content_id", a.contentId());
      }
      out.add(j);
    }
    return out;
  }

  private static JsonObject address(Mailbox m) {
    JsonObject a = new JsonObject().put("email", m.address().headerForm()); // ASCII: an IDN domain as A-labels
    if (m.displayName() != null) {
      a.put("name", m.displayName());
    }
    return a;
  }
}

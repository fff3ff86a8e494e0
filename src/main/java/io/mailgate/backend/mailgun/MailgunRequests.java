package io.mailgate.backend.mailgun;

import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.http.ProviderTemplate;
import io.mailgate.message.Campaign;
import io.mailgate.message.RenderedParts;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The form of {@code POST /v3/{domain}/messages} for one call: a batch (several {@code to}, the templates with
 * {@code %recipient.key%} and {@code recipient-variables}) or one recipient's rendered message.
 */
final class MailgunRequests {

  /** Mailgun keeps at most 3 tags per message. */
  static final int MAX_TAGS = 3;
  static final String SEQ_KEY = "mailgate_seq";
  /** A batch recipient's List-Unsubscribe value, substituted into the header (one-click unsubscribe). */
  static final String LIST_UNSUBSCRIBE_KEY = "mailgate_list_unsubscribe";
  /** What Mailgun substitutes in a batch call, anywhere in the message. */
  static final String PLACEHOLDER_START = "%recipient";
  static final String JOB_VARIABLE = "v:mailgate-job";
  static final String RECIPIENT_VARIABLE = "v:mailgate-recipient";

  /** One form field; a name may repeat ({@code to}, {@code o:tag}). */
  record Field(String name, String value) {}

  private final Campaign campaign;
  private final ProviderTemplate template;

  private MailgunRequests(Campaign campaign, ProviderTemplate template) {
    this.campaign = campaign;
    this.template = template;
  }

  /**
   * The requests of one job. Batch calls need every template in plain {@code {{x}}} form and no literal text (in
   * the templates, headers or addresses) that Mailgun would take for a placeholder ({@code %recipient...});
   * otherwise each recipient gets one call.
   */
  static MailgunRequests of(Campaign campaign) {
    boolean fixedPartsClash = campaign.headers().values().stream().anyMatch(v -> v.contains(PLACEHOLDER_START))
        || campaign.from().toHeader().contains(PLACEHOLDER_START)
        || campaign.replyTo() != null && campaign.replyTo().toHeader().contains(PLACEHOLDER_START);
    ProviderTemplate t = campaign.batchForm()
        .filter(f -> !fixedPartsClash && !ProviderTemplate.literalsContain(f, PLACEHOLDER_START))
        .map(f -> ProviderTemplate.of(f.subject(), f.text(), f.html(), k -> "%recipient." + k + "%",
            Set.of(SEQ_KEY, LIST_UNSUBSCRIBE_KEY)))
        .orElse(null);
    return new MailgunRequests(campaign, t);
  }

  boolean batchable() {
    return template != null;
  }

  /** A batch call: Mailgun sends each {@code to} its own message, with its recipient variables substituted. */
  List<Field> batch(List<OutboundRecipient> recipients) {
    List<Field> form = new ArrayList<>();
    form.add(new Field("from", campaign.from().toHeader()));
    JsonObject vars = new JsonObject();
    for (OutboundRecipient r : recipients) {
      form.add(new Field("to", r.email().value()));
      JsonObject mine = new JsonObject();
      template.values(r.vars()).forEach(mine::put);
      mine.put(SEQ_KEY, Integer.toString(r.seq()));
      campaign.recipientHeaders(r.seq()).forEach((name, value) -> {
        if (name.equals("List-Unsubscribe")) {
          mine.put(LIST_UNSUBSCRIBE_KEY, value);
        }
      });
      vars.put(r.email().value(), mine);
    }
    form.add(new Field("recipient-variables", vars.encode()));
    parts(form, template.subject(), template.text(), template.html());
    common(form);
    if (campaign.unsubscribe() != null) {
      // Mailgun substitutes recipient variables in h: headers too: each recipient gets its own link
      form.add(new Field("h:List-Unsubscribe", "%recipient." + LIST_UNSUBSCRIBE_KEY + "%"));
      form.add(new Field("h:List-Unsubscribe-Post", io.mailgate.message.ListUnsubscribe.ONE_CLICK));
    }
    form.add(new Field(RECIPIENT_VARIABLE, "%recipient." + SEQ_KEY + "%"));
    return form;
  }

  /** One recipient's call with the message rendered by the gateway (templates Mailgun cannot substitute). */
  List<Field> single(OutboundRecipient r) {
    List<Field> form = new ArrayList<>();
    form.add(new Field("from", campaign.from().toHeader()));
    form.add(new Field("to", r.email().value()));
    RenderedParts p = campaign.render(r.vars());
    parts(form, p.subject(), p.text(), p.html());
    common(form);
    campaign.recipientHeaders(r.seq()).forEach((name, value) -> form.add(new Field("h:" + name, value)));
    form.add(new Field(RECIPIENT_VARIABLE, Integer.toString(r.seq())));
    return form;
  }

  private static void parts(List<Field> form, String subject, String text, String html) {
    form.add(new Field("subject", subject));
    boolean hasText = text != null && !text.isEmpty();
    boolean hasHtml = html != null && !html.isEmpty();
    if (hasText || !hasHtml) {
      form.add(new Field("text", hasText ? text : " ")); // Mailgun needs text or html
    }
    if (hasHtml) {
      form.add(new Field("html", html));
    }
  }

  private void common(List<Field> form) {
    campaign.tags().stream().limit(MAX_TAGS).forEach(t -> form.add(new Field("o:tag", t)));
    if (campaign.replyTo() != null) {
      form.add(new Field("h:Reply-To", campaign.replyTo().toHeader()));
    }
    for (Map.Entry<String, String> h : campaign.headers().entrySet()) {
      form.add(new Field("h:" + h.getKey(), h.getValue()));
    }
    form.add(new Field(JOB_VARIABLE, campaign.jobId().toString()));
  }

  /** The fields of a {@code messages.mime} call besides the message: the envelope, tags, the job and recipient ids. */
  static List<Field> mime(Campaign campaign, List<OutboundRecipient> recipients) {
    List<Field> form = new ArrayList<>();
    for (OutboundRecipient r : recipients) {
      form.add(new Field("to", r.email().value()));
    }
    campaign.tags().stream().limit(MAX_TAGS).forEach(t -> form.add(new Field("o:tag", t)));
    form.add(new Field(JOB_VARIABLE, campaign.jobId().toString()));
    if (recipients.size() == 1) {
      form.add(new Field(RECIPIENT_VARIABLE, Integer.toString(recipients.get(0).seq())));
    }
    return form;
  }

  /** {@code multipart/form-data}: the fields, then the message as the file part {@code message}. */
  static Buffer multipart(String boundary, List<Field> form, io.mailgate.message.ComposedMessage message) {
    StringBuilder b = new StringBuilder(1024);
    for (Field f : form) {
      b.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"").append(f.name())
          .append("\"\r\n\r\n").append(f.value()).append("\r\n");
    }
    b.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"message\"; filename=\"message.mime\"\r\n")
        .append("Content-Type: message/rfc822\r\n\r\n");
    Buffer out = Buffer.buffer(b.length() + message.length() + 128);
    out.appendString(b.toString(), "UTF-8");
    out.appendBytes(message.data(), 0, message.length());
    out.appendString("\r\n--" + boundary + "--\r\n");
    return out;
  }

  /**
   * {@code multipart/form-data} of a job with files: the fields, then each file as Mailgun takes it, a file part
   * {@code attachment} or {@code inline} with its file name and Content-Type. Mailgun makes an inline part's
   * Content-ID of its file name, so an inline part is named by its Content-ID (which the html refers to).
   */
  static Buffer multipart(String boundary, List<Field> form, List<io.mailgate.message.Attachment> files) {
    StringBuilder b = new StringBuilder(1024);
    for (Field f : form) {
      b.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"").append(quoted(f.name()))
          .append("\"\r\n\r\n").append(f.value()).append("\r\n");
    }
    long size = b.length() * 3L;
    for (io.mailgate.message.Attachment a : files) {
      size += a.data().length + 512;
    }
    Buffer out = Buffer.buffer((int) Math.min(Integer.MAX_VALUE - 64, size));
    out.appendString(b.toString(), "UTF-8");
    for (io.mailgate.message.Attachment a : files) {
      String name = a.inline() ? a.contentId() : a.filename();
      out.appendString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + (a.inline() ? "inline" : "attachment")
          + "\"; filename=\"" + quoted(name) + "\"\r\nContent-Type: "
          + a.contentType() + "\r\n\r\n", "UTF-8");
      out.appendBytes(a.data());
      out.appendString("\r\n");
    }
    return out.appendString("--" + boundary + "--\r\n");
  }

  /** A name or file name in a form part's quoted parameter, as browsers write it: {@code "} as {@code %22}. */
  static String quoted(String s) {
    return s.indexOf('"') < 0 ? s : s.replace("\"", "%22");
  }

  /** {@code application/x-www-form-urlencoded}, UTF-8. */
  static Buffer encode(List<Field> form) {
    StringBuilder b = new StringBuilder(4096);
    for (Field f : form) {
      if (b.length() > 0) {
        b.append('&');
      }
      b.append(URLEncoder.encode(f.name(), StandardCharsets.UTF_8)).append('=')
          .append(URLEncoder.encode(f.value(), StandardCharsets.UTF_8));
    }
    return Buffer.buffer(b.toString());
  }
}

package io.mailgate.webhook.in;

import io.mailgate.error.ForbiddenException;
import io.mailgate.error.InvalidInputException;
import io.mailgate.error.NotAuthenticatedException;
import io.mailgate.error.PayloadTooLargeException;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Amazon SES events through SNS. The message must come from one of the backend's {@code snsTopicArns} and be signed
 * by SNS: SignatureVersion 1 (SHA1withRSA) or 2 (SHA256withRSA) over the canonical string of its fields, with the
 * certificate at SigningCertURL, which must have the allowed scheme and a host matching {@code snsCertHostPattern}.
 * A SubscriptionConfirmation is confirmed by a GET of its SubscribeURL (the same checks); a Notification carries an
 * SES event in {@code Message}. SNS retries a delivery with the same signed message (its Timestamp is the publish
 * time), so there is no timestamp window here: a message sent again counts once by its MessageId.
 *
 * <pre>
 * SES eventType / notificationType     event log
 * Delivery                              delivered
 * Bounce, Permanent                     bounced hard
 * Bounce, Transient / Undetermined      bounced soft
 * Complaint                             complained
 * Subscription                          unsubscribed
 * Open / Click                          opened / clicked
 * Send, Reject, DeliveryDelay, RenderingFailure   ignored (200)
 * </pre>
 * The recipient is named by the message tags our backend sets ({@code mailgate-job}, {@code mailgate-recipient}), which
 * SES includes in events published through a configuration set (identity notifications carry no tags: their events
 * are counted as unknown recipients).
 */
final class SnsHook implements ProviderHook {

  private static final Logger LOG = LoggerFactory.getLogger(SnsHook.class);
  private static final Set<String> TYPES = Set.of("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation");

  private final Set<String> topics;
  private final String scheme;
  private final Pattern host;
  private final SnsFetcher fetcher;
  private final int maxEvents;

  SnsHook(List<String> topics, String scheme, Pattern host, SnsFetcher fetcher, int maxEvents) {
    this.topics = Set.copyOf(topics);
    this.scheme = scheme;
    this.host = host;
    this.fetcher = fetcher;
    this.maxEvents = maxEvents;
  }

  @Override
  public Future<HookCall> receive(HookRequest request) {
    JsonObject m = Fields.object(request.body(), "an SNS message");
    String type = Fields.string(m.getValue("Type"));
    String version = Fields.string(m.getValue("SignatureVersion"));
    String signature = Fields.string(m.getValue("Signature"));
    if (type == null || !TYPES.contains(type) || signature == null) {
      throw new NotAuthenticatedException("signature_missing", "the call is not a signed SNS message");
    }
    if (!"1".equals(version) && !"2".equals(version)) {
      throw new NotAuthenticatedException("signature_invalid", "SNS SignatureVersion must be 1 or 2");
    }
    String topic = Fields.string(m.getValue("TopicArn"));
    if (topic == null || !topics.contains(topic)) {
      throw new ForbiddenException("topic_not_allowed", "the SNS topic is not one of the backend's snsTopicArns");
    }
    URI certUrl = SnsFetcher.allowed(Fields.string(m.getValue("SigningCertURL")), "SigningCertURL", scheme, host);
    String canonical = canonical(m, type);
    return fetcher.key(certUrl).compose(key -> {
      if (!verifies(key, version, canonical, signature)) {
        return Future.failedFuture(new NotAuthenticatedException("signature_invalid",
            "the SNS signature does not match the message and its certificate"));
      }
      return switch (type) {
        case "SubscriptionConfirmation" -> {
          URI subscribe = SnsFetcher.allowed(Fields.string(m.getValue("SubscribeURL")), "SubscribeURL", scheme, host);
          yield fetcher.confirm(subscribe)
              .recover(e -> Future.failedFuture(new io.mailgate.error.UnprocessableException("confirmation_failed",
                  "the subscription could not be confirmed: " + e.getMessage())))
              .map(v -> {
                LOG.atInfo().addKeyValue("topic", topic).log("SNS subscription confirmed");
                return new HookCall(List.of(), 0, "subscription confirmed");
              });
        }
        case "UnsubscribeConfirmation" -> {
          LOG.atWarn().addKeyValue("topic", topic).log("SNS says the subscription was removed");
          yield Future.succeededFuture(new HookCall(List.of(), 0, "unsubscribe noted"));
        }
        default -> Future.succeededFuture(notification(m));
      };
    });
  }

  /** The string SNS signs: the message's fields as name and value lines, in this order, those present. */
  static String canonical(JsonObject m, String type) {
    List<String> names = type.equals("Notification")
        ? List.of("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
        : List.of("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type");
    StringBuilder b = new StringBuilder();
    for (String n : names) {
      Object v = m.getValue(n);
      if (v instanceof String s) {
        b.append(n).append('\n').append(s).append('\n');
      }
    }
    return b.toString();
  }

  private static boolean verifies(PublicKey key, String version, String canonical, String signature) {
    byte[] sig;
    try {
      sig = Base64.getDecoder().decode(signature);
    } catch (IllegalArgumentException e) {
      return false;
    }
    try {
      Signature v = Signature.getInstance(version.equals("1") ? "SHA1withRSA" : "SHA256withRSA");
      v.initVerify(key);
      v.update(canonical.getBytes(StandardCharsets.UTF_8));
      return v.verify(sig);
    } catch (java.security.SignatureException | java.security.InvalidKeyException e) {
      return false;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private HookCall notification(JsonObject m) {
    JsonObject ses;
    try {
      ses = new JsonObject(String.valueOf(m.getValue("Message")));
    } catch (DecodeException | ClassCastException e) {
      throw new InvalidInputException("invalid_body", "the SNS Message is not an SES event (JSON)", "Message");
    }
    String snsId = Fields.string(m.getValue("MessageId"));
    List<ProviderEvent> out = map(ses, snsId == null ? "" : snsId);
    if (out == null) {
      return HookCall.of(List.of(), 1);
    }
    if (out.size() > maxEvents) {
      throw new PayloadTooLargeException("at most " + maxEvents + " events per call (MAILGATE_PROVIDER_HOOK_MAX_EVENTS)");
    }
    return HookCall.of(out, 0);
  }

  /** The events of one SES notification (one per recipient it names), or null for a kind that is not recorded. */
  static List<ProviderEvent> map(JsonObject ses, String snsId) {
    String kind = Fields.string(ses.getValue("eventType"));
    if (kind == null) {
      kind = Fields.string(ses.getValue("notificationType"));
    }
    JsonObject mail = Fields.obj(ses, "mail");
    JsonObject tags = Fields.obj(mail, "tags");
    java.util.UUID job = tags == null ? null : Fields.job(firstTag(tags, "mailgate-job"));
    Integer seq = tags == null ? null : Fields.seq(firstTag(tags, "mailgate-recipient"));
    String messageId = mail == null ? null : Fields.string(mail.getValue("messageId"));
    JsonArray destination = mail == null ? null : mail.getJsonArray("destination");
    String firstDestination = destination == null || destination.isEmpty() ? null : Fields.string(destination.getValue(0));
    List<ProviderEvent> out = new ArrayList<>();
    switch (kind == null ? "" : kind) {
      case "Delivery" -> {
        JsonObject d = Fields.obj(ses, "delivery");
        JsonArray rs = d == null ? null : d.getJsonArray("recipients");
        String smtp = d == null ? null : Fields.string(d.getValue("smtpResponse"));
        for (int i = 0; rs != null && i < rs.size(); i++) {
          out.add(new ProviderEvent(job, seq, Fields.string(rs.getValue(i)), "delivered", null, Fields.smtpCode(smtp), smtp,
              messageId, Fields.eventId(snsId + "/" + i)));
        }
      }
      case "Bounce" -> {
        JsonObject b = Fields.obj(ses, "bounce");
        String severity = b != null && "Permanent".equals(b.getValue("bounceType")) ? "hard" : "soft";
        JsonArray rs = b == null ? null : b.getJsonArray("bouncedRecipients");
        for (int i = 0; rs != null && i < rs.size(); i++) {
          JsonObject r = rs.getValue(i) instanceof JsonObject o ? o : new JsonObject();
          String diagnostic = Fields.string(r.getValue("diagnosticCode"));
          out.add(new ProviderEvent(job, seq, Fields.string(r.getValue("emailAddress")), "bounced", severity,
              Fields.smtpCode(diagnostic), diagnostic != null ? diagnostic : Fields.string(r.getValue("status")), messageId,
              Fields.eventId(snsId + "/" + i)));
        }
      }
      case "Complaint" -> {
        JsonObject c = Fields.obj(ses, "complaint");
        JsonArray rs = c == null ? null : c.getJsonArray("complainedRecipients");
        String feedback = c == null ? null : Fields.string(c.getValue("complaintFeedbackType"));
        for (int i = 0; rs != null && i < rs.size(); i++) {
          JsonObject r = rs.getValue(i) instanceof JsonObject o ? o : new JsonObject();
          out.add(new ProviderEvent(job, seq, Fields.string(r.getValue("emailAddress")), "complained", null, null, feedback,
              messageId, Fields.eventId(snsId + "/" + i)));
        }
      }
      case "Open" -> out.add(new ProviderEvent(job, seq, firstDestination, "opened", null, null, null, messageId,
          Fields.eventId(snsId)));
      case "Click" -> {
        JsonObject c = Fields.obj(ses, "click");
        out.add(new ProviderEvent(job, seq, firstDestination, "clicked", null, null,
            c == null ? null : Fields.string(c.getValue("link")), messageId, Fields.eventId(snsId)));
      }
      case "Subscription" -> out.add(new ProviderEvent(job, seq, firstDestination, "unsubscribed", null, null, null,
          messageId, Fields.eventId(snsId)));
      default -> {
        return null;
      }
    }
    return out;
  }

  private static Object firstTag(JsonObject tags, String name) {
    Object v = tags.getValue(name);
    if (v instanceof JsonArray a) {
      return a.isEmpty() ? null : a.getValue(0);
    }
    return v;
  }
}

package io.mailgate.webhook.in;

import io.mailgate.error.NotAuthenticatedException;
import io.mailgate.error.PayloadTooLargeException;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * Postmark's webhooks: one JSON object per call (an array of them is taken too), authenticated by the HTTP Basic
 * credentials Postmark is configured to send ({@code https://user:password@host/hooks/postmark/{backendId}}), compared
 * in constant time with the backend's {@code webhookUser} and {@code webhookPassword}. Postmark signs nothing, so there
 * is no timestamp to check: a call sent again counts once by its event id.
 *
 * <pre>
 * RecordType / Type                                   event log
 * Delivery                                            delivered
 * Bounce HardBounce, BadEmailAddress                  bounced hard
 * Bounce SoftBounce, Transient, DnsError, Blocked,
 *        DMARCPolicy, Undeliverable                   bounced soft
 * Bounce SpamComplaint, SpamComplaint                 complained
 * Bounce Unsubscribe; SubscriptionChange that
 *        suppresses with ManualSuppression            unsubscribed
 * Open / Click                                        opened / clicked
 * other bounce types, other changes                   ignored (200)
 * </pre>
 * The recipient is named by the message's {@code Metadata} our backend sets ({@code mailgate-job},
 * {@code mailgate-recipient}); bounces and complaints carry Postmark's {@code ID}, other records get an id made of
 * their type, message id, recipient and time.
 */
final class PostmarkHook implements ProviderHook {

  private static final Map<String, String> BOUNCES = Map.ofEntries(
      Map.entry("HardBounce", "hard"), Map.entry("BadEmailAddress", "hard"),
      Map.entry("SoftBounce", "soft"), Map.entry("Transient", "soft"), Map.entry("DnsError", "soft"),
      Map.entry("Blocked", "soft"), Map.entry("DMARCPolicy", "soft"), Map.entry("Undeliverable", "soft"));

  private final byte[] expected;
  private final int maxEvents;

  PostmarkHook(String user, String password, int maxEvents) {
    this.expected = ("Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8)))
        .getBytes(StandardCharsets.US_ASCII);
    this.maxEvents = maxEvents;
  }

  @Override
  public Future<HookCall> receive(HookRequest request) {
    String auth = request.headers().get("Authorization");
    if (auth == null) {
      throw new NotAuthenticatedException("credentials_missing", "the call carries no HTTP Basic credentials");
    }
    if (!MessageDigest.isEqual(expected, auth.trim().getBytes(StandardCharsets.UTF_8))) {
      throw new NotAuthenticatedException("credentials_invalid", "the HTTP Basic credentials are not the webhook's");
    }
    JsonArray all = Fields.objects(request.body(), "a Postmark webhook");
    if (all.size() > maxEvents) {
      throw new PayloadTooLargeException("at most " + maxEvents + " events per call (MAILGATE_PROVIDER_HOOK_MAX_EVENTS), got "
          + all.size());
    }
    List<ProviderEvent> out = new ArrayList<>();
    int ignored = 0;
    for (Object o : all) {
      ProviderEvent e = o instanceof JsonObject j ? map(j) : null;
      if (e == null) {
        ignored++;
      } else {
        out.add(e);
      }
    }
    return Future.succeededFuture(HookCall.of(out, ignored));
  }

  static ProviderEvent map(JsonObject r) {
    String record = Fields.string(r.getValue("RecordType"));
    String type;
    String severity = null;
    String email = Fields.string(r.getValue("Recipient"));
    String at;
    String message = null;
    switch (record == null ? "" : record) {
      case "Delivery" -> {
        type = "delivered";
        at = Fields.string(r.getValue("DeliveredAt"));
        message = Fields.string(r.getValue("Details"));
      }
      case "Bounce" -> {
        String kind = Fields.string(r.getValue("Type"));
        if ("SpamComplaint".equals(kind)) {
          type = "complained";
        } else if ("Unsubscribe".equals(kind)) {
          type = "unsubscribed";
        } else if (kind != null && BOUNCES.containsKey(kind)) {
          type = "bounced";
          severity = BOUNCES.get(kind);
        } else {
          return null;
        }
        email = Fields.string(r.getValue("Email"));
        at = Fields.string(r.getValue("BouncedAt"));
        message = Fields.string(r.getValue("Details"));
        if (message == null) {
          message = Fields.string(r.getValue("Description"));
        }
      }
      case "SpamComplaint" -> {
        type = "complained";
        email = Fields.string(r.getValue("Email"));
        at = Fields.string(r.getValue("BouncedAt"));
      }
      case "Open" -> {
        type = "opened";
        at = Fields.string(r.getValue("ReceivedAt"));
      }
      case "Click" -> {
        type = "clicked";
        at = Fields.string(r.getValue("ReceivedAt"));
      }
      case "SubscriptionChange" -> {
        // hard bounces and complaints come as their own records; a change by the recipient or by hand is an unsubscribe
        if (!Boolean.TRUE.equals(r.getValue("SuppressSending"))
            || !"ManualSuppression".equals(r.getValue("SuppressionReason"))) {
          return null;
        }
        type = "unsubscribed";
        at = Fields.string(r.getValue("ChangedAt"));
      }
      default -> {
        return null;
      }
    }
    String messageId = Fields.string(r.getValue("MessageID"));
    String postmarkId = Fields.string(r.getValue("ID"));
    String id = postmarkId != null && (record.equals("Bounce") || record.equals("SpamComplaint"))
        ? record + "/" + postmarkId
        : record + "/" + messageId + "/" + email + "/" + at + (record.equals("Click") ? "/" + Fields.string(r.getValue("OriginalLink")) : "");
    JsonObject meta = Fields.obj(r, "Metadata");
    return new ProviderEvent(meta == null ? null : Fields.job(meta.getValue("mailgate-job")),
        meta == null ? null : Fields.seq(meta.getValue("mailgate-recipient")), email, type, severity,
        Fields.smtpCode(message), message, messageId, Fields.eventId(id));
  }
}

package io.mailgate.webhook.in;

import io.mailgate.error.ForbiddenException;
import io.mailgate.error.NotAuthenticatedException;
import io.mailgate.error.PayloadTooLargeException;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * SendGrid's Signed Event Webhook: a JSON array of events per call; the signature
 * ({@code X-Twilio-Email-Event-Webhook-Signature}, base64 DER) is ECDSA P-256 with SHA-256 over the timestamp
 * ({@code X-Twilio-Email-Event-Webhook-Timestamp}) followed by the raw body, checked with the backend's
 * {@code webhookPublicKey}; the timestamp must be within {@code MAILGATE_PROVIDER_HOOK_MAX_AGE}. The signature covers the
 * body, so a replay can only repeat the same events, and those count once by their {@code sg_event_id}.
 *
 * <pre>
 * SendGrid event                 event log
 * delivered                      delivered
 * bounce (type bounce)           bounced hard
 * bounce (type blocked)          bounced soft
 * spamreport                     complained
 * unsubscribe, group_unsubscribe unsubscribed
 * open / click                   opened / clicked
 * processed, dropped, deferred, group_resubscribe   ignored (200)
 * </pre>
 * The recipient is named by the custom args our backend sends ({@code mailgate_job}, {@code mailgate_recipient}),
 * which SendGrid repeats as fields of each event.
 */
final class SendGridHook implements ProviderHook {

  static final String SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature";
  static final String TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp";

  private final PublicKey key;
  private final long maxAgeMillis;
  private final int maxEvents;

  SendGridHook(PublicKey key, long maxAgeMillis, int maxEvents) {
    this.key = key;
    this.maxAgeMillis = maxAgeMillis;
    this.maxEvents = maxEvents;
  }

  @Override
  public Future<HookCall> receive(HookRequest request) {
    String signature = request.headers().get(SIGNATURE);
    String timestamp = request.headers().get(TIMESTAMP);
    if (signature == null || timestamp == null || !timestamp.matches("[0-9]{1,12}") || signature.length() > 512) {
      throw new NotAuthenticatedException("signature_missing", "the call carries no SendGrid signature (" + SIGNATURE + ", "
          + TIMESTAMP + ")");
    }
    if (!verifies(timestamp, signature, request.body().getBytes())) {
      throw new NotAuthenticatedException("signature_invalid", "the SendGrid signature does not match the webhook's public key");
    }
    if (Math.abs(request.nowMillis() - Long.parseLong(timestamp) * 1000) > maxAgeMillis) {
      throw new ForbiddenException("stale", "the signed timestamp is outside the accepted window (MAILGATE_PROVIDER_HOOK_MAX_AGE)");
    }
    JsonArray all = Fields.objects(request.body(), "a SendGrid event webhook");
    if (all.size() > maxEvents) {
      throw new PayloadTooLargeException("at most " + maxEvents + " events per call (MAILGATE_PROVIDER_HOOK_MAX_EVENTS), got "
          + all.size());
    }
    List<ProviderEvent> out = new ArrayList<>(all.size());
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

  private boolean verifies(String timestamp, String signature, byte[] body) {
    byte[] sig;
    try {
      sig = Base64.getDecoder().decode(signature.trim());
    } catch (IllegalArgumentException e) {
      return false;
    }
    try {
      Signature v = Signature.getInstance("SHA256withECDSA");
      v.initVerify(key);
      v.update(timestamp.getBytes(StandardCharsets.UTF_8));
      v.update(body);
      return v.verify(sig);
    } catch (java.security.SignatureException e) {
      return false; // not a DER signature
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  static ProviderEvent map(JsonObject e) {
    String event = Fields.string(e.getValue("event"));
    String type;
    String severity = null;
    switch (event == null ? "" : event) {
      case "delivered" -> type = "delivered";
      case "bounce" -> {
        type = "bounced";
        severity = "blocked".equals(e.getValue("type")) ? "soft" : "hard";
      }
      case "spamreport" -> type = "complained";
      case "unsubscribe", "group_unsubscribe" -> type = "unsubscribed";
      case "open" -> type = "opened";
      case "click" -> type = "clicked";
      default -> {
        return null;
      }
    }
    String reason = Fields.string(e.getValue("reason"));
    if (reason == null) {
      reason = Fields.string(e.getValue("response"));
    }
    String id = Fields.string(e.getValue("sg_event_id"));
    String messageId = Fields.string(e.getValue("sg_message_id"));
    if (id == null && messageId != null) {
      id = messageId + "/" + event + "/" + Fields.string(e.getValue("email")) + "/" + Fields.string(e.getValue("timestamp"));
    }
    return new ProviderEvent(Fields.job(e.getValue("mailgate_job")), Fields.seq(e.getValue("mailgate_recipient")),
        Fields.string(e.getValue("email")), type, severity, Fields.smtpCode(reason), reason, messageId, Fields.eventId(id));
  }
}

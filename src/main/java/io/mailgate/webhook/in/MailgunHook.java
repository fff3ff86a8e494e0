package io.mailgate.webhook.in;

import io.mailgate.error.ForbiddenException;
import io.mailgate.error.InvalidInputException;
import io.mailgate.error.NotAuthenticatedException;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Mailgun's webhooks: one JSON event per call, {@code {"signature":{"timestamp","token","signature"},"event-data":{...}}}.
 * The signature is HMAC-SHA256 of timestamp + token with the backend's {@code webhookSigningKey}, compared in
 * constant time; the timestamp must be within {@code MAILGATE_PROVIDER_HOOK_MAX_AGE} of now, and a token seen before with
 * another body is a replay ({@link ReplayCache}).
 *
 * <pre>
 * Mailgun event            event log
 * delivered                delivered
 * failed, permanent        bounced hard
 * failed, temporary        bounced soft
 * complained               complained
 * unsubscribed             unsubscribed
 * opened / clicked         opened / clicked
 * accepted, rejected, stored, list events   ignored (200)
 * </pre>
 * The recipient is named by the user variables our backend sends ({@code v:mailgate-job}, {@code v:mailgate-recipient});
 * the event id ({@code event-data.id}) makes a retried delivery count once.
 */
final class MailgunHook implements ProviderHook {

  static final String JOB_VARIABLE = "mailgate-job";
  static final String RECIPIENT_VARIABLE = "mailgate-recipient";

  private final byte[] key;
  private final long maxAgeMillis;
  private final ReplayCache replays;

  MailgunHook(String signingKey, long maxAgeMillis, ReplayCache replays) {
    this.key = signingKey.getBytes(StandardCharsets.UTF_8);
    this.maxAgeMillis = maxAgeMillis;
    this.replays = replays;
  }

  @Override
  public Future<HookCall> receive(HookRequest request) {
    JsonObject body = Fields.object(request.body(), "a Mailgun webhook");
    JsonObject sig = Fields.obj(body, "signature");
    String timestamp = sig == null ? null : Fields.string(sig.getValue("timestamp"));
    String token = sig == null ? null : Fields.string(sig.getValue("token"));
    String signature = sig == null ? null : Fields.string(sig.getValue("signature"));
    if (timestamp == null || token == null || signature == null || !timestamp.matches("[0-9]{1,12}") || token.length() > 256
        || signature.length() > 256) {
      throw new NotAuthenticatedException("signature_missing", "the call carries no Mailgun signature");
    }
    if (!MessageDigest.isEqual(hmac(timestamp + token).getBytes(StandardCharsets.US_ASCII),
        signature.toLowerCase(Locale.ROOT).getBytes(StandardCharsets.US_ASCII))) {
      throw new NotAuthenticatedException("signature_invalid", "the Mailgun signature does not match the signing key");
    }
    long at = Long.parseLong(timestamp) * 1000;
    if (Math.abs(request.nowMillis() - at) > maxAgeMillis) {
      throw new ForbiddenException("stale", "the signed timestamp is outside the accepted window (MAILGATE_PROVIDER_HOOK_MAX_AGE)");
    }
    ReplayCache.Seen seen = replays.remember(at, hash64(token.getBytes(StandardCharsets.UTF_8)),
        hash64(request.body().getBytes()), request.nowMillis());
    if (seen == ReplayCache.Seen.OTHER_BODY) {
      throw new ForbiddenException("replayed", "this signature's token was already used for another call");
    }
    JsonObject data = Fields.obj(body, "event-data");
    if (data == null) {
      throw new InvalidInputException("invalid_body", "a Mailgun webhook must carry event-data", "event-data");
    }
    ProviderEvent e = map(data);
    return Future.succeededFuture(e == null ? HookCall.of(List.of(), 1) : HookCall.of(List.of(e), 0));
  }

  static ProviderEvent map(JsonObject d) {
    String event = Fields.string(d.getValue("event"));
    String type;
    String severity = null;
    switch (event == null ? "" : event) {
      case "delivered" -> type = "delivered";
      case "failed" -> {
        String s = Fields.string(d.getValue("severity"));
        if ("permanent".equals(s)) {
          severity = "hard";
        } else if ("temporary".equals(s)) {
          severity = "soft";
        } else {
          return null;
        }
        type = "bounced";
      }
      case "complained" -> type = "complained";
      case "unsubscribed" -> type = "unsubscribed";
      case "opened" -> type = "opened";
      case "clicked" -> type = "clicked";
      default -> {
        return null;
      }
    }
    JsonObject vars = Fields.obj(d, "user-variables");
    JsonObject status = Fields.obj(d, "delivery-status");
    Integer code = null;
    String message = null;
    if (status != null) {
      code = status.getValue("code") instanceof Number n ? Integer.valueOf(n.intValue()) : Fields.smtpCode(Fields.string(status.getValue("code")));
      message = Fields.string(status.getValue("message"));
      if (message == null) {
        message = Fields.string(status.getValue("description"));
      }
    }
    if (message == null) {
      message = Fields.string(d.getValue("reason"));
    }
    JsonObject headers = Fields.obj(Fields.obj(d, "message"), "headers");
    return new ProviderEvent(vars == null ? null : Fields.job(vars.getValue(JOB_VARIABLE)),
        vars == null ? null : Fields.seq(vars.getValue(RECIPIENT_VARIABLE)), Fields.string(d.getValue("recipient")), type,
        severity, code != null && code > 0 ? code : null, message,
        headers == null ? null : Fields.string(headers.getValue("message-id")), Fields.eventId(Fields.string(d.getValue("id"))));
  }

  private String hmac(String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal(data.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  static long hash64(byte[] data) {
    try {
      return ByteBuffer.wrap(MessageDigest.getInstance("SHA-256").digest(data)).getLong();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}

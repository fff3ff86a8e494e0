package io.mailgate.webhook.out;

import io.mailgate.store.WebhookOutboxStore.Due;
import io.mailgate.store.WebhookOutboxStore.Event;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The body and headers of a webhook call. Mailgun's format: {@code {"signature":{"timestamp","token","signature"},
 * "event-data":{...}}} where signature is the hex HMAC-SHA256 of timestamp + token under the signing key, exactly as
 * Mailgun signs (and its documentation verifies). The native format: the event as our API shows it, with the headers
 * {@code X-Mailgate-Timestamp} and {@code X-Mailgate-Signature: v1=<hex HMAC-SHA256 of timestamp + "." + body>}.
 */
public final class WebhookPayloads {
  private WebhookPayloads() {}

  /** A call ready to go. */
  public record Call(Buffer body, Map<String, String> headers) {}

  private static final SecureRandom RANDOM = new SecureRandom();

  public static Call build(Due d, byte[] key, long nowSeconds) {
    String timestamp = Long.toString(nowSeconds);
    if (d.format().equals("mailgun")) {
      byte[] tokenBytes = new byte[25];
      RANDOM.nextBytes(tokenBytes);
      String token = HexFormat.of().formatHex(tokenBytes); // 50 hex characters, as Mailgun's tokens
      JsonObject body = new JsonObject()
          .put("signature", new JsonObject().put("timestamp", timestamp).put("token", token)
              .put("signature", hmacHex(key, timestamp + token)))
          .put("event-data", mailgunEventData(d.event()));
      return new Call(body.toBuffer(), Map.of("Content-Type", "application/json"));
    }
    Buffer body = nativeBody(d).toBuffer();
    String signed = timestamp + "." + body.toString(StandardCharsets.UTF_8);
    return new Call(body, Map.of("Content-Type", "application/json", "X-Mailgate-Timestamp", timestamp,
        "X-Mailgate-Signature", "v1=" + hmacHex(key, signed), "X-Mailgate-Delivery", Long.toString(d.id())));
  }

  /** Hex HMAC-SHA256 of {@code data} (UTF-8) under {@code key}. */
  public static String hmacHex(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal(data.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  /** Mailgun's event shape for one of our events. */
  static JsonObject mailgunEventData(Event e) {
    String event = WebhookEvents.mailgunEvent(e.type(), e.backendType());
    JsonObject data = new JsonObject()
        .put("event", event)
        .put("id", Long.toString(e.id()))
        .put("timestamp", e.at().toInstant().toEpochMilli() / 1000.0)
        .put("recipient", e.email())
        .put("recipient-domain", e.recipientDomain())
        .put("log-level", event.equals("failed") ? ("temporary".equals(WebhookEvents.mailgunSeverity(e.type(),
            e.severity())) ? "warn" : "error") : "info")
        .put("tags", e.tags())
        .put("user-variables", e.metadata())
        .put("message", new JsonObject().put("headers", new JsonObject().put("message-id", bare(e.messageId()))));
    String severity = WebhookEvents.mailgunSeverity(e.type(), e.severity());
    if (severity != null) {
      data.put("severity", severity).put("reason", WebhookEvents.mailgunReason(e.type(), e.severity()));
    }
    if (e.code() != null || e.message() != null || e.attempt() != null) {
      JsonObject status = new JsonObject();
      if (e.code() != null) {
        status.put("code", e.code());
      }
      status.put("message", e.message() == null ? "" : e.message()).put("description", "");
      if (e.attempt() != null) {
        status.put("attempt-no", e.attempt());
      }
      data.put("delivery-status", status);
    }
    return data;
  }

  /** Our own shape: the event as {@code GET /v1/events} shows it, and which webhook and call this is. */
  static JsonObject nativeBody(Due d) {
    Event e = d.event();
    JsonObject ev = new JsonObject()
        .put("id", Long.toString(e.id()))
        .put("at", e.at().toInstant().toString())
        .put("type", e.type())
        .put("recipient", e.email());
    putIf(ev, "severity", e.severity());
    putIf(ev, "job", e.jobId() == null ? null : e.jobId().toString());
    putIf(ev, "seq", e.seq());
    putIf(ev, "attempt", e.attempt());
    putIf(ev, "code", e.code());
    putIf(ev, "message", e.message());
    putIf(ev, "messageId", e.messageId());
    putIf(ev, "senderDomain", e.senderDomain());
    putIf(ev, "recipientDomain", e.recipientDomain());
    ev.put("tags", e.tags()).put("metadata", e.metadata());
    return new JsonObject().put("webhook", d.webhookId().toString()).put("delivery", Long.toString(d.id()))
        .put("event", ev);
  }

  private static void putIf(JsonObject o, String k, Object v) {
    if (v != null) {
      o.put(k, v);
    }
  }

  /** Mailgun's message-id header value comes without the angle brackets. */
  private static String bare(String messageId) {
    if (messageId == null) {
      return null;
    }
    String m = messageId.trim();
    return m.startsWith("<") && m.endsWith(">") ? m.substring(1, m.length() - 1) : m;
  }
}

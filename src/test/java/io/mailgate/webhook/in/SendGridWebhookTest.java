package io.mailgate.webhook.in;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestJobs;
import io.mailgate.support.sim.SendGridSimulator;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code POST /hooks/sendgrid/{backendId}}: mail sent through the gateway to {@link SendGridSimulator}, then batches
 * of SendGrid's events for it, signed as the Signed Event Webhook signs them (ECDSA P-256 / SHA-256 over timestamp +
 * raw body), with the custom args our backend sent.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class SendGridWebhookTest extends HookTests {

  static final String API_KEY = "SG.test-key-0123456789";

  static SendGridSimulator sim;
  static KeyPair keys;
  static TenantKey tenant;
  static String backend;
  static String job;
  static List<String> to = TestJobs.emails("sg-", 6);

  @BeforeAll
  static void start() throws Exception {
    startGateway(Map.of());
    sim = new SendGridSimulator(API_KEY).start();
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    keys = g.generateKeyPair();
    backend = api.createBackend("hooks-sendgrid", "sendgrid", "eu", new JsonObject().put("apiKey", API_KEY).put("region", "eu")
        .put("baseUrl", sim.baseUrl())
        .put("webhookPublicKey", Base64.getEncoder().encodeToString(keys.getPublic().getEncoded())));
    tenant = api.createTenant("hooks-sendgrid", "eu");
    api.route(tenant, "hooks-sendgrid");
    job = TestJobs.submit(api, tenant, to);
    api.awaitState(tenant, job, "completed", TIMEOUT);
  }

  @AfterAll
  static void stop() {
    if (sim != null) {
      sim.close();
    }
    stopGateway();
  }

  /** One SendGrid event for a recipient of our call: the custom args of its personalization and of the request. */
  static JsonObject event(String id, String event, String email) {
    SendGridSimulator.Request call = sim.acceptedRequests().stream().filter(r -> r.to().contains(email)).findFirst().orElseThrow();
    JsonObject e = new JsonObject().put("email", email).put("timestamp", nowSeconds()).put("event", event)
        .put("sg_event_id", id).put("sg_message_id", call.messageId() + ".filter0001.16648.5515E0B88.0");
    call.body().getJsonObject("custom_args").forEach(a -> e.put(a.getKey(), a.getValue()));
    call.personalization(email).getJsonObject("custom_args").forEach(a -> e.put(a.getKey(), a.getValue()));
    return e;
  }

  static Map<String, String> signature(PrivateKey key, long timestamp, byte[] body) {
    try {
      Signature s = Signature.getInstance("SHA256withECDSA");
      s.initSign(key);
      s.update(Long.toString(timestamp).getBytes(StandardCharsets.UTF_8));
      s.update(body);
      return Map.of("X-Twilio-Email-Event-Webhook-Signature", Base64.getEncoder().encodeToString(s.sign()),
          "X-Twilio-Email-Event-Webhook-Timestamp", Long.toString(timestamp));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static Answer post(JsonObject... events) {
    byte[] body = new JsonArray(List.of((Object[]) events)).encode().getBytes(StandardCharsets.UTF_8);
    return hook(true, "sendgrid", backend, "application/json", body, signature(keys.getPrivate(), nowSeconds(), body));
  }

  @Test
  void aSignedBatchRecordsEachEventAgainstItsRecipient() {
    Answer a = post(event("sg-1", "processed", to.get(0)), event("sg-2", "delivered", to.get(0)),
        event("sg-3", "open", to.get(1)), event("sg-4", "click", to.get(1)).put("url", "https://acme.example/x"),
        event("sg-5", "spamreport", to.get(2)), event("sg-6", "group_unsubscribe", to.get(3)),
        event("sg-7", "deferred", to.get(4)));
    expect(a, 200);
    assertEquals(5, a.json().getInteger("events"));
    assertEquals(2, a.json().getInteger("ignored"));
    assertEquals("delivered", recipient(tenant, job, to.get(0)).getString("state"));
    assertEquals("complained", recipient(tenant, job, to.get(2)).getString("state"));
    assertEquals(1, recorded("sendgrid", to.get(1), "opened"));
    assertEquals(1, recorded("sendgrid", to.get(1), "clicked"));
    Map<String, String> s = suppressions(tenant);
    assertEquals("complaint", s.get(to.get(2)));
    assertEquals("unsubscribe", s.get(to.get(3)));
  }

  @Test
  void aBounceIsHardAndSuppressesABlockIsSoft() {
    expect(post(event("sg-b1", "bounce", to.get(4)).put("type", "bounce").put("status", "5.1.1")
            .put("reason", "550 5.1.1 The email account that you tried to reach does not exist"),
        event("sg-b2", "bounce", to.get(5)).put("type", "blocked").put("reason", "421 try again later")), 200);
    JsonObject hard = api.get("/v1/events?type=bounced&recipient=" + to.get(4), tenant.apiKey()).json().getJsonArray("items")
        .getJsonObject(0);
    assertEquals("hard", hard.getString("severity"));
    assertEquals(550, hard.getInteger("code"));
    assertEquals("hard_bounce", suppressions(tenant).get(to.get(4)));
    assertEquals("soft", api.get("/v1/events?type=bounced&recipient=" + to.get(5), tenant.apiKey()).json()
        .getJsonArray("items").getJsonObject(0).getString("severity"));
    assertFalse(suppressions(tenant).containsKey(to.get(5)));
  }

  @Test
  void forgedAndStaleBatchesAreRefusedAndRecordNothing() throws Exception {
    long before = recorded("sendgrid");
    byte[] body = new JsonArray().add(event("sg-f1", "spamreport", to.get(5))).encode().getBytes(StandardCharsets.UTF_8);
    // another key
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    Answer forged = hook(true, "sendgrid", backend, "application/json", body,
        signature(g.generateKeyPair().getPrivate(), nowSeconds(), body));
    expect(forged, 401);
    assertEquals("signature_invalid", forged.errorCode());
    // the body changed after signing
    Map<String, String> sig = signature(keys.getPrivate(), nowSeconds(), body);
    byte[] other = new JsonArray().add(event("sg-f2", "spamreport", to.get(4))).encode().getBytes(StandardCharsets.UTF_8);
    expect(hook(true, "sendgrid", backend, "application/json", other, sig), 401);
    // no signature
    expect(hook(true, "sendgrid", backend, "application/json", body, Map.of()), 401);
    // signed ten minutes ago
    Answer stale = hook(true, "sendgrid", backend, "application/json", body,
        signature(keys.getPrivate(), nowSeconds() - 600, body));
    expect(stale, 403);
    assertEquals("stale", stale.errorCode());
    assertEquals(before, recorded("sendgrid"));
    assertFalse(suppressions(tenant).containsKey(to.get(5)));
  }

  @Test
  void aBatchPostedAgainRecordsItsEventsOnce() {
    byte[] body = new JsonArray().add(event("sg-d1", "open", to.get(3))).add(event("sg-d1", "open", to.get(3)))
        .encode().getBytes(StandardCharsets.UTF_8);
    Map<String, String> sig = signature(keys.getPrivate(), nowSeconds(), body);
    expect(hook(true, "sendgrid", backend, "application/json", body, sig), 200);
    expect(hook(true, "sendgrid", backend, "application/json", body, sig), 200); // replayed as is: the same events
    assertEquals(1, recorded("sendgrid", to.get(3), "opened"));
  }

  @Test
  void unknownRecipientsAreAnsweredWith200AndCounted() {
    double before = metric("mailgate_webhook_events_total", Map.of("provider", "sendgrid", "outcome", "unknown_recipient"));
    Answer a = post(new JsonObject().put("email", "nobody@example.com").put("event", "delivered").put("sg_event_id", "sg-u1")
        .put("mailgate_job", "01900000-0000-7000-8000-000000000000").put("mailgate_recipient", "3"));
    expect(a, 200);
    assertEquals(1, a.json().getInteger("unknownRecipients"));
    assertEquals(0, recorded("sendgrid", "nobody@example.com", "delivered"));
    assertEquals(before + 1, metric("mailgate_webhook_events_total", Map.of("provider", "sendgrid", "outcome", "unknown_recipient")));
  }

  @Test
  void aBatchOverTheEventLimitIsRefusedWhole() {
    // a gateway of its own would be needed for a small limit: check against the default of 5,000
    JsonArray many = new JsonArray();
    for (int i = 0; i < 5001; i++) {
      many.add(new JsonObject().put("email", "m" + i + "@example.com").put("event", "open").put("sg_event_id", "sg-m" + i));
    }
    byte[] body = many.encode().getBytes(StandardCharsets.UTF_8);
    Answer a = hook(true, "sendgrid", backend, "application/json", body, signature(keys.getPrivate(), nowSeconds(), body));
    expect(a, 413);
  }

  @Test
  void thePublicKeyIsCheckedWhenTheBackendIsConfigured() {
    Api.Response r = api.post("/v1/admin/backends", io.mailgate.support.TestGateway.ADMIN_TOKEN, new JsonObject()
        .put("name", "hooks-sendgrid-bad").put("type", "sendgrid").put("region", "eu")
        .put("settings", new JsonObject().put("apiKey", API_KEY).put("region", "eu").put("webhookPublicKey", "bm90IGEga2V5")));
    Api.expect(r, 400);
    assertEquals("settings.webhookPublicKey", r.json().getJsonObject("error").getString("field"));
  }
}

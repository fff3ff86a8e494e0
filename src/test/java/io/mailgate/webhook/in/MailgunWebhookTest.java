package io.mailgate.webhook.in;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestJobs;
import io.mailgate.support.sim.MailgunSimulator;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code POST /hooks/mailgun/{backendId}}: mail sent through the gateway to {@link MailgunSimulator}, then Mailgun's
 * webhooks for it, signed as Mailgun signs them (HMAC-SHA256 of timestamp + token with the webhook signing key).
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class MailgunWebhookTest extends HookTests {

  static final String DOMAIN = "mg.acme.example";
  static final String API_KEY = "key-0123456789abcdef";
  static final String SIGNING_KEY = "whsec-mailgun-0123456789";

  static MailgunSimulator sim;
  static TenantKey tenant;
  static String backend;
  static String job;
  static List<String> to = TestJobs.emails("mg-", 8);

  @BeforeAll
  static void start() {
    startGateway(Map.of());
    sim = new MailgunSimulator(DOMAIN, API_KEY).start();
    backend = api.createBackend("hooks-mailgun", "mailgun", "eu", new JsonObject().put("apiKey", API_KEY)
        .put("domain", DOMAIN).put("region", "eu").put("baseUrl", sim.baseUrl()).put("webhookSigningKey", SIGNING_KEY));
    tenant = api.createTenant("hooks-mailgun", "eu");
    api.route(tenant, "hooks-mailgun");
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

  /** The event Mailgun would post for a recipient of our call, with the user variables our backend sent. */
  static JsonObject eventData(String id, String event, String email) {
    // what the backend sent for this address: v:mailgate-job, and the seq substituted per recipient by Mailgun
    MailgunSimulator.Request call = sim.acceptedRequests().stream().filter(r -> r.to().contains(email)).findFirst().orElseThrow();
    String seq = call.personalised("v:mailgate-recipient", email);
    return new JsonObject().put("id", id).put("event", event).put("recipient", email).put("timestamp", nowSeconds() + 0.5)
        .put("user-variables", new JsonObject().put("mailgate-job", call.first("v:mailgate-job")).put("mailgate-recipient", seq))
        .put("message", new JsonObject().put("headers", new JsonObject().put("message-id", call.messageId())));
  }

  static String signed(String key, long timestamp, String token, JsonObject eventData) {
    return new JsonObject().put("signature", new JsonObject().put("timestamp", Long.toString(timestamp)).put("token", token)
        .put("signature", hmac(key, timestamp + token))).put("event-data", eventData).encode();
  }

  static String signed(JsonObject eventData) {
    return signed(SIGNING_KEY, nowSeconds(), UUID.randomUUID().toString().replace("-", "") + "0123456789abcdefgh", eventData);
  }

  static String hmac(String key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal(data.getBytes(StandardCharsets.UTF_8)));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static Answer post(String body) {
    return hook("mailgun", backend, body, Map.of());
  }

  @Test
  void aSignedDeliveryIsRecordedAgainstTheRecipientItNames() {
    String email = to.get(0);
    expect(post(signed(eventData("mg-evt-delivered-0", "delivered", email)
        .put("delivery-status", new JsonObject().put("code", 250).put("message", "OK")))), 200);
    JsonObject r = recipient(tenant, job, email);
    assertEquals("delivered", r.getString("state"), r.encode());
    JsonObject e = api.get("/v1/events?type=delivered&recipient=" + email, tenant.apiKey()).json().getJsonArray("items")
        .getJsonObject(0);
    assertEquals("webhook:mailgun", e.getString("source"));
    assertEquals(job, e.getString("job"));
    assertEquals(250, e.getInteger("code"));
    assertNotNull(e.getString("messageId"));
  }

  @Test
  void theMainListenerTakesWebhooksToo() {
    String email = to.get(7);
    expect(hook(false, "mailgun", backend, "application/json",
        signed(eventData("mg-evt-opened-main", "opened", email)).getBytes(StandardCharsets.UTF_8), Map.of()), 200);
    assertEquals(1, recorded("mailgun", email, "opened"));
  }

  @Test
  void aPermanentFailureIsAHardBounceThatSuppressesTheAddress() {
    String email = to.get(1);
    expect(post(signed(eventData("mg-evt-failed-1", "failed", email).put("severity", "permanent")
        .put("reason", "bounce").put("delivery-status", new JsonObject().put("code", 550)
            .put("message", "5.1.1 The email account that you tried to reach does not exist")))), 200);
    assertEquals("bounced", recipient(tenant, job, email).getString("state"));
    assertEquals("hard_bounce", suppressions(tenant).get(email));
    JsonObject e = api.get("/v1/events?type=bounced&recipient=" + email, tenant.apiKey()).json().getJsonArray("items")
        .getJsonObject(0);
    assertEquals("hard", e.getString("severity"));
    assertEquals(550, e.getInteger("code"));
  }

  @Test
  void aTemporaryFailureIsASoftBounceAndComplaintsAndUnsubscribesSuppress() {
    expect(post(signed(eventData("mg-evt-failed-2", "failed", to.get(2)).put("severity", "temporary"))), 200);
    assertEquals("soft", api.get("/v1/events?type=bounced&recipient=" + to.get(2), tenant.apiKey()).json()
        .getJsonArray("items").getJsonObject(0).getString("severity"));
    assertFalse(suppressions(tenant).containsKey(to.get(2)));
    expect(post(signed(eventData("mg-evt-complained-3", "complained", to.get(3)))), 200);
    expect(post(signed(eventData("mg-evt-unsub-4", "unsubscribed", to.get(4)))), 200);
    expect(post(signed(eventData("mg-evt-clicked-5", "clicked", to.get(5)))), 200);
    Map<String, String> s = suppressions(tenant);
    assertEquals("complaint", s.get(to.get(3)));
    assertEquals("unsubscribe", s.get(to.get(4)));
    assertEquals(1, recorded("mailgun", to.get(5), "clicked"));
    // Mailgun's other events are taken and not recorded
    Answer accepted = post(signed(eventData("mg-evt-accepted-5", "accepted", to.get(5))));
    expect(accepted, 200);
    assertEquals(1, accepted.json().getInteger("ignored"));
  }

  @Test
  void forgedStaleAndReplayedCallsAreRefusedAndRecordNothing() {
    long before = recorded("mailgun");
    String email = to.get(6);
    // signed with another key
    Answer forged = post(signed("not-the-key", nowSeconds(), "tok-forged-000000000000000000000000000000000000000000",
        eventData("mg-evt-forged", "failed", email).put("severity", "permanent")));
    expect(forged, 401);
    assertEquals("signature_invalid", forged.errorCode());
    // no signature at all
    expect(post(new JsonObject().put("event-data", eventData("mg-evt-unsigned", "delivered", email)).encode()), 401);
    // correctly signed, but ten minutes old (the window is 5 minutes)
    Answer stale = post(signed(SIGNING_KEY, nowSeconds() - 600, "tok-stale-0000000000000000000000000000000000000000000",
        eventData("mg-evt-stale", "complained", email)));
    expect(stale, 403);
    assertEquals("stale", stale.errorCode());
    // a signature captured from one call, replayed with other events
    long ts = nowSeconds();
    String token = "tok-replay-000000000000000000000000000000000000000000";
    expect(post(signed(SIGNING_KEY, ts, token, eventData("mg-evt-opened-6", "opened", email))), 200);
    Answer replay = post(signed(SIGNING_KEY, ts, token, eventData("mg-evt-replay", "complained", email)));
    expect(replay, 403);
    assertEquals("replayed", replay.errorCode());
    assertEquals(before + 1, recorded("mailgun"), "only the genuine open");
    assertEquals(0, recorded("mailgun", email, "complained"));
    assertFalse(suppressions(tenant).containsKey(email));
  }

  @Test
  void concurrentCallsAreAllRecordedEachOnce() throws Exception {
    String email = to.get(7);
    int n = 40;
    var pool = java.util.concurrent.Executors.newFixedThreadPool(20);
    try {
      List<java.util.concurrent.Future<Answer>> answers = new java.util.ArrayList<>();
      for (int i = 0; i < n; i++) {
        String body = signed(eventData("mg-evt-burst-" + i, "clicked", email));
        answers.add(pool.submit(() -> post(body)));
      }
      for (var a : answers) {
        expect(a.get(60, TimeUnit.SECONDS), 200);
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(n, recorded("mailgun", email, "clicked"));
  }

  @Test
  void aDeliveryPostedTwiceIsRecordedOnce() {
    String email = to.get(0);
    JsonObject data = eventData("mg-evt-opened-twice", "opened", email);
    String body = signed(data);
    expect(post(body), 200);
    expect(post(body), 200); // Mailgun retrying the same call
    expect(post(signed(data)), 200); // the same event, signed anew
    assertEquals(1, recorded("mailgun", email, "opened"));
  }

  @Test
  void unknownRecipientsAreAnsweredWith200AndCountedNotRecorded() {
    double before = metric("mailgate_webhook_events_total", Map.of("provider", "mailgun", "outcome", "unknown_recipient"));
    long events = recorded("mailgun");
    // a job that does not exist, and an event without our variables
    JsonObject noJob = new JsonObject().put("id", "mg-evt-nojob").put("event", "delivered").put("recipient", "x@example.com")
        .put("user-variables", new JsonObject().put("mailgate-job", "01900000-0000-7000-8000-000000000000")
            .put("mailgate-recipient", "0"));
    Answer a = post(signed(noJob));
    expect(a, 200);
    assertEquals(1, a.json().getInteger("unknownRecipients"));
    expect(post(signed(new JsonObject().put("id", "mg-evt-novars").put("event", "delivered").put("recipient", "y@example.com"))),
        200);
    assertEquals(events, recorded("mailgun"));
    assertEquals(before + 2, metric("mailgate_webhook_events_total", Map.of("provider", "mailgun", "outcome", "unknown_recipient")));
  }

  @Test
  void aSignedEventCannotReachAnotherTenantsJob() {
    // another tenant, routed elsewhere: its job id in this backend's signed events names no recipient of ours
    TenantKey other = api.tenantOnSmtp("hooks-mailgun-other", 1, null);
    String otherJob = TestJobs.submit(api, other, List.of("victim@example.com"));
    JsonObject data = new JsonObject().put("id", "mg-evt-cross").put("event", "failed").put("severity", "permanent")
        .put("recipient", "victim@example.com")
        .put("user-variables", new JsonObject().put("mailgate-job", otherJob).put("mailgate-recipient", "0"));
    Answer a = post(signed(data));
    expect(a, 200);
    assertEquals(1, a.json().getInteger("unknownRecipients"));
    assertFalse(suppressions(other).containsKey("victim@example.com"));
    assertEquals(0, recorded("mailgun", "victim@example.com", "bounced"));
  }

  @Test
  void aPathThatIsNotTheBackendsProviderOrNoBackendAnswers404() {
    String body = signed(eventData("mg-evt-404", "delivered", to.get(0)));
    expect(hook("sendgrid", backend, body, Map.of()), 404);
    expect(hook("mailgun", UUID.randomUUID().toString(), body, Map.of()), 404);
    expect(hook("mailgun", "not-a-uuid", body, Map.of()), 404);
    expect(hook("sparkpost", backend, body, Map.of()), 404);
  }

  @Test
  void aBodyOverTheLimitIsRefusedWith413() {
    byte[] big = new byte[9 * 1024 * 1024];
    java.util.Arrays.fill(big, (byte) ' ');
    Answer a = hook(true, "mailgun", backend, "application/json", big, Map.of());
    expect(a, 413);
  }
}

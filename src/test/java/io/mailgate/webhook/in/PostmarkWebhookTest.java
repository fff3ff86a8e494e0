package io.mailgate.webhook.in;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.mailgate.support.sim.PostmarkSimulator;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code POST /hooks/postmark/{backendId}}: mail sent through the gateway to {@link PostmarkSimulator}, then Postmark's
 * webhooks for it (one record per call, with the Metadata our backend set), behind the HTTP Basic credentials
 * Postmark is configured with.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class PostmarkWebhookTest extends HookTests {

  static final String TOKEN = "pm-server-token-0123";
  static final String USER = "postmark-hooks";
  static final String PASSWORD = "s3cret-hook-password";

  static PostmarkSimulator sim;
  static TenantKey tenant;
  static String backend;
  static String job;
  static List<String> to = TestJobs.emails("pm-", 6);

  @BeforeAll
  static void start() {
    startGateway(Map.of());
    sim = PostmarkSimulator.start(TOKEN);
    backend = api.createBackend("hooks-postmark", "postmark", "eu", new JsonObject().put("serverToken", TOKEN)
        .put("baseUrl", sim.baseUrl()).put("webhookUser", USER).put("webhookPassword", PASSWORD));
    tenant = api.createTenant("hooks-postmark", "eu");
    api.route(tenant, "hooks-postmark");
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

  static Map<String, String> basic(String user, String password) {
    return Map.of("Authorization", "Basic " + Base64.getEncoder().encodeToString((user + ":" + password)
        .getBytes(StandardCharsets.UTF_8)));
  }

  /** A Postmark record about a message of ours: its MessageID and Metadata as the simulator received them. */
  static JsonObject record(String recordType, String email) {
    PostmarkSimulator.Accepted m = sim.accepted().stream().filter(a -> a.message().getString("To").equals(email))
        .findFirst().orElseThrow();
    return new JsonObject().put("RecordType", recordType).put("MessageID", m.messageId()).put("ServerID", 23)
        .put("MessageStream", "outbound").put("Metadata", m.message().getJsonObject("Metadata"));
  }

  static Answer post(JsonObject record) {
    return hook("postmark", backend, record.encode(), basic(USER, PASSWORD));
  }

  @Test
  void aDeliveryIsRecordedAgainstTheRecipientItsMetadataNames() {
    String email = to.get(0);
    expect(post(record("Delivery", email).put("Recipient", email).put("DeliveredAt", "2026-12-03T06:00:00Z")
        .put("Details", "Test delivery webhook details")), 200);
    assertEquals("delivered", recipient(tenant, job, email).getString("state"));
    assertEquals(1, recorded("postmark", email, "delivered"));
    JsonObject e = api.get("/v1/events?type=delivered&recipient=" + email, tenant.apiKey()).json().getJsonArray("items")
        .getJsonObject(0);
    assertEquals(recipient(tenant, job, email).getString("messageId"), e.getString("messageId"));
  }

  @Test
  void aHardBounceSuppressesASoftOneDoesNotAndComplaintsOpensClicksAreRecorded() {
    expect(post(record("Bounce", to.get(1)).put("ID", 4323372036854775807L).put("Type", "HardBounce").put("TypeCode", 1)
        .put("Email", to.get(1)).put("BouncedAt", "2026-12-03T06:01:00Z")
        .put("Details", "smtp;550 5.1.1 The email account that you tried to reach does not exist")), 200);
    expect(post(record("Bounce", to.get(2)).put("ID", 4323372036854775808L).put("Type", "SoftBounce").put("TypeCode", 4096)
        .put("Email", to.get(2)).put("BouncedAt", "2026-12-03T06:01:00Z").put("Details", "mailbox full")), 200);
    expect(post(record("SpamComplaint", to.get(3)).put("ID", 42).put("Type", "SpamComplaint").put("Email", to.get(3))
        .put("BouncedAt", "2026-12-03T06:02:00Z")), 200);
    expect(post(record("Open", to.get(4)).put("Recipient", to.get(4)).put("ReceivedAt", "2026-12-03T06:03:00Z")
        .put("FirstOpen", true)), 200);
    expect(post(record("Click", to.get(4)).put("Recipient", to.get(4)).put("ReceivedAt", "2026-12-03T06:04:00Z")
        .put("OriginalLink", "https://acme.example/offer")), 200);
    Answer other = post(record("Bounce", to.get(5)).put("ID", 7).put("Type", "AutoResponder").put("Email", to.get(5)));
    expect(other, 200);
    assertEquals(1, other.json().getInteger("ignored"));

    Map<String, String> s = suppressions(tenant);
    assertEquals("hard_bounce", s.get(to.get(1)));
    assertFalse(s.containsKey(to.get(2)));
    assertEquals("complaint", s.get(to.get(3)));
    JsonObject hard = api.get("/v1/events?type=bounced&recipient=" + to.get(1), tenant.apiKey()).json()
        .getJsonArray("items").getJsonObject(0);
    assertEquals("hard", hard.getString("severity"));
    assertEquals(550, hard.getInteger("code"));
    assertEquals(1, recorded("postmark", to.get(4), "opened"));
    assertEquals(1, recorded("postmark", to.get(4), "clicked"));
    assertEquals(0, recorded("postmark", to.get(5), "bounced"));
  }

  @Test
  void wrongOrMissingCredentialsAreRefusedAndRecordNothing() {
    long before = recorded("postmark");
    JsonObject r = record("SpamComplaint", to.get(5)).put("ID", 99).put("Email", to.get(5));
    Answer none = hook("postmark", backend, r.encode(), Map.of());
    expect(none, 401);
    assertEquals("Basic realm=\"mailgate webhooks\"", none.headers().get("www-authenticate").get(0));
    expect(hook("postmark", backend, r.encode(), basic(USER, "guessed")), 401);
    expect(hook("postmark", backend, r.encode(), basic("someone", PASSWORD)), 401);
    assertEquals(before, recorded("postmark"));
    assertFalse(suppressions(tenant).containsKey(to.get(5)));
  }

  @Test
  void aRecordPostedAgainIsRecordedOnce() {
    JsonObject open = record("Open", to.get(0)).put("Recipient", to.get(0)).put("ReceivedAt", "2026-12-03T06:05:00Z");
    expect(post(open), 200);
    expect(post(open), 200);
    assertEquals(1, recorded("postmark", to.get(0), "opened"));
  }

  @Test
  void unknownRecipientsAreAnsweredWith200AndCounted() {
    double before = metric("mailgate_webhook_events_total", Map.of("provider", "postmark", "outcome", "unknown_recipient"));
    Answer a = post(new JsonObject().put("RecordType", "Delivery").put("Recipient", "stranger@example.com")
        .put("MessageID", "00000000-0000-0000-0000-000000000000").put("DeliveredAt", "2026-12-03T06:00:00Z"));
    expect(a, 200);
    assertEquals(1, a.json().getInteger("unknownRecipients"));
    assertEquals(0, recorded("postmark", "stranger@example.com", "delivered"));
    assertEquals(before + 1, metric("mailgate_webhook_events_total", Map.of("provider", "postmark", "outcome", "unknown_recipient")));
  }

  @Test
  void theWebhookPasswordIsASecretNeverShown() {
    Api.Response b = api.get("/v1/admin/backends/" + backend, TestGateway.ADMIN_TOKEN);
    Api.expect(b, 200);
    assertFalse(b.text().contains(PASSWORD), b.text());
    assertEquals(USER, b.json().getJsonObject("settings").getString("webhookUser"));
  }
}

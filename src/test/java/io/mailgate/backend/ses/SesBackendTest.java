package io.mailgate.backend.ses;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static io.mailgate.support.TestJobs.emails;
import static io.mailgate.support.TestJobs.recipientsByEmail;
import static io.mailgate.support.TestJobs.submit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.mailgate.support.sim.SesSimulator;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The {@code ses} backend end to end: jobs through {@code POST /v1/jobs}, sent through the AWS SDK (SigV4 signed)
 * to an SES v2 simulator that checks the signature, each recipient's outcome read back through the API.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SesBackendTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(90);
  private static final String KEY_ID = "AKIAMAILGATETEST0001";
  private static final String SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  private static final String REGION = "eu-west-1";

  static TestGateway gw;
  static Api api;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(TestDatabase.fresh()); // chunks of 100 recipients
    api = gw.api;
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
  }

  private static JsonObject settings(SesSimulator ses, String secret) {
    return new JsonObject().put("accessKeyId", KEY_ID).put("secretAccessKey", secret).put("awsRegion", REGION)
        .put("endpoint", ses.endpoint()).put("configurationSetName", "mailgate-events").put("ratePerSecond", 0)
        .put("requestTimeout", "10s");
  }

  private static TenantKey tenantOnSes(String name, JsonObject settings) {
    api.createBackend(name + "-ses", "ses", "eu", settings);
    TenantKey t = api.createTenant(name, "eu");
    api.route(t, name + "-ses");
    return t;
  }

  private static JsonObject personalisedJob(List<String> to, String html) {
    JsonArray rs = new JsonArray();
    for (int i = 0; i < to.size(); i++) {
      rs.add(new JsonObject().put("email", to.get(i)).put("vars", new JsonObject()
          .put("name", i == 7 ? "<b>Ann & \"Bob\"</b>\nJr" : "User " + i)
          .put("code", "C" + i)
          .put("user", new JsonObject().put("city", i % 2 == 0 ? "Lyon" : "Köln"))));
    }
    return new JsonObject()
        .put("from", "Acme News <news@acme.example>")
        .put("replyTo", "help@acme.example")
        .put("subject", "Hello {{name}}")
        .put("text", "Dear {{name}} from {{user.city}},\nyour code is {{code}}.\n")
        .put("html", html)
        .put("headers", new JsonObject().put("X-Campaign", "spring"))
        .put("tags", new JsonArray().add("spring"))
        .put("recipients", rs);
  }

  @Test
  void sendsOneHundredTwentyRecipientsInBulkCallsOf50And50And20RenderedPerRecipient() {
    try (SesSimulator ses = SesSimulator.start(KEY_ID, SECRET, REGION)) {
      TenantKey t = tenantOnSes("ses-bulk", settings(ses, SECRET));
      List<String> to = emails("ses-bulk-", 120);
      // a trailing backslash before a variable and a brace after one must stay literal text in SES's Handlebars
      String html = "<style>p{color:red}</style><p>Dear {{name}} ({{{name}}}), code C:\\{{code}}</p><i>{{user.city}}</i>";
      String id = submit(api, t, personalisedJob(to, html));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(120, done.getJsonObject("counts").getInteger("sent"));

      List<SesSimulator.Call> bulk = ses.calls("SendBulkEmail");
      List<Integer> sizes = new ArrayList<>(bulk.stream().map(c -> c.body().getJsonArray("BulkEmailEntries").size()).toList());
      sizes.sort(null);
      assertEquals(List.of(20, 50, 50), sizes, "chunks of 100 and 20, at most 50 entries per call");
      assertTrue(ses.calls("SendEmail").isEmpty());
      for (SesSimulator.Call c : bulk) {
        assertEquals(200, c.status());
        assertTrue(c.headers().get("authorization").startsWith("AWS4-HMAC-SHA256 Credential=" + KEY_ID + "/"), "SigV4 signed");
        assertEquals("mailgate-events", c.body().getString("ConfigurationSetName"));
        assertEquals("Acme News <news@acme.example>", c.body().getString("FromEmailAddress"));
        assertEquals(new JsonArray().add("help@acme.example"), c.body().getJsonArray("ReplyToAddresses"));
        JsonObject template = c.body().getJsonObject("DefaultContent").getJsonObject("Template");
        assertEquals(new JsonArray().add(new JsonObject().put("Name", "X-Campaign").put("Value", "spring")), template.getJsonArray("Headers"));
        assertFalse(template.getJsonObject("TemplateContent").getString("Html").contains("{{name}}"),
            "every reference is a triple-brace reference to a value the gateway prepared");
      }

      Map<String, SesSimulator.Delivered> byAddress = new HashMap<>();
      ses.delivered().forEach(d -> assertNull(byAddress.put(d.to(), d), "a second message to " + d.to()));
      Map<String, JsonObject> recipients = recipientsByEmail(api, t, id);
      for (String a : to) {
        assertEquals("sent", recipients.get(a).getString("state"));
        assertEquals(byAddress.get(a).messageId(), recipients.get(a).getString("messageId"), "the MessageId SES answered");
      }

      SesSimulator.Delivered d3 = byAddress.get("ses-bulk-3@example.com");
      assertEquals("Hello User 3", d3.subject());
      assertEquals("Dear User 3 from Köln,\r\nyour code is C3.\r\n", d3.text());
      assertEquals("<style>p{color:red}</style><p>Dear User 3 (User 3), code C:\\C3</p><i>Köln</i>", d3.html());

      SesSimulator.Delivered d7 = byAddress.get("ses-bulk-7@example.com");
      assertEquals("Hello <b>Ann & \"Bob\"</b> Jr", d7.subject(), "subject values are raw and single-line");
      assertEquals("Dear <b>Ann & \"Bob\"</b>\r\nJr from Köln,\r\nyour code is C7.\r\n", d7.text());
      assertEquals("<style>p{color:red}</style><p>Dear &lt;b&gt;Ann &amp; &quot;Bob&quot;&lt;/b&gt;&#13;&#10;Jr "
          + "(<b>Ann & \"Bob\"</b>\r\nJr), code C:\\C7</p><i>Köln</i>", d7.html(), "{{x}} escaped, {{{x}}} raw in html");
    }
  }

  @Test
  void failsEntriesSesRejectsDefersTransientOnesAndSendsEveryOtherOnce() {
    String rejected = "ses-entry-rejected@example.com";
    String invalid = "ses-entry-invalid@example.com";
    String throttled = "ses-entry-throttled@example.com";
    String transientFailure = "ses-entry-transient@example.com";
    try (SesSimulator ses = SesSimulator.start(KEY_ID, SECRET, REGION)) {
      ses.failAddress(rejected, "MESSAGE_REJECTED", "Email address is not verified.", -1)
          .failAddress(invalid, "INVALID_PARAMETER", "Illegal address", -1)
          .failAddress(throttled, "ACCOUNT_THROTTLED", "Maximum sending rate exceeded.", 1)
          .failAddress(transientFailure, "TRANSIENT_FAILURE", "Try again", 1);
      TenantKey t = tenantOnSes("ses-entry", settings(ses, SECRET));
      List<String> others = emails("ses-entry-", 12);
      List<String> to = new ArrayList<>(others);
      to.add(1, rejected);
      to.add(4, invalid);
      to.add(6, throttled);
      to.add(9, transientFailure);
      String id = submit(api, t, TestJobs.job("Hello", to));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(14, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(2, done.getJsonObject("counts").getInteger("failed"));
      Map<String, JsonObject> rs = recipientsByEmail(api, t, id);
      assertEquals("failed", rs.get(rejected).getString("state"));
      assertTrue(rs.get(rejected).getString("lastMessage").contains("MESSAGE_REJECTED"), rs.get(rejected).encode());
      assertTrue(rs.get(rejected).getString("lastMessage").contains("Email address is not verified."));
      assertEquals(1, rs.get(rejected).getInteger("attempts"));
      assertEquals("failed", rs.get(invalid).getString("state"));
      assertTrue(rs.get(invalid).getString("lastMessage").contains("INVALID_PARAMETER"));
      for (String deferredOnce : List.of(throttled, transientFailure)) {
        assertEquals("sent", rs.get(deferredOnce).getString("state"));
        assertEquals(2, rs.get(deferredOnce).getInteger("attempts"), rs.get(deferredOnce).encode());
      }
      Map<String, Integer> delivered = ses.deliveredPerAddress();
      assertFalse(delivered.containsKey(rejected));
      assertFalse(delivered.containsKey(invalid));
      assertEquals(1, delivered.get(throttled));
      assertEquals(1, delivered.get(transientFailure));
      for (String a : others) {
        assertEquals(1, delivered.get(a), a);
        assertEquals(1, rs.get(a).getInteger("attempts"));
      }
    }
  }

  @Test
  void defersTheCallWhenSesThrottlesOrFailsAndSendsEachRecipientExactlyOnceLater() {
    try (SesSimulator ses = SesSimulator.start(KEY_ID, SECRET, REGION)) {
      ses.failNext(1, 429, "TooManyRequestsException", "Maximum sending rate exceeded.")
          .failNext(1, 500, "InternalServiceErrorException", "Internal failure");
      TenantKey t = tenantOnSes("ses-429", settings(ses, SECRET));
      List<String> to = emails("ses-429-", 30);
      String id = submit(api, t, to);

      JsonObject first = Polling.await("the throttled call deferred", () -> recipientsByEmail(api, t, id).get(to.get(0)),
          r -> r.getInteger("lastCode") != null, TIMEOUT);
      assertEquals(429, first.getInteger("lastCode"));
      assertEquals("deferred", first.getString("state"));
      assertTrue(first.getString("lastMessage").contains("TooManyRequestsException"), first.encode());

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(30, done.getJsonObject("counts").getInteger("sent"));
      // no retries inside the SDK: each attempt is one call (retries spread by jitter may take more than one)
      List<SesSimulator.Call> calls = ses.calls();
      assertEquals(429, calls.get(0).status());
      assertEquals(30, calls.get(0).body().getJsonArray("BulkEmailEntries").size());
      assertEquals(500, calls.get(1).status());
      assertTrue(calls.subList(2, calls.size()).stream().allMatch(c -> c.status() == 200), calls.toString());
      to.forEach(a -> assertEquals(1, ses.deliveredPerAddress().get(a), a));
      recipientsByEmail(api, t, id).values().forEach(r -> {
        assertEquals("sent", r.getString("state"));
        assertTrue(r.getInteger("attempts") >= 2, r.encode());
      });
    }
  }

  @Test
  void defersEveryRecipientWhileTheSecretIsWrongNeverFailsThemAndSendsOnceItIsFixed() {
    try (SesSimulator ses = SesSimulator.start(KEY_ID, SECRET, REGION)) {
      String wrong = "not-the-secret-access-key-0000000000000";
      String backendId = api.createBackend("ses-403-ses", "ses", "eu", settings(ses, wrong));
      TenantKey t = api.createTenant("ses-403", "eu");
      api.route(t, "ses-403-ses");
      List<String> to = emails("ses-403-", 10);
      String id = submit(api, t, to);

      Polling.await("recipients retried past the attempt limit", () -> recipientsByEmail(api, t, id).values(),
          rs -> rs.stream().allMatch(r -> r.getInteger("attempts") >= 7), TIMEOUT);
      recipientsByEmail(api, t, id).values().forEach(r -> {
        assertTrue(r.getString("state").equals("deferred") || r.getString("state").equals("sending"), r.encode());
        assertEquals(403, r.getInteger("lastCode"));
        assertTrue(r.getString("lastMessage").contains("SignatureDoesNotMatch"), r.encode());
        assertFalse(r.getString("lastMessage").contains(wrong), "the secret never appears in a message");
      });
      assertEquals(0, api.job(t, id).getJsonObject("counts").getInteger("failed"));
      assertTrue(ses.delivered().isEmpty());
      assertTrue(ses.calls().stream().allMatch(c -> c.status() == 403));

      Api.Response patched = api.send("PATCH", "/v1/admin/backends/" + backendId, TestGateway.ADMIN_TOKEN,
          "application/json", HttpRequest.BodyPublishers.ofString(
              new JsonObject().put("settings", settings(ses, SECRET)).encode()), Map.of());
      Api.expect(patched, 200);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(10, done.getJsonObject("counts").getInteger("sent"));
      to.forEach(a -> assertEquals(1, ses.deliveredPerAddress().get(a), a));
    }
  }

  @Test
  void refusesAKeyScopedToAnotherRegionAsCredentialsNotAsAFailure() {
    try (SesSimulator ses = SesSimulator.start(KEY_ID, SECRET, REGION)) {
      // another EU region than the simulator's: the key's credential scope does not match (a US region would not even
      // be accepted for an EU backend: region_mismatch)
      TenantKey t = tenantOnSes("ses-region", settings(ses, SECRET).put("awsRegion", "eu-central-1"));
      String id = submit(api, t, emails("ses-region-", 3));

      Polling.await("recipients deferred for the credential scope", () -> recipientsByEmail(api, t, id).values(),
          rs -> rs.stream().allMatch(r -> r.getInteger("attempts") >= 2), TIMEOUT);
      recipientsByEmail(api, t, id).values().forEach(r -> {
        assertEquals(403, r.getInteger("lastCode"));
        assertTrue(r.getString("lastMessage").contains("region"), r.encode());
        assertFalse("failed".equals(r.getString("state")));
      });
      assertTrue(ses.delivered().isEmpty());
      api.control(t.apiKey(), id, "cancel");
    }
  }

  @Test
  void aJobWithAttachmentsGoesAsEachRecipientsOwnRawMessageWithTheFilesInIt() throws Exception {
    try (SesSimulator ses = SesSimulator.start(KEY_ID, SECRET, REGION)) {
      TenantKey t = tenantOnSes("ses-files", settings(ses, SECRET));
      JsonObject job = personalisedJob(List.of("ses-files-0@example.com", "ses-files-1@example.com"),
          io.mailgate.support.TestAttachments.HTML).put("attachments", io.mailgate.support.TestAttachments.json());
      String id = submit(api, t, job);
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(2, done.getJsonObject("counts").getInteger("sent"));
      assertTrue(ses.calls("SendBulkEmail").isEmpty(), "templates carry no files");
      assertEquals(2, ses.calls("SendEmail").size(), "one raw SendEmail per recipient");

      for (SesSimulator.Delivered d : ses.delivered()) {
        byte[] raw = d.text().getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        var message = io.mailgate.support.MimeParts.parse(raw);
        assertEquals(d.to(), message.getHeader("To")[0], "each recipient's own message");
        var leaves = io.mailgate.support.MimeParts.leaves(message);
        var report = io.mailgate.support.MimeParts.byName(leaves, "report.pdf");
        assertEquals("application/pdf", report.type());
        assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.REPORT, report.data()), "the report's bytes");
        var logo = io.mailgate.support.MimeParts.byName(leaves, "logo.png");
        assertEquals("<logo.png>", logo.contentId());
        assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.LOGO, logo.data()), "the logo's bytes");
        assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.NOTES,
            io.mailgate.support.MimeParts.byName(leaves, io.mailgate.support.TestAttachments.NOTES_NAME).data()));
      }
    }
  }

  @Test
  void sendsOneSendEmailPerRecipientWhenTheTemplateIsNotBatchable() {
    try (SesSimulator ses = SesSimulator.start(KEY_ID, SECRET, REGION)) {
      ses.failAddress("ses-single-2@example.com", "MESSAGE_REJECTED", "Email address is not verified.", -1);
      TenantKey t = tenantOnSes("ses-single", settings(ses, SECRET));
      List<String> to = emails("ses-single-", 12);
      JsonObject job = personalisedJob(to, "<p>{{#code}}Code: {{code}}{{/code}} for {{name}}</p>");
      String id = submit(api, t, job);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(11, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(1, done.getJsonObject("counts").getInteger("failed"));
      assertTrue(ses.calls("SendBulkEmail").isEmpty());
      assertEquals(12, ses.calls("SendEmail").size(), "one SendEmail per recipient");

      Map<String, SesSimulator.Delivered> byAddress = new HashMap<>();
      ses.delivered().forEach(d -> assertNull(byAddress.put(d.to(), d), "a second message to " + d.to()));
      SesSimulator.Delivered d7 = byAddress.get("ses-single-7@example.com");
      assertEquals("Hello <b>Ann & \"Bob\"</b> Jr", d7.subject());
      assertEquals("<p>Code: C7 for &lt;b&gt;Ann &amp; &quot;Bob&quot;&lt;/b&gt;&#13;&#10;Jr</p>", d7.html());
      assertEquals("Dear <b>Ann & \"Bob\"</b>\r\nJr from Köln,\r\nyour code is C7.\r\n", d7.text());
      JsonObject request = d7.request();
      assertEquals(new JsonArray().add(new JsonObject().put("Name", "X-Campaign").put("Value", "spring")),
          request.getJsonObject("Content").getJsonObject("Simple").getJsonArray("Headers"));
      assertTrue(request.getJsonArray("EmailTags").contains(new JsonObject().put("Name", "mailgate-recipient").put("Value", "7")),
          request.encode());

      Map<String, JsonObject> rs = recipientsByEmail(api, t, id);
      assertEquals(byAddress.get("ses-single-7@example.com").messageId(), rs.get("ses-single-7@example.com").getString("messageId"));
      JsonObject rejected = rs.get("ses-single-2@example.com");
      assertEquals("failed", rejected.getString("state"));
      assertEquals(400, rejected.getInteger("lastCode"));
      assertTrue(rejected.getString("lastMessage").contains("MessageRejected"), rejected.encode());
      assertNotNull(rs.get("ses-single-3@example.com").getString("messageId"));
    }
  }

  @Test
  void refusesInvalidSettingsAndNeverReturnsTheSecret() {
    JsonObject good = new JsonObject().put("accessKeyId", KEY_ID).put("secretAccessKey", "secret-value-123")
        .put("awsRegion", REGION);
    Api.Response tooMany = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "ses-bad1")
        .put("type", "ses").put("region", "eu").put("settings", good.copy().put("maxEntriesPerCall", 51)));
    assertEquals(400, tooMany.status());
    assertEquals("settings.maxEntriesPerCall", tooMany.json().getJsonObject("error").getString("field"));

    Api.Response region = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "ses-bad2")
        .put("type", "ses").put("region", "eu").put("settings", good.copy().put("awsRegion", "Europe")));
    assertEquals(400, region.status());
    assertEquals("settings.awsRegion", region.json().getJsonObject("error").getString("field"));

    JsonObject noSecret = good.copy();
    noSecret.remove("secretAccessKey");
    Api.Response missing = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "ses-bad3")
        .put("type", "ses").put("region", "eu").put("settings", noSecret));
    assertEquals(400, missing.status());
    assertEquals("settings.secretAccessKey", missing.json().getJsonObject("error").getString("field"));

    Api.Response unknown = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "ses-bad4")
        .put("type", "ses").put("region", "eu").put("settings", good.copy().put("region", "eu-west-1")));
    assertEquals(400, unknown.status());
    assertEquals("settings.region", unknown.json().getJsonObject("error").getString("field"));

    Api.Response ok = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "ses-good")
        .put("type", "ses").put("region", "eu").put("settings", good));
    assertEquals(201, ok.status(), ok.text());
    assertFalse(ok.text().contains("secret-value-123"));
    assertEquals(new JsonArray().add("secretAccessKey"), ok.json().getJsonArray("secretSettings"));
    assertEquals(KEY_ID, ok.json().getJsonObject("settings").getString("accessKeyId"));
  }
}

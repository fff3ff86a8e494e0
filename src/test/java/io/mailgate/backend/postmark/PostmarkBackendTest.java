package io.mailgate.backend.postmark;

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
import io.mailgate.support.sim.PostmarkSimulator;
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
 * The {@code postmark} backend end to end: jobs through {@code POST /v1/jobs}, sent to a Postmark simulator in
 * batches, each recipient's outcome read back through the API.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class PostmarkBackendTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(90);
  private static final String TOKEN = "pm-server-token-0123456789";

  static TestGateway gw;
  static Api api;

  @BeforeAll
  static void start() {
    // chunks of 500 recipients, so one chunk is one full Postmark batch
    gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_CHUNK_SIZE", "500"));
    api = gw.api;
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
  }

  private static JsonObject settings(PostmarkSimulator pm, String token) {
    return new JsonObject().put("serverToken", token).put("baseUrl", pm.baseUrl()).put("messageStream", "broadcast")
        .put("requestTimeout", "10s");
  }

  private static TenantKey tenantOnPostmark(String name, JsonObject settings) {
    api.createBackend(name + "-pm", "postmark", "eu", settings);
    TenantKey t = api.createTenant(name, "eu");
    api.route(t, name + "-pm");
    return t;
  }

  /** A job whose subject, text and html use the recipient's vars, with headers, tags and a Reply-To. */
  private static JsonObject personalisedJob(List<String> to) {
    JsonArray rs = new JsonArray();
    for (int i = 0; i < to.size(); i++) {
      rs.add(new JsonObject().put("email", to.get(i))
          .put("vars", new JsonObject().put("name", i == 7 ? "<b>Ann & Bob</b>" : "User " + i).put("code", "C" + i)));
    }
    return new JsonObject()
        .put("from", "Acme News <news@acme.example>")
        .put("replyTo", "help@acme.example")
        .put("subject", "Hello {{name}}")
        .put("text", "Dear {{name}},\nyour code is {{code}}.\n")
        .put("html", "<p>Dear {{name}}, your code is <b>{{code}}</b>.</p>")
        .put("headers", new JsonObject().put("X-Campaign", "spring"))
        .put("tags", new JsonArray().add("spring").add("eu"))
        .put("recipients", rs);
  }

  private static Map<String, Integer> callsPerAddress(PostmarkSimulator pm) {
    Map<String, Integer> out = new HashMap<>();
    pm.calls().stream().filter(c -> c.messages() != null)
        .forEach(c -> c.messages().forEach(m -> out.merge(((JsonObject) m).getString("To"), 1, Integer::sum)));
    return out;
  }

  @Test
  void everyMessageOfABatchCarriesTheJobsAttachmentsAndInlineImageWithNameTypeContentAndContentId() {
    try (PostmarkSimulator pm = PostmarkSimulator.start(TOKEN)) {
      TenantKey t = tenantOnPostmark("pm-files", settings(pm, TOKEN));
      JsonObject job = personalisedJob(List.of("pm-files-ann@example.com", "pm-files-bob@example.com"))
          .put("html", io.mailgate.support.TestAttachments.HTML)
          .put("attachments", io.mailgate.support.TestAttachments.json());
      String id = submit(api, t, job);
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(2, done.getJsonObject("counts").getInteger("sent"));

      assertEquals(2, pm.accepted().size());
      for (PostmarkSimulator.Accepted a : pm.accepted()) {
        JsonArray files = a.message().getJsonArray("Attachments");
        assertEquals(3, files.size(), a.message().getString("To"));
        JsonObject report = files.getJsonObject(0);
        assertEquals("report.pdf", report.getString("Name"));
        assertEquals("application/pdf", report.getString("ContentType"));
        assertNull(report.getString("ContentID"), "an attachment has no Content-ID");
        assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.REPORT,
            java.util.Base64.getDecoder().decode(report.getString("Content"))), "the report's bytes");
        JsonObject notes = files.getJsonObject(1);
        assertEquals(io.mailgate.support.TestAttachments.NOTES_NAME, notes.getString("Name"));
        assertEquals("text/plain; charset=utf-8", notes.getString("ContentType"));
        assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.NOTES,
            java.util.Base64.getDecoder().decode(notes.getString("Content"))), "the notes' bytes");
        JsonObject logo = files.getJsonObject(2);
        assertEquals("logo.png", logo.getString("Name"));
        assertEquals("cid:logo.png", logo.getString("ContentID"));
        assertEquals("image/png", logo.getString("ContentType"));
        assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.LOGO,
            java.util.Base64.getDecoder().decode(logo.getString("Content"))), "the logo's bytes");
        assertTrue(a.message().getString("HtmlBody").contains("cid:logo.png"));
      }
    }
  }

  @Test
  void idnDomainsGoAsALabelsAndAUtf8LocalPartFailsForGoodWithoutBeingSent() {
    try (PostmarkSimulator pm = PostmarkSimulator.start(TOKEN)) {
      TenantKey t = tenantOnPostmark("pm-intl", settings(pm, TOKEN));
      JsonObject job = TestJobs.job("Hallo\n", List.of("pm-ann@bücher.example", "pm-jürgen@example.com", "pm-bob@example.com"))
          .put("from", "Bücher <news@bücher.example>");
      String id = submit(api, t, job);
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(2, done.getJsonObject("counts").getInteger("sent"), done.encode());
      assertEquals(1, done.getJsonObject("counts").getInteger("failed"), done.encode());

      Map<String, Integer> calls = callsPerAddress(pm);
      assertEquals(Map.of("pm-ann@xn--bcher-kva.example", 1, "pm-bob@example.com", 1), calls,
          "only ASCII addresses reach Postmark, an IDN domain as A-labels");
      pm.calls().forEach(c -> c.messages().forEach(m ->
          assertTrue(((JsonObject) m).getString("From").endsWith("<news@xn--bcher-kva.example>"), ((JsonObject) m).encode())));
      JsonObject failed = recipientsByEmail(api, t, id).get("pm-jürgen@example.com");
      assertEquals("failed", failed.getString("state"));
      assertEquals(553, failed.getInteger("lastCode"));
      assertEquals("5.6.7 not sent: the address has a UTF-8 local part and needs SMTPUTF8 (RFC 6531), Postmark takes"
          + " ASCII addresses only", failed.getString("lastMessage"));
    }
  }

  @Test
  void aSenderWithAUtf8LocalPartFailsEveryRecipientWithoutACall() {
    try (PostmarkSimulator pm = PostmarkSimulator.start(TOKEN)) {
      TenantKey t = tenantOnPostmark("pm-utf8-from", settings(pm, TOKEN));
      String id = submit(api, t, TestJobs.job("x", List.of("pm-a@example.com", "pm-b@example.com")).put("from", "nachrichten-ä@acme.example"));
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(2, done.getJsonObject("counts").getInteger("failed"), done.encode());
      assertTrue(pm.calls().isEmpty(), "nothing sent");
      String why = recipientsByEmail(api, t, id).get("pm-a@example.com").getString("lastMessage");
      assertTrue(why.startsWith("5.6.7 not sent: the sender address has a UTF-8 local part"), why);
    }
  }

  @Test
  void sendsTwelveHundredRecipientsInBatchesOf500And500And200EachSentWithItsMessageId() {
    try (PostmarkSimulator pm = PostmarkSimulator.start(TOKEN)) {
      TenantKey t = tenantOnPostmark("pm-bulk", settings(pm, TOKEN));
      List<String> to = emails("pm-bulk-", 1200);
      String id = submit(api, t, personalisedJob(to));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(1200, done.getJsonObject("counts").getInteger("sent"));

      List<Integer> sizes = new ArrayList<>(pm.calls().stream().map(c -> c.messages().size()).toList());
      sizes.sort(null);
      assertEquals(List.of(200, 500, 500), sizes, "one call per chunk, at most 500 messages each");
      for (PostmarkSimulator.Call c : pm.calls()) {
        assertEquals(200, c.status());
        assertEquals(TOKEN, c.headers().get("x-postmark-server-token"));
        assertEquals("application/json", c.headers().get("accept"));
        assertEquals("application/json", c.headers().get("content-type"));
      }

      Map<String, String> idByAddress = new HashMap<>();
      Map<String, JsonObject> messageByAddress = new HashMap<>();
      pm.accepted().forEach(a -> {
        assertNull(idByAddress.put(a.message().getString("To"), a.messageId()), "a second message to " + a.message().getString("To"));
        messageByAddress.put(a.message().getString("To"), a.message());
      });
      assertEquals(1200, idByAddress.size());

      Map<String, JsonObject> recipients = recipientsByEmail(api, t, id);
      for (String address : to) {
        JsonObject r = recipients.get(address);
        assertEquals("sent", r.getString("state"), r.encode());
        assertEquals(idByAddress.get(address), r.getString("messageId"), "the MessageID Postmark answered");
        assertEquals(1, r.getInteger("attempts"));
      }

      JsonObject m3 = messageByAddress.get("pm-bulk-3@example.com");
      assertEquals("Acme News <news@acme.example>", m3.getString("From"));
      assertEquals("help@acme.example", m3.getString("ReplyTo"));
      assertEquals("Hello User 3", m3.getString("Subject"));
      assertEquals("Dear User 3,\r\nyour code is C3.\r\n", m3.getString("TextBody"));
      assertEquals("<p>Dear User 3, your code is <b>C3</b>.</p>", m3.getString("HtmlBody"));
      assertEquals(new JsonArray().add(new JsonObject().put("Name", "X-Campaign").put("Value", "spring")), m3.getJsonArray("Headers"));
      assertEquals("spring", m3.getString("Tag"), "Postmark takes one tag: the job's first");
      assertEquals("broadcast", m3.getString("MessageStream"));
      assertEquals(new JsonObject().put("mailgate-job", id).put("mailgate-recipient", "3"), m3.getJsonObject("Metadata"));

      JsonObject m7 = messageByAddress.get("pm-bulk-7@example.com");
      assertEquals("Hello <b>Ann & Bob</b>", m7.getString("Subject"), "subject values are not escaped");
      assertEquals("Dear <b>Ann & Bob</b>,\r\nyour code is C7.\r\n", m7.getString("TextBody"));
      assertEquals("<p>Dear &lt;b&gt;Ann &amp; Bob&lt;/b&gt;, your code is <b>C7</b>.</p>", m7.getString("HtmlBody"),
          "html values are escaped");
    }
  }

  @Test
  void failsRecipientsPostmarkRefusesAndSendsTheRestOnce() {
    String inactive = "pm-partial-inactive@example.com";
    String invalid = "pm-partial-invalid@example.com";
    try (PostmarkSimulator pm = PostmarkSimulator.start(TOKEN)) {
      pm.failAddress(inactive, 406, "You tried to send to a recipient that has been marked as inactive.")
          .failAddress(invalid, 300, "Invalid 'To' address.");
      TenantKey t = tenantOnPostmark("pm-partial", settings(pm, TOKEN));
      List<String> to = new ArrayList<>(emails("pm-partial-", 20));
      to.add(5, inactive);
      to.add(12, invalid);
      String id = submit(api, t, TestJobs.job("Hello", to));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(20, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(2, done.getJsonObject("counts").getInteger("failed"));

      Map<String, JsonObject> recipients = recipientsByEmail(api, t, id);
      JsonObject r406 = recipients.get(inactive);
      assertEquals("failed", r406.getString("state"));
      assertEquals(406, r406.getInteger("lastCode"));
      assertTrue(r406.getString("lastMessage").contains("marked as inactive"), r406.encode());
      assertEquals(1, r406.getInteger("attempts"), "a recipient-level refusal is not retried");
      JsonObject r300 = recipients.get(invalid);
      assertEquals("failed", r300.getString("state"));
      assertEquals(300, r300.getInteger("lastCode"));
      assertTrue(r300.getString("lastMessage").contains("Invalid 'To' address"), r300.encode());

      assertEquals(1, pm.calls().size(), "one batch, never repeated");
      Map<String, Integer> accepted = pm.acceptedPerAddress();
      assertFalse(accepted.containsKey(inactive));
      assertFalse(accepted.containsKey(invalid));
      for (String a : emails("pm-partial-", 20)) {
        assertEquals(1, accepted.get(a), a);
        assertEquals("sent", recipients.get(a).getString("state"));
        assertNotNull(recipients.get(a).getString("messageId"));
      }
    }
  }

  @Test
  void defersTheBatchOn429HonouringRetryAfterAndSendsItExactlyOnceLater() {
    try (PostmarkSimulator pm = PostmarkSimulator.start(TOKEN)) {
      pm.throttleNext(1, 2);
      TenantKey t = tenantOnPostmark("pm-429", settings(pm, TOKEN));
      List<String> to = emails("pm-429-", 30);
      String id = submit(api, t, to);

      JsonObject deferred = Polling.await("the throttled batch deferred", () -> recipientsByEmail(api, t, id).get(to.get(0)),
          r -> r.getInteger("attempts") >= 1 && r.getInteger("lastCode") != null, TIMEOUT);
      assertEquals(429, deferred.getInteger("lastCode"));
      assertEquals("deferred", deferred.getString("state"));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(30, done.getJsonObject("counts").getInteger("sent"));
      List<PostmarkSimulator.Call> calls = pm.calls();
      assertEquals(429, calls.get(0).status());
      assertEquals(30, calls.get(0).messages().size());
      assertTrue(calls.subList(1, calls.size()).stream().allMatch(c -> c.status() == 200));
      long gapMs = (calls.get(1).receivedAtNanos() - calls.get(0).receivedAtNanos()) / 1_000_000;
      assertTrue(gapMs >= 1900, "Retry-After: 2 honoured, retried after " + gapMs + " ms");
      to.forEach(a -> assertEquals(1, pm.acceptedPerAddress().get(a), a));
      recipientsByEmail(api, t, id).values().forEach(r -> {
        assertEquals("sent", r.getString("state"));
        assertEquals(2, r.getInteger("attempts"));
      });
    }
  }

  @Test
  void defersEveryRecipientWhileTheTokenIsRefusedNeverFailsThemAndSendsOnceItIsFixed() {
    try (PostmarkSimulator pm = PostmarkSimulator.start(TOKEN)) {
      String backendId = api.createBackend("pm-401-pm", "postmark", "eu", settings(pm, "wrong-token"));
      TenantKey t = api.createTenant("pm-401", "eu");
      api.route(t, "pm-401-pm");
      List<String> to = emails("pm-401-", 10);
      String id = submit(api, t, to);

      // more attempts than MAILGATE_RETRY_MAX_ATTEMPTS (5): a refused token never fails a recipient
      Polling.await("recipients retried past the attempt limit", () -> recipientsByEmail(api, t, id).values(),
          rs -> rs.stream().allMatch(r -> r.getInteger("attempts") >= 7), TIMEOUT);
      recipientsByEmail(api, t, id).values().forEach(r -> {
        assertTrue(r.getString("state").equals("deferred") || r.getString("state").equals("sending"), r.encode());
        assertEquals(401, r.getInteger("lastCode"));
        assertFalse(r.getString("lastMessage").contains("wrong-token"), "the token never appears in a message");
      });
      assertEquals(0, api.job(t, id).getJsonObject("counts").getInteger("failed"));
      assertTrue(pm.calls().stream().allMatch(c -> c.status() == 401));
      assertTrue(pm.accepted().isEmpty());

      Api.Response patched = api.send("PATCH", "/v1/admin/backends/" + backendId, TestGateway.ADMIN_TOKEN,
          "application/json", HttpRequest.BodyPublishers.ofString(
              new JsonObject().put("settings", settings(pm, TOKEN)).encode()), Map.of());
      Api.expect(patched, 200);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(10, done.getJsonObject("counts").getInteger("sent"));
      to.forEach(a -> assertEquals(1, pm.acceptedPerAddress().get(a), a));
    }
  }

  @Test
  void defersOnServerErrorsAndAccountLevelRefusalsThenSendsOnce() {
    try (PostmarkSimulator pm = PostmarkSimulator.start(TOKEN)) {
      pm.failNext(1, 500).rejectNext(1, 405, "Not allowed to send: your account has run out of credits.");
      TenantKey t = tenantOnPostmark("pm-5xx", settings(pm, TOKEN));
      List<String> to = emails("pm-5xx-", 8);
      String id = submit(api, t, to);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(8, done.getJsonObject("counts").getInteger("sent"));
      // retries spread by jitter may go out in more than one call
      List<PostmarkSimulator.Call> calls = pm.calls();
      assertEquals(500, calls.get(0).status());
      assertEquals(8, calls.get(0).messages().size());
      assertEquals(422, calls.get(1).status());
      assertTrue(calls.subList(2, calls.size()).stream().allMatch(c -> c.status() == 200));
      to.forEach(a -> assertEquals(1, pm.acceptedPerAddress().get(a), a));
      recipientsByEmail(api, t, id).values().forEach(r -> {
        assertEquals("sent", r.getString("state"));
        assertTrue(r.getInteger("attempts") >= 2, r.encode());
      });
    }
  }

  @Test
  void failsEveryRecipientWhenPostmarkRefusesTheWholeRequestForTheMessage() {
    try (PostmarkSimulator pm = PostmarkSimulator.start(TOKEN)) {
      pm.rejectNext(1, 300, "Invalid 'From' address: not a verified sender signature.");
      TenantKey t = tenantOnPostmark("pm-422", settings(pm, TOKEN));
      String id = submit(api, t, emails("pm-422-", 4));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(4, done.getJsonObject("counts").getInteger("failed"));
      recipientsByEmail(api, t, id).values().forEach(r -> {
        assertEquals(300, r.getInteger("lastCode"));
        assertTrue(r.getString("lastMessage").contains("not a verified sender signature"), r.encode());
      });
      assertEquals(1, pm.calls().size());
    }
  }

  @Test
  void splitsABatchIntoSeveralCallsWhenItWouldExceedMaxRequestSize() {
    try (PostmarkSimulator pm = PostmarkSimulator.start(TOKEN)) {
      TenantKey t = tenantOnPostmark("pm-size", settings(pm, TOKEN).put("maxRequestSize", "2kb"));
      List<String> to = emails("pm-size-", 12);
      String id = submit(api, t, TestJobs.job("x".repeat(400), to));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(12, done.getJsonObject("counts").getInteger("sent"));
      List<PostmarkSimulator.Call> calls = pm.calls();
      assertTrue(calls.size() >= 3, "about 700 bytes per message, at most 2 kB per call: " + calls.size() + " calls");
      for (PostmarkSimulator.Call c : calls) {
        assertTrue(Integer.parseInt(c.headers().get("content-length")) <= 2048, c.headers().toString());
      }
      assertEquals(12, calls.stream().mapToInt(c -> c.messages().size()).sum());
      to.forEach(a -> assertEquals(1, pm.acceptedPerAddress().get(a), a));
    }
  }

  @Test
  void refusesInvalidSettingsAndNeverReturnsTheToken() {
    Api.Response unknown = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "pm-bad1")
        .put("type", "postmark").put("region", "eu").put("settings", new JsonObject().put("serverToken", "x").put("apiKey", "y")));
    assertEquals(400, unknown.status());
    assertEquals("invalid_setting", unknown.errorCode());
    assertEquals("settings.apiKey", unknown.json().getJsonObject("error").getString("field"));

    Api.Response tooMany = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "pm-bad2")
        .put("type", "postmark").put("region", "eu").put("settings", new JsonObject().put("serverToken", "x").put("maxMessagesPerCall", 501)));
    assertEquals(400, tooMany.status());
    assertEquals("settings.maxMessagesPerCall", tooMany.json().getJsonObject("error").getString("field"));

    Api.Response noToken = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "pm-bad3")
        .put("type", "postmark").put("region", "eu").put("settings", new JsonObject().put("baseUrl", "https://api.postmarkapp.com")));
    assertEquals(400, noToken.status());
    assertEquals("settings.serverToken", noToken.json().getJsonObject("error").getString("field"));

    Api.Response badUrl = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "pm-bad4")
        .put("type", "postmark").put("region", "eu").put("settings", new JsonObject().put("serverToken", "x").put("baseUrl", "ftp://x")));
    assertEquals(400, badUrl.status());
    assertEquals("settings.baseUrl", badUrl.json().getJsonObject("error").getString("field"));

    // Postmark's own API processes mail in the US: declared 'eu' it is refused, declared 'us' it is accepted
    Api.Response eu = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "pm-eu")
        .put("type", "postmark").put("region", "eu").put("settings", new JsonObject().put("serverToken", "secret-token-value")));
    assertEquals(422, eu.status(), eu.text());
    assertEquals("region_mismatch", eu.errorCode());
    assertFalse(eu.text().contains("secret-token-value"));
    Api.Response ok = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "pm-good")
        .put("type", "postmark").put("region", "us").put("settings", new JsonObject().put("serverToken", "secret-token-value")));
    assertEquals(201, ok.status(), ok.text());
    assertFalse(ok.text().contains("secret-token-value"));
    assertEquals(new JsonArray().add("serverToken"), ok.json().getJsonArray("secretSettings"));
    assertFalse(api.get("/v1/admin/backends/" + ok.json().getString("id"), TestGateway.ADMIN_TOKEN).text().contains("secret-token-value"));
  }
}

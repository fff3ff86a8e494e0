package io.mailgate.backend.mailgun;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static io.mailgate.support.TestJobs.emails;
import static io.mailgate.support.TestJobs.recipient;
import static io.mailgate.support.TestJobs.recipientsByEmail;
import static io.mailgate.support.TestJobs.submit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.error.InvalidInputException;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.mailgate.support.sim.MailgunSimulator;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@code mailgun} backend through the real API against {@link MailgunSimulator}: batch calls of up to 1,000
 * recipients with recipient variables, the request's exact shape, and what each answer makes of the recipients.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class MailgunBackendTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final String DOMAIN = "mg.acme.example";
  private static final String KEY = "key-0123456789abcdef";

  static TestGateway gw;
  static Api api;

  @BeforeAll
  static void start() {
    // chunks of 1,000 so one chunk fills one Mailgun call; retries 0.5-2 s apart so 'deferred' is seen
    gw = TestGateway.start(TestDatabase.fresh(), Map.of(
        "MAILGATE_CHUNK_SIZE", "1000",
        "MAILGATE_RETRY_BASE_DELAY", "1s",
        "MAILGATE_RETRY_MAX_DELAY", "2s",
        "MAILGATE_RETRY_MAX_ATTEMPTS", "3",
        "MAILGATE_CIRCUIT_OPEN_TIME", "200ms"));
    api = gw.api;
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
  }

  private static TenantKey tenantOn(String name, MailgunSimulator sim, JsonObject extra) {
    JsonObject settings = new JsonObject().put("apiKey", KEY).put("domain", DOMAIN).put("region", "eu")
        .put("baseUrl", sim.baseUrl());
    if (extra != null) {
      settings.mergeIn(extra);
    }
    api.createBackend(name + "-mailgun", "mailgun", "eu", settings);
    TenantKey t = api.createTenant(name, "eu");
    api.route(t, name + "-mailgun");
    return t;
  }

  private static JsonObject personalisedJob(List<JsonObject> recipients) {
    return new JsonObject()
        .put("from", "Acme News <news@acme.example>")
        .put("replyTo", "help@acme.example")
        .put("subject", "Hello {{name}}")
        .put("text", "Hi {{name}},\nyour code is {{code}}.")
        .put("html", "<p>Hi {{name}} {{{badge}}}</p>")
        .put("headers", new JsonObject().put("X-Campaign", "spring"))
        .put("tags", new JsonArray().add("spring").add("news").add("promo").add("fourth"))
        .put("recipients", new JsonArray(recipients));
  }

  private static JsonObject rcpt(String email, JsonObject vars) {
    return new JsonObject().put("email", email).put("vars", vars);
  }

  @Test
  void sendsTwentyFiveHundredRecipientsInCallsOf1000And1000And500RecordingMailgunsIdForEach() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      TenantKey t = tenantOn("bulk", sim, null);
      List<String> to = emails("bulk-", 2500);
      String id = submit(api, t, to);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(2500, done.getJsonObject("counts").getInteger("sent"));

      List<Integer> sizes = new ArrayList<>(sim.requests().stream().map(r -> r.to().size()).sorted().toList());
      assertEquals(List.of(500, 1000, 1000), sizes, "three calls: 1,000 + 1,000 + 500 recipients");
      assertEquals(2500, sim.receivedRecipients());
      Map<String, String> idByAddress = new HashMap<>();
      sim.acceptedRequests().forEach(r -> r.to().forEach(a -> idByAddress.put(a, r.messageId())));
      recipientsByEmail(api, t, id).forEach((email, r) -> {
        assertEquals("sent", r.getString("state"), email);
        assertEquals(200, r.getInteger("lastCode"), email);
        assertNotNull(r.getString("messageId"), email);
        assertEquals(idByAddress.get(email), r.getString("messageId"), "Mailgun's id of the call that carried " + email);
      });
      sim.acceptedPerAddress().values().forEach(n -> assertEquals(1, n, "each address in exactly one accepted call"));
    }
  }

  @Test
  void aJobsAttachmentsAndInlineImageGoAsMailgunFilePartsWithTheirNamesTypesAndBytesInOneBatchCall() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      TenantKey t = tenantOn("files", sim, null);
      JsonObject job = personalisedJob(List.of(
          rcpt("files-ann@example.com", new JsonObject().put("name", "Ann")),
          rcpt("files-bob@example.com", new JsonObject().put("name", "Bob"))))
          .put("html", io.mailgate.support.TestAttachments.HTML)
          .put("attachments", io.mailgate.support.TestAttachments.json());
      String id = submit(api, t, job);
      api.awaitState(t, id, "completed", TIMEOUT);

      assertEquals(1, sim.calls(), "two recipients with files: still one batch call");
      MailgunSimulator.Request r = sim.requests().get(0);
      assertEquals(List.of("files-ann@example.com", "files-bob@example.com"), r.to());
      assertEquals("Hi %recipient.name%,\r\nyour code is %recipient.code%.", r.first("text"), "the form's fields as before");
      List<MailgunSimulator.FilePart> files = r.files("attachment");
      assertEquals(2, files.size(), "two attachment parts");
      assertEquals("report.pdf", files.get(0).filename());
      assertEquals("application/pdf", files.get(0).contentType());
      assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.REPORT, files.get(0).data()), "the report's bytes");
      assertEquals(io.mailgate.support.TestAttachments.NOTES_NAME, files.get(1).filename());
      assertEquals("text/plain", files.get(1).contentType());
      assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.NOTES, files.get(1).data()), "the notes' bytes");
      List<MailgunSimulator.FilePart> inline = r.files("inline");
      assertEquals(1, inline.size(), "one inline part");
      assertEquals("logo.png", inline.get(0).filename(), "named by its Content-ID, which Mailgun makes of the file name");
      assertEquals("image/png", inline.get(0).contentType());
      assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.LOGO, inline.get(0).data()), "the logo's bytes");
      assertTrue(r.first("html").contains("cid:logo.png"), r.first("html"));
    }
  }

  @Test
  void batchCallCarriesPlaceholdersRecipientVariablesTagsHeadersAndVariables() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      TenantKey t = tenantOn("shape", sim, null);
      String id = submit(api, t, personalisedJob(List.of(
          rcpt("ann@example.com", new JsonObject().put("name", "Ann & <Co>").put("code", "A1").put("badge", "<b>VIP</b>")),
          rcpt("bob@example.com", new JsonObject().put("name", "Bob").put("code", "B2")),
          rcpt("carl@example.com", new JsonObject().put("name", "Carl\nJr").put("code", "C3")))));
      api.awaitState(t, id, "completed", TIMEOUT);

      assertEquals(1, sim.calls(), "three recipients, one batch call");
      MailgunSimulator.Request r = sim.requests().get(0);
      assertEquals("Basic " + Base64.getEncoder().encodeToString(("api:" + KEY).getBytes(StandardCharsets.UTF_8)),
          r.authorization());
      assertEquals("Acme News <news@acme.example>", r.first("from"));
      assertEquals(List.of("ann@example.com", "bob@example.com", "carl@example.com"), r.to());
      assertEquals("Hello %recipient.name_subject%", r.first("subject"));
      assertEquals("Hi %recipient.name%,\r\nyour code is %recipient.code%.", r.first("text"));
      assertEquals("<p>Hi %recipient.name_html% %recipient.badge%</p>", r.first("html"));
      assertEquals(List.of("spring", "news", "promo"), r.all("o:tag"), "Mailgun keeps 3 tags per message");
      assertEquals("spring", r.first("h:X-Campaign"));
      assertEquals("help@acme.example", r.first("h:Reply-To"));
      assertEquals(id, r.first("v:mailgate-job"));
      assertEquals("%recipient.mailgate_seq%", r.first("v:mailgate-recipient"));

      Map<String, JsonObject> rs = recipientsByEmail(api, t, id);
      JsonObject vars = r.recipientVariables();
      assertEquals(Set.of("ann@example.com", "bob@example.com", "carl@example.com"), vars.fieldNames());
      assertEquals(new JsonObject()
          .put("name_subject", "Ann & <Co>").put("name", "Ann & <Co>").put("code", "A1")
          .put("name_html", "Ann &amp; &lt;Co&gt;").put("badge", "<b>VIP</b>")
          .put("mailgate_seq", rs.get("ann@example.com").getInteger("seq").toString()), vars.getJsonObject("ann@example.com"));
      assertEquals("", vars.getJsonObject("bob@example.com").getString("badge"), "a missing var is empty");
      assertEquals("Carl Jr", vars.getJsonObject("carl@example.com").getString("name_subject"), "subject values are one line");
      assertEquals("Carl\r\nJr", vars.getJsonObject("carl@example.com").getString("name"));

      // what each recipient gets once Mailgun substitutes
      assertEquals("Hello Ann & <Co>", r.personalised("subject", "ann@example.com"));
      assertEquals("<p>Hi Ann &amp; &lt;Co&gt; <b>VIP</b></p>", r.personalised("html", "ann@example.com"));
      assertEquals("Hi Bob,\r\nyour code is B2.", r.personalised("text", "bob@example.com"));
      assertEquals("<p>Hi Bob </p>", r.personalised("html", "bob@example.com"));
      rs.forEach((email, rec) -> assertEquals(rec.getInteger("seq").toString(), r.personalised("v:mailgate-recipient", email)));
    }
  }

  @Test
  void throttledCallIsDeferredWithRetryAfterThenSentAndEachRecipientAcceptedOnce() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      sim.throttleNext(1, 1);
      TenantKey t = tenantOn("throttle", sim, null);
      List<String> to = emails("throttle-", 5);
      String id = submit(api, t, to);

      JsonObject deferred = Polling.await("recipient deferred after 429", () -> recipient(api, t, id, to.get(0)),
          r -> "deferred".equals(r.getString("state")), TIMEOUT);
      assertEquals(429, deferred.getInteger("lastCode"));
      assertNotNull(deferred.getString("nextAttemptAt"));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(5, done.getJsonObject("counts").getInteger("sent"));
      recipientsByEmail(api, t, id).forEach((email, r) -> {
        assertEquals("sent", r.getString("state"), email);
        assertEquals(2, r.getInteger("attempts"), email);
      });
      assertEquals(429, sim.requests().get(0).status());
      assertFalse(Duration.between(sim.requests().get(0).receivedAt(), sim.requests().get(1).receivedAt())
          .minusSeconds(1).isNegative(), "the retry waited the Retry-After second");
      Map<String, Integer> accepted = sim.acceptedPerAddress();
      assertEquals(5, accepted.size());
      accepted.forEach((a, n) -> assertEquals(1, n, a + " accepted exactly once"));
    }
  }

  @ParameterizedTest(name = "Retry-After: {0}")
  @ValueSource(strings = {"1", "none"})
  void throttledCallStopsTheRestOfTheChunkFromCallingUntilTheRetry(String retryAfter) {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      sim.answerNext(1, 429, "{\"message\":\"Too many requests\"}",
          retryAfter.equals("none") ? Map.of() : Map.of("Retry-After", retryAfter));
      TenantKey t = tenantOn("throttlehalt" + retryAfter, sim,
          new JsonObject().put("maxRecipientsPerCall", 2).put("maxConcurrentCalls", 1));
      String id = submit(api, t, emails("throttlehalt" + retryAfter + "-", 6));
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(6, done.getJsonObject("counts").getInteger("sent"));
      // the first call got 429; the chunk's other two batches were deferred without a call; retries sent them all
      assertEquals(429, sim.requests().get(0).status());
      assertEquals(1, sim.requests().stream().filter(r -> r.status() == 429).count());
      recipientsByEmail(api, t, id).forEach((email, r) -> {
        assertEquals(2, r.getInteger("attempts"), email + " was deferred at the first attempt");
        assertEquals(1, sim.acceptedPerAddress().get(email), email);
      });
    }
  }

  @Test
  void dottedAndClashingVariableNamesGetDistinctKeys() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      TenantKey t = tenantOn("keys", sim, null);
      JsonObject job = new JsonObject()
          .put("from", "news@acme.example")
          .put("subject", "News")
          .put("text", "{{user.first}} / {{user_first}} / {{mailgate_seq}}")
          .put("recipients", new JsonArray().add(rcpt("ann@example.com", new JsonObject()
              .put("user", new JsonObject().put("first", "Ann")).put("user_first", "flat").put("mailgate_seq", "mine"))));
      String id = submit(api, t, job);
      api.awaitState(t, id, "completed", TIMEOUT);
      MailgunSimulator.Request r = sim.requests().get(0);
      assertEquals("%recipient.user_first% / %recipient.user_first_2% / %recipient.mailgate_seq_2%", r.first("text"));
      assertEquals("Ann / flat / mine", r.personalised("text", "ann@example.com"));
      assertEquals("0", r.personalised("v:mailgate-recipient", "ann@example.com"));
    }
  }

  @Test
  void serverErrorDefersTheCallsRecipientsAndTheRetrySendsThem() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      sim.answerNext(1, 500, "{\"message\":\"Internal Server Error\"}", Map.of());
      TenantKey t = tenantOn("fivehundred", sim, null);
      List<String> to = emails("fivehundred-", 4);
      String id = submit(api, t, to);

      JsonObject deferred = Polling.await("recipient deferred after 500", () -> recipient(api, t, id, to.get(0)),
          r -> "deferred".equals(r.getString("state")), TIMEOUT);
      assertEquals(500, deferred.getInteger("lastCode"));
      assertTrue(deferred.getString("lastMessage").contains("Internal Server Error"), deferred.encode());

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(4, done.getJsonObject("counts").getInteger("sent"));
      recipientsByEmail(api, t, id).forEach((email, r) -> assertEquals(2, r.getInteger("attempts"), email));
      sim.acceptedPerAddress().forEach((a, n) -> assertEquals(1, n, a));
      assertEquals(4, sim.acceptedPerAddress().size());
    }
  }

  @Test
  void badRequestFailsTheCallsRecipientsWithMailgunsMessage() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      sim.answerNext(1, 400, "{\"message\":\"'from' parameter is not a valid address. please check documentation\"}", Map.of());
      TenantKey t = tenantOn("badrequest", sim, null);
      String id = submit(api, t, emails("badrequest-", 3));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(3, done.getJsonObject("counts").getInteger("failed"));
      recipientsByEmail(api, t, id).forEach((email, r) -> {
        assertEquals("failed", r.getString("state"), email);
        assertEquals(400, r.getInteger("lastCode"));
        assertTrue(r.getString("lastMessage").contains("'from' parameter is not a valid address"), r.encode());
        assertEquals(1, r.getInteger("attempts"));
      });
      assertEquals(1, sim.calls(), "a refused request is not tried again");
    }
  }

  @Test
  void refusedCredentialsDeferRecipientsAndNeverFailThem() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      TenantKey t = tenantOn("badkey", sim, new JsonObject().put("apiKey", "key-wrong"));
      List<String> to = emails("badkey-", 3);
      String id = submit(api, t, to);

      // retried past MAILGATE_RETRY_MAX_ATTEMPTS (3) and still deferred: a 401 never fails a recipient
      JsonObject r = Polling.await("recipient retried past the attempt limit", () -> recipient(api, t, id, to.get(0)),
          x -> x.getInteger("attempts") > 3 && !"sending".equals(x.getString("state")), TIMEOUT);
      assertEquals("deferred", r.getString("state"), r.encode());
      assertEquals(401, r.getInteger("lastCode"));
      recipientsByEmail(api, t, id).forEach((email, x) -> assertFalse("failed".equals(x.getString("state")), x.encode()));
      assertEquals(0, TestJobs.counts(api, t, id).getInteger("failed"));
      assertTrue(sim.acceptedRequests().isEmpty());
      assertTrue(sim.requests().stream().allMatch(x -> x.status() == 401));
      TestJobs.control(api, t, id, "cancel");
    }
  }

  @Test
  void templateWithSectionGoesOneCallPerRecipientRenderedByTheGateway() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      TenantKey t = tenantOn("section", sim, null);
      JsonObject job = new JsonObject()
          .put("from", "news@acme.example")
          .put("subject", "Hi {{name}}")
          .put("text", "{{#vip}}VIP {{/vip}}offer for {{name}}")
          .put("recipients", new JsonArray()
              .add(rcpt("v1@example.com", new JsonObject().put("name", "Vera").put("vip", true)))
              .add(rcpt("p1@example.com", new JsonObject().put("name", "Paul").put("vip", false)))
              .add(rcpt("p2@example.com", new JsonObject().put("name", "Pia"))));
      String id = submit(api, t, job);
      api.awaitState(t, id, "completed", TIMEOUT);

      assertEquals(3, sim.calls(), "one call per recipient");
      Map<String, JsonObject> rs = recipientsByEmail(api, t, id);
      Map<String, MailgunSimulator.Request> byTo = new HashMap<>();
      sim.requests().forEach(r -> {
        assertEquals(1, r.to().size());
        assertNull(r.first("recipient-variables"));
        byTo.put(r.to().get(0), r);
      });
      assertEquals("VIP offer for Vera", byTo.get("v1@example.com").first("text"));
      assertEquals("Hi Vera", byTo.get("v1@example.com").first("subject"));
      assertEquals("offer for Paul", byTo.get("p1@example.com").first("text"));
      assertEquals("offer for Pia", byTo.get("p2@example.com").first("text"));
      rs.forEach((email, r) -> {
        assertEquals("sent", r.getString("state"));
        assertEquals(r.getInteger("seq").toString(), byTo.get(email).first("v:mailgate-recipient"));
        assertEquals(byTo.get(email).messageId(), r.getString("messageId"));
      });
    }
  }

  @Test
  void literalTextThatMailgunWouldSubstituteIsRenderedByTheGateway() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      TenantKey t = tenantOn("literal", sim, null);
      JsonObject job = new JsonObject()
          .put("from", "news@acme.example")
          .put("subject", "Hi")
          .put("text", "Write %recipient.name% to greet, {{name}}")
          .put("recipients", new JsonArray()
              .add(rcpt("ann@example.com", new JsonObject().put("name", "Ann")))
              .add(rcpt("bob@example.com", new JsonObject().put("name", "Bob"))));
      String id = submit(api, t, job);
      api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(2, sim.calls(), "one call per recipient, without recipient variables");
      sim.requests().forEach(r -> {
        assertNull(r.first("recipient-variables"));
        String name = r.to().get(0).startsWith("ann") ? "Ann" : "Bob";
        assertEquals("Write %recipient.name% to greet, " + name, r.first("text"));
      });
    }
  }

  @Test
  void noAnswerWithinTheRequestTimeoutDefersAsPossibleDuplicate() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      sim.stallNext(1);
      TenantKey t = tenantOn("stall", sim, new JsonObject().put("requestTimeout", "500ms"));
      List<String> to = emails("stall-", 2);
      String id = submit(api, t, to);

      JsonObject deferred = Polling.await("recipient deferred after the request timeout",
          () -> recipient(api, t, id, to.get(0)), r -> "deferred".equals(r.getString("state")), TIMEOUT);
      assertTrue(deferred.getBoolean("possibleDuplicate"), deferred.encode());
      assertNull(deferred.getInteger("lastCode"));

      api.awaitState(t, id, "completed", TIMEOUT);
      recipientsByEmail(api, t, id).forEach((email, r) -> {
        assertEquals("sent", r.getString("state"));
        assertTrue(r.getBoolean("possibleDuplicate"), "the unanswered call may have been delivered: " + r.encode());
      });
    }
  }

  @Test
  void sameAddressTwiceGoesInSeparateCalls() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      TenantKey t = tenantOn("twice", sim, null);
      JsonObject job = personalisedJob(List.of(
          rcpt("dup@example.com", new JsonObject().put("name", "First")),
          rcpt("other@example.com", new JsonObject().put("name", "Other")),
          rcpt("DUP@example.com", new JsonObject().put("name", "Second"))));
      String id = submit(api, t, job);
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(3, done.getJsonObject("counts").getInteger("sent"));

      assertEquals(2, sim.calls(), "recipient variables are keyed by address: a repeated address starts a new call");
      assertEquals(List.of("dup@example.com", "other@example.com"), sim.requests().stream()
          .filter(r -> r.to().size() == 2).findFirst().orElseThrow().to());
      MailgunSimulator.Request second = sim.requests().stream().filter(r -> r.to().size() == 1).findFirst().orElseThrow();
      assertEquals("Hello Second", second.personalised("subject", "DUP@example.com"));
    }
  }

  @Test
  void callsInFlightStayWithinMaxConcurrentCallsAcrossChunks() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      sim.answerDelay(50);
      // two chunks of 1,000 run at once on this backend; 20 calls of 100 share its 2 call slots
      TenantKey t = tenantOn("slots", sim, new JsonObject().put("maxConcurrentCalls", 2).put("maxRecipientsPerCall", 100));
      String id = submit(api, t, emails("slots-", 2000));
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(2000, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(20, sim.calls());
      assertEquals(2, sim.maxConcurrentCalls(), "calls run in parallel, never more than maxConcurrentCalls");
    }
  }

  @Test
  void ratePerSecondCountsMessagesNotCalls() {
    try (MailgunSimulator sim = new MailgunSimulator(DOMAIN, KEY).start()) {
      TenantKey t = tenantOn("rate", sim, new JsonObject().put("ratePerSecond", 100).put("maxRecipientsPerCall", 100));
      String id = submit(api, t, emails("rate-", 300));
      api.awaitState(t, id, "completed", TIMEOUT);
      List<MailgunSimulator.Request> calls = sim.requests();
      assertEquals(3, calls.size());
      // 300 messages at 100 per second: the third call of 100 cannot start before two seconds of budget are spent
      Duration spread = Duration.between(calls.get(0).receivedAt(), calls.get(2).receivedAt());
      assertFalse(spread.minusMillis(1800).isNegative(), "three calls of 100 at 100 messages/s took " + spread);
    }
  }

  @Test
  void backendApiAnswerNamesSecretsButNeverShowsThem() {
    Api.Response r = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "mg-secrets")
        .put("type", "mailgun").put("region", "eu").put("settings", new JsonObject().put("apiKey", KEY)
            .put("domain", DOMAIN).put("region", "eu").put("webhookSigningKey", "whsec-0123")));
    Api.expect(r, 201);
    assertFalse(r.text().contains(KEY));
    assertFalse(r.text().contains("whsec-0123"));
    assertEquals(Set.of("apiKey", "webhookSigningKey"), Set.copyOf(r.json().getJsonArray("secretSettings").getList()));
    assertEquals(DOMAIN, r.json().getJsonObject("settings").getString("domain"));

    Api.Response bad = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "mg-bad")
        .put("type", "mailgun").put("region", "eu").put("settings", new JsonObject().put("apiKey", KEY)
            .put("domain", DOMAIN).put("region", "asia")));
    Api.expect(bad, 400);
    assertEquals("invalid_setting", bad.errorCode());
    assertEquals("settings.region", bad.json().getJsonObject("error").getString("field"));
  }

  // --- settings

  private static JsonObject minimal() {
    return new JsonObject().put("apiKey", KEY).put("domain", DOMAIN);
  }

  @Test
  void regionSelectsTheEuOrUsApiHost() {
    MailgunSettings eu = MailgunSettings.parse(minimal().put("region", "eu"));
    assertEquals("https://api.eu.mailgun.net", eu.baseUrl());
    assertEquals("https://api.eu.mailgun.net/v3/mg.acme.example/messages", eu.messagesUrl());
    MailgunSettings us = MailgunSettings.parse(minimal().put("region", "US"));
    assertEquals("us", us.region());
    assertEquals("https://api.mailgun.net/v3/mg.acme.example/messages", us.messagesUrl());
  }

  @Test
  void baseUrlOverridesTheRegionsHost() {
    MailgunSettings s = MailgunSettings.parse(minimal().put("region", "eu").put("baseUrl", "https://mailgun-proxy.internal/api/"));
    assertEquals("https://mailgun-proxy.internal/api/v3/mg.acme.example/messages", s.messagesUrl());
    assertEquals("http://127.0.0.1:8025/v3/mg.acme.example/messages",
        MailgunSettings.parse(minimal().put("region", "us").put("baseUrl", "http://127.0.0.1:8025")).messagesUrl());
  }

  @Test
  void limitsHaveDefaultsAndMailgunsMaximum() {
    MailgunSettings s = MailgunSettings.parse(minimal().put("region", "eu"));
    assertEquals(1000, s.limits().maxRecipientsPerCall());
    assertEquals(4, s.limits().maxConcurrentCalls());
    assertEquals(0, s.limits().ratePerSecond());
    assertEquals(Duration.ofSeconds(10), s.limits().connectTimeout());
    assertEquals(Duration.ofSeconds(60), s.limits().requestTimeout());
    assertEquals(250, MailgunSettings.parse(minimal().put("region", "eu").put("maxRecipientsPerCall", 250))
        .limits().maxRecipientsPerCall());
    assertRefused("maxRecipientsPerCall", minimal().put("region", "eu").put("maxRecipientsPerCall", 1001));
    assertRefused("maxConcurrentCalls", minimal().put("region", "eu").put("maxConcurrentCalls", 0));
    assertRefused("requestTimeout", minimal().put("region", "eu").put("requestTimeout", "soon"));
  }

  @Test
  void refusesMissingOrMalformedSettings() {
    assertRefused("region", minimal());
    assertRefused("region", minimal().put("region", "ap"));
    assertRefused("apiKey", minimal().put("region", "eu").put("apiKey", ""));
    assertRefused("domain", new JsonObject().put("apiKey", KEY).put("region", "eu"));
    assertRefused("domain", minimal().put("region", "eu").put("domain", "acme.example/../x"));
    assertRefused("baseUrl", minimal().put("region", "eu").put("baseUrl", "http://api.mailgun.net"));
    assertRefused("baseUrl", minimal().put("region", "eu").put("baseUrl", "https://h/x?y=1"));
    assertRefused("colour", minimal().put("region", "eu").put("colour", "blue"));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> MailgunSettings.parse(minimal().put("region", "eu").put("apiKey", "key with spaces")));
    assertFalse(e.getMessage().contains("key with spaces"), "an error never repeats a secret");
  }

  private static void assertRefused(String field, JsonObject settings) {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> MailgunSettings.parse(settings));
    assertEquals("settings." + field, e.field(), e.getMessage());
    assertEquals("invalid_setting", e.code());
  }
}

package io.mailgate.backend.sendgrid;

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
import io.mailgate.support.sim.SendGridSimulator;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The {@code sendgrid} backend through the real API against {@link SendGridSimulator}: requests of up to 1,000
 * personalizations with substitutions, the request's exact shape, and what each answer makes of the recipients.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SendGridBackendTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final String KEY = "SG.test-key.0123456789";

  static TestGateway gw;
  static Api api;

  @BeforeAll
  static void start() {
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

  private static TenantKey tenantOn(String name, SendGridSimulator sim, JsonObject extra) {
    JsonObject settings = new JsonObject().put("apiKey", KEY).put("region", "eu").put("baseUrl", sim.baseUrl());
    if (extra != null) {
      settings.mergeIn(extra);
    }
    api.createBackend(name + "-sendgrid", "sendgrid", "eu", settings);
    TenantKey t = api.createTenant(name, "eu");
    api.route(t, name + "-sendgrid");
    return t;
  }

  private static JsonObject rcpt(String email, JsonObject vars) {
    return new JsonObject().put("email", email).put("vars", vars);
  }

  @Test
  void sendsTwentyFiveHundredRecipientsInRequestsOf1000And1000And500RecordingXMessageIdForEach() {
    try (SendGridSimulator sim = new SendGridSimulator(KEY).start()) {
      TenantKey t = tenantOn("bulk", sim, null);
      String id = submit(api, t, emails("bulk-", 2500));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(2500, done.getJsonObject("counts").getInteger("sent"));

      List<Integer> sizes = new ArrayList<>(sim.requests().stream().map(r -> r.personalizations().size()).sorted().toList());
      assertEquals(List.of(500, 1000, 1000), sizes, "three requests: 1,000 + 1,000 + 500 personalizations");
      Map<String, String> idByAddress = new HashMap<>();
      sim.acceptedRequests().forEach(r -> r.to().forEach(a -> idByAddress.put(a, r.messageId())));
      recipientsByEmail(api, t, id).forEach((email, r) -> {
        assertEquals("sent", r.getString("state"), email);
        assertEquals(202, r.getInteger("lastCode"), email);
        assertNotNull(r.getString("messageId"), email);
        assertEquals(idByAddress.get(email), r.getString("messageId"), "X-Message-Id of the request that carried " + email);
      });
      assertEquals(2500, sim.acceptedPerAddress().size());
      sim.acceptedPerAddress().values().forEach(n -> assertEquals(1, n));
    }
  }

  @Test
  void aJobsAttachmentsAndInlineImageGoInTheRequestsAttachmentsWithTypeDispositionAndContentId() {
    try (SendGridSimulator sim = new SendGridSimulator(KEY).start()) {
      TenantKey t = tenantOn("files", sim, null);
      JsonObject job = new JsonObject()
          .put("from", "news@acme.example")
          .put("subject", "Hello {{name}}")
          .put("text", "Hi {{name}}")
          .put("html", io.mailgate.support.TestAttachments.HTML)
          .put("attachments", io.mailgate.support.TestAttachments.json())
          .put("recipients", new JsonArray().add(rcpt("files-ann@example.com", new JsonObject().put("name", "Ann")))
              .add(rcpt("files-bob@example.com", new JsonObject().put("name", "Bob"))));
      String id = submit(api, t, job);
      api.awaitState(t, id, "completed", TIMEOUT);

      assertEquals(1, sim.requests().size(), "one request for both recipients");
      SendGridSimulator.Request r = sim.requests().get(0);
      assertEquals(202, r.status(), r.body().encode().substring(0, 200));
      JsonArray files = r.body().getJsonArray("attachments");
      assertEquals(3, files.size(), files.encode().length() + " bytes of attachments");
      JsonObject report = files.getJsonObject(0);
      assertEquals("report.pdf", report.getString("filename"));
      assertEquals("application/pdf", report.getString("type"));
      assertEquals("attachment", report.getString("disposition"));
      assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.REPORT,
          Base64.getDecoder().decode(report.getString("content"))), "the report's bytes");
      JsonObject notes = files.getJsonObject(1);
      assertEquals(io.mailgate.support.TestAttachments.NOTES_NAME, notes.getString("filename"));
      assertEquals("text/plain; charset=utf-8", notes.getString("type"));
      assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.NOTES,
          Base64.getDecoder().decode(notes.getString("content"))), "the notes' bytes");
      JsonObject logo = files.getJsonObject(2);
      assertEquals("inline", logo.getString("disposition"));
      assertEquals("logo.png", logo.getString("content_id"));
      assertEquals("image/png", logo.getString("type"));
      assertTrue(java.util.Arrays.equals(io.mailgate.support.TestAttachments.LOGO,
          Base64.getDecoder().decode(logo.getString("content"))), "the logo's bytes");
    }
  }

  @Test
  void requestCarriesSubstitutionsSubjectsCategoriesHeadersAndCustomArgs() {
    try (SendGridSimulator sim = new SendGridSimulator(KEY).start()) {
      TenantKey t = tenantOn("shape", sim, null);
      JsonObject job = new JsonObject()
          .put("from", "Acme News <news@acme.example>")
          .put("replyTo", "Help Desk <help@acme.example>")
          .put("subject", "Hello {{name}}")
          .put("text", "Hi {{name}},\nyour code is {{code}}.")
          .put("html", "<p>Hi {{name}} {{{badge}}}</p>")
          .put("headers", new JsonObject().put("X-Campaign", "spring"))
          .put("tags", new JsonArray().add("spring").add("news"))
          .put("recipients", new JsonArray()
              .add(rcpt("ann@example.com", new JsonObject().put("name", "Ann & <Co>").put("code", "A1").put("badge", "<b>VIP</b>")))
              .add(rcpt("bob@example.com", new JsonObject().put("name", "Bob").put("code", "B2")))
              .add(rcpt("carl@example.com", new JsonObject().put("name", "Carl\nJr").put("code", "C3"))));
      String id = submit(api, t, job);
      api.awaitState(t, id, "completed", TIMEOUT);

      assertEquals(1, sim.calls());
      SendGridSimulator.Request r = sim.requests().get(0);
      assertEquals("Bearer " + KEY, r.authorization());
      JsonObject b = r.body();
      assertEquals(new JsonObject().put("email", "news@acme.example").put("name", "Acme News"), b.getJsonObject("from"));
      assertEquals(new JsonObject().put("email", "help@acme.example").put("name", "Help Desk"), b.getJsonObject("reply_to"));
      assertNull(b.getString("subject"), "a subject with variables goes in each personalization");
      assertEquals(new JsonArray()
          .add(new JsonObject().put("type", "text/plain").put("value", "Hi {{name}},\r\nyour code is {{code}}."))
          .add(new JsonObject().put("type", "text/html").put("value", "<p>Hi {{name_html}} {{badge}}</p>")), b.getJsonArray("content"));
      assertEquals(new JsonArray().add("spring").add("news"), b.getJsonArray("categories"));
      assertEquals(new JsonObject().put("X-Campaign", "spring"), b.getJsonObject("headers"));
      assertEquals(new JsonObject().put("mailgate_job", id), b.getJsonObject("custom_args"));

      Map<String, JsonObject> rs = recipientsByEmail(api, t, id);
      assertEquals(List.of("ann@example.com", "bob@example.com", "carl@example.com"), r.to());
      JsonObject ann = r.personalization("ann@example.com");
      assertEquals(new JsonObject()
          .put("to", new JsonArray().add(new JsonObject().put("email", "ann@example.com")))
          .put("custom_args", new JsonObject().put("mailgate_recipient", rs.get("ann@example.com").getInteger("seq").toString()))
          .put("substitutions", new JsonObject().put("{{name}}", "Ann & <Co>").put("{{code}}", "A1")
              .put("{{name_html}}", "Ann &amp; &lt;Co&gt;").put("{{badge}}", "<b>VIP</b>"))
          .put("subject", "Hello Ann & <Co>"), ann);
      assertEquals("Hello Carl Jr", r.subject("carl@example.com"), "subjects are one line");
      assertEquals("", r.personalization("bob@example.com").getJsonObject("substitutions").getString("{{badge}}"));

      // what each recipient gets once SendGrid substitutes
      assertEquals("<p>Hi Ann &amp; &lt;Co&gt; <b>VIP</b></p>", r.personalised("text/html", "ann@example.com"));
      assertEquals("Hi Carl\r\nJr,\r\nyour code is C3.", r.personalised("text/plain", "carl@example.com"));
      assertEquals("<p>Hi Bob </p>", r.personalised("text/html", "bob@example.com"));
    }
  }

  @Test
  void subjectWithoutVariablesIsSentOnceAtTheTop() {
    try (SendGridSimulator sim = new SendGridSimulator(KEY).start()) {
      TenantKey t = tenantOn("fixedsubject", sim, null);
      String id = submit(api, t, TestJobs.job("Hello,\nthis is a test.\n", emails("fixed-", 2)));
      api.awaitState(t, id, "completed", TIMEOUT);
      JsonObject b = sim.requests().get(0).body();
      assertEquals("Hello", b.getString("subject"));
      b.getJsonArray("personalizations").forEach(p -> {
        assertNull(((JsonObject) p).getString("subject"));
        assertNull(((JsonObject) p).getJsonObject("substitutions"), "no variables, no substitutions");
      });
      assertEquals(1, b.getJsonArray("content").size(), "text only");
    }
  }

  @Test
  void throttledRequestIsDeferredWithRetryAfterThenSentAndEachRecipientAcceptedOnce() {
    try (SendGridSimulator sim = new SendGridSimulator(KEY).start()) {
      sim.throttleNext(1, 1);
      TenantKey t = tenantOn("throttle", sim, null);
      List<String> to = emails("throttle-", 5);
      String id = submit(api, t, to);

      JsonObject deferred = Polling.await("recipient deferred after 429", () -> recipient(api, t, id, to.get(0)),
          r -> "deferred".equals(r.getString("state")), TIMEOUT);
      assertEquals(429, deferred.getInteger("lastCode"));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(5, done.getJsonObject("counts").getInteger("sent"));
      recipientsByEmail(api, t, id).forEach((email, r) -> assertEquals(2, r.getInteger("attempts"), email));
      assertEquals(429, sim.requests().get(0).status());
      assertFalse(Duration.between(sim.requests().get(0).receivedAt(), sim.requests().get(1).receivedAt())
          .minusSeconds(1).isNegative(), "the retry waited the Retry-After second");
      assertEquals(5, sim.acceptedPerAddress().size());
      sim.acceptedPerAddress().forEach((a, n) -> assertEquals(1, n, a + " accepted exactly once"));
    }
  }

  @Test
  void serverErrorDefersTheRequestsRecipientsAndTheRetrySendsThem() {
    try (SendGridSimulator sim = new SendGridSimulator(KEY).start()) {
      sim.answerNext(1, 500, SendGridSimulator.errors("internal error", null), Map.of());
      TenantKey t = tenantOn("fivehundred", sim, null);
      List<String> to = emails("fivehundred-", 4);
      String id = submit(api, t, to);

      JsonObject deferred = Polling.await("recipient deferred after 500", () -> recipient(api, t, id, to.get(0)),
          r -> "deferred".equals(r.getString("state")), TIMEOUT);
      assertEquals(500, deferred.getInteger("lastCode"));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(4, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(4, sim.acceptedPerAddress().size());
      sim.acceptedPerAddress().forEach((a, n) -> assertEquals(1, n, a));
    }
  }

  @Test
  void badRequestFailsTheRequestsRecipientsWithSendGridsErrorMessages() {
    try (SendGridSimulator sim = new SendGridSimulator(KEY).start()) {
      sim.answerNext(1, 400, SendGridSimulator.errors("The from address does not match a verified Sender Identity.", "from"), Map.of());
      TenantKey t = tenantOn("badrequest", sim, null);
      String id = submit(api, t, emails("badrequest-", 3));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(3, done.getJsonObject("counts").getInteger("failed"));
      recipientsByEmail(api, t, id).forEach((email, r) -> {
        assertEquals("failed", r.getString("state"));
        assertEquals(400, r.getInteger("lastCode"));
        assertEquals("HTTP 400: from: The from address does not match a verified Sender Identity.", r.getString("lastMessage"));
      });
      assertEquals(1, sim.calls());
    }
  }

  @Test
  void refusedCredentialsDeferRecipientsAndNeverFailThem() {
    try (SendGridSimulator sim = new SendGridSimulator(KEY).start()) {
      TenantKey t = tenantOn("badkey", sim, new JsonObject().put("apiKey", "SG.wrong"));
      List<String> to = emails("badkey-", 3);
      String id = submit(api, t, to);

      JsonObject r = Polling.await("recipient retried past the attempt limit", () -> recipient(api, t, id, to.get(0)),
          x -> x.getInteger("attempts") > 3 && !"sending".equals(x.getString("state")), TIMEOUT);
      assertEquals("deferred", r.getString("state"), r.encode());
      assertEquals(401, r.getInteger("lastCode"));
      assertTrue(r.getString("lastMessage").contains("authorization grant is invalid"), r.encode());
      assertEquals(0, TestJobs.counts(api, t, id).getInteger("failed"));
      assertTrue(sim.acceptedRequests().isEmpty());
      TestJobs.control(api, t, id, "cancel");
    }
  }

  @Test
  void templateWithSectionGoesOneRequestPerRecipientRenderedByTheGateway() {
    try (SendGridSimulator sim = new SendGridSimulator(KEY).start()) {
      TenantKey t = tenantOn("section", sim, null);
      JsonObject job = new JsonObject()
          .put("from", "news@acme.example")
          .put("subject", "Hi {{name}}")
          .put("html", "<p>{{#vip}}VIP {{/vip}}offer for {{name}}</p>")
          .put("recipients", new JsonArray()
              .add(rcpt("v1@example.com", new JsonObject().put("name", "Vera & Co").put("vip", true)))
              .add(rcpt("p1@example.com", new JsonObject().put("name", "Paul").put("vip", false))));
      String id = submit(api, t, job);
      api.awaitState(t, id, "completed", TIMEOUT);

      assertEquals(2, sim.calls(), "one request per recipient");
      Map<String, SendGridSimulator.Request> byTo = new HashMap<>();
      sim.requests().forEach(r -> {
        assertEquals(1, r.personalizations().size());
        assertNull(r.personalizations().getJsonObject(0).getJsonObject("substitutions"));
        byTo.put(r.to().get(0), r);
      });
      JsonObject vera = byTo.get("v1@example.com").body();
      assertEquals("Hi Vera & Co", vera.getString("subject"));
      assertEquals(new JsonArray().add(new JsonObject().put("type", "text/html").put("value", "<p>VIP offer for Vera &amp; Co</p>")),
          vera.getJsonArray("content"));
      assertEquals("<p>offer for Paul</p>", byTo.get("p1@example.com").body().getJsonArray("content").getJsonObject(0).getString("value"));
      recipientsByEmail(api, t, id).forEach((email, r) -> {
        assertEquals("sent", r.getString("state"));
        assertEquals(byTo.get(email).messageId(), r.getString("messageId"));
        assertEquals(r.getInteger("seq").toString(), byTo.get(email).personalizations().getJsonObject(0)
            .getJsonObject("custom_args").getString("mailgate_recipient"));
      });
    }
  }

  @Test
  void noAnswerWithinTheRequestTimeoutDefersAsPossibleDuplicate() {
    try (SendGridSimulator sim = new SendGridSimulator(KEY).start()) {
      sim.stallNext(1);
      TenantKey t = tenantOn("stall", sim, new JsonObject().put("requestTimeout", "500ms"));
      List<String> to = emails("stall-", 2);
      String id = submit(api, t, to);

      JsonObject deferred = Polling.await("recipient deferred after the request timeout",
          () -> recipient(api, t, id, to.get(0)), r -> "deferred".equals(r.getString("state")), TIMEOUT);
      assertTrue(deferred.getBoolean("possibleDuplicate"), deferred.encode());
      api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(2, sim.acceptedPerAddress().size());
    }
  }

  // --- settings

  @Test
  void regionSelectsTheEuOrGlobalApiHost() {
    JsonObject key = new JsonObject().put("apiKey", KEY);
    assertEquals("https://api.eu.sendgrid.com/v3/mail/send", SendGridSettings.parse(key.copy().put("region", "eu")).sendUrl());
    assertEquals("https://api.sendgrid.com/v3/mail/send", SendGridSettings.parse(key.copy().put("region", "global")).sendUrl());
    assertEquals("https://api.sendgrid.com/v3/mail/send", SendGridSettings.parse(key.copy()).sendUrl(), "global by default");
    assertEquals("http://localhost:9000/v3/mail/send",
        SendGridSettings.parse(key.copy().put("region", "eu").put("baseUrl", "http://localhost:9000/")).sendUrl());
  }

  @Test
  void limitsHaveDefaultsAndSendGridsMaximum() {
    SendGridSettings s = SendGridSettings.parse(new JsonObject().put("apiKey", KEY));
    assertEquals(1000, s.limits().maxRecipientsPerCall());
    assertEquals(4, s.limits().maxConcurrentCalls());
    assertRefused("maxRecipientsPerCall", new JsonObject().put("apiKey", KEY).put("maxRecipientsPerCall", 1001));
  }

  @Test
  void refusesMissingOrMalformedSettings() {
    assertRefused("apiKey", new JsonObject());
    assertRefused("region", new JsonObject().put("apiKey", KEY).put("region", "us-east"));
    assertRefused("baseUrl", new JsonObject().put("apiKey", KEY).put("baseUrl", "ftp://api.sendgrid.com"));
    assertRefused("domain", new JsonObject().put("apiKey", KEY).put("domain", "acme.example"));
  }

  @Test
  void backendApiAnswerNeverShowsTheApiKey() {
    Api.Response r = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "sg-secrets")
        .put("type", "sendgrid").put("region", "eu").put("settings", new JsonObject().put("apiKey", KEY).put("region", "eu")));
    Api.expect(r, 201);
    assertFalse(r.text().contains(KEY));
    assertEquals(Set.of("apiKey"), Set.copyOf(r.json().getJsonArray("secretSettings").getList()));
  }

  private static void assertRefused(String field, JsonObject settings) {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> SendGridSettings.parse(settings));
    assertEquals("settings." + field, e.field(), e.getMessage());
  }
}

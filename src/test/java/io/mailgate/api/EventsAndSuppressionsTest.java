package io.mailgate.api;

import static io.mailgate.support.TestJobs.counts;
import static io.mailgate.support.TestJobs.emails;
import static io.mailgate.support.TestJobs.receivedPerAddress;
import static io.mailgate.support.TestJobs.recipientsByEmail;
import static io.mailgate.support.TestJobs.submit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.mailgate.store.DbTarget;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What happens after the send, end to end through the HTTP API with a real SMTP server that refuses some recipients
 * for good (550 5.1.1) and some for now (451 4.7.1): the events, the suppressions, the job counts and the hourly
 * counters agree with what the server was told to do, and later jobs never reach the bounced addresses.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class EventsAndSuppressionsTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  static DbTarget db;
  static TestGateway gw;
  static Api api;
  static ScriptedSmtpServer smtp;
  static TenantKey t;

  @BeforeAll
  static void start() {
    db = TestDatabase.fresh();
    // two attempts, a second apart: the greylisted recipients fail (soft) within the test
    gw = TestGateway.start(db, Map.of(
        "MAILGATE_RETRY_BASE_DELAY", "500ms",
        "MAILGATE_RETRY_MAX_DELAY", "1s",
        "MAILGATE_RETRY_MAX_ATTEMPTS", "2",
        "MAILGATE_STATS_RECIPIENT_DOMAINS", "example.com"));
    api = gw.api;
    smtp = new ScriptedSmtpServer();
    smtp.onRcpt(a -> a.startsWith("gone") ? "550 5.1.1 <" + a + ">: no such user here"
        : a.startsWith("grey") ? "451 4.7.1 <" + a + ">: try again later" : "250 2.1.5 ok").start();
    t = api.tenantOnSmtp("events", smtp.port(), null);
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
    if (smtp != null) {
      smtp.close();
    }
  }

  static List<JsonObject> events(TenantKey k, String query) {
    List<JsonObject> out = new ArrayList<>();
    String after = null;
    do {
      Api.Response r = api.get("/v1/events?" + query + "&limit=50" + (after == null ? "" : "&after=" + after), k.apiKey());
      Api.expect(r, 200);
      r.json().getJsonArray("items").forEach(o -> out.add((JsonObject) o));
      after = r.json().getString("next");
    } while (after != null);
    return out;
  }

  static Map<String, List<String>> typesByRecipient(List<JsonObject> events) {
    Map<String, List<String>> out = new HashMap<>();
    for (int i = events.size() - 1; i >= 0; i--) { // oldest first
      JsonObject e = events.get(i);
      out.computeIfAbsent(e.getString("recipient"), x -> new ArrayList<>())
          .add(e.getString("type") + (e.getString("severity") == null ? "" : "/" + e.getString("severity")));
    }
    return out;
  }

  @Test
  void outcomesBecomeEventsSuppressionsCountsAndStatisticsThatAgree() {
    TenantKey t = api.tenantOnSmtp("events-main", smtp.port(), null); // its counters hold this test's mail only
    // 12 recipients: a campaign-lane job (more than MAILGATE_SMALL_JOB_RECIPIENTS)
    List<String> to = new ArrayList<>(emails("ok", 8));
    to.addAll(List.of("gone1@example.com", "gone2@example.com", "grey1@example.com", "grey2@example.com"));
    JsonObject job = TestJobs.job("Hello", to).put("tags", new JsonArray().add("newsletter"));
    String id = submit(api, t, job);
    api.awaitState(t, id, "completed", TIMEOUT);

    JsonObject c = counts(api, t, id);
    assertEquals(8, c.getInteger("sent"), c.encode());
    assertEquals(4, c.getInteger("failed"), c.encode());
    assertEquals(0, c.getInteger("suppressed"), c.encode());

    List<JsonObject> ev = events(t, "job=" + id);
    Map<String, List<String>> byRcpt = typesByRecipient(ev);
    for (String ok : emails("ok", 8)) {
      assertEquals(List.of("sent"), byRcpt.get(ok), ok);
    }
    assertEquals(List.of("failed/hard"), byRcpt.get("gone1@example.com"));
    assertEquals(List.of("deferred", "failed/soft"), byRcpt.get("grey1@example.com"));
    JsonObject sent = ev.stream().filter(e -> e.getString("type").equals("sent")).findFirst().orElseThrow();
    assertEquals("127.0.0.1:" + smtp.port(), sent.getString("peer"));
    assertEquals("events-main-smtp", sent.getString("backend"));
    assertEquals("eu", sent.getString("region"));
    assertEquals("acme.example", sent.getString("senderDomain"));
    assertEquals("example.com", sent.getString("recipientDomain"));
    assertEquals(new JsonArray().add("newsletter"), sent.getJsonArray("tags"));
    assertNotNull(sent.getString("messageId"));
    JsonObject hard = ev.stream().filter(e -> "gone1@example.com".equals(e.getString("recipient"))).findFirst().orElseThrow();
    assertEquals(550, hard.getInteger("code"));
    assertTrue(hard.getString("message").contains("5.1.1"), hard.encode());
    // newest first: ids descending
    for (int i = 1; i < ev.size(); i++) {
      assertTrue(Long.parseLong(ev.get(i - 1).getString("id")) > Long.parseLong(ev.get(i).getString("id")));
    }

    // the hard bounces are suppressed, the soft ones (once each, under MAILGATE_SOFT_BOUNCE_LIMIT) are not
    Api.Response s = api.get("/v1/suppressions?reason=hard_bounce", t.apiKey());
    Api.expect(s, 200);
    List<String> suppressed = new ArrayList<>();
    s.json().getJsonArray("items").forEach(o -> suppressed.add(((JsonObject) o).getString("address")));
    assertEquals(List.of("gone1@example.com", "gone2@example.com"), suppressed);
    JsonObject one = api.get("/v1/suppressions/GONE1@example.com", t.apiKey()).json().getJsonArray("items").getJsonObject(0);
    assertEquals("hard_bounce", one.getString("reason"));
    assertEquals(550, one.getInteger("code"));
    assertNotNull(one.getString("sourceEvent"));

    // the hourly counters hold what the events hold
    assertEquals(8, TestDatabase.count(db, "SELECT coalesce(sum(n), 0) FROM stats_hourly WHERE tenant_id = '" + t.id()
        + "' AND event = 'sent' AND recipient_domain = 'example.com' AND sender_domain = 'acme.example'"));
    assertEquals(2, TestDatabase.count(db, "SELECT coalesce(sum(n), 0) FROM stats_hourly WHERE tenant_id = '" + t.id()
        + "' AND event = 'failed' AND severity = 'hard'"));
    assertEquals(8, TestDatabase.count(db, "SELECT coalesce(sum(n), 0) FROM stats_tags_hourly WHERE tenant_id = '" + t.id()
        + "' AND tag = 'newsletter' AND event = 'sent'"));

    // a second job to the bounced addresses, in each lane: they are never handed to the server
    Map<String, Integer> before = receivedPerAddress(smtp);
    String small = submit(api, t, List.of("gone1@example.com", "ok-again@example.com", "gone2@example.com"));
    List<String> big = new ArrayList<>(emails("big", 10));
    big.add("gone2@example.com");
    String campaign = submit(api, t, big);
    api.awaitState(t, small, "completed", TIMEOUT);
    api.awaitState(t, campaign, "completed", TIMEOUT);
    Map<String, Integer> after = receivedPerAddress(smtp);
    assertEquals(before.get("gone1@example.com"), after.get("gone1@example.com"));
    assertEquals(before.get("gone2@example.com"), after.get("gone2@example.com"));
    assertEquals(1, after.get("ok-again@example.com"), () -> counts(api, t, small).encode() + recipientsByEmail(api, t, small));
    assertEquals(2, counts(api, t, small).getInteger("suppressed"));
    assertEquals(1, counts(api, t, small).getInteger("sent"));
    assertEquals(1, counts(api, t, campaign).getInteger("suppressed"));
    assertEquals(10, counts(api, t, campaign).getInteger("sent"));
    assertEquals("suppressed", recipientsByEmail(api, t, small).get("gone1@example.com").getString("state"));
    assertEquals("suppressed", recipientsByEmail(api, t, campaign).get("gone2@example.com").getString("state"));
    assertEquals(List.of("suppressed/hard_bounce"), typesByRecipient(events(t, "job=" + small)).get("gone1@example.com"));
    assertEquals(List.of("suppressed/hard_bounce"), typesByRecipient(events(t, "job=" + campaign)).get("gone2@example.com"));

    // an operator removes a suppression: the address is sent to again
    Api.expect(api.send("DELETE", "/v1/suppressions/gone1@example.com", t.apiKey(), null, null, Map.of()), 204);
    Api.expect(api.send("DELETE", "/v1/suppressions/gone1@example.com", t.apiKey(), null, null, Map.of()), 404);
    smtp.onRcpt(a -> "250 2.1.5 ok");
    String again = submit(api, t, List.of("gone1@example.com"));
    api.awaitState(t, again, "completed", TIMEOUT);
    assertEquals(1, counts(api, t, again).getInteger("sent"));
    smtp.onRcpt(a -> a.startsWith("gone") ? "550 5.1.1 <" + a + ">: no such user here" : "250 2.1.5 ok");
  }

  @Test
  void aTagScopedUnsubscribeSuppressesOnlyJobsWithThatTagInBothLanes() {
    TenantKey t = api.tenantOnSmtp("events-tags", smtp.port(), null);
    Api.expect(api.post("/v1/suppressions", t.apiKey(),
        new JsonObject().put("address", "news-only@example.com").put("reason", "unsubscribe").put("tag", "news")), 200);
    Api.expect(api.post("/v1/suppressions", t.apiKey(), new JsonObject().put("address", "all@example.com")), 200);
    List<String> to = List.of("news-only@example.com", "all@example.com", "fine@example.com");
    for (String priority : List.of("high", "normal")) {
      String news = submit(api, t, io.mailgate.support.TestJobs.job("news\n", to).put("priority", priority)
          .put("tags", new JsonArray().add("news")));
      String other = submit(api, t, io.mailgate.support.TestJobs.job("other\n", to).put("priority", priority)
          .put("tags", new JsonArray().add("billing")));
      api.awaitState(t, news, "completed", Duration.ofSeconds(60));
      api.awaitState(t, other, "completed", Duration.ofSeconds(60));
      Map<String, JsonObject> n = io.mailgate.support.TestJobs.recipientsByEmail(api, t, news);
      Map<String, JsonObject> o = io.mailgate.support.TestJobs.recipientsByEmail(api, t, other);
      assertEquals("suppressed", n.get("news-only@example.com").getString("state"), priority);
      assertEquals("suppressed", n.get("all@example.com").getString("state"), priority);
      assertEquals("sent", n.get("fine@example.com").getString("state"), priority);
      assertEquals("sent", o.get("news-only@example.com").getString("state"), priority + ": the unsubscribe was from news only");
      assertEquals("suppressed", o.get("all@example.com").getString("state"), priority);
      assertEquals("sent", o.get("fine@example.com").getString("state"), priority);
    }
  }

  @Test
  void cancelledRecipientsGetTheirEvents() {
    TenantKey unrouted = api.createTenant("events-unrouted", "eu"); // nothing of it is sent: no backend
    String id = submit(api, unrouted, List.of("c1@example.com", "c2@example.com", "c3@example.com"));
    Api.expect(TestJobs.control(api, unrouted, id, "cancel"), 200);
    Map<String, List<String>> byRcpt = typesByRecipient(events(unrouted, "job=" + id));
    assertEquals(Map.of("c1@example.com", List.of("cancelled"), "c2@example.com", List.of("cancelled"),
        "c3@example.com", List.of("cancelled")), byRcpt);
    assertEquals(3, TestDatabase.count(db, "SELECT coalesce(sum(n), 0) FROM stats_hourly WHERE tenant_id = '" + unrouted.id()
        + "' AND event = 'cancelled'"));
  }

  @Test
  void eventsAndSuppressionsOfAnotherTenantAreNotFound() {
    TenantKey other = api.tenantOnSmtp("events-other", smtp.port(), null);
    String id = submit(api, t, List.of("iso1@example.com"));
    api.awaitState(t, id, "completed", TIMEOUT);
    Api.expect(api.get("/v1/jobs/" + id + "/events", other.apiKey()), 404);
    Api.Response r = api.get("/v1/events?job=" + id, other.apiKey());
    Api.expect(r, 200);
    assertEquals(0, r.json().getJsonArray("items").size());
    Api.expect(api.post("/v1/suppressions", t.apiKey(), new JsonObject().put("address", "mine@example.com")), 200);
    Api.expect(api.get("/v1/suppressions/mine@example.com", other.apiKey()), 404);
    Api.expect(api.send("DELETE", "/v1/suppressions/mine@example.com", other.apiKey(), null, null, Map.of()), 404);
    Api.expect(api.get("/v1/suppressions/mine@example.com", t.apiKey()), 200);
  }

  @Test
  void badQueriesAndBadSuppressionsAreRefusedAndStoreNothing() {
    Api.Response r = api.get("/v1/events?typ=sent", t.apiKey());
    Api.expect(r, 400);
    assertEquals("unknown_parameter", r.errorCode());
    assertEquals("invalid_parameter", api.get("/v1/events?type=exploded", t.apiKey()).errorCode());
    assertEquals("invalid_parameter", api.get("/v1/events?begin=yesterday", t.apiKey()).errorCode());
    assertEquals("invalid_parameter", api.get("/v1/events?begin=2026-12-02T10:00:00Z&end=2026-12-01T10:00:00Z", t.apiKey()).errorCode());
    assertEquals("invalid_parameter", api.get("/v1/events?after=abc", t.apiKey()).errorCode());
    assertEquals("invalid_parameter", api.get("/v1/events?job=nope", t.apiKey()).errorCode());
    assertEquals("invalid_parameter", api.get("/v1/events?limit=0", t.apiKey()).errorCode());
    assertEquals("invalid_parameter", api.get("/v1/suppressions?reason=bored", t.apiKey()).errorCode());
    Api.expect(api.get("/v1/events", null), 401);

    long before = TestDatabase.count(db, "SELECT count(*) FROM suppressions");
    JsonArray items = new JsonArray()
        .add(new JsonObject().put("address", "fine@example.com"))
        .add(new JsonObject().put("address", "not an address"));
    r = api.send("POST", "/v1/suppressions", t.apiKey(), "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString(items.encode()), Map.of());
    Api.expect(r, 400);
    assertEquals("invalid_address", r.errorCode());
    assertTrue(r.text().contains("items[1]"), r.text());
    assertEquals("invalid_field", api.post("/v1/suppressions", t.apiKey(),
        new JsonObject().put("address", "x@example.com").put("reason", "hard_bounce").put("tag", "news")).errorCode());
    assertEquals("unknown_field", api.post("/v1/suppressions", t.apiKey(),
        new JsonObject().put("address", "x@example.com").put("why", "because")).errorCode());
    assertEquals(before, TestDatabase.count(db, "SELECT count(*) FROM suppressions"));
    assertNull(api.get("/v1/suppressions/fine@example.com", t.apiKey()).json().getJsonArray("items"));
  }
}

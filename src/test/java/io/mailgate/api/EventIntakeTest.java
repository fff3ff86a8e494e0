package io.mailgate.api;

import static io.mailgate.support.TestJobs.counts;
import static io.mailgate.support.TestJobs.recipientsByEmail;
import static io.mailgate.support.TestJobs.submit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.store.DbTarget;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The entry point for what happens after the send (provider webhooks and inbound bounces hand their events to it),
 * driven through the operators' {@code POST /v1/admin/events}: recipients' states, suppressions, counters,
 * duplicates and unknown recipients; a bad batch stores nothing.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class EventIntakeTest {

  static DbTarget db;
  static TestGateway gw;
  static Api api;
  static ScriptedSmtpServer smtp;

  @BeforeAll
  static void start() {
    db = TestDatabase.fresh();
    gw = TestGateway.start(db, Map.of("MAILGATE_SOFT_BOUNCE_LIMIT", "2", "MAILGATE_STATS_RECIPIENT_DOMAINS",
        "example.com,d01.example,d02.example,d03.example,d04.example,d05.example,d06.example,d07.example,d08.example,"
            + "d09.example,d10.example,d11.example,d12.example",
        "MAILGATE_REPUTATION_MIN_VOLUME", "5", "MAILGATE_REPUTATION_CHECK_INTERVAL", "200ms"));
    api = gw.api;
    smtp = new ScriptedSmtpServer().start();
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

  static JsonObject event(TenantKey t, String job, int seq, String email, String type) {
    return new JsonObject().put("tenant", t.id()).put("job", job).put("seq", seq).put("email", email).put("type", type)
        .put("source", "inbound");
  }

  static Api.Response feed(JsonObject... events) {
    return api.post("/v1/admin/events", TestGateway.ADMIN_TOKEN, new JsonObject().put("events", new JsonArray(List.of(events))));
  }

  static long stat(TenantKey t, String event, String severity) {
    return TestDatabase.count(db, "SELECT coalesce(sum(n), 0) FROM stats_hourly WHERE tenant_id = '" + t.id() + "' AND event = '"
        + event + "' AND severity = '" + severity + "'");
  }

  @Test
  void laterEventsMoveStatesSuppressAndCountOnceEach() {
    TenantKey t = api.tenantOnSmtp("intake", smtp.port(), null);
    List<String> to = List.of("a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com", "f@example.com");
    String job = submit(api, t, to);
    api.awaitState(t, job, "completed", Duration.ofSeconds(60));

    Api.Response r = feed(
        event(t, job, 0, "a@example.com", "delivered").put("sourceId", "evt-1"),
        event(t, job, 0, "a@example.com", "delivered").put("sourceId", "evt-1"), // the same provider event twice
        event(t, job, 1, "b@example.com", "bounced").put("severity", "hard").put("code", 550).put("message", "5.1.1 unknown"),
        event(t, job, 2, "c@example.com", "bounced").put("severity", "soft").put("sourceId", "evt-2"),
        event(t, job, 3, "d@example.com", "complained"),
        event(t, job, 4, "e@example.com", "unsubscribed"),
        event(t, job, 5, "f@example.com", "opened"),
        event(t, job, 5, "f@example.com", "clicked"),
        event(t, "01900000-0000-7000-8000-000000000000", 0, "x@example.com", "delivered")); // no such job
    Api.expect(r, 200);
    assertEquals(new JsonObject().put("given", 9).put("recorded", 8).put("duplicates", 1).put("unmatched", 1), r.json());
    // a delivery retried by the provider later is still recorded once
    assertEquals(1, feed(event(t, job, 0, "a@example.com", "delivered").put("sourceId", "evt-1")).json().getInteger("duplicates"));
    // a second soft bounce within the window reaches MAILGATE_SOFT_BOUNCE_LIMIT=2
    Api.expect(feed(event(t, job, 2, "c@example.com", "bounced").put("severity", "soft").put("sourceId", "evt-3")), 200);

    Map<String, JsonObject> rs = recipientsByEmail(api, t, job);
    assertEquals("delivered", rs.get("a@example.com").getString("state"));
    assertEquals("bounced", rs.get("b@example.com").getString("state"));
    assertEquals("bounced", rs.get("c@example.com").getString("state"));
    assertEquals("complained", rs.get("d@example.com").getString("state"));
    assertEquals("sent", rs.get("e@example.com").getString("state"));
    assertEquals("sent", rs.get("f@example.com").getString("state"));
    JsonObject c = counts(api, t, job);
    assertEquals(3, c.getInteger("sent"), c.encode());
    assertEquals(3, c.getInteger("failed"), c.encode());

    Map<String, String> reasons = new HashMap<>();
    api.get("/v1/suppressions", t.apiKey()).json().getJsonArray("items")
        .forEach(o -> reasons.put(((JsonObject) o).getString("address"), ((JsonObject) o).getString("reason")));
    assertEquals(Map.of("b@example.com", "hard_bounce", "c@example.com", "hard_bounce", "d@example.com", "complaint",
        "e@example.com", "unsubscribe"), reasons);

    assertEquals(2, stat(t, "delivered", "")); // a's, and the one without a recipient (still the tenant's)
    assertEquals(1, stat(t, "bounced", "hard"));
    assertEquals(2, stat(t, "bounced", "soft"));
    assertEquals(1, stat(t, "complained", ""));
    assertEquals(1, stat(t, "unsubscribed", ""));
    assertEquals(1, stat(t, "opened", ""));
    assertEquals(1, stat(t, "clicked", ""));

    // the statistics API reads the same counters
    JsonObject hourly = api.get("/v1/stats?resolution=hour", t.apiKey()).json();
    assertEquals(6, hourly.getJsonObject("totals").getLong("sent"), hourly.encode());
    assertEquals(2, hourly.getJsonObject("totals").getLong("delivered"));
    assertEquals(2, hourly.getJsonObject("totals").getLong("bounced.soft"));
    assertEquals(3, hourly.getJsonObject("totals").getLong("bounced"));
    // one item (not grouped), whose points sum to the totals, each at the start of its hour
    assertEquals(1, hourly.getJsonArray("items").size(), hourly.encode());
    JsonObject only = hourly.getJsonArray("items").getJsonObject(0);
    assertFalse(only.containsKey("group"));
    assertEquals(only.getJsonObject("totals"), hourly.getJsonObject("totals"));
    long pointsSent = 0;
    for (Object o : only.getJsonArray("points")) {
      JsonObject point = (JsonObject) o;
      assertTrue(java.time.Instant.parse(point.getString("time")).getEpochSecond() % 3600 == 0, point.encode());
      pointsSent += point.getJsonObject("counts").getLong("sent", 0L);
    }
    assertEquals(6, pointsSent);
    JsonObject byDomain = api.get("/v1/stats?groupBy=recipientDomain&event=sent,complained", t.apiKey()).json();
    assertEquals("example.com", byDomain.getJsonArray("items").getJsonObject(0).getString("group"), byDomain.encode());
    assertEquals(new JsonObject().put("sent", 6L).put("complained", 1L), byDomain.getJsonObject("totals"));
    // 1 complaint and 1 hard bounce in 6 messages: past both critical levels, with a minimum volume of 5
    JsonObject rep = api.get("/v1/reputation", t.apiKey()).json();
    assertEquals("critical", rep.getString("status"), rep.encode());
    JsonObject day = rep.getJsonObject("overall").getJsonObject("24h");
    assertEquals(6, day.getLong("sent"));
    assertEquals(1, day.getLong("hardBounces"));
    assertEquals(2, day.getLong("softBounces"));
    assertEquals(1 / 6.0, day.getDouble("complaintRate"), 1e-5);
    JsonObject acme = rep.getJsonArray("senderDomains").stream().map(o -> (JsonObject) o)
        .filter(o -> "acme.example".equals(o.getString("senderDomain"))).findFirst().orElseThrow();
    assertEquals(6, acme.getJsonObject("30d").getLong("sent"), acme.encode());
    JsonObject ranked = api.get("/v1/admin/reputation", TestGateway.ADMIN_TOKEN).json();
    assertEquals(t.id(), ranked.getJsonArray("tenants").getJsonObject(0).getString("tenant"), ranked.encode());
    Api.expect(api.get("/v1/admin/reputation", t.apiKey()), 403);
    assertEquals("invalid_parameter", api.get("/v1/stats?resolution=week", t.apiKey()).errorCode());
    assertEquals("invalid_parameter", api.get("/v1/stats?groupBy=tenant", t.apiKey()).errorCode());
    assertEquals("invalid_parameter", api.get("/v1/stats?resolution=hour&begin=2026-01-01T00:00:00Z&end=2026-06-01T00:00:00Z",
        t.apiKey()).errorCode());
    // by hour and recipient domain or tag a week at most; ten days are fine ungrouped
    String tenDays = "&begin=2026-01-01T00:00:00Z&end=2026-01-11T00:00:00Z";
    assertEquals("invalid_parameter", api.get("/v1/stats?resolution=hour&groupBy=recipientDomain" + tenDays, t.apiKey()).errorCode());
    assertEquals("invalid_parameter", api.get("/v1/stats?resolution=hour&groupBy=tag" + tenDays, t.apiKey()).errorCode());
    Api.expect(api.get("/v1/stats?resolution=hour&groupBy=senderDomain" + tenDays, t.apiKey()), 200);
    // across tenants, sender domains and tenants are as many groups: a week by hour at most there too
    for (String g : new String[] {"senderDomain", "tenant", "recipientDomain", "tag"}) {
      assertEquals("invalid_parameter", api.get("/v1/admin/stats?resolution=hour&groupBy=" + g + tenDays,
          TestGateway.ADMIN_TOKEN).errorCode(), g);
    }
    Api.expect(api.get("/v1/admin/stats?resolution=hour&groupBy=backend" + tenDays, TestGateway.ADMIN_TOKEN), 200);
    Api.expect(api.get("/v1/admin/stats?resolution=hour&groupBy=tenant&begin=2026-01-01T00:00:00Z&end=2026-01-08T00:00:00Z",
        TestGateway.ADMIN_TOKEN), 200);
    Api.expect(api.get("/v1/stats?resolution=hour&groupBy=recipientDomain&begin=2026-01-01T00:00:00Z&end=2026-01-08T00:00:00Z",
        t.apiKey()), 200);
    // "the last 7 days" from now: rounded to whole hours it spans a little more, and is still a week
    long weekAgo = java.time.Instant.now().getEpochSecond() - 7 * 86400;
    Api.expect(api.get("/v1/stats?resolution=hour&groupBy=tag&begin=" + weekAgo, t.apiKey()), 200);

    JsonArray items = api.get("/v1/events?type=clicked", t.apiKey()).json().getJsonArray("items");
    assertEquals(1, items.size());
    assertEquals("inbound", items.getJsonObject(0).getString("source"));
    assertEquals(job, items.getJsonObject(0).getString("job"));
    // the unmatched one is the tenant's, without a job
    JsonArray x = api.get("/v1/events?recipient=x@example.com", t.apiKey()).json().getJsonArray("items");
    assertEquals(1, x.size());
    assertEquals(null, x.getJsonObject(0).getString("job"));

    // critical: the guard holds the tenant; its new mail waits (not failed), until an operator resumes it
    JsonObject held = Polling.await("tenant held for its reputation",
        () -> api.get("/v1/admin/tenants/" + t.id(), TestGateway.ADMIN_TOKEN).json(), o -> o.getValue("hold") != null,
        Duration.ofSeconds(30));
    assertEquals("reputation", held.getJsonObject("hold").getString("reason"));
    assertTrue(held.getJsonObject("hold").getString("detail").contains("complaint rate"), held.encode());
    String waiting = submit(api, t, List.of("later@example.com"));
    TenantKey other = api.tenantOnSmtp("intake-other", smtp.port(), null);
    api.awaitState(other, submit(api, other, List.of("meanwhile@example.com")), "completed", Duration.ofSeconds(60));
    JsonObject w = api.job(t, waiting);
    assertEquals("queued", w.getString("state"), w.encode());
    assertEquals("reputation", w.getString("hold"));
    assertEquals(1, w.getJsonObject("counts").getInteger("queued"));
    assertTrue(api.get("/metrics", null).text().contains("mailgate_tenants_held 1.0"));
    // the open work's gauges, read from the open chunks alone
    Polling.await("the held tenant's job in the gauges", () -> api.get("/metrics", null).text(),
        text -> HealthAndMetricsTest.value(text, "mailgate_jobs", Map.of("state", "queued")) >= 1
            && HealthAndMetricsTest.value(text, "mailgate_recipients", Map.of("state", "queued")) >= 1, Duration.ofSeconds(30));
    JsonObject resumed = api.post("/v1/admin/tenants/" + t.id() + "/resume", TestGateway.ADMIN_TOKEN, new JsonObject()).json();
    assertNull(resumed.getValue("hold"), resumed.encode());
    api.awaitState(t, waiting, "completed", Duration.ofSeconds(60));
    assertEquals(1, counts(api, t, waiting).getInteger("sent"));
    Api.expect(api.post("/v1/admin/tenants/01900000-0000-7000-8000-000000000009/resume", TestGateway.ADMIN_TOKEN,
        new JsonObject()), 404);
  }

  static Api.Response patchTenant(TenantKey t, JsonObject patch) {
    return api.send("PATCH", "/v1/admin/tenants/" + t.id(), TestGateway.ADMIN_TOKEN, "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString(patch.encode()), Map.of());
  }

  @Test
  void aTenantsOwnThresholdsJudgeItsReputationInsteadOfTheGlobalOnes() {
    TenantKey strict = api.tenantOnSmtp("intake-strict", smtp.port(), null);
    TenantKey plain = api.tenantOnSmtp("intake-plain", smtp.port(), null);
    List<String> to = new java.util.ArrayList<>();
    for (int i = 0; i < 20; i++) {
      to.add("t" + i + "@example.com");
    }
    String strictJob = submit(api, strict, to);
    String plainJob = submit(api, plain, to);
    api.awaitState(strict, strictJob, "completed", Duration.ofSeconds(60));
    api.awaitState(plain, plainJob, "completed", Duration.ofSeconds(60));
    // one hard bounce in 20 messages: 5 %, the global warning level, below the global critical 10 %
    Api.expect(feed(event(strict, strictJob, 3, "t3@example.com", "bounced").put("severity", "hard"),
        event(plain, plainJob, 3, "t3@example.com", "bounced").put("severity", "hard")), 200);

    // refused overrides change nothing
    assertEquals("unknown_field", patchTenant(strict, new JsonObject().put("reputationThresholds",
        new JsonObject().put("bounceRate", 0.04))).errorCode());
    assertEquals("invalid_field", patchTenant(strict, new JsonObject().put("reputationThresholds",
        new JsonObject().put("bounceRateCritical", 4))).errorCode());
    assertEquals("invalid_field", patchTenant(strict, new JsonObject().put("reputationThresholds",
        new JsonObject().put("bounceRateCritical", 0.02))).errorCode(), "critical below the global warning 5 %");
    assertNull(api.get("/v1/admin/tenants/" + strict.id(), TestGateway.ADMIN_TOKEN).json().getValue("reputationThresholds"));

    JsonObject own = new JsonObject().put("bounceRateWarning", 0.02).put("bounceRateCritical", 0.04);
    JsonObject patched = patchTenant(strict, new JsonObject().put("reputationThresholds", own)).json();
    assertEquals(own, patched.getJsonObject("reputationThresholds"), patched.encode());
    JsonObject rep = api.get("/v1/reputation", strict.apiKey()).json();
    assertEquals("critical", rep.getString("status"), rep.encode());
    assertEquals(0.04, rep.getJsonObject("thresholds").getDouble("bounceRateCritical"));
    assertEquals(0.001, rep.getJsonObject("thresholds").getDouble("complaintRateWarning"), "the rest stay global");
    assertEquals("warning", api.get("/v1/reputation", plain.apiKey()).json().getString("status"));

    Polling.await("the strict tenant held", () -> api.get("/v1/admin/tenants/" + strict.id(), TestGateway.ADMIN_TOKEN).json(),
        o -> o.getValue("hold") != null, Duration.ofSeconds(30));
    // the pass that held it judged the other tenant on the same counters, against the global thresholds
    assertNull(api.get("/v1/admin/tenants/" + plain.id(), TestGateway.ADMIN_TOKEN).json().getValue("hold"));
    JsonObject ranked = api.get("/v1/admin/reputation", TestGateway.ADMIN_TOKEN).json();
    Map<String, String> status = new HashMap<>();
    ranked.getJsonArray("tenants").forEach(o -> status.put(((JsonObject) o).getString("tenant"), ((JsonObject) o).getString("status")));
    assertEquals("critical", status.get(strict.id()), ranked.encode());
    assertEquals("warning", status.get(plain.id()), ranked.encode());

    // the tenant still judged (not held) has a series of its own; the held one counts in mailgate_tenants_held
    Polling.await("the plain tenant's reputation gauge", () -> api.get("/metrics", null).text(),
        text -> HealthAndMetricsTest.value(text, "mailgate_tenant_reputation_status", Map.of("tenant", "intake-plain")) == 1.0
            && HealthAndMetricsTest.value(text, "mailgate_tenants_reputation", Map.of("status", "warning")) >= 1,
        Duration.ofSeconds(30));

    // null clears the override
    assertNull(patchTenant(strict, new JsonObject().putNull("reputationThresholds")).json().getValue("reputationThresholds"));
    Api.expect(api.post("/v1/admin/tenants/" + strict.id() + "/resume", TestGateway.ADMIN_TOKEN, new JsonObject()), 200);
  }

  @Test
  void aBadBatchIsRefusedWholeAndStoresNothing() {
    TenantKey t = api.tenantOnSmtp("intake-bad", smtp.port(), null);
    long events = TestDatabase.count(db, "SELECT count(*) FROM events");
    Api.Response r = feed(event(t, null, 0, "a@example.com", "delivered").put("seq", null),
        event(t, null, 0, "b@example.com", "exploded").put("seq", null));
    Api.expect(r, 400);
    assertEquals("invalid_event_type", r.errorCode());
    assertEquals("invalid_event", feed(new JsonObject().put("tenant", t.id()).put("email", "a@example.com")
        .put("type", "bounced").put("source", "inbound")).errorCode());
    assertEquals("invalid_address", feed(new JsonObject().put("tenant", t.id()).put("email", "nobody")
        .put("type", "delivered").put("source", "inbound")).errorCode());
    assertEquals("unknown_field", feed(new JsonObject().put("tenant", t.id()).put("email", "a@example.com")
        .put("type", "delivered").put("source", "inbound").put("colour", "red")).errorCode());
    Api.expect(feed(new JsonObject().put("tenant", "01900000-0000-7000-8000-000000000001").put("email", "a@example.com")
        .put("type", "delivered").put("source", "inbound")), 404);
    Api.expect(api.post("/v1/admin/events", t.apiKey(), new JsonObject().put("events", new JsonArray())), 403);
    assertEquals(events, TestDatabase.count(db, "SELECT count(*) FROM events"));
  }

  @Test
  void groupedStatisticsListTheBusiestGroupsFirstAndSumTheRest() {
    TenantKey t = api.tenantOnSmtp("intake-ranked", smtp.port(), null);
    // d01.example gets 12 deliveries, d02 11, ... d12 1; d05 and d06 tie with d04 at 9 (names break the tie)
    List<JsonObject> events = new java.util.ArrayList<>();
    long all = 0;
    for (int d = 1; d <= 12; d++) {
      int n = d == 5 || d == 6 ? 9 : 13 - d;
      for (int i = 0; i < n; i++) {
        events.add(new JsonObject().put("tenant", t.id()).put("email", "u" + i + "@d" + String.format("%02d", d) + ".example")
            .put("type", "delivered").put("source", "inbound"));
        all++;
      }
    }
    Api.expect(feed(events.toArray(JsonObject[]::new)), 200);

    JsonObject top = api.get("/v1/stats?groupBy=recipientDomain&resolution=hour", t.apiKey()).json();
    List<String> groups = top.getJsonArray("items").stream().map(o -> ((JsonObject) o).getString("group")).toList();
    // ten by default, the most events first, ties in name order
    assertEquals(List.of("d01.example", "d02.example", "d03.example", "d04.example", "d05.example", "d06.example",
        "d07.example", "d08.example", "d09.example", "d10.example"), groups, top.encode());
    assertEquals(9, top.getJsonArray("items").getJsonObject(4).getJsonObject("totals").getLong("delivered"));
    JsonObject rest = top.getJsonObject("rest");
    assertEquals(2, rest.getInteger("groups"), top.encode());
    assertEquals(2 + 1, rest.getJsonObject("totals").getLong("delivered"));
    long restPoints = 0;
    for (Object o : rest.getJsonArray("points")) {
      restPoints += ((JsonObject) o).getJsonObject("counts").getLong("delivered");
    }
    assertEquals(3, restPoints);
    assertEquals(all, top.getJsonObject("totals").getLong("delivered"));

    JsonObject three = api.get("/v1/stats?groupBy=recipientDomain&limit=3", t.apiKey()).json();
    assertEquals(3, three.getJsonArray("items").size());
    assertEquals(9, three.getJsonObject("rest").getInteger("groups"));
    assertEquals(all - 12 - 11 - 10, three.getJsonObject("rest").getJsonObject("totals").getLong("delivered"));
    // all of them: no rest
    JsonObject every = api.get("/v1/stats?groupBy=recipientDomain&limit=12", t.apiKey()).json();
    assertEquals(12, every.getJsonArray("items").size());
    assertFalse(every.containsKey("rest"), every.encode());
    for (String bad : new String[] {"0", "1001", "ten", "-1"}) {
      assertEquals("invalid_parameter", api.get("/v1/stats?groupBy=recipientDomain&limit=" + bad, t.apiKey()).errorCode(), bad);
    }
  }
}

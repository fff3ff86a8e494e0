package io.mailgate.webhook.out;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.store.DbTarget;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Tenant webhooks through the real gateway: sends to an SMTP server and later events through the event intake become
 * signed calls to a loopback receiver (the operator switches allow loopback and http here), retried while the
 * endpoint fails, in order per recipient, visible to the tenant; a second gateway with the default switches refuses
 * private addresses at registration and at send time.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class TenantWebhooksTest {

  static final Duration WAIT = Duration.ofSeconds(60);
  static DbTarget db;
  static TestGateway gw;
  static Api api;
  static ScriptedSmtpServer smtp;
  static WebhookReceiver receiver;

  @BeforeAll
  static void start() throws Exception {
    db = TestDatabase.fresh();
    gw = TestGateway.start(db, Map.of("MAILGATE_WEBHOOK_ALLOW_HTTP", "true", "MAILGATE_WEBHOOK_ALLOW_PRIVATE", "true",
        "MAILGATE_WEBHOOK_RETRY_BASE_DELAY", "200ms", "MAILGATE_WEBHOOK_RETRY_MAX_DELAY", "1s",
        "MAILGATE_WEBHOOK_POLL_INTERVAL", "50ms"));
    api = gw.api;
    smtp = new ScriptedSmtpServer().start();
    receiver = new WebhookReceiver().start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (gw != null) {
      gw.close();
    }
    if (smtp != null) {
      smtp.close();
    }
    if (receiver != null) {
      receiver.close();
    }
  }

  static TenantKey tenant(String name, String domain) {
    TenantKey t = api.tenantOnSmtp(name, smtp.port(), null);
    Api.expect(api.put("/v1/admin/tenants/" + t.id() + "/domains", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domains", new JsonArray().add(domain))), 200);
    return t;
  }

  static String webhook(TenantKey t, String path, String format, String... events) {
    Api.Response r = api.post("/v1/webhooks", t.apiKey(), new JsonObject().put("url", receiver.url(path))
        .put("events", new JsonArray(List.of(events))).put("format", format));
    Api.expect(r, 201);
    return r.json().getString("id");
  }

  /** A job from the domain, sent to the SMTP server and completed. */
  static String sent(TenantKey t, String domain, List<String> to) {
    JsonObject job = TestJobs.job("Hello", to).put("from", "news@" + domain).put("tags", new JsonArray().add("spring"))
        .put("metadata", new JsonObject().put("order", "42"));
    String id = TestJobs.submit(api, t, job);
    api.awaitState(t, id, "completed", WAIT);
    return id;
  }

  static void feed(TenantKey t, String job, int seq, String email, String... types) {
    JsonArray events = new JsonArray();
    for (String type : types) {
      events.add(new JsonObject().put("tenant", t.id()).put("job", job).put("seq", seq).put("email", email)
          .put("type", type).put("source", "inbound"));
    }
    Api.expect(api.post("/v1/admin/events", TestGateway.ADMIN_TOKEN, new JsonObject().put("events", events)), 200);
  }

  static String key(TenantKey t) {
    Api.Response r = api.get("/v1/webhooks/signing-key", t.apiKey());
    Api.expect(r, 200);
    return r.json().getString("signingKey");
  }

  /** Mailgun's documented check: hex HMAC-SHA256 of timestamp + token under the signing key. */
  static boolean mailgunSignatureVerifies(JsonObject payload, String key) {
    JsonObject s = payload.getJsonObject("signature");
    String expected = WebhookPayloads.hmacHex(key.getBytes(java.nio.charset.StandardCharsets.UTF_8),
        s.getString("timestamp") + s.getString("token"));
    return java.security.MessageDigest.isEqual(expected.getBytes(), s.getString("signature").getBytes());
  }

  static JsonArray deliveries(TenantKey t, String hook, String query) {
    Api.Response r = api.get("/v1/webhooks/" + hook + "/deliveries" + query, t.apiKey());
    Api.expect(r, 200);
    return r.json().getJsonArray("items");
  }

  static List<WebhookReceiver.Call> awaitCalls(String path, int n) {
    return Polling.await("calls to " + path, () -> receiver.calls(path), c -> c.size() >= n, WAIT);
  }

  @Test
  void aSendBecomesACallInMailgunsShapeSignedAsMailgunSigns() {
    TenantKey t = tenant("signed", "signed.example");
    String hook = webhook(t, "/signed", "mailgun", "sent");
    String job = sent(t, "signed.example", List.of("ann@example.com", "bob@example.com"));

    List<WebhookReceiver.Call> calls = awaitCalls("/signed", 2);
    String key = key(t);
    Set<String> recipients = calls.stream().map(c -> c.json().getJsonObject("event-data").getString("recipient"))
        .collect(Collectors.toSet());
    assertEquals(Set.of("ann@example.com", "bob@example.com"), recipients);
    for (WebhookReceiver.Call c : calls) {
      JsonObject p = c.json();
      assertTrue(mailgunSignatureVerifies(p, key), c.body());
      assertEquals(50, p.getJsonObject("signature").getString("token").length());
      JsonObject data = p.getJsonObject("event-data");
      assertEquals("delivered", data.getString("event")); // our "sent" through smtp: the receiving server took it
      assertEquals(new JsonArray().add("spring"), data.getJsonArray("tags"));
      assertEquals("42", data.getJsonObject("user-variables").getString("order"));
      String mid = data.getJsonObject("message").getJsonObject("headers").getString("message-id");
      assertTrue(mid.endsWith("@signed.example") && !mid.startsWith("<"), mid);
      assertNotNull(data.getString("id"));
      assertTrue(data.getDouble("timestamp") > 1.7e9);
    }
    // the tenant sees the calls, newest first, in keyset pages
    JsonArray all = Polling.await("recorded outcomes", () -> deliveries(t, hook, "?state=delivered"), a -> a.size() == 2, WAIT);
    JsonObject d = all.getJsonObject(0);
    assertEquals(1, d.getInteger("attempts"));
    assertEquals(200, d.getInteger("lastCode"));
    assertNull(d.getString("nextAttemptAt"));
    Api.Response page1 = api.get("/v1/webhooks/" + hook + "/deliveries?limit=1", t.apiKey());
    String next = page1.json().getString("next");
    assertNotNull(next);
    JsonArray page2 = deliveries(t, hook, "?limit=1&after=" + next);
    assertEquals(1, page2.size());
    assertNotEquals(page1.json().getJsonArray("items").getJsonObject(0).getString("id"), page2.getJsonObject(0).getString("id"));
    assertNotNull(job);
  }

  @Test
  void aFailingEndpointIsRetriedWithBackoffUntilItAnswers() {
    TenantKey t = tenant("flaky", "flaky.example");
    AtomicBoolean failing = new AtomicBoolean(true);
    receiver.rule("/flaky", body -> failing.get() ? 500 : 204);
    String hook = webhook(t, "/flaky", "native", "opened");
    String job = sent(t, "flaky.example", List.of("cat@example.com"));
    feed(t, job, 0, "cat@example.com", "opened");

    // failed calls stay pending, with the last answer and the next attempt shown; the endpoint is mended only once
    // it has answered two calls (an attempt is counted when it is claimed, before its call is answered)
    JsonObject pending = Polling.await("a retried call", () -> deliveries(t, hook, "").getJsonObject(0),
        o -> o != null && o.getInteger("attempts") >= 2 && "pending".equals(o.getString("state"))
            && Integer.valueOf(500).equals(o.getInteger("lastCode")) && o.getString("nextAttemptAt") != null
            && receiver.calls("/flaky").stream().filter(c -> c.answered() == 500).count() >= 2, WAIT);
    assertEquals("HTTP 500", pending.getString("lastError"));
    failing.set(false);
    JsonObject done = Polling.await("the delivered call", () -> deliveries(t, hook, "").getJsonObject(0),
        o -> "delivered".equals(o.getString("state")), WAIT);
    assertEquals(204, done.getInteger("lastCode"));
    List<WebhookReceiver.Call> calls = receiver.calls("/flaky");
    assertEquals(done.getInteger("attempts"), calls.size());
    assertTrue(calls.size() >= 3);
    assertTrue(calls.subList(0, calls.size() - 1).stream().allMatch(c -> c.answered() == 500));

    // the native payload: the event as the API shows it, signed over timestamp "." body
    WebhookReceiver.Call last = calls.get(calls.size() - 1);
    String ts = last.headers().get("x-mailgate-timestamp");
    assertEquals("v1=" + WebhookPayloads.hmacHex(key(t).getBytes(java.nio.charset.StandardCharsets.UTF_8), ts + "." + last.body()),
        last.headers().get("x-mailgate-signature"));
    JsonObject ev = last.json().getJsonObject("event");
    assertEquals("opened", ev.getString("type"));
    assertEquals("cat@example.com", ev.getString("recipient"));
    assertEquals(job, ev.getString("job"));
    assertEquals(hook, last.json().getString("webhook"));
  }

  @Test
  void laterEventsOfARecipientWaitWhileAnEarlierOneIsRetried() {
    TenantKey t = tenant("ordered", "ordered.example");
    AtomicInteger n = new AtomicInteger();
    receiver.rule("/ordered", body -> n.incrementAndGet() == 1 ? 503 : 200);
    String hook = webhook(t, "/ordered", "native", "opened", "clicked", "unsubscribed");
    String job = sent(t, "ordered.example", List.of("dan@example.com"));
    feed(t, job, 0, "dan@example.com", "opened", "clicked", "unsubscribed");

    List<WebhookReceiver.Call> calls = awaitCalls("/ordered", 4);
    List<String> order = calls.stream().map(c -> c.json().getJsonObject("event").getString("type")).toList();
    assertEquals(List.of("opened", "opened", "clicked", "unsubscribed"), order);
    assertEquals(503, calls.get(0).answered());
    Polling.await("all delivered", () -> deliveries(t, hook, "?state=delivered").size(), x -> x == 3, WAIT);
  }

  @Test
  void rotatingTheSigningKeyChangesTheSignature() {
    TenantKey t = tenant("rotate", "rotate.example");
    webhook(t, "/rotate", "mailgun", "opened");
    String job = sent(t, "rotate.example", List.of("eve@example.com", "fay@example.com"));
    String before = key(t);
    feed(t, job, 0, "eve@example.com", "opened");
    JsonObject first = awaitCalls("/rotate", 1).get(0).json();
    assertTrue(mailgunSignatureVerifies(first, before));
    assertEquals("opened", first.getJsonObject("event-data").getString("event"));

    Api.Response rotated = api.post("/v1/webhooks/signing-key/rotate", t.apiKey(), new JsonObject());
    Api.expect(rotated, 200);
    String after = rotated.json().getString("signingKey");
    assertNotEquals(before, after);
    assertEquals(after, key(t));
    feed(t, job, 1, "fay@example.com", "opened");
    JsonObject second = awaitCalls("/rotate", 2).get(1).json();
    assertTrue(mailgunSignatureVerifies(second, after));
    assertFalse(mailgunSignatureVerifies(second, before));
  }

  @Test
  void anotherTenantsWebhookAnswers404AndATenantWithoutWebhooksGetsNoCalls() {
    TenantKey owner = tenant("owner", "owner.example");
    TenantKey stranger = tenant("stranger", "stranger.example");
    String hook = webhook(owner, "/owned", "native", "sent");
    String path = "/v1/webhooks/" + hook;
    assertEquals(404, api.get(path, stranger.apiKey()).status());
    assertEquals(404, api.get(path + "/deliveries", stranger.apiKey()).status());
    assertEquals(404, api.put(path, stranger.apiKey(), new JsonObject().put("url", receiver.url("/stolen"))).status());
    assertEquals(404, api.send("DELETE", path, stranger.apiKey(), null, null, Map.of()).status());
    assertEquals(0, api.get("/v1/webhooks", stranger.apiKey()).json().getJsonArray("items").size());
    assertNotEquals(key(owner), key(stranger));
    Api.expect(api.get(path, owner.apiKey()), 200);
    assertEquals(receiver.url("/owned"), api.get(path, owner.apiKey()).json().getString("url"));

    // the stranger has no webhooks: its sends write no call
    sent(stranger, "stranger.example", List.of("gil@example.com"));
    assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM webhook_deliveries WHERE tenant_id = '" + stranger.id() + "'"));

    // the owner changes and deletes its webhook
    Api.Response changed = api.put(path, owner.apiKey(), new JsonObject().put("events", new JsonArray().add("failed").add("sent")));
    Api.expect(changed, 200);
    assertEquals(new JsonArray().add("sent").add("failed"), changed.json().getJsonArray("events"));
    assertEquals(204, api.send("DELETE", path, owner.apiKey(), null, null, Map.of()).status());
    assertEquals(404, api.get(path, owner.apiKey()).status());
  }

  @Test
  void registrationRefusesBadInputAndStoresNothing() {
    TenantKey t = tenant("badinput", "badinput.example");
    String url = receiver.url("/x");
    Map<JsonObject, String> bad = Map.of(
        new JsonObject().put("events", new JsonArray().add("sent")), "missing_field",
        new JsonObject().put("url", url), "missing_field",
        new JsonObject().put("url", url).put("events", new JsonArray()), "invalid_field",
        new JsonObject().put("url", url).put("events", new JsonArray().add("bogus")), "invalid_event_type",
        new JsonObject().put("url", url).put("events", new JsonArray().add("sent")).put("format", "xml"), "invalid_field",
        new JsonObject().put("url", url).put("events", new JsonArray().add("sent")).put("secret", "x"), "unknown_field",
        new JsonObject().put("url", "ftp://127.0.0.1/x").put("events", new JsonArray().add("sent")), "invalid_url",
        new JsonObject().put("url", "http://no-such-host.invalid/x").put("events", new JsonArray().add("sent")), "invalid_url");
    bad.forEach((body, code) -> {
      Api.Response r = api.post("/v1/webhooks", t.apiKey(), body);
      assertEquals(400, r.status(), body.encode() + " " + r.text());
      assertEquals(code, r.errorCode(), body.encode());
    });
    assertEquals(0, api.get("/v1/webhooks", t.apiKey()).json().getJsonArray("items").size());
  }

  @Test
  void withTheDefaultSwitchesPrivateAddressesAreRefusedAtRegistrationAndAtSendTime() throws Exception {
    DbTarget strictDb = TestDatabase.fresh();
    // plain http is allowed here, so that the refusals below are about addresses
    try (TestGateway strict = TestGateway.start(strictDb, Map.of("MAILGATE_WEBHOOK_ALLOW_HTTP", "true",
        "MAILGATE_WEBHOOK_RETRY_BASE_DELAY", "200ms", "MAILGATE_WEBHOOK_POLL_INTERVAL", "50ms"))) {
      TenantKey t = strict.api.createTenant("strict", "eu");
      for (String u : List.of("http://127.0.0.1/x", "http://localhost/x", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x",
          "http://10.0.0.1/x", "http://192.168.0.10/x", "http://169.254.169.254/latest/meta-data", "http://[fe80::1]/x",
          "http://[fd00::1]/x", "http://0.0.0.0/x", "http://224.0.0.1/x", receiver.url("/strict"))) {
        Api.Response r = strict.api.post("/v1/webhooks", t.apiKey(), new JsonObject().put("url", u)
            .put("events", new JsonArray().add("opened")));
        assertEquals(400, r.status(), u + " " + r.text());
        assertEquals("forbidden_url", r.errorCode(), u);
      }
      assertEquals(0, strict.api.get("/v1/webhooks", t.apiKey()).json().getJsonArray("items").size());

      // a webhook that passed an earlier check (its name resolved elsewhere then): the call is checked again
      String hook = "01900000-0000-7000-8000-00000000abcd";
      Api.expect(strict.api.get("/v1/webhooks/signing-key", t.apiKey()), 200);
      TestDatabase.execute(strictDb, "INSERT INTO webhooks (id, tenant_id, url, format, names, match) VALUES ('" + hook
          + "', '" + t.id() + "', '" + receiver.url("/strict") + "', 'native', '{opened}', '{opened}')");
      Api.expect(strict.api.post("/v1/admin/events", TestGateway.ADMIN_TOKEN, new JsonObject().put("events", new JsonArray()
          .add(new JsonObject().put("tenant", t.id()).put("email", "hal@example.com").put("type", "opened")
              .put("source", "inbound")))), 200);
      JsonObject d = Polling.await("a refused call", () -> {
        Api.Response r = strict.api.get("/v1/webhooks/" + hook + "/deliveries", t.apiKey());
        JsonArray items = r.json().getJsonArray("items");
        return items.isEmpty() ? null : items.getJsonObject(0);
      }, o -> o != null && o.getInteger("attempts") >= 2, WAIT);
      assertEquals("pending", d.getString("state"));
      assertTrue(d.getString("lastError").contains("loopback"), d.getString("lastError"));
      assertEquals(0, receiver.calls("/strict").size());
    }
  }
}

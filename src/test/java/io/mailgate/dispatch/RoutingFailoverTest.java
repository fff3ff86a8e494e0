package io.mailgate.dispatch;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Routing in the dispatcher: residency is checked again before every send, a primary whose circuit opens hands new
 * chunks to the fallback, a probe brings them back, refused credentials make a backend unhealthy without failing
 * anyone, and per-tenant limits hold.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RoutingFailoverTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(90);

  static TestGateway gw;
  static Api api;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(TestDatabase.fresh(), Map.of(
        "MAILGATE_CHUNK_SIZE", "20",
        "MAILGATE_CIRCUIT_FAILURES", "3",
        "MAILGATE_CIRCUIT_OPEN_TIME", "1s"));
    api = gw.api;
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  private static JsonObject smtp(int port) {
    return new JsonObject().put("host", "127.0.0.1").put("port", port).put("tls", "none").put("maxConnections", 4)
        .put("ratePerSecond", 0).put("connectTimeout", "2s").put("downBackoff", "100ms");
  }

  private static String health(String backend) {
    Api.Response r = api.get("/v1/admin/backends", TestGateway.ADMIN_TOKEN);
    for (Object o : r.json().getJsonArray("items")) {
      JsonObject b = (JsonObject) o;
      if (b.getString("name").equals(backend)) {
        return b.getJsonObject("health").getString("state");
      }
    }
    throw new AssertionError("no backend " + backend);
  }

  private static Api.Response patch(String path, JsonObject body) {
    return api.send("PATCH", path, TestGateway.ADMIN_TOKEN, "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString(body.encode()), Map.of());
  }

  @Test
  void holdsMailWhenTheBackendsRegionChangesAfterRoutingAndSendsItOnceTheRegionIsAllowedAgain() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start()) {
      String backendId = api.createBackend("moved-smtp", "smtp", "eu", smtp(smtp.port()));
      TenantKey t = api.createTenant("resident", "eu");
      api.route(t, "moved-smtp");
      Api.expect(patch("/v1/admin/backends/" + backendId, new JsonObject().put("region", "us")), 200);

      String id = TestJobs.submit(api, t, TestJobs.emails("resident-", 10));
      Polling.await("every recipient held with the residency reason", () -> TestJobs.recipientsByEmail(api, t, id).values(),
          rs -> rs.stream().allMatch(r -> "deferred".equals(r.getString("state"))
              && r.getString("lastMessage").contains("residency")), TIMEOUT);
      assertEquals(0, smtp.transactions(), "nothing left the tenant's region");

      Api.expect(patch("/v1/admin/backends/" + backendId, new JsonObject().put("region", "eu")), 200);
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(10, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(10, smtp.received().size());
    }
  }

  @Test
  void sendsNewChunksToTheFallbackWhileThePrimaryIsDownAndReturnsToItAfterAProbeSucceeds() {
    try (ScriptedSmtpServer primary = new ScriptedSmtpServer().start();
        ScriptedSmtpServer fallback = new ScriptedSmtpServer().start()) {
      int primaryPort = primary.port();
      primary.stop();
      api.createBackend("primary-smtp", "smtp", "eu", smtp(primaryPort));
      api.createBackend("fallback-smtp", "smtp", "eu", smtp(fallback.port()));
      TenantKey t = api.createTenant("failover", "eu");
      Api.expect(api.put("/v1/admin/tenants/" + t.id() + "/backend", TestGateway.ADMIN_TOKEN,
          new JsonObject().put("backend", "primary-smtp").put("fallback", "fallback-smtp")), 200);

      List<String> first = TestJobs.emails("during-", 200);
      String a = TestJobs.submit(api, t, first);
      JsonObject doneA = api.awaitState(t, a, "completed", TIMEOUT);
      assertEquals(200, doneA.getJsonObject("counts").getInteger("sent"));
      assertEquals(200, fallback.received().size(), "the fallback took every message while the primary was down");
      assertEquals("open", health("primary-smtp"));

      primary.start(primaryPort);
      // after the open time, a probe chunk goes to the primary; its success closes the circuit
      Polling.await("the primary is back in use", () -> {
        String b = TestJobs.submit(api, t, TestJobs.emails("probe-" + System.nanoTime() + "-", 5));
        api.awaitState(t, b, "completed", TIMEOUT);
        return primary.received().size() > 0;
      }, TIMEOUT);
      Polling.await("the primary is reported healthy", () -> "healthy".equals(health("primary-smtp")), TIMEOUT);

      int before = fallback.received().size();
      String c = TestJobs.submit(api, t, TestJobs.emails("after-", 60));
      api.awaitState(t, c, "completed", TIMEOUT);
      assertEquals(before, fallback.received().size(), "with the primary healthy, nothing goes to the fallback");
    }
  }

  @Test
  void refusedCredentialsMakeTheBackendUnhealthyDeferRecipientsAndAFixedPasswordSendsThem() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().requireAuth("mailer", "right-password").start()) {
      String backendId = api.createBackend("locked-smtp", "smtp", "eu", smtp(smtp.port())
          .put("username", "mailer").put("password", "wrong-password").put("allowPlaintextAuth", true));
      TenantKey t = api.createTenant("locked", "eu");
      api.route(t, "locked-smtp");
      String id = TestJobs.submit(api, t, TestJobs.emails("locked-", 10));

      Polling.await("the backend is unhealthy", () -> "unhealthy".equals(health("locked-smtp")), TIMEOUT);
      Polling.await("no recipient sending", () -> api.job(t, id).getJsonObject("counts").getInteger("sending") == 0, TIMEOUT);
      JsonObject counts = api.job(t, id).getJsonObject("counts");
      assertEquals(0, counts.getInteger("failed"), "a wrong password never fails a recipient: " + counts.encode());
      assertEquals(0, counts.getInteger("sent"));
      assertTrue(TestJobs.recipientsByEmail(api, t, id).values().stream()
          .filter(r -> "deferred".equals(r.getString("state")))
          .allMatch(r -> r.getString("lastMessage").contains("authentication failed")));

      Api.expect(patch("/v1/admin/backends/" + backendId, new JsonObject().put("settings", smtp(smtp.port())
          .put("username", "mailer").put("password", "right-password").put("allowPlaintextAuth", true))), 200);
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(10, done.getJsonObject("counts").getInteger("sent"));
      assertEquals("healthy", health("locked-smtp"));
    }
  }

  @Test
  void neverRunsMoreChunksOfATenantAtOnceThanItsLimit() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(5).start()) {
      api.createBackend("limited-smtp", "smtp", "eu", smtp(smtp.port()));
      Api.Response created = api.post("/v1/admin/tenants", TestGateway.ADMIN_TOKEN,
          new JsonObject().put("name", "limited").put("region", "eu").put("maxConcurrentChunks", 1));
      Api.expect(created, 201);
      TenantKey t = new TenantKey(created.json().getString("id"), created.json().getString("apiKey"));
      api.route(t, "limited-smtp");
      TestDatabase.trackPeak(gw.db, "tenant_chunks", "chunks", "SELECT count(*) FROM chunks c JOIN jobs j ON j.id = c.job_id"
          + " WHERE j.tenant_id = '" + t.id() + "' AND c.state = 'leased'");
      String a = TestJobs.submit(api, t, TestJobs.emails("lim-a-", 100));
      String b = TestJobs.submit(api, t, TestJobs.emails("lim-b-", 100));
      api.awaitState(t, a, "completed", TIMEOUT);
      api.awaitState(t, b, "completed", TIMEOUT);
      long most = TestDatabase.peak(gw.db, "tenant_chunks");
      assertEquals(1, most, "at most one chunk of the tenant leased at any time");
      assertEquals(200, smtp.received().size());
    }
  }

  @Test
  void tenantRateLimitSpreadsItsMessagesOverTime() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start()) {
      api.createBackend("paced-smtp", "smtp", "eu", smtp(smtp.port()));
      Api.Response created = api.post("/v1/admin/tenants", TestGateway.ADMIN_TOKEN,
          new JsonObject().put("name", "paced").put("region", "eu").put("maxRatePerSecond", 20)
              .put("allowedRegions", new JsonArray()));
      Api.expect(created, 201);
      TenantKey t = new TenantKey(created.json().getString("id"), created.json().getString("apiKey"));
      api.route(t, "paced-smtp");
      long start = System.nanoTime();
      String id = TestJobs.submit(api, t, TestJobs.emails("paced-", 50));
      api.awaitState(t, id, "completed", TIMEOUT);
      double seconds = (System.nanoTime() - start) / 1e9;
      // 50 messages at 20/s with a burst of 2: at least ~2.4 s; a lower bound only, the machine may be slower
      assertTrue(seconds >= 2.0, "50 messages at 20/s took only " + seconds + " s");
      assertEquals(50, smtp.received().size());
    }
  }
}

package io.mailgate.dispatch;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What no happy path exercises: a send that comes back deferred after its job was cancelled, a reply the database
 * cannot store, a refused sender, a message too large to render. Every recipient still reaches a final state and the
 * dispatcher keeps working.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class LooseEndsTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(90);

  static TestGateway gw;
  static Api api;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_LEASE_TIME", "4s", "MAILGATE_RETRY_BASE_DELAY", "30s"));
    api = gw.api;
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @Test
  void sendsThatComeBackDeferredAfterTheCancelEndCancelledNotStrandedInAReadyChunk() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(1500)
        .onData((n, data) -> "451 4.3.0 try again later").start()) {
      TenantKey t = api.tenantOnSmtp("late-cancel", smtp.port(), new JsonObject().put("maxConnections", 4));
      String id = TestJobs.submit(api, t, TestJobs.emails("late-", 4));
      Polling.await("sends in flight", () -> api.job(t, id).getJsonObject("counts").getInteger("sending") == 4, TIMEOUT);
      Api.expect(api.control(t.apiKey(), id, "cancel"), 200);

      Polling.await("every chunk of the cancelled job closed", () -> TestDatabase.count(gw.db,
          "SELECT count(*) FROM chunks WHERE job_id = '" + id + "' AND state <> 'done'") == 0, TIMEOUT);
      JsonObject counts = api.job(t, id).getJsonObject("counts");
      assertEquals(4, counts.getInteger("cancelled"), counts.encode());
      assertEquals(0, counts.getInteger("deferred") + counts.getInteger("queued") + counts.getInteger("sending"), counts.encode());
      assertEquals("cancelled", api.job(t, id).getString("state"));
    }
  }

  @Test
  void aReplyWithANulByteIsStoredCleanedAndTheDispatcherCarriesOn() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer()
        .onRcpt(a -> a.startsWith("nul-") ? "550 5.1.1 no such\u0000user" : "250 2.1.5 ok").start()) {
      TenantKey t = api.tenantOnSmtp("nul", smtp.port(), null);
      String id = TestJobs.submit(api, t, TestJobs.emails("nul-", 3));
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(3, done.getJsonObject("counts").getInteger("failed"));
      TestJobs.recipientsByEmail(api, t, id).values().forEach(r -> {
        assertTrue(r.getString("lastMessage").contains("no such user"), r.encode());
        assertFalse(r.getString("lastMessage").contains("\u0000"), r.encode());
      });
      // the writer was not wedged: the next job goes through
      String next = TestJobs.submit(api, t, TestJobs.emails("after-nul-", 3));
      assertEquals(3, api.awaitState(t, next, "completed", TIMEOUT).getJsonObject("counts").getInteger("sent"));
    }
  }

  @Test
  void aRefusedSenderDefersRecipientsInsteadOfFailingThem() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().onMail(s -> "550 5.7.1 sender not allowed here").start()) {
      TenantKey t = api.tenantOnSmtp("sender", smtp.port(), null);
      String id = TestJobs.submit(api, t, TestJobs.emails("sender-", 3));
      Polling.await("every recipient deferred", () -> TestJobs.recipientsByEmail(api, t, id).values(),
          rs -> rs.stream().allMatch(r -> "deferred".equals(r.getString("state"))), TIMEOUT);
      TestJobs.recipientsByEmail(api, t, id).values().forEach(r -> {
        assertEquals(550, r.getInteger("lastCode"));
        assertTrue(r.getString("lastMessage").startsWith("sender refused"), r.encode());
      });
      Api.expect(api.control(t.apiKey(), id, "cancel"), 200);
    }
  }

  @Test
  void aMessageTooLargeToRenderFailsItsRecipientWithTheReason() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start()) {
      TenantKey t = api.tenantOnSmtp("huge", smtp.port(), null);
      JsonArray hundred = new JsonArray();
      for (int i = 0; i < 100; i++) {
        hundred.add(i);
      }
      JsonObject job = new JsonObject().put("from", "news@acme.example").put("subject", "s")
          .put("text", "{{#a}}{{#a}}{{#a}}0123456789{{/a}}{{/a}}{{/a}}")
          .put("recipients", new JsonArray()
              .add(new JsonObject().put("email", "big@example.com").put("vars", new JsonObject().put("a", hundred)))
              .add(new JsonObject().put("email", "small@example.com").put("vars", new JsonObject().put("a", new JsonArray().add(1)))));
      Api.Response r = api.submitJson(t, job);
      Api.expect(r, 202);
      JsonObject done = api.awaitState(t, r.json().getString("id"), "completed", TIMEOUT);
      assertEquals(1, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(1, done.getJsonObject("counts").getInteger("failed"));
      JsonObject big = TestJobs.recipient(api, t, r.json().getString("id"), "big@example.com");
      assertTrue(big.getString("lastMessage").contains("larger than"), big.encode());
    }
  }

  @Test
  void refusesVarsListsAndSectionNestingBeyondTheirLimits() {
    TenantKey t = api.createTenant("shapes", "eu");
    JsonArray tooMany = new JsonArray();
    for (int i = 0; i < 101; i++) {
      tooMany.add(i);
    }
    Api.Response list = api.submitJson(t, new JsonObject().put("from", "a@acme.example").put("subject", "s").put("text", "t")
        .put("recipients", new JsonArray().add(new JsonObject().put("email", "x@example.com")
            .put("vars", new JsonObject().put("a", tooMany)))));
    assertEquals(400, list.status(), list.text());
    assertEquals("invalid_vars", list.errorCode());
    Api.Response deep = api.submitJson(t, new JsonObject().put("from", "a@acme.example").put("subject", "s")
        .put("text", "{{#a}}{{#b}}{{#c}}{{#d}}x{{/d}}{{/c}}{{/b}}{{/a}}")
        .put("recipients", new JsonArray().add(new JsonObject().put("email", "x@example.com"))));
    assertEquals(400, deep.status(), deep.text());
    assertEquals("invalid_template", deep.errorCode());
    assertEquals(0, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE t.name = 'shapes'"));
  }
}

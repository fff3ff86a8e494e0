package io.mailgate.dispatch;

import org.junit.jupiter.api.Timeout;
import static io.mailgate.support.TestJobs.emails;
import static io.mailgate.support.TestJobs.receivedPerAddress;
import static io.mailgate.support.TestJobs.recipientsByEmail;
import static io.mailgate.support.TestJobs.submit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.vertx.core.json.JsonObject;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Pause, resume and cancel of jobs while they are sent, and what each verb answers in each state. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class JobControlTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(90);

  static TestGateway gw;
  static Api api;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_CHUNK_SIZE", "20"));
    api = gw.api;
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
  }

  @Test
  void pausedJobStopsSendingWithinShortTimeAndResumedJobCompletesSendingEachRecipientOnce() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(25).start()) {
      TenantKey t = api.tenantOnSmtp("pause", smtp.port(), new JsonObject().put("maxConnections", 2));
      List<String> to = emails("pause-", 300);
      String id = submit(api, t, to);
      Polling.await("sending under way", () -> smtp.received().size() >= 20, TIMEOUT);

      Api.Response paused = verb(t, id, "pause");
      Api.expect(paused, 200);
      assertEquals("paused", paused.json().getString("state"));

      Polling.await("no recipient sending", () -> sendingRecipients(t, id) == 0
          && api.job(t, id).getJsonObject("counts").getInteger("sending") == 0, Duration.ofSeconds(10));
      int stable = Polling.awaitStable("messages received while paused", () -> smtp.received().size(),
          Duration.ofMillis(1500), Duration.ofSeconds(20));
      assertTrue(stable < to.size(), "paused before the end, but the server received " + stable);
      JsonObject job = api.job(t, id);
      assertEquals("paused", job.getString("state"));
      JsonObject counts = job.getJsonObject("counts");
      assertEquals(stable, counts.getInteger("sent"), "every message the server took is recorded as sent: " + counts);
      assertEquals(to.size() - stable, counts.getInteger("queued"), "the rest waits: " + counts);
      assertEquals(0, counts.getInteger("sending") + counts.getInteger("deferred") + counts.getInteger("failed"));

      Api.Response resumed = verb(t, id, "resume");
      Api.expect(resumed, 200);
      assertEquals("running", resumed.json().getString("state"));
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(to.size(), done.getJsonObject("counts").getInteger("sent"));
      assertEquals(to.size(), smtp.received().size(), "one message per recipient, none twice");
      Map<String, Integer> per = receivedPerAddress(smtp);
      to.forEach(a -> assertEquals(1, per.get(a), a));
      recipientsByEmail(api, t, id).values().forEach(r -> {
        assertEquals("sent", r.getString("state"), r.encode());
        assertEquals(1, r.getInteger("attempts"), "a pause is not an attempt: " + r.encode());
      });
    }
  }

  @Test
  void cancelledJobLeavesNoRecipientToSendAndCountsTheUnsentAsCancelled() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(25).start()) {
      TenantKey t = api.tenantOnSmtp("cancel", smtp.port(), new JsonObject().put("maxConnections", 2));
      List<String> to = emails("cancel-", 300);
      String id = submit(api, t, to);
      Polling.await("sending under way", () -> smtp.received().size() >= 20, TIMEOUT);

      Api.Response cancelled = verb(t, id, "cancel");
      Api.expect(cancelled, 200);
      assertEquals("cancelled", cancelled.json().getString("state"));

      Polling.await("no recipient left to send", () -> {
        JsonObject c = api.job(t, id).getJsonObject("counts");
        return c.getInteger("queued") + c.getInteger("sending") + c.getInteger("deferred") == 0;
      }, Duration.ofSeconds(10));
      int received = Polling.awaitStable("messages received after cancel", () -> smtp.received().size(),
          Duration.ofMillis(1500), Duration.ofSeconds(20));

      Map<String, JsonObject> rs = recipientsByEmail(api, t, id);
      long sent = rs.values().stream().filter(r -> "sent".equals(r.getString("state"))).count();
      long cancelledRecipients = rs.values().stream().filter(r -> "cancelled".equals(r.getString("state"))).count();
      rs.values().forEach(r -> assertTrue(Set.of("sent", "cancelled").contains(r.getString("state")), r.encode()));
      assertEquals(to.size(), sent + cancelledRecipients);
      assertTrue(cancelledRecipients > 0, "cancelled mid-way");
      assertEquals(received, sent, "what the server took is what is recorded as sent");

      JsonObject job = api.job(t, id);
      assertEquals("cancelled", job.getString("state"));
      JsonObject counts = job.getJsonObject("counts");
      assertEquals(sent, counts.getInteger("sent").longValue(), counts.encode());
      assertEquals(cancelledRecipients, counts.getInteger("cancelled").longValue(), counts.encode());
      assertTrue(counts.getInteger("cancelled") > 0);
      assertEquals(to.size(), counts.getInteger("sent") + counts.getInteger("cancelled"), counts.encode());
      Map<String, Integer> per = receivedPerAddress(smtp);
      per.forEach((a, n) -> assertEquals(1, n, a));
    }
  }

  @Test
  void completedJobRefusesPauseAndCancelWith409AndTakesResumeAsNoOp() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start()) {
      TenantKey t = api.tenantOnSmtp("finished", smtp.port(), null);
      String id = submit(api, t, emails("finished-", 3));
      api.awaitState(t, id, "completed", TIMEOUT);

      Api.Response pause = verb(t, id, "pause");
      assertEquals(409, pause.status(), pause.text());
      assertEquals("invalid_state", pause.errorCode());
      Api.Response cancel = verb(t, id, "cancel");
      assertEquals(409, cancel.status(), cancel.text());
      assertEquals("invalid_state", cancel.errorCode());
      // resume is idempotent: a completed job has nothing left to resume
      Api.Response resume = verb(t, id, "resume");
      assertEquals(200, resume.status(), resume.text());
      assertEquals("completed", resume.json().getString("state"));

      JsonObject job = api.job(t, id);
      assertEquals("completed", job.getString("state"));
      assertEquals(3, job.getJsonObject("counts").getInteger("sent"));
      assertEquals(3, smtp.received().size());
    }
  }

  @Test
  void refusedControlVerbLeavesTheClientsConnectionUsableForItsNextRequest() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start()) {
      TenantKey t = api.tenantOnSmtp("refused-verb", smtp.port(), null);
      String id = submit(api, t, emails("refused-verb-", 1));
      api.awaitState(t, id, "completed", TIMEOUT);

      // the client as shipped with the tests (JDK HttpClient: HTTP/2 over cleartext when the server offers it)
      for (int i = 0; i < 20; i++) {
        Api.Response pause = api.send("POST", "/v1/jobs/" + id + "/pause", t.apiKey(), null, null, Map.of());
        assertEquals(409, pause.status(), pause.text());
        try {
          assertEquals("completed", api.job(t, id).getString("state"));
        } catch (IllegalStateException e) {
          fail("the request after a 409 to a bodyless POST failed (round " + i + "): " + rootCause(e));
        }
      }
    }
  }

  @Test
  void pausingTwiceAnswers200BothTimesAndTheJobStaysPaused() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(50).start()) {
      TenantKey t = api.tenantOnSmtp("pause-twice", smtp.port(), new JsonObject().put("maxConnections", 1));
      String id = submit(api, t, emails("pause-twice-", 200));
      Polling.await("sending under way", () -> smtp.received().size() >= 1, TIMEOUT);

      Api.Response first = verb(t, id, "pause");
      assertEquals(200, first.status(), first.text());
      assertEquals("paused", first.json().getString("state"));
      Api.Response second = verb(t, id, "pause");
      assertEquals(200, second.status(), second.text());
      assertEquals("paused", second.json().getString("state"));
      assertEquals("paused", api.job(t, id).getString("state"));

      Api.expect(verb(t, id, "cancel"), 200);
    }
  }

  @Test
  void cancellingTwiceAnswers200ButPausingOrResumingCancelledJobIs409() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(50).start()) {
      TenantKey t = api.tenantOnSmtp("cancel-twice", smtp.port(), new JsonObject().put("maxConnections", 1));
      String id = submit(api, t, emails("cancel-twice-", 200));
      Polling.await("sending under way", () -> smtp.received().size() >= 1, TIMEOUT);

      Api.Response first = verb(t, id, "cancel");
      assertEquals(200, first.status(), first.text());
      Api.Response second = verb(t, id, "cancel");
      assertEquals(200, second.status(), second.text());
      assertEquals("cancelled", second.json().getString("state"));
      Api.Response pause = verb(t, id, "pause");
      assertEquals(409, pause.status(), pause.text());
      assertEquals("invalid_state", pause.errorCode());
      Api.Response resume = verb(t, id, "resume");
      assertEquals(409, resume.status(), resume.text());
      assertEquals("invalid_state", resume.errorCode());
      assertEquals("cancelled", api.job(t, id).getString("state"));
    }
  }

  @Test
  void cancelSucceedsWhileTheDispatcherIsClaimingOneOfTheJobsChunks() throws Exception {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start()) {
      // a tenant whose backend is set only once the cancel is under way, so the claim comes in the middle of it
      api.createBackend("cancel-vs-claim-smtp", "smtp", "eu", new JsonObject()
          .put("host", "127.0.0.1").put("port", smtp.port()).put("tls", "none").put("ratePerSecond", 0));
      TenantKey t = api.createTenant("cancel-vs-claim", "eu");
      // the campaign lane: its claim waits for the job row (the priority lane's skips a job whose row is locked)
      String id = submit(api, t, TestJobs.job("Hello", emails("cancel-vs-claim-", 5)).put("priority", "normal"));

      CompletableFuture<Api.Response> cancel;
      try (Connection slow = TestDatabase.jdbc(gw.db)) {
        // a slow cancel (as with a big job): its UPDATE of the recipients waits for this row lock, holding the job row
        slow.setAutoCommit(false);
        try (Statement st = slow.createStatement()) {
          st.execute("SELECT 1 FROM recipients WHERE job_id = '" + id + "' AND seq = 4 FOR UPDATE");
        }
        cancel = CompletableFuture.supplyAsync(() -> verb(t, id, "cancel"));
        Polling.await("cancel under way", () -> waiting("%UPDATE recipients%", 0) == 1, TIMEOUT);

        api.route(t, "cancel-vs-claim-smtp");
        // the dispatcher leases the job's chunk and then waits for the job row the cancel holds
        // pg_stat_activity keeps the first 1 kB of a statement: match the claim by its start
        Polling.await("claim waiting for the job row", () -> waiting("WITH cj AS%", 1500) == 1, TIMEOUT);
        slow.rollback();
      }

      Api.Response cancelled = cancel.get(60, TimeUnit.SECONDS);
      assertEquals(200, cancelled.status(), "cancel while a chunk of the job is being claimed: " + cancelled.text());
      assertEquals("cancelled", api.job(t, id).getString("state"));
      // the chunk the dispatcher claimed is closed too, with nothing sent
      Polling.await("every chunk of the job closed", () -> TestDatabase.count(gw.db,
          "SELECT count(*) FROM chunks WHERE job_id = '" + id + "' AND state <> 'done'") == 0, TIMEOUT);
      JsonObject counts = api.job(t, id).getJsonObject("counts");
      assertEquals(5, counts.getInteger("cancelled"), counts.encode());
      assertEquals(0, counts.getInteger("queued") + counts.getInteger("sending") + counts.getInteger("deferred")
          + counts.getInteger("sent"), counts.encode());
      assertEquals(0, smtp.transactions(), "nothing of a cancelled job is sent");
    }
  }

  /** Statements of the gateway like {@code pattern} waiting for a lock for longer than {@code forMillis}. */
  private static long waiting(String pattern, long forMillis) {
    return TestDatabase.count(gw.db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        + " AND wait_event_type = 'Lock' AND query LIKE '" + pattern + "'"
        + " AND now() - query_start > " + forMillis + " * interval '1 millisecond'");
  }

  private static Api.Response verb(TenantKey t, String id, String verb) {
    return TestJobs.control(api, t, id, verb);
  }

  private static String rootCause(Throwable e) {
    Throwable c = e;
    while (c.getCause() != null) {
      c = c.getCause();
    }
    return c.toString();
  }

  private static int sendingRecipients(TenantKey t, String id) {
    Api.Response r = api.get("/v1/jobs/" + id + "/recipients?state=sending&limit=1000", t.apiKey());
    Api.expect(r, 200);
    return r.json().getJsonArray("items").size();
  }
}

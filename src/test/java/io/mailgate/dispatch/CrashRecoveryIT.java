package io.mailgate.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.GatewayProcess;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.store.DbTarget;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A gateway killed with SIGKILL in the middle of a job: another one takes its chunks over when their leases
 * expire. Every recipient ends in exactly one final state, none is lost, and the messages sent twice are no more
 * than the documented in-flight window: the sends in flight (maxConnections) plus the outcomes not yet written
 * (at most two state-flush batches). Every recipient sent twice is flagged possibleDuplicate.
 *
 * <p>Events are written in the statements that change the states, so the kill can leave neither a final state
 * without its event nor an event without its state: afterwards each recipient has exactly one event of its final
 * state, flagged possibleDuplicate exactly when the recipient is, and the suppressions and hourly counters agree.
 */
@org.junit.jupiter.api.Timeout(value = 6, unit = java.util.concurrent.TimeUnit.MINUTES)
class CrashRecoveryIT {

  static final int RECIPIENTS = 3000;
  static final int MAX_CONNECTIONS = 8;
  static final int FLUSH_BATCH = 50;

  @Test
  void resumesChunksOfAKilledGatewayWithoutLosingRecipientsAndWithBoundedDuplicates() throws Exception {
    DbTarget db = TestDatabase.fresh();
    Map<String, String> settings = Map.of(
        "MAILGATE_LEASE_TIME", "3s",
        "MAILGATE_CHUNK_SIZE", "100",
        "MAILGATE_STATE_FLUSH_BATCH", Integer.toString(FLUSH_BATCH));
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(2)
        .onRcpt(a -> unknown(a) ? "550 5.1.1 no such user" : "250 2.1.5 ok").start()) {
      String jobId;
      TenantKey tenant;
      try (GatewayProcess first = GatewayProcess.start(db, settings)) {
        tenant = first.api.tenantOnSmtp("crashy", smtp.port(), new JsonObject().put("maxConnections", MAX_CONNECTIONS));
        Api.Response r = first.api.submitJson(tenant, job(RECIPIENTS));
        Api.expect(r, 202);
        jobId = r.json().getString("id");
        awaitReceived(smtp, RECIPIENTS / 5, Duration.ofSeconds(120));
        first.kill();
      }
      int receivedAtCrash = smtp.received().size();
      assertTrue(receivedAtCrash < RECIPIENTS, "the crash must come mid-job (received " + receivedAtCrash + ")");
      long sendingAfterCrash = TestDatabase.count(db,
          "SELECT count(*) FROM recipients WHERE state IN ('sending', 'queued')");
      assertTrue(sendingAfterCrash > 0, "the killed gateway left work behind");

      Map<String, Boolean> flagged = new HashMap<>();
      try (TestGateway second = TestGateway.start(db, settings)) {
        JsonObject done = second.api.awaitState(tenant, jobId, "completed", Duration.ofMinutes(3));
        assertEquals(RECIPIENTS - UNKNOWN, done.getJsonObject("counts").getInteger("sent"));
        assertEquals(UNKNOWN, done.getJsonObject("counts").getInteger("failed"));
        second.api.recipients(tenant, jobId).forEach(r -> flagged.put(r.getString("email"), r.getBoolean("possibleDuplicate")));
      }
      assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM recipients WHERE state NOT IN ('sent', 'failed')"));
      assertEquals(UNKNOWN, TestDatabase.count(db, "SELECT count(*) FROM recipients WHERE state = 'failed'"));
      assertEquals(RECIPIENTS, TestDatabase.count(db, "SELECT count(*) FROM recipients"));
      assertEventsMatchFinalStates(db);

      Map<String, Integer> perAddress = new HashMap<>();
      for (ScriptedSmtpServer.Received m : smtp.received()) {
        m.rcptTo().forEach(a -> perAddress.merge(a, 1, Integer::sum));
      }
      assertEquals(RECIPIENTS - UNKNOWN, perAddress.size(), "every existing recipient received the message");
      perAddress.forEach((a, n) -> {
        if (n > 1) {
          assertTrue(flagged.get(a), a + " was sent " + n + " times and is not flagged possibleDuplicate");
        }
      });
      int duplicates = smtp.received().size() - (RECIPIENTS - UNKNOWN);
      int bound = MAX_CONNECTIONS + 2 * FLUSH_BATCH;
      System.out.printf("crash recovery: %d received before the kill, %d duplicates after takeover (bound %d)%n",
          receivedAtCrash, duplicates, bound);
      assertTrue(duplicates <= bound, duplicates + " duplicates exceed the in-flight bound " + bound);
    }
  }

  /** Every 50th address does not exist: the server refuses it with 550 5.1.1, before and after the kill. */
  static final int UNKNOWN = RECIPIENTS / 50;

  private static boolean unknown(String address) {
    return Integer.parseInt(address.substring(1, address.indexOf('@'))) % 50 == 7;
  }

  private static void assertEventsMatchFinalStates(DbTarget db) {
    assertEquals(0, TestDatabase.count(db, """
        SELECT count(*) FROM recipients r
        WHERE (SELECT count(*) FROM events e WHERE e.job_id = r.job_id AND e.seq = r.seq AND e.type = r.state) <> 1"""),
        "every recipient has exactly one event of its final state");
    assertEquals(0, TestDatabase.count(db, """
        SELECT count(*) FROM events e JOIN recipients r ON r.job_id = e.job_id AND r.seq = e.seq
        WHERE e.type IN ('sent', 'failed', 'cancelled', 'expired', 'suppressed') AND e.type <> r.state"""),
        "no final event contradicts its recipient's state");
    assertEquals(0, TestDatabase.count(db, """
        SELECT count(*) FROM events e JOIN recipients r ON r.job_id = e.job_id AND r.seq = e.seq
        WHERE e.type = 'sent' AND e.possible_duplicate <> r.possible_duplicate"""),
        "a sent event is flagged possibleDuplicate exactly when its recipient is");
    assertEquals(RECIPIENTS, TestDatabase.count(db, "SELECT count(*) FROM events"),
        "no event without its state change (no deferrals were scripted)");
    assertEquals(UNKNOWN, TestDatabase.count(db, "SELECT count(*) FROM suppressions WHERE reason = 'hard_bounce'"));
    assertEquals(RECIPIENTS - UNKNOWN, TestDatabase.count(db,
        "SELECT coalesce(sum(n), 0) FROM stats_hourly WHERE event = 'sent'"), "the hourly counters agree with the events");
    assertEquals(UNKNOWN, TestDatabase.count(db,
        "SELECT coalesce(sum(n), 0) FROM stats_hourly WHERE event = 'failed'"), "the hourly counters agree with the events");
  }

  private static JsonObject job(int n) {
    List<JsonObject> rs = new java.util.ArrayList<>();
    for (int i = 0; i < n; i++) {
      rs.add(new JsonObject().put("email", "r" + i + "@example.com").put("vars", new JsonObject().put("i", i)));
    }
    return new JsonObject().put("from", "ops@acme.example").put("subject", "Crash {{i}}").put("text", "body {{i}}")
        .put("recipients", rs);
  }

  private static void awaitReceived(ScriptedSmtpServer smtp, int n, Duration timeout) {
    io.mailgate.support.Polling.await(n + " messages arrived", () -> smtp.received().size() >= n, timeout);
  }
}

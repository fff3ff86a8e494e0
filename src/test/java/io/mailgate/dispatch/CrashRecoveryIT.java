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
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(2).start()) {
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
        assertEquals(RECIPIENTS, done.getJsonObject("counts").getInteger("sent"));
        second.api.recipients(tenant, jobId).forEach(r -> flagged.put(r.getString("email"), r.getBoolean("possibleDuplicate")));
      }
      assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM recipients WHERE state <> 'sent'"));
      assertEquals(RECIPIENTS, TestDatabase.count(db, "SELECT count(*) FROM recipients"));

      Map<String, Integer> perAddress = new HashMap<>();
      for (ScriptedSmtpServer.Received m : smtp.received()) {
        m.rcptTo().forEach(a -> perAddress.merge(a, 1, Integer::sum));
      }
      assertEquals(RECIPIENTS, perAddress.size(), "every recipient received the message");
      perAddress.forEach((a, n) -> {
        if (n > 1) {
          assertTrue(flagged.get(a), a + " was sent " + n + " times and is not flagged possibleDuplicate");
        }
      });
      int duplicates = smtp.received().size() - RECIPIENTS;
      int bound = MAX_CONNECTIONS + 2 * FLUSH_BATCH;
      System.out.printf("crash recovery: %d received before the kill, %d duplicates after takeover (bound %d)%n",
          receivedAtCrash, duplicates, bound);
      assertTrue(duplicates <= bound, duplicates + " duplicates exceed the in-flight bound " + bound);
    }
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

package io.mailgate.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.store.DbTarget;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.GatewayProcess;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestJobs;
import io.vertx.core.json.JsonObject;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two gateway processes share one database and one job; one is killed with SIGKILL. The survivor takes the dead
 * one's chunks over once their leases expire, even though its own chunks keep its backend slots busy, and every
 * recipient it sends again is flagged as a possible duplicate.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class TakeoverIT {

  static final int RECIPIENTS = 2400;
  static final long LEASE_MS = 2000;

  @Test
  void survivorTakesOverTheDeadProcessesChunksWithinALeaseAndFlagsWhatItSendsAgain() throws Exception {
    DbTarget db = TestDatabase.fresh();
    // slow chunks (300 recipients, 2 connections, 40 ms per message: 6 s each): the survivor's backend slots stay busy
    // with its own chunks for longer than a lease, so only a takeover that does not wait for them is quick
    Map<String, String> common = Map.of("MAILGATE_LEASE_TIME", LEASE_MS + "ms", "MAILGATE_CHUNK_SIZE", "300",
        "MAILGATE_STATE_FLUSH_BATCH", "20", "MAILGATE_DISPATCH_POLL_INTERVAL", "100ms");
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(40).start()) {
      Map<String, String> a = new HashMap<>(common);
      a.put("MAILGATE_NODE_ID", "node-a");
      Map<String, String> b = new HashMap<>(common);
      b.put("MAILGATE_NODE_ID", "node-b");
      try (GatewayProcess first = GatewayProcess.start(db, a); GatewayProcess second = GatewayProcess.start(db, b)) {
        TenantKey t = first.api.tenantOnSmtp("shared", smtp.port(), new JsonObject().put("maxConnections", 2));
        String jobId = TestJobs.submit(first.api, t, TestJobs.emails("shared-", RECIPIENTS));
        Polling.await("both processes sending", () -> leasedBy(db, "node-a") > 0 && leasedBy(db, "node-b") > 0
            && smtp.received().size() >= 200, Duration.ofMinutes(2));
        first.kill();
        List<Integer> held = chunksLeasedBy(db, "node-a");
        assertFalse(held.isEmpty(), "the killed process held chunks");

        JsonObject done = second.api.awaitState(t, jobId, "completed", Duration.ofMinutes(4));
        assertEquals(RECIPIENTS, done.getJsonObject("counts").getInteger("sent"));

        try (Connection c = TestDatabase.jdbc(db); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT chunk_no, taken_over_from, last_owner,"
                 + " extract(epoch FROM taken_over_at - taken_over_lease_until) * 1000 AS late_ms FROM chunks"
                 + " WHERE chunk_no = ANY('{" + join(held) + "}'::int[]) ORDER BY chunk_no")) {
          int n = 0;
          while (rs.next()) {
            n++;
            int chunk = rs.getInt(1);
            assertEquals("node-a", rs.getString(2), "chunk " + chunk + " was taken over from the dead process");
            assertEquals("node-b", rs.getString(3), "chunk " + chunk + " was taken over by the survivor");
            double late = rs.getDouble(4);
            System.out.printf("takeover of chunk %d: %.0f ms after its lease expired%n", chunk, late);
            // within one poll interval of the expiry in principle; a whole lease of slack for a loaded machine,
            // where waiting for the survivor's own chunks to end would take several leases
            assertTrue(late < LEASE_MS, "chunk " + chunk + " was taken over " + late + " ms after its lease expired");
          }
          assertEquals(held.size(), n);
        }

        Map<String, Integer> got = TestJobs.receivedPerAddress(smtp);
        assertEquals(RECIPIENTS, got.size(), "none lost");
        Map<String, Boolean> flagged = new HashMap<>();
        second.api.recipients(t, jobId).forEach(r -> flagged.put(r.getString("email"), r.getBoolean("possibleDuplicate")));
        int duplicates = 0;
        for (var e : got.entrySet()) {
          if (e.getValue() > 1) {
            duplicates++;
            assertTrue(flagged.get(e.getKey()), e.getKey() + " was sent twice and is not flagged possibleDuplicate");
          }
        }
        System.out.printf("takeover: %d chunks taken over, %d recipients sent twice (all flagged), %d flagged%n",
            held.size(), duplicates, flagged.values().stream().filter(x -> x).count());
      }
    }
  }

  private static long leasedBy(DbTarget db, String node) {
    return TestDatabase.count(db, "SELECT count(*) FROM chunks WHERE state = 'leased' AND lease_owner = '" + node + "'");
  }

  private static List<Integer> chunksLeasedBy(DbTarget db, String node) throws Exception {
    List<Integer> out = new ArrayList<>();
    try (Connection c = TestDatabase.jdbc(db); Statement st = c.createStatement();
         ResultSet rs = st.executeQuery("SELECT chunk_no FROM chunks WHERE state = 'leased' AND lease_owner = '" + node + "'")) {
      while (rs.next()) {
        out.add(rs.getInt(1));
      }
    }
    return out;
  }

  private static String join(List<Integer> xs) {
    return String.join(",", xs.stream().map(String::valueOf).toList());
  }
}

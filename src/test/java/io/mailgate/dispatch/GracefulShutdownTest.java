package io.mailgate.dispatch;

import org.junit.jupiter.api.Timeout;
import static io.mailgate.support.TestJobs.emails;
import static io.mailgate.support.TestJobs.receivedPerAddress;
import static io.mailgate.support.TestJobs.recipientsByEmail;
import static io.mailgate.support.TestJobs.submit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.mailgate.store.DbTarget;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonObject;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Stopping a gateway in the middle of a job: sends in flight finish and are recorded, the rest goes back to the
 * queue, no chunk stays leased, and another gateway on the same database finishes the job without duplicates.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class GracefulShutdownTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(90);
  /**
   * A lease far longer than the test: a graceful stop releases its chunks itself. With the tests' usual 10 s lease,
   * CI once saw the second gateway take over its own chunk (renewals of it stopped for over 6.7 s: a stall of the
   * shared machine, or the window between a claim and its run starting, which renewals do not cover) and send it
   * again flagged possibleDuplicate, as a takeover should, where this test asserts each recipient sent once.
   * Takeover after a lease expires is TakeoverIT's.
   */
  private static final Map<String, String> ENV = Map.of("MAILGATE_CHUNK_SIZE", "50", "MAILGATE_LEASE_TIME", "120s");

  @Test
  void stopLeavesNothingSendingOrLeasedAndAnotherGatewayFinishesTheJobSendingEachRecipientOnce() {
    DbTarget db = TestDatabase.fresh();
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(50).start()) {
      List<String> to = emails("shutdown-", 600);
      TenantKey t;
      String id;
      TestGateway first = TestGateway.start(db, ENV);
      try {
        t = first.api.tenantOnSmtp("shutdown", smtp.port(), new JsonObject().put("maxConnections", 4));
        id = submit(first.api, t, to);
        Polling.await("job under way", () -> smtp.received().size() >= 60, TIMEOUT);
      } finally {
        first.close(); // graceful: what is in flight finishes, the rest is released
      }

      int receivedAtStop = smtp.received().size();
      assertTrue(receivedAtStop < to.size(), "stopped mid-job, but the server already has " + receivedAtStop);
      assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM recipients WHERE state = 'sending'"),
          "no recipient left 'sending'");
      assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM chunks WHERE state = 'leased'"),
          "no chunk left leased");
      assertEquals(receivedAtStop, TestDatabase.count(db, "SELECT count(*) FROM recipients WHERE state = 'sent'"),
          "every message the server took before the stop is recorded as sent");
      assertEquals(to.size() - receivedAtStop,
          TestDatabase.count(db, "SELECT count(*) FROM recipients WHERE state = 'queued'"), "the rest is queued again");
      assertEquals(0, TestDatabase.count(db,
          "SELECT count(*) FROM chunks WHERE n_sending <> 0 OR n_queued + n_sent <> end_seq - first_seq"),
          "chunk counters match their recipients");

      try (TestGateway second = TestGateway.start(db, ENV)) {
        JsonObject done = second.api.awaitState(t, id, "completed", TIMEOUT);
        assertEquals(to.size(), done.getJsonObject("counts").getInteger("sent"));
        recipientsByEmail(second.api, t, id).values().forEach(r -> {
          assertEquals("sent", r.getString("state"), r.encode());
          assertEquals(1, r.getInteger("attempts"), "a shutdown is not an attempt: " + r.encode());
          assertEquals(false, r.getBoolean("possibleDuplicate"), r.encode());
        });
      }
      assertEquals(to.size(), smtp.received().size(), "one message per recipient over both gateways");
      Map<String, Integer> per = receivedPerAddress(smtp);
      to.forEach(a -> assertEquals(1, per.get(a), a));
    }
  }
  @Test
  void chunkClaimedWhileTheGatewayStopsIsNotLeftLeased() throws Exception {
    DbTarget db = TestDatabase.fresh();
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start()) {
      List<String> to = emails("claimed-at-stop-", 20);
      TestGateway first = TestGateway.start(db, ENV);
      TenantKey t = first.api.tenantOnSmtp("claimed-at-stop", smtp.port(), null);
      String id;
      CompletableFuture<Void> closing;
      // Hold the claim in flight: a claim ends by stamping the tenant's last_served_at, which waits for this row
      // lock. (FOR NO KEY UPDATE still lets the job row reference the tenant.)
      try (Connection lock = TestDatabase.jdbc(db)) {
        lock.setAutoCommit(false);
        try (Statement st = lock.createStatement()) {
          st.execute("SELECT 1 FROM tenants WHERE id = '" + t.id() + "' FOR NO KEY UPDATE");
        }
        id = submit(first.api, t, to);
        Polling.await("the dispatcher's claim waits for the tenant row", () -> TestDatabase.count(db,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0,
            TIMEOUT);

        // the claim goes through once the dispatcher has begun to stop (it says so in its log)
        CountDownLatch stopping = new CountDownLatch(1);
        AppenderBase<ILoggingEvent> watch = new AppenderBase<>() {
          @Override
          protected void append(ILoggingEvent e) {
            if (e.getMessage().startsWith("dispatcher stopping")) {
              stopping.countDown();
            }
          }
        };
        Logger dispatcherLog = (Logger) LoggerFactory.getLogger("io.mailgate.dispatch.Dispatcher");
        watch.start();
        dispatcherLog.addAppender(watch);
        try {
          closing = CompletableFuture.runAsync(first::close);
          Polling.await("dispatcher stopping", () -> stopping.getCount() == 0, TIMEOUT);
          lock.rollback();
        } finally {
          dispatcherLog.detachAppender(watch);
        }
      }
      closing.get(90, TimeUnit.SECONDS);
      Polling.await("every connection of the stopped gateway gone", () -> TestDatabase.count(db,
          "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
              + " AND backend_type = 'client backend'") == 0,
          TIMEOUT);

      assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM chunks WHERE state = 'leased'"),
          "a chunk claimed while the gateway stopped is released, not left leased to a node that is gone");
      assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM recipients WHERE state = 'sending'"),
          "no recipient left 'sending'");

      try (TestGateway second = TestGateway.start(db, ENV)) {
        second.api.awaitState(t, id, "completed", TIMEOUT);
      }
      assertEquals(to.size(), smtp.received().size(), "one message per recipient");
      Map<String, Integer> per = receivedPerAddress(smtp);
      to.forEach(a -> assertEquals(1, per.get(a), a));
    }
  }
}

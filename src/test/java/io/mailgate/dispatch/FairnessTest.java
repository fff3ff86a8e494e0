package io.mailgate.dispatch;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static io.mailgate.support.TestJobs.control;
import static io.mailgate.support.TestJobs.emails;
import static io.mailgate.support.TestJobs.submit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.store.DbTarget;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * How the dispatcher shares out its chunk slots: a tenant's big job does not hold up another tenant's small one
 * (the small job finishes first), and it never holds more chunks than it may.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class FairnessTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(90);
  private static final int BIG = 3_000;

  static TestGateway gw;
  static Api api;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_CHUNK_SIZE", "100"));
    api = gw.api;
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
  }

  @Test
  void smallJobOfAnotherTenantOnAnotherBackendCompletesWhileBigJobIsStillRunning() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(20).start()) {
      TenantKey a = api.tenantOnSmtp("big-a", smtp.port(), null);
      TenantKey b = api.tenantOnSmtp("small-b", smtp.port(), null);
      String big = submit(api, a, emails("big-a-", BIG));
      Polling.await("big job under way", () -> smtp.received().size() >= 50, TIMEOUT);

      String small = submit(api, b, emails("small-b-", 10));
      assertSmallCompletesWhileBigRuns(a, big, b, small, smtp);
    }
  }

  @Test
  void smallJobOfAnotherTenantSharingTheBackendCompletesWhileBigJobIsStillRunning() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(20).start()) {
      TenantKey a = api.tenantOnSmtp("big-shared", smtp.port(), null);
      TenantKey b = api.createTenant("small-shared", "eu");
      // the same backend: its chunks compete with the big job's for the backend's chunk slots
      api.route(b, "big-shared-smtp");
      String big = submit(api, a, emails("big-shared-", BIG));
      Polling.await("big job under way", () -> smtp.received().size() >= 50, TIMEOUT);

      String small = submit(api, b, emails("small-shared-", 10));
      assertSmallCompletesWhileBigRuns(a, big, b, small, smtp);
    }
  }

  @Test
  void neverHoldsMoreChunksAtOnceThanMaxChunksInFlight() {
    // the bound on work in memory: MAILGATE_DISPATCH_MAX_CHUNKS chunks, so at most that times the chunk size
    // recipients marked 'sending'
    DbTarget db = TestDatabase.fresh();
    try (TestGateway one = TestGateway.start(db, Map.of("MAILGATE_DISPATCH_MAX_CHUNKS", "1", "MAILGATE_CHUNK_SIZE", "10"));
         ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(100).start()) {
      // every change of chunks and recipients is checked by a trigger: nothing slips between samples
      TenantKey t = one.api.tenantOnSmtp("bounded", smtp.port(), new JsonObject().put("maxConnections", 2));
      TestDatabase.trackPeak(db, "leased_chunks", "chunks", "SELECT count(*) FROM chunks WHERE state = 'leased'");
      TestDatabase.trackPeak(db, "sending_recipients", "recipients", "SELECT count(*) FROM recipients WHERE state = 'sending'");
      submit(one.api, t, emails("bounded-", 100));

      Polling.await("job completed", () -> TestDatabase.count(db, "SELECT count(*) FROM jobs WHERE state = 'completed'") == 1,
          TIMEOUT);
      assertEquals(100, smtp.received().size());
      long chunks = TestDatabase.peak(db, "leased_chunks");
      long sending = TestDatabase.peak(db, "sending_recipients");
      assertEquals(1, chunks, "chunks leased at once with MAILGATE_DISPATCH_MAX_CHUNKS=1");
      assertTrue(sending >= 1 && sending <= 10, "recipients 'sending' at once: " + sending + " with one chunk of 10 allowed");
    }
  }

  private static void assertSmallCompletesWhileBigRuns(TenantKey a, String big, TenantKey b, String small,
                                                       ScriptedSmtpServer smtp) {
    JsonObject smallDone = api.awaitState(b, small, "completed", TIMEOUT);
    JsonObject bigThen = api.job(a, big);
    assertEquals(10, smallDone.getJsonObject("counts").getInteger("sent"));
    assertNotEquals("completed", bigThen.getString("state"), "the small job waited for the big one: " + bigThen);
    assertEquals("running", bigThen.getString("state"));
    assertTrue(bigThen.getJsonObject("counts").getInteger("sent") < BIG, bigThen.encode());

    // the next test starts on an idle gateway
    Api.expect(control(api, a, big, "cancel"), 200);
    long toB = smtp.received().stream().filter(m -> m.rcptTo().get(0).startsWith("small-")).count();
    assertEquals(10, toB);
  }
}

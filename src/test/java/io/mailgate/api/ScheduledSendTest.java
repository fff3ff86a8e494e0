package io.mailgate.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A job's {@code sendAt}: nothing of it reaches a backend before that time, in either lane; bad times are refused. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ScheduledSendTest {

  @Test
  void noRecipientOfAScheduledJobIsHandedToTheBackendBeforeItsSendAtInEitherLane() throws Exception {
    ConcurrentLinkedQueue<Instant> mailAt = new ConcurrentLinkedQueue<>();
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().onMail(s -> {
      mailAt.add(Instant.now());
      return "250 2.1.0 ok";
    }).start(); TestGateway gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_CHUNK_SIZE", "10"))) {
      TenantKey t = gw.api.tenantOnSmtp("later", smtp.port(), null);
      // whole seconds: the stored time is what the test compares with
      OffsetDateTime at = OffsetDateTime.now(ZoneOffset.UTC).plusSeconds(3).truncatedTo(ChronoUnit.SECONDS);
      String small = TestJobs.submit(gw.api, t, TestJobs.job("your appointment", List.of("small@example.com"))
          .put("sendAt", at.toString()));
      String campaign = TestJobs.submit(gw.api, t, TestJobs.job("the newsletter", TestJobs.emails("many-", 25))
          .put("sendAt", at.toString()).put("priority", "normal"));
      // an unscheduled job of the same tenant goes at once, past the waiting ones
      String now = TestJobs.submit(gw.api, t, TestJobs.job("right away", List.of("now@example.com")));
      gw.api.awaitState(t, now, "completed", Duration.ofSeconds(60));
      Instant beforeDue = Instant.now();
      JsonObject waiting = gw.api.job(t, small);
      assertEquals(at.toInstant(), OffsetDateTime.parse(waiting.getString("sendAt")).toInstant());
      if (beforeDue.isBefore(at.toInstant())) {
        assertEquals("queued", waiting.getString("state"), "not started before its time");
        assertEquals(1, smtp.received().size(), "only the unscheduled job was sent yet");
      }
      gw.api.awaitState(t, small, "completed", Duration.ofSeconds(60));
      gw.api.awaitState(t, campaign, "completed", Duration.ofSeconds(60));
      assertEquals(27, smtp.received().size());
      List<Instant> times = List.copyOf(mailAt);
      assertEquals(27, times.size());
      long early = times.stream().filter(i -> i.isBefore(at.toInstant())).count();
      assertEquals(1, early, "every transaction but the unscheduled job's began at or after sendAt: " + times);
    }
  }

  @Test
  void aSendAtTooFarAheadAfterTheExpiryOrWithoutAnOffsetIsRefusedAndStoresNothing() {
    try (TestGateway gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_DISPATCH_ENABLED", "false",
        "MAILGATE_MAX_SEND_AHEAD", "72h"))) {
      TenantKey t = gw.api.createTenant("strict", "eu");
      OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC);
      for (JsonObject bad : List.of(
          TestJobs.job("x", List.of("a@example.com")).put("sendAt", now.plusHours(73).toString()),
          TestJobs.job("x", List.of("a@example.com")).put("sendAt", now.plusHours(2).toString())
              .put("expiresAt", now.plusHours(1).toString()),
          TestJobs.job("x", List.of("a@example.com")).put("sendAt", "2030-01-01T00:00:00"),
          TestJobs.job("x", List.of("a@example.com")).put("sendAt", 1234))) {
        Api.Response r = gw.api.submitJson(t, bad);
        assertEquals(400, r.status(), r.text());
        assertEquals("sendAt", r.json().getJsonObject("error").getString("field"), r.text());
      }
      assertEquals(0, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs"), "nothing refused was stored");
      // a time just past means at once: a retried request arriving late is still meant
      String late = TestJobs.submit(gw.api, t, TestJobs.job("x", List.of("a@example.com"))
          .put("sendAt", now.minusMinutes(1).toString()));
      assertFalse(gw.api.job(t, late).getString("sendAt").isEmpty());
      assertTrue(TestDatabase.count(gw.db, "SELECT count(*) FROM chunks WHERE not_before <= now()") >= 1,
          "its chunk is due now");
    }
  }
}

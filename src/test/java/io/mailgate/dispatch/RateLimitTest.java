package io.mailgate.dispatch;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static io.mailgate.support.TestJobs.emails;
import static io.mailgate.support.TestJobs.receivedPerAddress;
import static io.mailgate.support.TestJobs.submit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;

/** An SMTP backend's ratePerSecond holds across all of a job's chunks. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RateLimitTest {

  @Test
  void smtpBackendSendsNoFasterThanItsRatePerSecondAcrossChunks() {
    ConcurrentLinkedQueue<Long> arrivals = new ConcurrentLinkedQueue<>();
    // several chunks, run side by side, share the backend's limit
    try (TestGateway gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_CHUNK_SIZE", "20"));
         ScriptedSmtpServer smtp = new ScriptedSmtpServer().onData((n, data) -> {
           arrivals.add(System.nanoTime());
           return "250 2.0.0 queued as " + n;
         }).start()) {
      TenantKey t = gw.api.tenantOnSmtp("limited", smtp.port(), new JsonObject().put("ratePerSecond", 50));
      List<String> to = emails("limited-", 100);
      String id = submit(gw.api, t, to);

      JsonObject done = gw.api.awaitState(t, id, "completed", Duration.ofSeconds(90));
      assertEquals(100, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(100, smtp.received().size());
      to.forEach(a -> assertEquals(1, receivedPerAddress(smtp).get(a), a));

      long first = arrivals.stream().mapToLong(Long::longValue).min().orElseThrow();
      long last = arrivals.stream().mapToLong(Long::longValue).max().orElseThrow();
      Duration spread = Duration.ofNanos(last - first);
      // 100 messages at 50/s with a burst of 5: about 1.9 s; a lower bound only
      assertTrue(spread.compareTo(Duration.ofMillis(1500)) >= 0,
          "100 messages at 50/s arrived within " + spread.toMillis() + " ms");
    }
  }
}

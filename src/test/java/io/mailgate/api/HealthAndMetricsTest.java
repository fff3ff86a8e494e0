package io.mailgate.api;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.store.DbTarget;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code /health} follows the database; {@code /metrics} is Prometheus text with the documented series. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class HealthAndMetricsTest {

  private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{([^}]*)\\})? (\\S+)");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

  static ScriptedSmtpServer smtp;
  static TestGateway gw;
  static Api http;

  @BeforeAll
  static void start() {
    smtp = new ScriptedSmtpServer()
        .onRcpt(rcpt -> rcpt.startsWith("bad") ? "550 5.1.1 no such user" : "250 2.1.5 ok")
        .start();
    gw = TestGateway.start(TestDatabase.fresh());
    http = gw.api.overHttp11();
  }

  @AfterAll
  static void stop() {
    gw.close();
    smtp.close();
  }

  @Test
  void healthIsOkWhileTheDatabaseAnswers() {
    Api.Response r = http.get("/health", null);
    assertEquals(200, r.status(), r.text());
    assertTrue(r.header("Content-Type").startsWith("application/json"), r.header("Content-Type"));
    assertEquals(new JsonObject().put("status", "ok"), r.json());
  }

  @Test
  void metricsArePrometheusTextWithJobRecipientAndBackendSeries() {
    TenantKey t = gw.api.tenantOnSmtp("metered", smtp.port(), null);
    Api.Response accepted = http.submitJson(t, new JsonObject().put("from", "news@acme.example").put("subject", "Hi")
        .put("text", "Hello").put("recipients", new JsonArray()
            .add(new JsonObject().put("email", "one@example.com"))
            .add(new JsonObject().put("email", "two@example.com"))
            .add(new JsonObject().put("email", "bad@example.com"))));
    Api.expect(accepted, 202);
    gw.api.awaitState(t, accepted.json().getString("id"), "completed", Duration.ofSeconds(30));

    // the gauges are refreshed from the database every MAILGATE_STATS_INTERVAL: the open work, today's events
    // (a refresh may read the events written and the job still running: wait for one that began after it completed)
    Api.Response r = awaitMetrics(text -> value(text, "mailgate_events_today", Map.of("type", "sent", "severity", "none")) == 2.0
        && value(text, "mailgate_events_today", Map.of("type", "failed", "severity", "hard")) == 1.0
        && value(text, "mailgate_jobs", Map.of("state", "running")) == 0.0
        // a small job goes from queued to completed when its chunk is released, after its events are written
        && value(text, "mailgate_jobs", Map.of("state", "queued")) == 0.0
        && value(text, "mailgate_recipients", Map.of("state", "sending")) == 0.0, Duration.ofSeconds(15));

    assertEquals(200, r.status());
    String contentType = r.header("Content-Type");
    assertNotNull(contentType);
    assertTrue(contentType.startsWith("text/plain") && contentType.contains("version=0.0.4"), contentType);
    String text = r.text();
    assertTrue(text.contains("# TYPE mailgate_jobs gauge"), text);
    assertTrue(text.contains("# TYPE mailgate_backend_sends_total counter"), text);
    assertTrue(text.contains("mailgate_stats_cache_reads_total{result=\"miss\"}"), text);
    assertTrue(text.contains("# TYPE mailgate_stats_cache_bytes gauge"), text);

    for (String state : new String[] {"queued", "running", "paused"}) {
      assertEquals(0.0, value(text, "mailgate_jobs", Map.of("state", state)), state + "\n" + text);
    }
    for (String state : new String[] {"queued", "sending", "deferred"}) {
      assertEquals(0.0, value(text, "mailgate_recipients", Map.of("state", state)), state + "\n" + text);
    }
    assertEquals(0.0, value(text, "mailgate_events_today", Map.of("type", "bounced", "severity", "hard")), text);
    assertEquals(1.0, value(text, "mailgate_jobs_accepted_total", Map.of()), text);
    assertEquals(0.0, value(text, "mailgate_queue_ready_chunks", Map.of()), text);

    String backend = "metered-smtp";
    assertEquals(3.0, value(text, "mailgate_backend_send_seconds_count", Map.of("backend", backend)), text);
    assertTrue(value(text, "mailgate_backend_send_seconds_sum", Map.of("backend", backend)) > 0, text);
    assertEquals(3.0, value(text, "mailgate_backend_send_seconds_bucket", Map.of("backend", backend, "le", "+Inf")), text);
    assertEquals(2.0, value(text, "mailgate_backend_sends_total", Map.of("backend", backend, "outcome", "sent")), text);
    assertEquals(1.0, value(text, "mailgate_backend_sends_total", Map.of("backend", backend, "outcome", "failed")), text);

    // the operators' backend figures: the counters' window across processes, this process's latency
    JsonObject figures = gw.api.get("/v1/admin/stats/backends?window=1h", TestGateway.ADMIN_TOKEN).json();
    JsonObject mine = figures.getJsonArray("backends").stream().map(o -> (JsonObject) o)
        .filter(o -> backend.equals(o.getString("backend"))).findFirst().orElseThrow(() -> new AssertionError(figures.encode()));
    assertEquals(2, mine.getJsonObject("window").getLong("sent"), mine.encode());
    assertEquals(1, mine.getJsonObject("window").getLong("failed"), mine.encode());
    assertEquals(1 / 3.0, mine.getJsonObject("window").getDouble("failureRate"), 1e-5, mine.encode());
    JsonObject latency = mine.getJsonObject("thisProcess").getJsonObject("latencyMillis");
    assertEquals(3, mine.getJsonObject("thisProcess").getLong("sends"));
    assertTrue(latency.getDouble("p50") > 0 && latency.getDouble("p50") <= latency.getDouble("p99")
        && latency.getDouble("p99") <= latency.getDouble("max"), latency.encode());
    assertEquals(403, gw.api.get("/v1/admin/stats/backends", t.apiKey()).status());
    assertEquals("invalid_parameter", gw.api.get("/v1/admin/stats/backends?window=7d", TestGateway.ADMIN_TOKEN).errorCode());
  }

  @Test
  void healthIsUnavailableWhenTheDatabaseIsGone() {
    // nothing listens on this port: the gateway must still start, and say it is unhealthy
    DbTarget gone = new DbTarget("127.0.0.1", TestGateway.freePort(), "x", "u", "p");
    try (TestGateway down = TestGateway.start(gone)) {
      Api client = down.api.overHttp11();
      Api.Response health = client.get("/health", null);
      assertEquals(503, health.status(), health.text());
      assertEquals("unavailable", health.json().getString("status"), health.text());
      assertEquals("down", health.json().getString("database"), health.text());

      // metrics need no database
      Api.Response metrics = client.get("/metrics", null);
      assertEquals(200, metrics.status());
      assertTrue(metrics.text().contains("mailgate_jobs{"), metrics.text());

      // a tenant request cannot be authenticated: 503 to retry, not a 401 that would blame the key
      Api.Response jobs = client.get("/v1/jobs", "mg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
      assertEquals(503, jobs.status(), jobs.text());
      assertEquals("unavailable", jobs.errorCode(), jobs.text());
      assertNotNull(jobs.header("Retry-After"), jobs.text());
    }
  }

  // --- helpers

  /** Polls /metrics until the condition holds; fails after the timeout with the last scrape. */
  private static Api.Response awaitMetrics(Predicate<String> condition, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Api.Response last = null;
    while (System.nanoTime() < deadline) {
      last = http.get("/metrics", null);
      if (last.status() == 200 && condition.test(last.text())) {
        return last;
      }
      try {
        Thread.sleep(50); // polling interval, not synchronisation: the loop ends on the condition
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    throw new AssertionError("metrics did not reach the expected values within " + timeout + "; last:\n"
        + (last == null ? null : last.text()));
  }

  /**
   * The value of the sample of {@code name} whose labels include {@code labels}; NaN when there is none, and an
   * error when several match.
   */
  static double value(String text, String name, Map<String, String> labels) {
    Double found = null;
    for (String line : text.split("\n")) {
      Matcher m = SAMPLE.matcher(line);
      if (!m.find() || !m.group(1).equals(name)) {
        continue;
      }
      Map<String, String> got = new LinkedHashMap<>();
      if (m.group(2) != null) {
        Matcher l = LABEL.matcher(m.group(2));
        while (l.find()) {
          got.put(l.group(1), l.group(2));
        }
      }
      if (!got.entrySet().containsAll(labels.entrySet())) {
        continue;
      }
      if (found != null) {
        throw new AssertionError("several samples of " + name + labels + ":\n" + text);
      }
      found = Double.parseDouble(m.group(3).replace("+Inf", "Infinity"));
    }
    return found == null ? Double.NaN : found;
  }
}

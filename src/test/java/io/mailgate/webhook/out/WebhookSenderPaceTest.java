package io.mailgate.webhook.out;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mailgate.store.DbTarget;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The webhook sender under a burst to one endpoint with two calls per webhook: a job's 60 calls all arrive, one per
 * recipient, and a slow claim (here: any, the threshold set to zero) has the outbox analysed.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class WebhookSenderPaceTest {

  static final Duration WAIT = Duration.ofSeconds(60);
  static DbTarget db;
  static TestGateway gw;
  static ScriptedSmtpServer smtp;
  static WebhookReceiver receiver;

  @BeforeAll
  static void start() throws Exception {
    db = TestDatabase.fresh();
    smtp = new ScriptedSmtpServer().start();
    receiver = new WebhookReceiver().start();
    gw = TestGateway.start(db, Map.of("MAILGATE_WEBHOOK_ALLOW_HTTP", "true", "MAILGATE_WEBHOOK_ALLOW_PRIVATE", "true",
        "MAILGATE_WEBHOOK_POLL_INTERVAL", "500ms", "MAILGATE_WEBHOOK_PER_WEBHOOK", "2", "MAILGATE_WEBHOOK_SLOW_CLAIM", "0ms"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (gw != null) {
      gw.close();
    }
    if (smtp != null) {
      smtp.close();
    }
    if (receiver != null) {
      receiver.close();
    }
  }

  @Test
  void everyCallOfABurstToOneEndpointArrivesOnceAndSlowClaimsHaveTheOutboxAnalysed() {
    Api api = gw.api;
    TenantKey t = api.tenantOnSmtp("pace", smtp.port(), null);
    Api.expect(api.post("/v1/webhooks", t.apiKey(), new JsonObject().put("url", receiver.url("/pace"))
        .put("events", new JsonArray().add("sent")).put("format", "native")), 201);
    List<String> to = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      to.add("fan" + i + "@example.com");
    }
    String job = TestJobs.submit(api, t, to);
    api.awaitState(t, job, "completed", WAIT);

    Polling.await("all 60 calls received", () -> receiver.calls("/pace").size() >= 60, WAIT);
    assertEquals(60, receiver.calls("/pace").stream().map(c -> c.json().getJsonObject("event").getString("recipient"))
        .distinct().count(), "one call per recipient");
    Polling.await("the outbox analysed after a slow claim",
        () -> TestDatabase.count(db, "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'webhook_deliveries'"
            + " AND last_analyze IS NOT NULL") == 1, WAIT);
  }
}

package io.mailgate.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The public unsubscribe links are rate limited per client address; the API beside them is not. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class PublicRateLimitTest {

  @Test
  void aClientOverItsRateOnTheUnsubscribeLinksGets429WithRetryAfterAndTheApiStillAnswers() {
    // one request a minute after a burst of three: nothing refills within the test
    try (TestGateway gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_PUBLIC_RATE_PER_MINUTE", "1",
        "MAILGATE_PUBLIC_RATE_BURST", "3", "MAILGATE_DISPATCH_ENABLED", "false"))) {
      TenantKey t = gw.api.createTenant("linked", "eu");
      for (int i = 0; i < 3; i++) {
        assertEquals(404, gw.api.get("/u/not-a-token-" + i, null).status(), "within the burst: the link is checked");
      }
      Api.Response limited = gw.api.get("/u/not-a-token-4", null);
      assertEquals(429, limited.status(), limited.text());
      assertEquals("1", limited.header("Retry-After"));
      assertEquals(429, gw.api.send("POST", "/u/not-a-token-5", null, "application/x-www-form-urlencoded",
          java.net.http.HttpRequest.BodyPublishers.ofString("List-Unsubscribe=One-Click"), Map.of()).status());
      Api.expect(gw.api.get("/v1/jobs", t.apiKey()), 200);
      assertEquals(0, TestDatabase.count(gw.db, "SELECT count(*) FROM suppressions"), "nothing stored");
    }
  }
}

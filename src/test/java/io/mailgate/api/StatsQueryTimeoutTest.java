package io.mailgate.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.mailgate.store.DbTarget;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The statistics read on connections of their own with a statement timeout: a read that cannot finish in time (here:
 * held up by a lock on the summaries' mark) answers 503 with Retry-After, and the rest of the API goes on meanwhile.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class StatsQueryTimeoutTest {

  @Test
  void aStatisticsReadPastTheTimeoutAnswers503WhileTheApiGoesOn() throws Exception {
    DbTarget db = TestDatabase.fresh();
    try (TestGateway gw = TestGateway.start(db, Map.of("MAILGATE_STATS_QUERY_TIMEOUT", "1s",
        "MAILGATE_DISPATCH_ENABLED", "false"))) {
      TenantKey t = gw.api.createTenant("patient", "eu");
      Api.expect(gw.api.get("/v1/stats", t.apiKey()), 200);
      try (Connection c = TestDatabase.jdbc(db); Statement st = c.createStatement()) {
        c.setAutoCommit(false);
        st.execute("LOCK TABLE stats_summarized IN ACCESS EXCLUSIVE MODE");
        Api.Response held = gw.api.get("/v1/stats?resolution=day", t.apiKey());
        assertEquals(503, held.status(), held.text());
        assertEquals("overloaded", held.errorCode());
        assertNotNull(held.header("Retry-After"));
        Api.expect(gw.api.get("/v1/jobs", t.apiKey()), 200);
        c.rollback();
      }
      Api.expect(gw.api.get("/v1/stats?resolution=day", t.apiKey()), 200);
    }
  }
}

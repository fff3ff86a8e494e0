package io.mailgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.store.embedded.EmbeddedDatabase;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.GatewayProcess;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * SIGTERM to the real process on its embedded database: the dispatcher stops claiming, lets sends in flight finish,
 * puts the rest back and releases its chunks before PostgreSQL stops. Nothing stays 'sending'.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ShutdownSignalIT {

  @Test
  void sigtermReleasesEveryChunkBeforeTheEmbeddedDatabaseStops() throws Exception {
    Path dataDir = Files.createTempDirectory("mailgate-sigterm");
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(30).start()) {
      try (GatewayProcess gw = GatewayProcess.start(null, Map.of(
          "MAILGATE_DATA_DIR", dataDir.toString(), "MAILGATE_CHUNK_SIZE", "50"))) {
        TenantKey t = gw.api.tenantOnSmtp("term", smtp.port(), new JsonObject().put("maxConnections", 4));
        List<JsonObject> rs = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
          rs.add(new JsonObject().put("email", "t" + i + "@example.com"));
        }
        Api.Response r = gw.api.submitJson(t, new JsonObject().put("from", "ops@acme.example").put("subject", "s")
            .put("text", "b").put("recipients", rs));
        Api.expect(r, 202);
        Polling.await("the job under way", () -> smtp.received().size() >= 20, Duration.ofSeconds(60));
        assertEquals(0, gw.terminate(), "graceful exit status; output:\n" + gw.output());
        assertTrue(gw.output().contains("dispatcher stopped"), gw.output());
      }
      int received = smtp.received().size();
      assertTrue(received >= 20, "messages were sent before the signal: " + received);
      assertTrue(received < 400, "the job was still running when the signal came");
      try (EmbeddedDatabase db = EmbeddedDatabase.start(dataDir.resolve("pg"), false);
          Connection c = DriverManager.getConnection(db.target().jdbcUrl(), "postgres", db.target().password());
          Statement st = c.createStatement()) {
        assertEquals(0, count(st, "SELECT count(*) FROM recipients WHERE state = 'sending'"));
        assertEquals(0, count(st, "SELECT count(*) FROM chunks WHERE state = 'leased'"));
        assertEquals(received, count(st, "SELECT count(*) FROM recipients WHERE state = 'sent'"),
            "every message the server took is recorded as sent, and no other");
        assertEquals(400 - received, count(st, "SELECT count(*) FROM recipients WHERE state = 'queued'"));
      }
    }
  }

  private static long count(Statement st, String sql) throws Exception {
    try (ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }
}

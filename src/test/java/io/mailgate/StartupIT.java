package io.mailgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.GatewayProcess;
import io.mailgate.support.Polling;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestJobs;
import io.vertx.core.json.JsonArray;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The jar as an operator starts it: no demo tenant in production, and a backup taken while it runs. */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class StartupIT {

  @Test
  void firstStartOnAnExternalDatabaseCreatesNoDemoTenantAndPrintsNoKey() throws Exception {
    try (GatewayProcess gw = GatewayProcess.start(TestDatabase.fresh(), Map.of())) {
      Api.Response tenants = gw.api.get("/v1/admin/tenants", io.mailgate.support.TestGateway.ADMIN_TOKEN);
      Api.expect(tenants, 200);
      assertEquals(new JsonArray(), tenants.json().getJsonArray("items"));
      assertFalse(gw.output().contains("Demo tenant"), gw.output());
      assertFalse(java.util.regex.Pattern.compile("mg_[A-Za-z0-9_-]{40,}").matcher(gw.output()).find(), "no API key in the log");
    }
  }

  @Test
  void demoTenantOnAnExternalDatabaseOnlyWhenAskedFor() throws Exception {
    try (GatewayProcess gw = GatewayProcess.start(TestDatabase.fresh(), Map.of("MAILGATE_DEMO", "true"))) {
      Polling.await("the demo tenant", () -> {
        Api.Response r = gw.api.get("/v1/admin/tenants", io.mailgate.support.TestGateway.ADMIN_TOKEN);
        return r.status() == 200 && r.json().getJsonArray("items").size() == 1;
      }, Duration.ofSeconds(30));
    }
  }

  @Test
  void backupWhileTheGatewayRunsRestoresIntoANewDataDirectory() throws Exception {
    Path dir = Files.createTempDirectory("mailgate-cli-backup");
    Path file = dir.resolve("mailgate.backup");
    Map<String, String> first = Map.of("MAILGATE_DATA_DIR", dir.resolve("a").toString(), "MAILGATE_DISPATCH_ENABLED", "false",
        "MAILGATE_DEMO", "false");
    TenantKey t;
    String jobId;
    try (GatewayProcess gw = GatewayProcess.start(null, first)) {
      t = gw.api.createTenant("kept", "eu");
      jobId = TestJobs.submit(gw.api, t, TestJobs.emails("kept-", 500));
      GatewayProcess.CommandResult backup = GatewayProcess.command(first, "backup", file.toString());
      assertEquals(0, backup.exit(), backup.output());
      assertTrue(backup.output().contains("recipients") && backup.output().contains("500"), backup.output());
      Api.expect(gw.api.get("/v1/jobs/" + jobId, t.apiKey()), 200); // the gateway kept working
    }
    Map<String, String> second = Map.of("MAILGATE_DATA_DIR", dir.resolve("b").toString(), "MAILGATE_DISPATCH_ENABLED", "false",
        "MAILGATE_DEMO", "false");
    GatewayProcess.CommandResult restore = GatewayProcess.command(second, "restore", file.toString());
    assertEquals(0, restore.exit(), restore.output());
    try (GatewayProcess gw = GatewayProcess.start(null, second)) {
      assertEquals(500, gw.api.job(t, jobId).getInteger("recipients"));
      assertEquals(500, gw.api.recipients(t, jobId).size());
    }
    GatewayProcess.CommandResult again = GatewayProcess.command(second, "restore", file.toString());
    assertEquals(1, again.exit(), "a restore into a database with data is refused: " + again.output());
  }
}

package io.mailgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.GatewayProcess;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.vertx.core.json.JsonObject;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The packaged jar on its embedded database (the default every new user runs), killed the ways processes die: the
 * gateway with SIGKILL mid-job, the gateway and its watchdog together (the server is left running), everything at
 * once (power loss), and the database alone under a running gateway.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class EmbeddedRestartIT {

  /** A restart must be healthy within this; before the fix it gave up after 60 s. */
  static final Duration HEALTHY_WITHIN = Duration.ofSeconds(30);
  static final Duration TIMEOUT = Duration.ofMinutes(3);

  @Test
  void restartsOnItsEmbeddedDatabaseAfterSigkillMidJobAndEveryRecipientEndsInOneFinalState() throws Exception {
    Path dataDir = Files.createTempDirectory("mailgate-restart");
    Map<String, String> env = Map.of("MAILGATE_DATA_DIR", dataDir.toString(), "MAILGATE_LEASE_TIME", "3s",
        "MAILGATE_STATE_FLUSH_BATCH", "50");
    int n = 2000;
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(3).start()) {
      TenantKey t;
      String jobId;
      long serverPid;
      try (GatewayProcess first = GatewayProcess.start(null, env)) {
        Polling.await("the embedded quick start creates the demo", () -> output(first).contains("Demo tenant 'demo' created"),
            Duration.ofSeconds(30));
        t = first.api.tenantOnSmtp("restarted", smtp.port(), new JsonObject().put("maxConnections", 4));
        jobId = TestJobs.submit(first.api, t, TestJobs.emails("restart-", n));
        Polling.await("the job under way", () -> smtp.received().size() >= 300, TIMEOUT);
        serverPid = postmasterPid(dataDir);
        first.kill();
      }
      int atCrash = smtp.received().size();
      assertTrue(atCrash < n, "the kill came mid-job");
      // the watchdog stops the dead gateway's server: nothing is left running
      Polling.await("the embedded server of the killed gateway stopped", () -> !alive(serverPid), Duration.ofSeconds(30));

      try (GatewayProcess second = GatewayProcess.start(null, env, HEALTHY_WITHIN)) {
        System.out.printf("restart after SIGKILL: healthy %d ms after the start%n", second.startup.toMillis());
        assertFalse(second.output().contains("Demo tenant"), "no second demo tenant on a restart");
        JsonObject done = second.api.awaitState(t, jobId, "completed", TIMEOUT);
        assertEquals(n, done.getJsonObject("counts").getInteger("sent"));
        List<JsonObject> rs = second.api.recipients(t, jobId);
        assertEquals(n, rs.size());
        assertTrue(rs.stream().allMatch(r -> "sent".equals(r.getString("state"))), "every recipient ends sent, once");
        Map<String, Integer> got = TestJobs.receivedPerAddress(smtp);
        assertEquals(n, got.size(), "every recipient got the message");
        Map<String, Boolean> flagged = new HashMap<>();
        rs.forEach(r -> flagged.put(r.getString("email"), r.getBoolean("possibleDuplicate")));
        got.forEach((address, times) -> {
          if (times > 1) {
            assertTrue(flagged.get(address), address + " was sent " + times + " times and is not flagged possibleDuplicate");
          }
        });
      }
    }
  }

  @Test
  void aServerLeftRunningByAKilledGatewayIsStoppedCleanlyBeforeTheNextStart() throws Exception {
    Path dataDir = Files.createTempDirectory("mailgate-orphan");
    Map<String, String> env = Map.of("MAILGATE_DATA_DIR", dataDir.toString());
    TenantKey t;
    long orphan;
    try (GatewayProcess first = GatewayProcess.start(null, env)) {
      t = first.api.createTenant("survivor", "eu");
      orphan = postmasterPid(dataDir);
      // the watchdog dies with the gateway (kill -9 of the whole group, or a gateway older than the watchdog)
      ProcessHandle.of(first.pid()).orElseThrow().children().forEach(ProcessHandle::destroyForcibly);
      first.kill();
    }
    assertTrue(alive(orphan), "the server outlived its gateway");
    try (GatewayProcess second = GatewayProcess.start(null, env, HEALTHY_WITHIN)) {
      assertTrue(second.output().contains("left by an earlier run"), second.output());
      assertFalse(alive(orphan), "the leftover server was stopped, not joined by a second one");
      Api.expect(second.api.get("/v1/jobs", t.apiKey()), 200);
    }
  }

  @Test
  void afterAPowerLossTheStalePidFileIsRecoveredFromTheWal() throws Exception {
    Path dataDir = Files.createTempDirectory("mailgate-powerloss");
    Map<String, String> env = Map.of("MAILGATE_DATA_DIR", dataDir.toString(), "MAILGATE_DISPATCH_ENABLED", "false");
    TenantKey t;
    String jobId;
    try (GatewayProcess first = GatewayProcess.start(null, env)) {
      t = first.api.createTenant("durable", "eu");
      jobId = TestJobs.submit(first.api, t, TestJobs.emails("durable-", 100));
      long pg = postmasterPid(dataDir);
      ProcessHandle server = ProcessHandle.of(pg).orElseThrow();
      // everything dies at once, as in a power loss: no process gets to clean up
      List<ProcessHandle> all = new java.util.ArrayList<>(server.descendants().toList());
      all.add(server);
      all.addAll(ProcessHandle.of(first.pid()).orElseThrow().children().toList());
      all.forEach(ProcessHandle::destroyForcibly);
      first.kill();
    }
    assertTrue(Files.exists(dataDir.resolve("pg/postmaster.pid")), "a stale pid file is left");
    try (GatewayProcess second = GatewayProcess.start(null, env, HEALTHY_WITHIN)) {
      JsonObject job = second.api.job(t, jobId);
      assertEquals(100, job.getInteger("recipients"), "the job answered 202 before the power loss is there");
    }
  }

  @Test
  void whenItsServerDiesTheGatewayAnswers503AndRestartsItByItself() throws Exception {
    Path dataDir = Files.createTempDirectory("mailgate-pgdies");
    // a restart delay long enough to see the outage from outside
    Map<String, String> env = Map.of("MAILGATE_DATA_DIR", dataDir.toString(), "MAILGATE_EMBEDDED_DB_RESTART_DELAY", "3s");
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start();
         GatewayProcess gw = GatewayProcess.start(null, env)) {
      TenantKey t = gw.api.tenantOnSmtp("outage", smtp.port(), null);
      ProcessHandle.of(postmasterPid(dataDir)).orElseThrow().destroyForcibly();
      Api.Response health = Polling.await("/health reports the database down",
          () -> gw.api.get("/health", null), r -> r.status() == 503, Duration.ofSeconds(10));
      assertEquals("down", health.json().getString("database"));
      Api.Response refused = gw.api.submitJson(t, TestJobs.job("x", List.of("during@example.com")));
      assertEquals(503, refused.status(), refused.text());
      assertEquals("unavailable", refused.errorCode());
      assertTrue(refused.header("Retry-After") != null);

      Polling.await("/health ok again", () -> gw.api.get("/health", null).status() == 200, Duration.ofSeconds(60));
      assertTrue(gw.output().contains("embedded PostgreSQL restarted"), gw.output());
      String id = TestJobs.submit(gw.api, t, TestJobs.emails("after-", 5));
      assertEquals(5, gw.api.awaitState(t, id, "completed", TIMEOUT).getJsonObject("counts").getInteger("sent"));
      assertEquals(0, TestJobs.receivedPerAddress(smtp).getOrDefault("during@example.com", 0));
    }
  }

  @Test
  void exitsWithAClearMessageWhenItsServerCannotBeRestarted() throws Exception {
    Path dataDir = Files.createTempDirectory("mailgate-pggone");
    Map<String, String> env = Map.of("MAILGATE_DATA_DIR", dataDir.toString(), "MAILGATE_EMBEDDED_DB_RESTART_DELAY", "2s",
        "MAILGATE_EMBEDDED_DB_RESTART_ATTEMPTS", "2");
    try (GatewayProcess gw = GatewayProcess.start(null, env)) {
      int dbPort = Integer.parseInt(Files.readAllLines(dataDir.resolve("pg/postmaster.pid")).get(3).trim());
      ProcessHandle.of(postmasterPid(dataDir)).orElseThrow().destroyForcibly();
      // something else takes the server's port: it cannot come back
      ServerSocket squatter = Polling.await("the server's port is free", () -> {
        try {
          return new ServerSocket(dbPort, 1, InetAddress.getByName("127.0.0.1"));
        } catch (java.io.IOException e) {
          return null;
        }
      }, s -> s != null, Duration.ofSeconds(10));
      try (squatter) {
        assertEquals(3, gw.awaitExit(Duration.ofSeconds(90)), gw.output());
        assertTrue(gw.output().contains("could not be restarted"), gw.output());
      }
    }
  }

  @Test
  void aDataDirectoryOfAnotherMajorVersionIsRefusedAtStartWithTheUpgradePath() throws Exception {
    Path dataDir = Files.createTempDirectory("mailgate-pg16");
    Files.createDirectories(dataDir.resolve("pg"));
    Files.writeString(dataDir.resolve("pg/PG_VERSION"), "16\n");
    Map<String, String> env = TestGateway.env(Map.of("MAILGATE_DATA_DIR", dataDir.toString()));
    List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
        System.getProperty("mailgate.jar", "target/mailgate.jar"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(2, p.exitValue(), out);
    assertTrue(out.contains("made by PostgreSQL 16") && out.contains("backup"), out);
  }

  static String output(GatewayProcess p) {
    try {
      return p.output();
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static long postmasterPid(Path dataDir) throws java.io.IOException {
    return Long.parseLong(Files.readAllLines(dataDir.resolve("pg/postmaster.pid")).get(0).trim());
  }

  static boolean alive(long pid) {
    if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
      return false;
    }
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
    } catch (java.io.IOException e) {
      return true;
    }
  }
}

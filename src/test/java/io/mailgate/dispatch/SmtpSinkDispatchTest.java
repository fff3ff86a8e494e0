package io.mailgate.dispatch;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.Tools;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Against Postfix's smtp-sink, a real SMTP server written in C that pipelines like production servers do (found by
 * {@link Tools#smtpSink()}; .ci/run installs it).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SmtpSinkDispatchTest {

  @Test
  void sendsTenKilobyteMessagesToPostfixSmtpSink() throws Exception {
    int port = TestGateway.freePort();
    Path log = Files.createTempFile("smtp-sink", ".log");
    List<String> cmd = new ArrayList<>(List.of(Tools.smtpSink().toString(), "-c"));
    if ("root".equals(System.getProperty("user.name"))) {
      cmd.addAll(List.of("-u", "nobody"));
    }
    cmd.addAll(List.of("127.0.0.1:" + port, "256"));
    Process sink = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try (TestGateway gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_CHUNK_SIZE", "250"))) {
      awaitListening(port);
      TenantKey t = gw.api.tenantOnSmtp("sinky", port, new JsonObject().put("maxConnections", 16));
      StringBuilder body = new StringBuilder();
      String text = "Hello {{name}},\n" + "The quick brown fox jumps over the lazy dog. ".repeat(230);
      body.append(new JsonObject().put("from", "bench@acme.example").put("subject", "Hi {{name}}").put("text", text).encode()).append('\n');
      int n = 2000;
      for (int i = 0; i < n; i++) {
        body.append("{\"email\":\"u").append(i).append("@example.com\",\"vars\":{\"name\":\"U").append(i).append("\"}}\n");
      }
      Api.Response r = gw.api.submitNdjson(t, body.toString());
      Api.expect(r, 202);
      JsonObject done = gw.api.awaitState(t, r.json().getString("id"), "completed", Duration.ofMinutes(3));
      assertEquals(n, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(0, done.getJsonObject("counts").getInteger("failed"));
    } finally {
      sink.destroy();
      Files.deleteIfExists(log);
    }
  }

  private static void awaitListening(int port) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline) {
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
        return;
      } catch (java.io.IOException e) {
        Api.sleep(50);
      }
    }
    throw new AssertionError("smtp-sink did not start on port " + port);
  }
}

package io.mailgate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.GatewayProcess;
import io.mailgate.support.TestJobs;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Group commit answers 202 only after the commit: every job answered is there after a kill -9 and a restart. */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class SmallJobsIT {

  @Test
  void everySmallJobAnswered202SurvivesAKillOfTheGateway() throws Exception {
    Path dataDir = Files.createTempDirectory("mailgate-grouped");
    // no dispatch: the jobs stay as accepted, so what is checked after the restart is the intake alone
    Map<String, String> env = Map.of("MAILGATE_DATA_DIR", dataDir.toString(), "MAILGATE_DISPATCH_ENABLED", "false",
        "MAILGATE_DEMO", "false");
    TenantKey t;
    List<String> ids = new ArrayList<>();
    try (GatewayProcess gw = GatewayProcess.start(null, env)) {
      t = gw.api.createTenant("grouped", "eu");
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        String body = TestJobs.job("grouped", List.of("g" + i + "@example.com")).encode();
        answers.add(client.sendAsync(HttpRequest.newBuilder(URI.create(gw.api.base() + "/v1/jobs"))
            .header("Authorization", "Bearer " + t.apiKey()).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
      }
      for (var a : answers) {
        HttpResponse<String> r = a.get(60, TimeUnit.SECONDS);
        assertEquals(202, r.statusCode(), r.body());
        ids.add(new JsonObject(r.body()).getString("id"));
      }
      gw.kill(); // at once after the last answer
    }
    try (GatewayProcess again = GatewayProcess.start(null, env)) {
      for (String id : ids) {
        JsonObject job = again.api.job(t, id);
        assertEquals(1, job.getInteger("recipients"), id);
        assertEquals(1, job.getJsonObject("counts").getInteger("queued"), id);
      }
    }
  }
}

package io.mailgate.api;

import io.mailgate.support.*;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.*;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class ZzProbeApiTmpTest {
  @Test
  void probe() throws Exception {
    try (TestGateway gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_DISPATCH_ENABLED", "false"))) {
      Api.TenantKey t = gw.api.createTenant("probe", "eu");
      for (HttpClient.Version v : HttpClient.Version.values()) {
        HttpClient c = HttpClient.newBuilder().version(v).build();
        for (String p : new String[] {"/v1/jobs", "/v1/jobs/" + UUID.randomUUID(), "/v1/jobs", "/v1/jobs/x", "/v1/jobs", "/health"}) {
          long t0 = System.nanoTime();
          try {
            HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create(gw.api.base() + p)).timeout(Duration.ofSeconds(5))
                .header("Authorization", "Bearer " + t.apiKey()).build(), HttpResponse.BodyHandlers.ofString());
            System.out.println("PROBE " + v + " " + p + " -> " + r.version() + " " + r.statusCode() + " " + r.headers().map() + " " + r.body() + " " + (System.nanoTime() - t0) / 1000000 + "ms");
          } catch (Exception e) {
            System.out.println("PROBE " + v + " " + p + " -> " + e + " " + (System.nanoTime() - t0) / 1000000 + "ms");
          }
        }
      }
    }
  }
}

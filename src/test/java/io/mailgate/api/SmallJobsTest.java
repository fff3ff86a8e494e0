package io.mailgate.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.store.DbTarget;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Many small jobs from many clients: admitted by cost (none refused under normal load, a tenant over its share
 * refused while another is served), sent in the priority lane ahead of a campaign, woken across processes by
 * LISTEN/NOTIFY, and never sent past their expiresAt.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SmallJobsTest {

  static final Duration TIMEOUT = Duration.ofSeconds(90);

  @Test
  void twoHundredConcurrentSmallSubmissionsWithTheDefaultSettingsAreAllAccepted() throws Exception {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start();
         TestGateway gw = TestGateway.start(TestDatabase.fresh())) {
      TenantKey t = gw.api.tenantOnSmtp("many", smtp.port(), null);
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        String body = TestJobs.job("one of many", List.of("many-" + i + "@example.com")).encode();
        answers.add(client.sendAsync(HttpRequest.newBuilder(URI.create(gw.api.base() + "/v1/jobs"))
            .header("Authorization", "Bearer " + t.apiKey()).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
      }
      List<String> ids = new ArrayList<>();
      for (var a : answers) {
        HttpResponse<String> r = a.get(60, TimeUnit.SECONDS);
        assertEquals(202, r.statusCode(), r.body());
        ids.add(new JsonObject(r.body()).getString("id"));
      }
      assertEquals(200, ids.stream().distinct().count());
      JsonObject first = gw.api.job(t, ids.get(0));
      assertEquals("high", first.getString("priority"), "a one-recipient job defaults to high priority");
      Polling.await("all 200 sent", () -> smtp.received().size() >= 200, TIMEOUT);
      for (String id : ids) {
        gw.api.awaitState(t, id, "completed", TIMEOUT);
      }
      assertEquals(200, TestJobs.receivedPerAddress(smtp).size());
      assertTrue(TestJobs.receivedPerAddress(smtp).values().stream().allMatch(n -> n == 1), "each sent once");
    }
  }

  @Test
  void aTenantOverItsShareIsRefusedWhileAnotherTenantIsServed() throws Exception {
    // two streams in all and a queue of two: each tenant may hold one stream and have one waiting
    Map<String, String> small = Map.of("MAILGATE_INGEST_MAX_STREAMS", "2", "MAILGATE_INGEST_QUEUE", "2",
        "MAILGATE_INGEST_QUEUE_TIMEOUT", "60s", "MAILGATE_DISPATCH_ENABLED", "false");
    try (TestGateway gw = TestGateway.start(TestDatabase.fresh(), small)) {
      TenantKey a = gw.api.createTenant("greedy", "eu");
      TenantKey b = gw.api.createTenant("modest", "eu");
      try (HeldUpload holding = new HeldUpload(gw, a); HeldUpload waiting = new HeldUpload(gw, a)) {
        holding.begin();
        Polling.await("A's first stream admitted", () -> gw.gateway.intake().admission().streams() == 1, Duration.ofSeconds(30));
        waiting.begin();
        Polling.await("A's second stream queued", () -> gw.gateway.intake().admission().waiting() == 1, Duration.ofSeconds(30));

        Api.Response refused = gw.api.submitNdjson(a, ndjson(1));
        assertEquals(503, refused.status(), refused.text());
        assertEquals("overloaded", refused.errorCode());
        assertNotNull(refused.header("Retry-After"));

        Api.Response served = gw.api.submitNdjson(b, ndjson(3));
        assertEquals(202, served.status(), "another tenant is served meanwhile: " + served.text());

        assertEquals(202, holding.finish());
        assertEquals(202, waiting.finish(), "the queued stream went once room came free");
      }
      assertEquals(3, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs"), "the refused submission stored nothing");
    }
  }

  @Test
  void aTenantWhoseBacklogIsAtTheBoundIsRefusedWhileAnotherIsServedAndAcceptedAgainOnceItsMailIsSent() throws Exception {
    // a tenant without a route (as with its backend down): its small jobs stay due and unclaimed, the backlog the
    // bound counts; it may not add to it, another tenant still may
    Map<String, String> small = Map.of("MAILGATE_INGEST_MAX_BACKLOG", "3", "MAILGATE_INGEST_QUEUE_TIMEOUT", "500ms",
        "MAILGATE_INGEST_BACKLOG_CHECK_INTERVAL", "50ms");
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start();
         TestGateway gw = TestGateway.start(TestDatabase.fresh(), small)) {
      gw.api.createBackend("later", "smtp", "eu", new JsonObject().put("host", "127.0.0.1").put("port", smtp.port())
          .put("tls", "none"));
      TenantKey t = gw.api.createTenant("unrouted", "eu");
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        ids.add(TestJobs.submit(gw.api, t, TestJobs.emails("backlog-" + i + "-", 1)));
      }
      Api.Response refused = gw.api.submitJson(t, TestJobs.job("one too many", List.of("late@example.com")));
      assertEquals(503, refused.status(), refused.text());
      assertEquals("overloaded", refused.errorCode());
      assertNotNull(refused.header("Retry-After"));
      TenantKey other = gw.api.createTenant("routed", "eu");
      gw.api.route(other, "later");
      String served = TestJobs.submit(gw.api, other, TestJobs.emails("other-", 1)); // 202, or submit fails the test
      gw.api.awaitState(other, served, "completed", TIMEOUT);
      Api.Response stream = gw.api.submitNdjson(t, ndjson(2));
      assertEquals(202, stream.status(), "a campaign upload is not held by the small jobs' backlog: " + stream.text());

      gw.api.route(t, "later");
      for (String id : ids) {
        gw.api.awaitState(t, id, "completed", TIMEOUT);
      }
      Polling.await("intake open again", () -> gw.api.submitJson(t, TestJobs.job("after", List.of("after@example.com")))
          .status() == 202, TIMEOUT);
      assertEquals(6, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs"), "the refused one stored nothing");
    }
  }

  @Test
  void aSmallJobSubmittedWhileACampaignSendsIsHandedToTheBackendBeforeTheCampaignSendsAThousandMore() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().dataReplyDelay(2).start();
         TestGateway gw = TestGateway.start(TestDatabase.fresh())) {
      TenantKey t = gw.api.tenantOnSmtp("busy", smtp.port(), new JsonObject().put("maxConnections", 4));
      String campaign = TestJobs.submit(gw.api, t, TestJobs.emails("campaign-", 4000));
      Polling.await("the campaign under way", () -> smtp.received().size() >= 300, TIMEOUT);
      assertEquals("normal", gw.api.job(t, campaign).getString("priority"));

      int before = smtp.received().size();
      String urgent = TestJobs.submit(gw.api, t, TestJobs.emails("urgent-", 1));
      Polling.await("the small job sent", () -> smtp.received().stream().anyMatch(m -> m.rcptTo().get(0).startsWith("urgent-")),
          TIMEOUT);
      int position = 0;
      for (ScriptedSmtpServer.Received m : smtp.received()) {
        if (m.rcptTo().get(0).startsWith("urgent-")) {
          break;
        }
        position++;
      }
      int campaignMessagesBetween = position - before;
      System.out.printf("priority lane: %d campaign messages went out between the small job's submission and its send%n",
          campaignMessagesBetween);
      assertTrue(campaignMessagesBetween < 1000, campaignMessagesBetween + " campaign messages went first");
      gw.api.awaitState(t, urgent, "completed", TIMEOUT);
      Api.expect(TestJobs.control(gw.api, t, campaign, "cancel"), 200);
    }
  }

  @Test
  void aJobPastItsExpiresAtIsNeverSentAndEndsExpired() throws Exception {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start();
         TestGateway gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_EXPIRY_SWEEP_INTERVAL", "200ms"))) {
      gw.api.createBackend("later-smtp", "smtp", "eu", new JsonObject().put("host", "127.0.0.1").put("port", smtp.port())
          .put("tls", "none"));
      // no route yet: nothing can be sent before the expiry
      TenantKey t = gw.api.createTenant("late", "eu");
      JsonObject job = TestJobs.job("your code is 123456", TestJobs.emails("late-", 3))
          .put("expiresAt", OffsetDateTime.now().plusSeconds(2).toString());
      String id = TestJobs.submit(gw.api, t, job);
      assertNotNull(gw.api.job(t, id).getString("expiresAt"));
      JsonObject done = gw.api.awaitState(t, id, "completed", Duration.ofSeconds(30));
      assertEquals(3, done.getJsonObject("counts").getInteger("expired"));
      gw.api.route(t, "later-smtp");
      String after = TestJobs.submit(gw.api, t, TestJobs.emails("fresh-", 1));
      gw.api.awaitState(t, after, "completed", TIMEOUT);
      assertTrue(smtp.received().stream().noneMatch(m -> m.rcptTo().get(0).startsWith("late-")), "nothing expired was sent");
      assertTrue(gw.api.recipients(t, id).stream().allMatch(r -> "expired".equals(r.getString("state"))));
    }
  }

  @Test
  void expiresAtInThePastOrAnUnknownPriorityIsRefused() {
    try (TestGateway gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_DISPATCH_ENABLED", "false"))) {
      TenantKey t = gw.api.createTenant("strict", "eu");
      Api.Response past = gw.api.submitJson(t, TestJobs.job("x", List.of("a@example.com"))
          .put("expiresAt", OffsetDateTime.now().minusMinutes(1).toString()));
      assertEquals(400, past.status());
      assertEquals("expiresAt", past.json().getJsonObject("error").getString("field"));
      Api.Response noZone = gw.api.submitJson(t, TestJobs.job("x", List.of("a@example.com")).put("expiresAt", "2030-01-01T00:00:00"));
      assertEquals(400, noZone.status());
      Api.Response urgent = gw.api.submitJson(t, TestJobs.job("x", List.of("a@example.com")).put("priority", "urgent"));
      assertEquals(400, urgent.status());
      assertEquals("priority", urgent.json().getJsonObject("error").getString("field"));
      String low = TestJobs.submit(gw.api, t, TestJobs.job("x", List.of("a@example.com")).put("priority", "low"));
      assertEquals("low", gw.api.job(t, low).getString("priority"));
      assertEquals(1, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs"), "the refused ones stored nothing");
    }
  }

  @Test
  void aJobAcceptedByOneProcessIsSentAtOnceByAnotherThatListens() {
    DbTarget db = TestDatabase.fresh();
    // B polls only every minute: sending within seconds means the commit's NOTIFY woke it
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start();
         TestGateway a = TestGateway.start(db, Map.of("MAILGATE_DISPATCH_ENABLED", "false"));
         TestGateway b = TestGateway.start(db, Map.of("MAILGATE_DISPATCH_POLL_INTERVAL", "60s"))) {
      TenantKey t = a.api.tenantOnSmtp("relayed", smtp.port(), null);
      long start = System.nanoTime();
      String id = TestJobs.submit(a.api, t, TestJobs.emails("relayed-", 1));
      b.api.awaitState(t, id, "completed", Duration.ofSeconds(20));
      System.out.printf("accepted by A, sent by B %d ms later%n", (System.nanoTime() - start) / 1_000_000);
      assertEquals(1, smtp.received().size());
      assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM chunks WHERE last_owner IS NULL OR last_owner <> '"
          + b.gateway.nodeId() + "'"), "B sent it");
    }
  }

  private static String ndjson(int n) {
    StringBuilder b = new StringBuilder(new JsonObject().put("from", "a@acme.example").put("subject", "s").put("text", "t").encode());
    b.append('\n');
    for (int i = 0; i < n; i++) {
      b.append("{\"email\":\"s").append(i).append("@example.com\"}\n");
    }
    return b.toString();
  }

  /**
   * An NDJSON upload over a raw socket, chunked: {@link #begin} sends the headers and the job with one recipient,
   * {@link #finish} the last recipient and the end, and reads the status.
   */
  static final class HeldUpload implements AutoCloseable {
    private final Socket socket;
    private final TenantKey tenant;

    HeldUpload(TestGateway gw, TenantKey tenant) throws IOException {
      URI base = URI.create(gw.api.base());
      this.socket = new Socket(base.getHost(), base.getPort());
      this.socket.setSoTimeout(60_000);
      this.tenant = tenant;
    }

    void begin() throws IOException {
      String head = "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + tenant.apiKey()
          + "\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n";
      OutputStream out = socket.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(chunk(ndjson(1)));
      out.flush();
    }

    int finish() throws IOException {
      OutputStream out = socket.getOutputStream();
      out.write(chunk("{\"email\":\"last@example.com\"}\n"));
      out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String status = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII)).readLine();
      return Integer.parseInt(status.split(" ")[1]);
    }

    private static byte[] chunk(String s) {
      byte[] data = s.getBytes(StandardCharsets.UTF_8);
      byte[] head = (Integer.toHexString(data.length) + "\r\n").getBytes(StandardCharsets.US_ASCII);
      byte[] out = new byte[head.length + data.length + 2];
      System.arraycopy(head, 0, out, 0, head.length);
      System.arraycopy(data, 0, out, head.length, data.length);
      out[out.length - 2] = '\r';
      out[out.length - 1] = '\n';
      return out;
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}

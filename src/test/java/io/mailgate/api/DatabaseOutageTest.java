package io.mailgate.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.mailgate.store.DbTarget;
import io.mailgate.store.Migrations;
import io.mailgate.store.embedded.EmbeddedDatabase;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * PostgreSQL stops under a running gateway: every route answers 503 {@code unavailable} with Retry-After (never a
 * 500), an ingest cut off mid-stream stores nothing, and dispatch resumes by itself once the database is back.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DatabaseOutageTest {

  @Test
  void databaseStoppedMidIngestAnswers503StoresNothingAndDispatchResumesWhenItIsBack() throws Exception {
    Path dir = Files.createTempDirectory("mailgate-outage").resolve("pg");
    int port = TestGateway.freePort();
    EmbeddedDatabase.Options fixedPort = new EmbeddedDatabase.Options(false, port, Duration.ofMinutes(1), "1GB", Duration.ofMinutes(2));
    EmbeddedDatabase[] pg = {EmbeddedDatabase.start(dir, fixedPort)};
    DbTarget db = pg[0].target();
    Migrations.migrate(db);
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start();
         TestGateway gw = TestGateway.start(db, Map.of("MAILGATE_DB_POOL_SIZE", "4"))) {
      Api api = gw.api.overHttp11();
      TenantKey t = api.tenantOnSmtp("outage", smtp.port(), null);
      String before = TestJobs.submit(api, t, TestJobs.emails("before-", 3));
      api.awaitState(t, before, "completed", Duration.ofSeconds(60));

      // an NDJSON body that stalls after a few thousand recipients until the database is gone
      CountDownLatch stalled = new CountDownLatch(1);
      CountDownLatch stopped = new CountDownLatch(1);
      Thread stopper = new Thread(() -> {
        try {
          stalled.await();
          Api.sleep(300); // the batches sent so far are written inside the open transaction
          pg[0].close();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        } finally {
          stopped.countDown();
        }
      });
      stopper.start();
      Api.Response cut = api.submitNdjson(t, () -> new StallingBody(20_000, 12_000, stalled, stopped));
      assertEquals(503, cut.status(), cut.text());
      assertEquals("unavailable", cut.errorCode());
      assertNotNull(cut.header("Retry-After"));

      // every route: reads, operator routes and the key lookup itself
      for (Api.Response r : new Api.Response[] {
          api.get("/v1/jobs", t.apiKey()), api.get("/v1/jobs/" + before, t.apiKey()),
          api.get("/v1/admin/tenants", TestGateway.ADMIN_TOKEN), api.submitJson(t, TestJobs.job("x", TestJobs.emails("down-", 1)))}) {
        assertEquals(503, r.status(), r.text());
        assertEquals("unavailable", r.errorCode());
        assertNotNull(r.header("Retry-After"));
      }
      assertEquals(503, api.get("/health", null).status());

      stopper.join();
      pg[0] = EmbeddedDatabase.start(dir, fixedPort);
      assertEquals(1, TestDatabase.count(db, "SELECT count(*) FROM jobs"), "the cut-off ingest stored no job");
      assertEquals(3, TestDatabase.count(db, "SELECT count(*) FROM recipients"), "and no recipient");

      Polling.await("the gateway sees the database again", () -> api.get("/health", null).status() == 200, Duration.ofSeconds(30));
      String after = TestJobs.submit(api, t, TestJobs.emails("after-", 3));
      assertEquals(3, api.awaitState(t, after, "completed", Duration.ofSeconds(60)).getJsonObject("counts").getInteger("sent"));
    } finally {
      pg[0].close();
    }
  }

  /** The job line, then recipients; after {@code stallAt} of them it waits until {@code resume} opens. */
  static final class StallingBody extends InputStream {
    private final int total;
    private final int stallAt;
    private final CountDownLatch stalled;
    private final CountDownLatch resume;
    private byte[] current = (new JsonObject().put("from", "a@acme.example").put("subject", "s").put("text", "b").encode() + "\n")
        .getBytes(StandardCharsets.UTF_8);
    private int pos;
    private int next;

    StallingBody(int total, int stallAt, CountDownLatch stalled, CountDownLatch resume) {
      this.total = total;
      this.stallAt = stallAt;
      this.stalled = stalled;
      this.resume = resume;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (pos == current.length) {
        if (next == total) {
          return -1;
        }
        if (next == stallAt) {
          stalled.countDown();
          try {
            resume.await(60, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            throw new IOException(e);
          }
        }
        current = ("{\"email\":\"r" + next + "@example.com\"}\n").getBytes(StandardCharsets.US_ASCII);
        pos = 0;
        next++;
      }
      int n = Math.min(len, current.length - pos);
      System.arraycopy(current, pos, b, off, n);
      pos += n;
      return n;
    }
  }
}

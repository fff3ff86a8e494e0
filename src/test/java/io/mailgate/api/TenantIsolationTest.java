package io.mailgate.api;

import org.junit.jupiter.api.Timeout;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A tenant sees only its own jobs: another tenant's job answers exactly like a job that does not exist, for reads
 * and for pause, resume and cancel. Keys and the admin token only open their own half of the API.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class TenantIsolationTest {

  static TestGateway gw;
  static Api api;
  static Api http;
  static TenantKey a;
  static TenantKey b;
  static String jobOfA;

  @BeforeAll
  static void start() {
    // no dispatch: jobs stay queued, so a state change can only come from the API calls under test
    gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_DISPATCH_ENABLED", "false"));
    api = gw.api;
    http = api.overHttp11();
    api.createBackend("isolation-file", "file", "eu",
        new JsonObject().put("dir", System.getProperty("java.io.tmpdir") + "/mailgate-isolation-test"));
    a = api.createTenant("tenant-a", "eu");
    b = api.createTenant("tenant-b", "eu");
    api.route(a, "isolation-file");
    api.route(b, "isolation-file");
    Api.Response r = http.submitJson(a, job("a1@example.com", "a2@example.com"));
    Api.expect(r, 202);
    jobOfA = r.json().getString("id");
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @Test
  void tenantCannotReadAnotherTenantsJob() {
    Api.Response theirs = http.get("/v1/jobs/" + jobOfA, b.apiKey());
    Api.Response missing = http.get("/v1/jobs/" + UUID.randomUUID(), b.apiKey());
    assertEquals(404, theirs.status(), theirs.text());
    assertSameAnswer(missing, theirs);
    assertEquals("not_found", theirs.errorCode());
    // the owner still sees it
    assertEquals(200, http.get("/v1/jobs/" + jobOfA, a.apiKey()).status());
  }

  @Test
  void tenantCannotReadAnotherTenantsRecipients() {
    Api.Response theirs = http.get("/v1/jobs/" + jobOfA + "/recipients", b.apiKey());
    Api.Response missing = http.get("/v1/jobs/" + UUID.randomUUID() + "/recipients", b.apiKey());
    assertEquals(404, theirs.status(), theirs.text());
    assertSameAnswer(missing, theirs);
    assertFalse(theirs.text().contains("a1@example.com"));
    Api.Response own = http.get("/v1/jobs/" + jobOfA + "/recipients", a.apiKey());
    Api.expect(own, 200);
    assertEquals(2, own.json().getJsonArray("items").size());
  }

  @Test
  void tenantCannotReadAnotherTenantsRecipientsWithStateFilter() {
    Api.Response theirs = http.get("/v1/jobs/" + jobOfA + "/recipients?state=queued&limit=1", b.apiKey());
    Api.Response missing = http.get("/v1/jobs/" + UUID.randomUUID() + "/recipients?state=queued&limit=1", b.apiKey());
    assertEquals(404, theirs.status(), theirs.text());
    assertSameAnswer(missing, theirs);
  }

  @ParameterizedTest
  @ValueSource(strings = {"pause", "resume", "cancel"})
  void tenantCannotControlAnotherTenantsJob(String action) {
    Api.Response theirs = http.control(b.apiKey(), jobOfA, action);
    Api.Response missing = http.control(b.apiKey(), UUID.randomUUID().toString(), action);
    assertEquals(404, theirs.status(), theirs.text());
    assertSameAnswer(missing, theirs);
    // nothing changed for the owner
    assertEquals("queued", jobState(a, jobOfA));
    assertEquals(1, TestDatabase.count(gw.db,
        "SELECT count(*) FROM jobs WHERE id = '" + jobOfA + "' AND state = 'queued'"));
    assertEquals(0, TestDatabase.count(gw.db,
        "SELECT count(*) FROM recipients WHERE job_id = '" + jobOfA + "' AND state <> 'queued'"));
  }

  @Test
  void ownerCanPauseAndResumeItsJobWhereAnotherTenantCannot() {
    // the control endpoints do work for the owner, so the 404 above is about ownership, not the endpoint
    TenantKey owner = api.createTenant("owner-c", "eu");
    Api.Response r = http.submitJson(owner, job("c1@example.com"));
    Api.expect(r, 202);
    String id = r.json().getString("id");
    Api.Response paused = http.control(owner.apiKey(), id, "pause");
    Api.expect(paused, 200);
    assertEquals("paused", paused.json().getString("state"));
    Api.Response resumedByOther = http.control(b.apiKey(), id, "resume");
    assertEquals(404, resumedByOther.status());
    assertEquals("paused", jobState(owner, id));
  }

  @Test
  void jobListShowsOnlyTheCallersJobs() {
    Api.Response r = http.submitJson(b, job("b1@example.com"));
    Api.expect(r, 202);
    String jobOfB = r.json().getString("id");

    List<String> seenByB = jobIds(b);
    assertTrue(seenByB.contains(jobOfB), seenByB.toString());
    assertFalse(seenByB.contains(jobOfA), seenByB.toString());
    long bJobsInDb = TestDatabase.count(gw.db, "SELECT count(*) FROM jobs WHERE tenant_id = '" + b.id() + "'");
    assertEquals(bJobsInDb, seenByB.size());

    List<String> seenByA = jobIds(a);
    assertTrue(seenByA.contains(jobOfA), seenByA.toString());
    assertFalse(seenByA.contains(jobOfB), seenByA.toString());
  }

  @Test
  void tenantIdInJobBodyIsIgnored() {
    Api.Response r = http.submitJson(b, job("spoof@example.com").put("tenantId", a.id()));
    Api.expect(r, 202);
    String id = r.json().getString("id");
    assertEquals(1, TestDatabase.count(gw.db,
        "SELECT count(*) FROM jobs WHERE id = '" + id + "' AND tenant_id = '" + b.id() + "'"));
    assertEquals(200, http.get("/v1/jobs/" + id, b.apiKey()).status());
    assertEquals(404, http.get("/v1/jobs/" + id, a.apiKey()).status());
    assertFalse(jobIds(a).contains(id));
  }

  @Test
  void tenantIdInNdjsonJobLineIsIgnored() {
    JsonObject jobLine = job().put("tenantId", a.id());
    String body = jobLine.encode() + "\n" + new JsonObject().put("email", "spoof2@example.com").encode() + "\n";
    Api.Response r = http.submitNdjson(b, body);
    Api.expect(r, 202);
    String id = r.json().getString("id");
    assertEquals(1, TestDatabase.count(gw.db,
        "SELECT count(*) FROM jobs WHERE id = '" + id + "' AND tenant_id = '" + b.id() + "'"));
    assertEquals(404, http.get("/v1/jobs/" + id, a.apiKey()).status());
  }

  @Test
  void requestWithoutAuthorizationIsUnauthorized() {
    assertUnauthorized(http.get("/v1/jobs", null));
    assertUnauthorized(http.get("/v1/jobs/" + jobOfA, null));
    long jobs = TestDatabase.count(gw.db, "SELECT count(*) FROM jobs");
    assertUnauthorized(http.post("/v1/jobs", null, job("x@example.com")));
    assertEquals(jobs, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs"));
    assertUnauthorized(http.get("/v1/admin/tenants", null));
  }

  @ParameterizedTest
  @ValueSource(strings = {"mg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not-a-key", "mg_"})
  void unknownApiKeyIsUnauthorized(String key) {
    assertUnauthorized(http.get("/v1/jobs", key));
    assertUnauthorized(http.get("/v1/jobs/" + jobOfA, key));
    long jobs = TestDatabase.count(gw.db, "SELECT count(*) FROM jobs");
    assertUnauthorized(http.post("/v1/jobs", key, job("x@example.com")));
    assertEquals(jobs, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs"));
  }

  @Test
  void authorizationWithoutBearerSchemeIsUnauthorized() {
    Api.Response r = http.send("GET", "/v1/jobs", null, null, null, Map.of("Authorization", "Basic " + a.apiKey()));
    assertUnauthorized(r);
    Api.Response lower = http.send("GET", "/v1/jobs", null, null, null, Map.of("Authorization", "bearer " + a.apiKey()));
    // the scheme is case-insensitive (RFC 7235)
    assertEquals(200, lower.status(), lower.text());
  }

  @Test
  void tenantKeyCannotUseAdminApi() {
    Api.Response list = http.get("/v1/admin/tenants", a.apiKey());
    assertEquals(403, list.status(), list.text());
    assertEquals("forbidden", list.errorCode());
    Api.Response create = http.post("/v1/admin/tenants", a.apiKey(), new JsonObject().put("name", "by-tenant").put("region", "eu"));
    assertEquals(403, create.status(), create.text());
    assertEquals(0, TestDatabase.count(gw.db, "SELECT count(*) FROM tenants WHERE name = 'by-tenant'"));
    Api.Response route = http.put("/v1/admin/tenants/" + a.id() + "/backend", a.apiKey(), new JsonObject().put("backend", "x"));
    assertEquals(403, route.status(), route.text());
  }

  @Test
  void adminTokenCannotUseTenantApi() {
    Api.Response list = http.get("/v1/jobs", TestGateway.ADMIN_TOKEN);
    assertEquals(403, list.status(), list.text());
    assertEquals("forbidden", list.errorCode());
    Api.Response read = http.get("/v1/jobs/" + jobOfA, TestGateway.ADMIN_TOKEN);
    assertEquals(403, read.status(), read.text());
    long jobs = TestDatabase.count(gw.db, "SELECT count(*) FROM jobs");
    Api.Response submit = http.post("/v1/jobs", TestGateway.ADMIN_TOKEN, job("x@example.com"));
    assertEquals(403, submit.status(), submit.text());
    assertEquals(jobs, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"not-a-uuid", "123", "01a2285e-5619-7087-9dbb"})
  void nonUuidJobIdIsNotFound(String id) {
    for (String path : List.of("/v1/jobs/" + id, "/v1/jobs/" + id + "/recipients")) {
      Api.Response r = http.get(path, a.apiKey());
      assertEquals(404, r.status(), path + ": " + r.text());
      assertEquals("not_found", r.errorCode());
    }
    Api.Response pause = http.control(a.apiKey(), id, "pause");
    assertEquals(404, pause.status(), pause.text());
    assertEquals("not_found", pause.errorCode());
  }

  /**
   * Bug: an error answer to a request whose body the gateway did not read (and a body-less GET counts as such, since
   * authentication pauses the request) closes the connection. On HTTP/2 (h2c, which the JDK client upgrades to) that
   * closes every other request multiplexed on the connection, and the answer carries "connection: close", a header
   * HTTP/2 forbids.
   */
  @Test
  void errorAnswerDoesNotAbortOtherRequestsOnTheSameHttp2Connection() throws Exception {
    // a client of its own, so the connection it upgrades to HTTP/2 is not shared with the other tests
    Api h2 = new Api(gw.gateway.httpPort(), TestGateway.ADMIN_TOKEN);
    Api.expect(h2.get("/v1/jobs", a.apiKey()), 200); // body-less: the JDK client upgrades the connection to h2c here

    CountDownLatch firstLineRead = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    byte[][] parts = {
        (job().encode() + "\n").getBytes(StandardCharsets.UTF_8),
        (new JsonObject().put("email", "slow@example.com").encode() + "\n").getBytes(StandardCharsets.UTF_8)};
    InputStream slowBody = new InputStream() {
      private int part;
      private int pos;

      @Override
      public int read() {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (part == parts.length) {
          return -1;
        }
        if (part == 1 && pos == 0) {
          firstLineRead.countDown();
          try {
            if (!release.await(30, TimeUnit.SECONDS)) {
              throw new IllegalStateException("never released");
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
          }
        }
        int n = Math.min(len, parts[part].length - pos);
        System.arraycopy(parts[part], pos, b, off, n);
        pos += n;
        if (pos == parts[part].length) {
          part++;
          pos = 0;
        }
        return n;
      }
    };
    CompletableFuture<Api.Response> upload = CompletableFuture.supplyAsync(() -> h2.submitNdjson(a, () -> slowBody));
    try {
      assertTrue(firstLineRead.await(10, TimeUnit.SECONDS), "the upload started");
      Api.Response notFound = h2.get("/v1/jobs/" + UUID.randomUUID(), a.apiKey());
      assertEquals(404, notFound.status(), notFound.text());
    } finally {
      release.countDown();
    }
    Api.Response accepted;
    try {
      accepted = upload.get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError("the 404 of one request aborted another request on the same HTTP/2 connection", e.getCause());
    }
    assertEquals(202, accepted.status(), accepted.text());
    assertNull(h2.get("/v1/jobs/" + UUID.randomUUID(), a.apiKey()).header("Connection"),
        "connection-specific header fields are not allowed in HTTP/2 (RFC 9113, 8.2.2)");
  }

  // --- helpers

  private static JsonObject job(String... emails) {
    JsonObject j = new JsonObject().put("from", "news@acme.example").put("subject", "Hi").put("text", "Hello");
    if (emails.length > 0) {
      JsonArray rs = new JsonArray();
      for (String e : emails) {
        rs.add(new JsonObject().put("email", e));
      }
      j.put("recipients", rs);
    }
    return j;
  }

  private static String jobState(TenantKey t, String id) {
    Api.Response r = http.get("/v1/jobs/" + id, t.apiKey());
    Api.expect(r, 200);
    return r.json().getString("state");
  }

  private static List<String> jobIds(TenantKey t) {
    List<String> ids = new ArrayList<>();
    String after = null;
    do {
      Api.Response r = http.get("/v1/jobs?limit=2" + (after == null ? "" : "&after=" + after), t.apiKey());
      Api.expect(r, 200);
      r.json().getJsonArray("items").forEach(o -> ids.add(((JsonObject) o).getString("id")));
      after = r.json().getString("next");
    } while (after != null);
    return ids;
  }

  private static void assertSameAnswer(Api.Response expected, Api.Response actual) {
    assertEquals(expected.status(), actual.status(), actual.text());
    assertNotNull(actual.json(), actual.text());
    assertEquals(expected.json(), actual.json(), "another tenant's job must look exactly like a missing one");
  }

  private static void assertUnauthorized(Api.Response r) {
    assertEquals(401, r.status(), r.text());
    assertEquals("unauthorized", r.errorCode());
  }
}

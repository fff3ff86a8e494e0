package io.mailgate.api;

import org.junit.jupiter.api.Timeout;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Idempotency-Key: a retry with the same key and the same body answers with the job of the first request and stores
 * nothing new; the same key with another body is refused; keys are per tenant.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class IdempotencyTest {

  private static final int MAX_KEY = 16;
  private static final AtomicInteger TENANTS = new AtomicInteger();

  static TestGateway gw;
  static Api http;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(TestDatabase.fresh(), Map.of(
        "MAILGATE_DISPATCH_ENABLED", "false",
        "MAILGATE_MAX_IDEMPOTENCY_KEY_CHARS", Integer.toString(MAX_KEY)));
    http = gw.api.overHttp11();
    gw.api.createBackend("idem-file", "file", "eu",
        new JsonObject().put("dir", System.getProperty("java.io.tmpdir") + "/mailgate-idempotency-test"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  // --- JSON

  @Test
  void sameKeyAndSameJsonBodyAnswersWithTheSameJob() {
    TenantKey t = newTenant();
    JsonObject job = job("a@example.com", "b@example.com");
    Api.Response first = submitJson(t, "json-same", job);
    Api.Response second = submitJson(t, "json-same", job);
    assertEquals(202, first.status(), first.text());
    assertEquals(202, second.status(), second.text());
    String id = first.json().getString("id");
    assertEquals(id, second.json().getString("id"));
    assertEquals(2, second.json().getInteger("recipients"));
    assertEquals("/v1/jobs/" + id, second.header("Location"));
    assertStoredOnce(t, id, 2);
  }

  @Test
  void sameKeyWithDifferentJsonBodyIsUnprocessable() {
    TenantKey t = newTenant();
    Api.Response first = submitJson(t, "json-diff", job("a@example.com"));
    assertEquals(202, first.status(), first.text());
    Api.Response other = submitJson(t, "json-diff", job("a@example.com", "b@example.com"));
    assertEquals(422, other.status(), other.text());
    assertEquals("idempotency_key_reused", other.errorCode());
    assertStoredOnce(t, first.json().getString("id"), 1);
  }

  @Test
  void sameKeyUnderAnotherTenantCreatesSeparateJob() {
    TenantKey t1 = newTenant();
    TenantKey t2 = newTenant();
    JsonObject job = job("a@example.com");
    Api.Response r1 = submitJson(t1, "shared-key", job);
    Api.Response r2 = submitJson(t2, "shared-key", job);
    assertEquals(202, r1.status(), r1.text());
    assertEquals(202, r2.status(), r2.text());
    assertNotEquals(r1.json().getString("id"), r2.json().getString("id"));
    assertStoredOnce(t1, r1.json().getString("id"), 1);
    assertStoredOnce(t2, r2.json().getString("id"), 1);
    // and each tenant sees only its own
    assertEquals(404, http.get("/v1/jobs/" + r1.json().getString("id"), t2.apiKey()).status());
  }

  @Test
  void requestsWithoutKeyAreNeverDeduplicated() {
    TenantKey t = newTenant();
    JsonObject job = job("a@example.com");
    Api.Response r1 = http.submitJson(t, job);
    Api.Response r2 = http.submitJson(t, job);
    assertEquals(202, r1.status());
    assertEquals(202, r2.status());
    assertNotEquals(r1.json().getString("id"), r2.json().getString("id"));
    assertEquals(2, jobsOf(t));
    assertEquals(0, TestDatabase.count(gw.db, "SELECT count(*) FROM idempotency_keys WHERE tenant_id = '" + t.id() + "'"));
  }

  @Test
  void concurrentJsonRequestsWithOneKeyCreateOneJob() throws Exception {
    TenantKey t = newTenant();
    JsonObject job = job("a@example.com", "b@example.com", "c@example.com");
    List<Api.Response> answers = concurrently(4, () -> submitJson(t, "json-race", job));
    Set<String> ids = new HashSet<>();
    for (Api.Response r : answers) {
      assertEquals(202, r.status(), r.text());
      ids.add(r.json().getString("id"));
    }
    assertEquals(1, ids.size(), "every request answers with the one job: " + ids);
    assertStoredOnce(t, ids.iterator().next(), 3);
  }

  // --- NDJSON

  @Test
  void sameKeyAndSameNdjsonBodyAnswersWithTheSameJob() {
    TenantKey t = newTenant();
    String body = ndjson("a@example.com", "b@example.com", "c@example.com");
    Api.Response first = submitNdjson(t, "nd-same", body);
    Api.Response second = submitNdjson(t, "nd-same", body);
    assertEquals(202, first.status(), first.text());
    assertEquals(202, second.status(), second.text());
    String id = first.json().getString("id");
    assertEquals(id, second.json().getString("id"));
    assertEquals(3, second.json().getInteger("recipients"));
    assertStoredOnce(t, id, 3);
  }

  @Test
  void sameKeyWithDifferentNdjsonBodyIsUnprocessable() {
    TenantKey t = newTenant();
    Api.Response first = submitNdjson(t, "nd-diff", ndjson("a@example.com", "b@example.com"));
    assertEquals(202, first.status(), first.text());
    Api.Response other = submitNdjson(t, "nd-diff", ndjson("a@example.com", "c@example.com"));
    assertEquals(422, other.status(), other.text());
    assertEquals("idempotency_key_reused", other.errorCode());
    assertStoredOnce(t, first.json().getString("id"), 2);
  }

  @Test
  void keyOfJsonJobReusedForDifferentNdjsonBodyIsUnprocessable() {
    TenantKey t = newTenant();
    Api.Response first = submitJson(t, "cross", job("a@example.com"));
    assertEquals(202, first.status(), first.text());
    Api.Response other = submitNdjson(t, "cross", ndjson("z@example.com"));
    assertEquals(422, other.status(), other.text());
    assertEquals("idempotency_key_reused", other.errorCode());
    assertStoredOnce(t, first.json().getString("id"), 1);
  }

  @Test
  void reusedKeyWithOverlongNdjsonLineIsRefusedLikeAnyOverlongLine() {
    TenantKey t = newTenant();
    Api.Response first = submitNdjson(t, "nd-long", ndjson("a@example.com"));
    assertEquals(202, first.status(), first.text());
    String longLine = new JsonObject().put("email", "b@example.com")
        .put("vars", new JsonObject().put("bio", "x".repeat(70 * 1024))).encode();
    Api.Response other = submitNdjson(t, "nd-long", ndjson("a@example.com") + longLine + "\n");
    // README: an NDJSON line over MAILGATE_MAX_NDJSON_LINE (64 KiB by default) is 400 line_too_long, with or without a key
    assertEquals(400, other.status(), other.text());
    assertEquals("line_too_long", other.errorCode());
    assertStoredOnce(t, first.json().getString("id"), 1);
  }

  @Test
  void concurrentNdjsonRequestsWithOneKeyCreateOneJob() throws Exception {
    TenantKey t = newTenant();
    String body = ndjson("a@example.com", "b@example.com");
    List<Api.Response> answers = concurrently(4, () -> submitNdjson(t, "nd-race", body));
    Set<String> ids = new HashSet<>();
    for (Api.Response r : answers) {
      assertEquals(202, r.status(), r.text());
      ids.add(r.json().getString("id"));
    }
    assertEquals(1, ids.size(), "every request answers with the one job: " + ids);
    assertStoredOnce(t, ids.iterator().next(), 2);
  }

  // --- the key itself

  @ParameterizedTest
  @ValueSource(strings = {"application/json", "application/x-ndjson"})
  void keyLongerThanTheLimitIsBadRequest(String contentType) {
    TenantKey t = newTenant();
    String body = contentType.equals("application/json") ? job("a@example.com").encode() : ndjson("a@example.com");
    Api.Response r = http.postRaw("/v1/jobs", t.apiKey(), contentType, body,
        Map.of("Idempotency-Key", "k".repeat(MAX_KEY + 1)));
    assertEquals(400, r.status(), r.text());
    assertEquals("invalid_idempotency_key", r.errorCode());
    assertEquals("Idempotency-Key", r.json().getJsonObject("error").getString("field"));
    assertEquals(0, jobsOf(t));

    Api.Response atLimit = http.postRaw("/v1/jobs", t.apiKey(), contentType, body,
        Map.of("Idempotency-Key", "k".repeat(MAX_KEY)));
    assertEquals(202, atLimit.status(), atLimit.text());
  }

  @Test
  void keyWithSpaceIsBadRequest() {
    TenantKey t = newTenant();
    Api.Response r = submitJson(t, "two words", job("a@example.com"));
    assertEquals(400, r.status(), r.text());
    assertEquals("invalid_idempotency_key", r.errorCode());
    assertEquals(0, jobsOf(t));
  }

  // --- helpers

  private static TenantKey newTenant() {
    TenantKey t = gw.api.createTenant("idem-" + TENANTS.incrementAndGet(), "eu");
    gw.api.route(t, "idem-file");
    return t;
  }

  private static JsonObject job(String... emails) {
    JsonArray rs = new JsonArray();
    for (String e : emails) {
      rs.add(new JsonObject().put("email", e));
    }
    return new JsonObject().put("from", "news@acme.example").put("subject", "Hi").put("text", "Hello").put("recipients", rs);
  }

  private static String ndjson(String... emails) {
    StringBuilder b = new StringBuilder(new JsonObject().put("from", "news@acme.example").put("subject", "Hi")
        .put("text", "Hello").encode()).append('\n');
    for (String e : emails) {
      b.append(new JsonObject().put("email", e).encode()).append('\n');
    }
    return b.toString();
  }

  private static Api.Response submitJson(TenantKey t, String key, JsonObject job) {
    return http.postRaw("/v1/jobs", t.apiKey(), "application/json", job.encode(), Map.of("Idempotency-Key", key));
  }

  private static Api.Response submitNdjson(TenantKey t, String key, String body) {
    return http.postRaw("/v1/jobs", t.apiKey(), "application/x-ndjson", body, Map.of("Idempotency-Key", key));
  }

  /** Starts the requests together and returns every answer. */
  private static List<Api.Response> concurrently(int n, Supplier<Api.Response> request) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<CompletableFuture<Api.Response>> all = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        all.add(CompletableFuture.supplyAsync(() -> {
          try {
            go.await();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
          return request.get();
        }, pool));
      }
      go.countDown();
      List<Api.Response> out = new ArrayList<>();
      for (CompletableFuture<Api.Response> f : all) {
        out.add(f.get(60, TimeUnit.SECONDS));
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  private static long jobsOf(TenantKey t) {
    return TestDatabase.count(gw.db, "SELECT count(*) FROM jobs WHERE tenant_id = '" + t.id() + "'");
  }

  /** The tenant has exactly this one job, with its recipients and chunks written once. */
  private static void assertStoredOnce(TenantKey t, String jobId, int recipients) {
    assertNotNull(jobId);
    assertEquals(1, jobsOf(t), "jobs of the tenant");
    assertEquals(1, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs WHERE id = '" + jobId + "' AND tenant_id = '" + t.id() + "'"));
    assertEquals(recipients, TestDatabase.count(gw.db, "SELECT count(*) FROM recipients WHERE job_id = '" + jobId + "'"));
    assertEquals(recipients, TestDatabase.count(gw.db, "SELECT coalesce(sum(n_queued), 0) FROM chunks WHERE job_id = '" + jobId + "'"));
    assertEquals(1, TestDatabase.count(gw.db, "SELECT count(*) FROM idempotency_keys WHERE tenant_id = '" + t.id() + "'"));
  }
}

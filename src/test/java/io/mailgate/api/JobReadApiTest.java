package io.mailgate.api;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Reading jobs: the list (newest first, keyset pages), one job with its counts, and its recipients (pages by seq,
 * optionally of one state). Jobs really run, against an in-process SMTP server that refuses addresses starting
 * with "bad".
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class JobReadApiTest {

  private static final Set<String> JOB_FIELDS = Set.of("id", "state", "recipients", "counts", "priority", "expiresAt", "hold",
      "createdAt", "updatedAt");
  private static final Set<String> COUNT_FIELDS = Set.of("queued", "sending", "sent", "deferred", "failed", "cancelled",
      "expired", "suppressed");
  private static final Set<String> RECIPIENT_FIELDS = Set.of("seq", "email", "state", "attempts", "lastCode",
      "lastMessage", "messageId");
  private static final AtomicInteger TENANTS = new AtomicInteger();

  static ScriptedSmtpServer smtp;
  static TestGateway gw;
  static Api http;
  /** A completed job of five: seq 1 and 3 were refused, 0, 2 and 4 sent. */
  static TenantKey owner;
  static String mixedJob;

  @BeforeAll
  static void start() {
    smtp = new ScriptedSmtpServer()
        .onRcpt(rcpt -> rcpt.startsWith("bad") ? "550 5.1.1 no such user" : "250 2.1.5 ok")
        .start();
    gw = TestGateway.start(TestDatabase.fresh());
    http = gw.api.overHttp11();
    owner = newTenant();
    Api.Response r = http.submitJson(owner, job("good0@example.com", "bad1@example.com", "good2@example.com",
        "bad3@example.com", "good4@example.com"));
    Api.expect(r, 202);
    mixedJob = r.json().getString("id");
    gw.api.awaitState(owner, mixedJob, "completed", Duration.ofSeconds(30));
  }

  @AfterAll
  static void stop() {
    gw.close();
    smtp.close();
  }

  // --- jobs

  @Test
  void jobListIsNewestFirstAndPagesWithLimitAndNext() {
    TenantKey t = newTenant();
    List<String> submitted = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Api.Response r = http.submitJson(t, job("list" + i + "@example.com"));
      Api.expect(r, 202);
      submitted.add(r.json().getString("id"));
    }

    Api.Response all = http.get("/v1/jobs", t.apiKey());
    assertEquals(200, all.status(), all.text());
    assertEquals(List.of(submitted.get(2), submitted.get(1), submitted.get(0)), ids(all));
    assertNull(all.json().getValue("next"), "a page shorter than the limit is the last one");

    Api.Response page1 = http.get("/v1/jobs?limit=2", t.apiKey());
    assertEquals(200, page1.status(), page1.text());
    assertEquals(List.of(submitted.get(2), submitted.get(1)), ids(page1));
    assertEquals(submitted.get(1), page1.json().getString("next"));

    Api.Response page2 = http.get("/v1/jobs?limit=2&after=" + page1.json().getString("next"), t.apiKey());
    assertEquals(200, page2.status(), page2.text());
    assertEquals(List.of(submitted.get(0)), ids(page2));
    assertNull(page2.json().getValue("next"));
  }

  @Test
  void jobListItemsHaveTheDocumentedShape() {
    Api.Response r = http.get("/v1/jobs", owner.apiKey());
    assertEquals(200, r.status(), r.text());
    assertEquals(Set.of("items", "next"), r.json().fieldNames());
    JsonArray items = r.json().getJsonArray("items");
    assertEquals(1, items.size());
    assertCompletedMixedJob(items.getJsonObject(0));
  }

  @Test
  void jobHasTheDocumentedShapeAndCounts() {
    Api.Response r = http.get("/v1/jobs/" + mixedJob, owner.apiKey());
    assertEquals(200, r.status(), r.text());
    assertCompletedMixedJob(r.json());
  }

  @Test
  void newJobIsQueuedWithAllRecipientsCountedQueued() {
    // a tenant without a backend: its job is accepted but never sent, so its state is stable
    TenantKey t = gw.api.createTenant("unrouted-" + TENANTS.incrementAndGet(), "eu");
    Api.Response r = http.submitJson(t, job("q1@example.com", "q2@example.com"));
    Api.expect(r, 202);
    assertEquals(Set.of("id", "state", "recipients"), r.json().fieldNames());
    assertEquals("queued", r.json().getString("state"));
    JsonObject job = http.get("/v1/jobs/" + r.json().getString("id"), t.apiKey()).json();
    assertEquals("queued", job.getString("state"));
    assertEquals(new JsonObject().put("queued", 2).put("sending", 0).put("sent", 0).put("deferred", 0)
        .put("failed", 0).put("cancelled", 0).put("expired", 0).put("suppressed", 0), job.getJsonObject("counts"));
    Api.Response rs = http.get("/v1/jobs/" + r.json().getString("id") + "/recipients", t.apiKey());
    for (Object o : rs.json().getJsonArray("items")) {
      JsonObject rec = (JsonObject) o;
      assertTrue(rec.fieldNames().containsAll(RECIPIENT_FIELDS), rec.encode());
      assertEquals("queued", rec.getString("state"));
      assertEquals(0, rec.getInteger("attempts"));
      assertNull(rec.getValue("lastCode"));
      assertNull(rec.getValue("messageId"));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"limit=0", "limit=1001", "limit=abc", "after=not-a-job-id"})
  void invalidJobListParameterIsBadRequest(String query) {
    Api.Response r = http.get("/v1/jobs?" + query, owner.apiKey());
    assertBadParameter(r, query.substring(0, query.indexOf('=')));
  }

  // --- recipients

  @Test
  void recipientsPageBySeqWithAfterAndLimit() {
    List<List<Integer>> pages = new ArrayList<>();
    List<Object> nexts = new ArrayList<>();
    String after = null;
    do {
      Api.Response r = http.get("/v1/jobs/" + mixedJob + "/recipients?limit=2" + (after == null ? "" : "&after=" + after),
          owner.apiKey());
      assertEquals(200, r.status(), r.text());
      pages.add(seqs(r));
      Object next = r.json().getValue("next");
      nexts.add(next);
      after = next == null ? null : next.toString();
    } while (after != null && pages.size() < 10);
    assertEquals(List.of(List.of(0, 1), List.of(2, 3), List.of(4)), pages);
    assertEquals(List.of(1, 3), nexts.subList(0, 2), "next is the last seq of a full page");
    assertNull(nexts.get(2));
  }

  @Test
  void recipientsAfterMinusOneStartAtTheFirst() {
    Api.Response r = http.get("/v1/jobs/" + mixedJob + "/recipients?after=-1&limit=1", owner.apiKey());
    assertEquals(200, r.status(), r.text());
    assertEquals(List.of(0), seqs(r));
  }

  @Test
  void recipientsFilterByStateSent() {
    Api.Response r = http.get("/v1/jobs/" + mixedJob + "/recipients?state=sent", owner.apiKey());
    assertEquals(200, r.status(), r.text());
    assertEquals(List.of(0, 2, 4), seqs(r));
    for (Object o : r.json().getJsonArray("items")) {
      JsonObject rec = (JsonObject) o;
      assertTrue(rec.fieldNames().containsAll(RECIPIENT_FIELDS), rec.encode());
      assertEquals("sent", rec.getString("state"));
      assertEquals("good" + rec.getInteger("seq") + "@example.com", rec.getString("email"));
      assertEquals(1, rec.getInteger("attempts"));
      assertEquals(250, rec.getInteger("lastCode"));
      assertNotNull(rec.getString("lastMessage"));
      assertNotNull(rec.getString("messageId"));
      assertTrue(rec.getString("messageId").startsWith("<" + rec.getInteger("seq") + "."), rec.getString("messageId"));
    }
  }

  @Test
  void recipientsFilterByStateFailedShowsTheRefusal() {
    Api.Response r = http.get("/v1/jobs/" + mixedJob + "/recipients?state=failed", owner.apiKey());
    assertEquals(200, r.status(), r.text());
    assertEquals(List.of(1, 3), seqs(r));
    for (Object o : r.json().getJsonArray("items")) {
      JsonObject rec = (JsonObject) o;
      assertTrue(rec.fieldNames().containsAll(RECIPIENT_FIELDS), rec.encode());
      assertEquals("failed", rec.getString("state"));
      assertEquals("bad" + rec.getInteger("seq") + "@example.com", rec.getString("email"));
      assertEquals(1, rec.getInteger("attempts"));
      assertEquals(550, rec.getInteger("lastCode"));
      assertTrue(rec.getString("lastMessage").contains("no such user"), rec.getString("lastMessage"));
      assertNull(rec.getValue("messageId"));
    }
  }

  @Test
  void recipientsStateFilterPagesToo() {
    Api.Response p1 = http.get("/v1/jobs/" + mixedJob + "/recipients?state=sent&limit=2", owner.apiKey());
    assertEquals(List.of(0, 2), seqs(p1));
    assertEquals(2, p1.json().getInteger("next"));
    Api.Response p2 = http.get("/v1/jobs/" + mixedJob + "/recipients?state=sent&limit=2&after=2", owner.apiKey());
    assertEquals(List.of(4), seqs(p2));
    assertNull(p2.json().getValue("next"));
  }

  @Test
  void recipientsOfAStateNobodyIsInIsAnEmptyPage() {
    Api.Response r = http.get("/v1/jobs/" + mixedJob + "/recipients?state=deferred", owner.apiKey());
    assertEquals(200, r.status(), r.text());
    assertEquals(new JsonArray(), r.json().getJsonArray("items"));
    assertNull(r.json().getValue("next"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"bogus", "SENT", "sent,failed", ""})
  void invalidRecipientStateIsBadRequest(String state) {
    Api.Response r = http.get("/v1/jobs/" + mixedJob + "/recipients?state=" + state, owner.apiKey());
    assertBadParameter(r, "state");
  }

  @ParameterizedTest
  @ValueSource(strings = {"limit=0", "limit=-1", "limit=1001", "limit=two", "after=-2", "after=x"})
  void invalidRecipientPagingParameterIsBadRequest(String query) {
    Api.Response r = http.get("/v1/jobs/" + mixedJob + "/recipients?" + query, owner.apiKey());
    assertBadParameter(r, query.substring(0, query.indexOf('=')));
  }

  // --- helpers

  private static TenantKey newTenant() {
    return gw.api.tenantOnSmtp("reader-" + TENANTS.incrementAndGet(), smtp.port(), null);
  }

  private static JsonObject job(String... emails) {
    JsonArray rs = new JsonArray();
    for (String e : emails) {
      rs.add(new JsonObject().put("email", e));
    }
    return new JsonObject().put("from", "news@acme.example").put("subject", "Hi").put("text", "Hello")
        .put("recipients", rs);
  }

  private static List<String> ids(Api.Response page) {
    List<String> out = new ArrayList<>();
    page.json().getJsonArray("items").forEach(o -> out.add(((JsonObject) o).getString("id")));
    return out;
  }

  private static List<Integer> seqs(Api.Response page) {
    List<Integer> out = new ArrayList<>();
    page.json().getJsonArray("items").forEach(o -> out.add(((JsonObject) o).getInteger("seq")));
    return out;
  }

  private static void assertCompletedMixedJob(JsonObject job) {
    assertTrue(job.fieldNames().containsAll(JOB_FIELDS), job.encode());
    assertEquals(mixedJob, job.getString("id"));
    assertEquals("completed", job.getString("state"));
    assertEquals(5, job.getInteger("recipients"));
    JsonObject counts = job.getJsonObject("counts");
    assertEquals(COUNT_FIELDS, counts.fieldNames());
    assertEquals(new JsonObject().put("queued", 0).put("sending", 0).put("sent", 3).put("deferred", 0)
        .put("failed", 2).put("cancelled", 0).put("expired", 0).put("suppressed", 0), counts);
    Instant created = Instant.parse(job.getString("createdAt"));
    Instant updated = Instant.parse(job.getString("updatedAt"));
    assertFalse(updated.isBefore(created), job.encode());
  }

  private static void assertBadParameter(Api.Response r, String field) {
    assertEquals(400, r.status(), r.text());
    assertEquals("invalid_parameter", r.errorCode(), r.text());
    assertEquals(field, r.json().getJsonObject("error").getString("field"), r.text());
  }
}

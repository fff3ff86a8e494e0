package io.mailgate.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A tenant sees only its own jobs: another tenant's job answers exactly like a job that does not exist, for reads
 * and for pause, resume and cancel. Keys and the admin token only open their own half of the API.
 */
class TenantIsolationTest {

  static TestGateway gw;
  static Api api;
  static TenantKey a;
  static TenantKey b;
  static String jobOfA;

  @BeforeAll
  static void start() {
    // no dispatch: jobs stay queued, so a state change can only come from the API calls under test
    gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_DISPATCH_ENABLED", "false"));
    api = gw.api;
    api.createBackend("isolation-file", "file", "eu",
        new JsonObject().put("dir", System.getProperty("java.io.tmpdir") + "/mailgate-isolation-test"));
    a = api.createTenant("tenant-a", "eu");
    b = api.createTenant("tenant-b", "eu");
    api.route(a, "isolation-file");
    api.route(b, "isolation-file");
    Api.Response r = api.submitJson(a, job("a1@example.com", "a2@example.com"));
    Api.expect(r, 202);
    jobOfA = r.json().getString("id");
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @Test
  void tenantCannotReadAnotherTenantsJob() {
    Api.Response theirs = api.get("/v1/jobs/" + jobOfA, b.apiKey());
    Api.Response missing = api.get("/v1/jobs/" + UUID.randomUUID(), b.apiKey());
    assertEquals(404, theirs.status(), theirs.text());
    assertSameAnswer(missing, theirs);
    assertEquals("not_found", theirs.errorCode());
    // the owner still sees it
    assertEquals(jobOfA, api.job(a, jobOfA).getString("id"));
  }

  @Test
  void tenantCannotReadAnotherTenantsRecipients() {
    Api.Response theirs = api.get("/v1/jobs/" + jobOfA + "/recipients", b.apiKey());
    Api.Response missing = api.get("/v1/jobs/" + UUID.randomUUID() + "/recipients", b.apiKey());
    assertEquals(404, theirs.status(), theirs.text());
    assertSameAnswer(missing, theirs);
    assertFalse(theirs.text().contains("a1@example.com"));
    Api.Response own = api.get("/v1/jobs/" + jobOfA + "/recipients", a.apiKey());
    Api.expect(own, 200);
    assertEquals(2, own.json().getJsonArray("items").size());
  }

  @Test
  void tenantCannotReadAnotherTenantsRecipientsWithStateFilter() {
    Api.Response theirs = api.get("/v1/jobs/" + jobOfA + "/recipients?state=queued&limit=1", b.apiKey());
    Api.Response missing = api.get("/v1/jobs/" + UUID.randomUUID() + "/recipients?state=queued&limit=1", b.apiKey());
    assertEquals(404, theirs.status(), theirs.text());
    assertSameAnswer(missing, theirs);
  }

  @ParameterizedTest
  @ValueSource(strings = {"pause", "resume", "cancel"})
  void tenantCannotControlAnotherTenantsJob(String action) {
    Api.Response theirs = api.send("POST", "/v1/jobs/" + jobOfA + "/" + action, b.apiKey(), null,
        HttpRequest.BodyPublishers.noBody(), Map.of());
    Api.Response missing = api.send("POST", "/v1/jobs/" + UUID.randomUUID() + "/" + action, b.apiKey(), null,
        HttpRequest.BodyPublishers.noBody(), Map.of());
    assertEquals(404, theirs.status(), theirs.text());
    assertSameAnswer(missing, theirs);
    // nothing changed for the owner
    assertEquals("queued", api.job(a, jobOfA).getString("state"));
    assertEquals(1, TestDatabase.count(gw.db,
        "SELECT count(*) FROM jobs WHERE id = '" + jobOfA + "' AND state = 'queued'"));
    assertEquals(0, TestDatabase.count(gw.db,
        "SELECT count(*) FROM recipients WHERE job_id = '" + jobOfA + "' AND state <> 'queued'"));
  }

  @Test
  void ownerCanPauseAndResumeItsJobWhereAnotherTenantCannot() {
    // the control endpoints do work for the owner, so the 404 above is about ownership, not the endpoint
    TenantKey owner = api.createTenant("owner-c", "eu");
    Api.Response r = api.submitJson(owner, job("c1@example.com"));
    Api.expect(r, 202);
    String id = r.json().getString("id");
    Api.Response paused = api.send("POST", "/v1/jobs/" + id + "/pause", owner.apiKey(), null,
        HttpRequest.BodyPublishers.noBody(), Map.of());
    Api.expect(paused, 200);
    assertEquals("paused", paused.json().getString("state"));
    Api.Response resumedByOther = api.send("POST", "/v1/jobs/" + id + "/resume", b.apiKey(), null,
        HttpRequest.BodyPublishers.noBody(), Map.of());
    assertEquals(404, resumedByOther.status());
    assertEquals("paused", api.job(owner, id).getString("state"));
  }

  @Test
  void jobListShowsOnlyTheCallersJobs() {
    Api.Response r = api.submitJson(b, job("b1@example.com"));
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
    Api.Response r = api.submitJson(b, job("spoof@example.com").put("tenantId", a.id()));
    Api.expect(r, 202);
    String id = r.json().getString("id");
    assertEquals(1, TestDatabase.count(gw.db,
        "SELECT count(*) FROM jobs WHERE id = '" + id + "' AND tenant_id = '" + b.id() + "'"));
    assertEquals(200, api.get("/v1/jobs/" + id, b.apiKey()).status());
    assertEquals(404, api.get("/v1/jobs/" + id, a.apiKey()).status());
    assertFalse(jobIds(a).contains(id));
  }

  @Test
  void tenantIdInNdjsonJobLineIsIgnored() {
    JsonObject jobLine = job().put("tenantId", a.id());
    String body = jobLine.encode() + "\n" + new JsonObject().put("email", "spoof2@example.com").encode() + "\n";
    Api.Response r = api.submitNdjson(b, body);
    Api.expect(r, 202);
    String id = r.json().getString("id");
    assertEquals(1, TestDatabase.count(gw.db,
        "SELECT count(*) FROM jobs WHERE id = '" + id + "' AND tenant_id = '" + b.id() + "'"));
    assertEquals(404, api.get("/v1/jobs/" + id, a.apiKey()).status());
  }

  @Test
  void requestWithoutAuthorizationIsUnauthorized() {
    assertUnauthorized(api.get("/v1/jobs", null));
    assertUnauthorized(api.get("/v1/jobs/" + jobOfA, null));
    long jobs = TestDatabase.count(gw.db, "SELECT count(*) FROM jobs");
    assertUnauthorized(api.post("/v1/jobs", null, job("x@example.com")));
    assertEquals(jobs, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs"));
    assertUnauthorized(api.get("/v1/admin/tenants", null));
  }

  @ParameterizedTest
  @ValueSource(strings = {"mg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "not-a-key", "mg_"})
  void unknownApiKeyIsUnauthorized(String key) {
    assertUnauthorized(api.get("/v1/jobs", key));
    assertUnauthorized(api.get("/v1/jobs/" + jobOfA, key));
    long jobs = TestDatabase.count(gw.db, "SELECT count(*) FROM jobs");
    assertUnauthorized(api.post("/v1/jobs", key, job("x@example.com")));
    assertEquals(jobs, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs"));
  }

  @Test
  void authorizationWithoutBearerSchemeIsUnauthorized() {
    Api.Response r = api.send("GET", "/v1/jobs", null, null, null, Map.of("Authorization", "Basic " + a.apiKey()));
    assertUnauthorized(r);
    Api.Response lower = api.send("GET", "/v1/jobs", null, null, null, Map.of("Authorization", "bearer " + a.apiKey()));
    // the scheme is case-insensitive (RFC 7235)
    assertEquals(200, lower.status(), lower.text());
  }

  @Test
  void tenantKeyCannotUseAdminApi() {
    Api.Response list = api.get("/v1/admin/tenants", a.apiKey());
    assertEquals(403, list.status(), list.text());
    assertEquals("forbidden", list.errorCode());
    Api.Response create = api.post("/v1/admin/tenants", a.apiKey(), new JsonObject().put("name", "by-tenant").put("region", "eu"));
    assertEquals(403, create.status(), create.text());
    assertEquals(0, TestDatabase.count(gw.db, "SELECT count(*) FROM tenants WHERE name = 'by-tenant'"));
    Api.Response route = api.put("/v1/admin/tenants/" + a.id() + "/backend", a.apiKey(), new JsonObject().put("backend", "x"));
    assertEquals(403, route.status(), route.text());
  }

  @Test
  void adminTokenCannotUseTenantApi() {
    Api.Response list = api.get("/v1/jobs", TestGateway.ADMIN_TOKEN);
    assertEquals(403, list.status(), list.text());
    assertEquals("forbidden", list.errorCode());
    Api.Response read = api.get("/v1/jobs/" + jobOfA, TestGateway.ADMIN_TOKEN);
    assertEquals(403, read.status(), read.text());
    long jobs = TestDatabase.count(gw.db, "SELECT count(*) FROM jobs");
    Api.Response submit = api.post("/v1/jobs", TestGateway.ADMIN_TOKEN, job("x@example.com"));
    assertEquals(403, submit.status(), submit.text());
    assertEquals(jobs, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"not-a-uuid", "123", "01a2285e-5619-7087-9dbb"})
  void nonUuidJobIdIsNotFound(String id) {
    for (String path : List.of("/v1/jobs/" + id, "/v1/jobs/" + id + "/recipients")) {
      Api.Response r = api.get(path, a.apiKey());
      assertEquals(404, r.status(), path + ": " + r.text());
      assertEquals("not_found", r.errorCode());
    }
    Api.Response pause = api.send("POST", "/v1/jobs/" + id + "/pause", a.apiKey(), null,
        HttpRequest.BodyPublishers.noBody(), Map.of());
    assertEquals(404, pause.status(), pause.text());
    assertEquals("not_found", pause.errorCode());
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

  private static List<String> jobIds(TenantKey t) {
    List<String> ids = new ArrayList<>();
    String after = null;
    do {
      Api.Response r = api.get("/v1/jobs?limit=2" + (after == null ? "" : "&after=" + after), t.apiKey());
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

package io.mailgate.api;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The operator API: tenants with their one-time API keys, backends with sealed secrets, routing, paging. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class AdminApiTest {

  private static final String ADMIN = TestGateway.ADMIN_TOKEN;
  private static final String PASSWORD = "Sup3r-Secret-Passw0rd!";

  static TestGateway gw;
  static Api http;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_DISPATCH_ENABLED", "false"));
    http = gw.api.overHttp11();
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  // --- tenants

  @Test
  void deletingATenantRefusesWhileAJobIsOpenThenRemovesTheTenantAndEverythingItOwned() {
    String backend = http.createBackend("doomed-file", "file", "eu", new JsonObject().put("dir", System.getProperty("java.io.tmpdir")));
    Api.TenantKey t = http.createTenant("doomed", "eu");
    http.route(t, "doomed-file");
    String job = io.mailgate.support.TestJobs.submit(http, t, io.mailgate.support.TestJobs.emails("doomed-", 3));

    Api.Response busy = http.send("DELETE", "/v1/admin/tenants/" + t.id(), ADMIN, null, null, Map.of());
    assertEquals(409, busy.status(), busy.text());
    assertEquals("tenant_active", busy.errorCode());
    Api.Response inUse = http.send("DELETE", "/v1/admin/backends/" + backend, ADMIN, null, null, Map.of());
    assertEquals(409, inUse.status(), inUse.text());
    assertEquals("backend_in_use", inUse.errorCode());
    assertTrue(inUse.json().getJsonObject("error").getString("message").contains("doomed"), inUse.text());

    Api.expect(http.send("POST", "/v1/jobs/" + job + "/cancel", t.apiKey(), null, null, Map.of()), 200);
    Api.expect(http.send("DELETE", "/v1/admin/tenants/" + t.id(), ADMIN, null, null, Map.of()), 204);
    assertEquals(404, http.get("/v1/admin/tenants/" + t.id(), ADMIN).status());
    assertEquals(401, http.get("/v1/jobs", t.apiKey()).status(), "its key no longer works");
    assertEquals(0, TestDatabase.count(gw.db, "SELECT count(*) FROM recipients r JOIN jobs j ON j.id = r.job_id WHERE j.tenant_id = '" + t.id() + "'"));
    assertEquals(0, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs WHERE id = '" + job + "'"));
    assertEquals(404, http.send("DELETE", "/v1/admin/tenants/" + t.id(), ADMIN, null, null, Map.of()).status());

    Api.expect(http.send("DELETE", "/v1/admin/backends/" + backend, ADMIN, null, null, Map.of()), 204);
    assertEquals(404, http.get("/v1/admin/backends/" + backend, ADMIN).status());
  }

  @Test
  void createTenantAnswers201WithApiKeyShownOnce() {
    Api.Response r = http.post("/v1/admin/tenants", ADMIN, new JsonObject().put("name", "once").put("region", "EU"));
    assertEquals(201, r.status(), r.text());
    JsonObject t = r.json();
    String key = t.getString("apiKey");
    assertNotNull(key, r.text());
    assertTrue(key.startsWith("mg_") && key.length() > 40, key);
    assertEquals("once", t.getString("name"));
    assertEquals("eu", t.getString("region"), "regions are stored lowercase");
    assertNull(t.getString("backend"));
    assertNotNull(Instant.parse(t.getString("createdAt")));
    UUID.fromString(t.getString("id"));

    Api.Response get = http.get("/v1/admin/tenants/" + t.getString("id"), ADMIN);
    assertEquals(200, get.status(), get.text());
    assertFalse(get.json().containsKey("apiKey"), get.text());
    assertFalse(get.text().contains(key), "GET must never show the key");
    assertEquals(t.getString("id"), get.json().getString("id"));
    assertEquals("once", get.json().getString("name"));

    for (String page : allPages("/v1/admin/tenants")) {
      assertFalse(page.contains(key), "the tenant list must never show a key");
      assertFalse(page.contains("apiKey"), page);
    }
    // the key works
    assertEquals(200, http.get("/v1/jobs", key).status());
  }

  @Test
  void databaseStoresOnlyTheSha256OfTheApiKey() throws Exception {
    Api.Response r = http.post("/v1/admin/tenants", ADMIN, new JsonObject().put("name", "hashed").put("region", "us"));
    assertEquals(201, r.status(), r.text());
    String id = r.json().getString("id");
    String key = r.json().getString("apiKey");
    try (Connection c = TestDatabase.jdbc(gw.db);
        PreparedStatement st = c.prepareStatement("SELECT api_key_hash, t::text FROM tenants t WHERE id = ?::uuid")) {
      st.setString(1, id);
      try (ResultSet rs = st.executeQuery()) {
        assertTrue(rs.next());
        byte[] hash = rs.getBytes(1);
        assertEquals(32, hash.length);
        assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)), hash);
        assertFalse(new String(hash, StandardCharsets.ISO_8859_1).contains(key));
        assertFalse(rs.getString(2).contains(key), "no column of the row holds the key");
        assertFalse(rs.getString(2).contains(key.substring(3)), "not even without its prefix");
      }
    }
  }

  @Test
  void duplicateTenantNameIsConflict() {
    JsonObject body = new JsonObject().put("name", "dupe").put("region", "eu");
    assertEquals(201, http.post("/v1/admin/tenants", ADMIN, body).status());
    Api.Response again = http.post("/v1/admin/tenants", ADMIN, body.copy().put("region", "us"));
    assertEquals(409, again.status(), again.text());
    assertEquals("tenant_exists", again.errorCode());
    assertFalse(again.json().containsKey("apiKey"));
    assertEquals(1, TestDatabase.count(gw.db, "SELECT count(*) FROM tenants WHERE name = 'dupe'"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"Europe!", "e", "toolongregion", "eu_west", "eu-", "1eu"})
  void invalidRegionIsBadRequest(String region) {
    long before = tenants();
    Api.Response r = http.post("/v1/admin/tenants", ADMIN, new JsonObject().put("name", "bad-region").put("region", region));
    assertError(r, 400, "invalid_region", "region");
    assertEquals(before, tenants());
  }

  @Test
  void missingRegionOrNameIsBadRequest() {
    assertError(http.post("/v1/admin/tenants", ADMIN, new JsonObject().put("name", "no-region")), 400, "missing_field", "region");
    assertError(http.post("/v1/admin/tenants", ADMIN, new JsonObject().put("region", "eu")), 400, "missing_field", "name");
    assertError(http.post("/v1/admin/tenants", ADMIN, new JsonObject().put("name", "bad name!").put("region", "eu")),
        400, "invalid_field", "name");
    assertEquals(0, TestDatabase.count(gw.db, "SELECT count(*) FROM tenants WHERE name IN ('no-region', 'bad name!')"));
  }

  @Test
  void malformedAdminBodyIsInvalidJson() {
    Api.Response r = http.postRaw("/v1/admin/tenants", ADMIN, "application/json", "{\"name\": ", Map.of());
    assertError(r, 400, "invalid_json", null);
  }

  @Test
  void unknownTenantIsNotFound() {
    assertError(http.get("/v1/admin/tenants/" + UUID.randomUUID(), ADMIN), 404, "not_found", null);
    assertError(http.get("/v1/admin/tenants/not-a-uuid", ADMIN), 404, "not_found", null);
    Api.Response put = http.put("/v1/admin/tenants/" + UUID.randomUUID() + "/backend", ADMIN,
        new JsonObject().put("backend", "anything"));
    assertEquals(404, put.status(), put.text());
  }

  // --- backends

  @Test
  void smtpBackendPasswordIsNeverShownAndListedOnlyByName() {
    JsonObject settings = new JsonObject().put("host", "smtp.example.com").put("port", 587).put("tls", "starttls")
        .put("username", "mailer").put("password", PASSWORD);
    Api.Response r = http.post("/v1/admin/backends", ADMIN,
        new JsonObject().put("name", "secret-smtp").put("type", "smtp").put("region", "eu").put("settings", settings));
    assertEquals(201, r.status(), r.text());
    assertFalse(r.text().contains(PASSWORD), r.text());
    JsonObject b = r.json();
    assertEquals(new JsonArray().add("password"), b.getJsonArray("secretSettings"));
    assertEquals("mailer", b.getJsonObject("settings").getString("username"));
    assertFalse(b.getJsonObject("settings").containsKey("password"));
    assertEquals("smtp", b.getString("type"));
    assertEquals("secret-smtp", b.getString("name"));
    assertEquals(1, b.getInteger("version"));
    String id = b.getString("id");

    Api.Response get = http.get("/v1/admin/backends/" + id, ADMIN);
    assertEquals(200, get.status(), get.text());
    assertFalse(get.text().contains(PASSWORD), get.text());
    assertEquals(new JsonArray().add("password"), get.json().getJsonArray("secretSettings"));
    assertEquals(b.getJsonObject("settings"), get.json().getJsonObject("settings"));

    boolean listed = false;
    for (String page : allPages("/v1/admin/backends")) {
      assertFalse(page.contains(PASSWORD), page);
      listed |= page.contains(id);
    }
    assertTrue(listed, "the backend is in the list");
  }

  @Test
  void smtpBackendPasswordIsEncryptedInTheDatabase() throws Exception {
    String password = "Another-" + PASSWORD;
    JsonObject settings = new JsonObject().put("host", "smtp.example.com").put("username", "u").put("password", password);
    Api.Response r = http.post("/v1/admin/backends", ADMIN,
        new JsonObject().put("name", "sealed-smtp").put("type", "smtp").put("region", "eu").put("settings", settings));
    assertEquals(201, r.status(), r.text());
    try (Connection c = TestDatabase.jdbc(gw.db);
        PreparedStatement st = c.prepareStatement("SELECT secrets, settings::text, b::text FROM backends b WHERE id = ?::uuid")) {
      st.setString(1, r.json().getString("id"));
      try (ResultSet rs = st.executeQuery()) {
        assertTrue(rs.next());
        byte[] secrets = rs.getBytes(1);
        assertNotNull(secrets, "the password is stored, sealed");
        String asText = new String(secrets, StandardCharsets.ISO_8859_1);
        assertFalse(asText.contains(password), "the sealed bytes must not hold the password in clear");
        assertFalse(asText.contains("password"), "nor the JSON around it");
        assertFalse(rs.getString(2).contains(password), "settings must not hold the password");
        assertFalse(rs.getString(3).contains(password), "no column of the row holds the password");
      }
    }
  }

  @Test
  void backendWithoutSecretsListsNoSecretSettings() {
    Api.Response r = http.post("/v1/admin/backends", ADMIN, new JsonObject().put("name", "plain-file").put("type", "file")
        .put("region", "eu").put("settings", new JsonObject().put("dir", "/tmp/mailgate-admin-test")));
    assertEquals(201, r.status(), r.text());
    assertEquals(new JsonArray(), r.json().getJsonArray("secretSettings"));
    assertEquals(1, TestDatabase.count(gw.db, "SELECT count(*) FROM backends WHERE name = 'plain-file' AND secrets IS NULL"));
  }

  @Test
  void unknownBackendTypeIsBadRequest() {
    long before = backends();
    Api.Response r = http.post("/v1/admin/backends", ADMIN, new JsonObject().put("name", "weird").put("type", "carrier-pigeon")
        .put("region", "eu").put("settings", new JsonObject()));
    assertError(r, 400, "invalid_backend_type", "type");
    assertEquals(before, backends());
  }

  static Stream<Arguments> badSmtpSettings() {
    JsonObject ok = new JsonObject().put("host", "smtp.example.com");
    return Stream.of(
        Arguments.of(ok.copy().put("port", 70000), "settings.port"),
        Arguments.of(ok.copy().put("port", 0), "settings.port"),
        Arguments.of(ok.copy().put("port", "25"), "settings.port"),
        Arguments.of(ok.copy().put("tls", "bogus"), "settings.tls"),
        Arguments.of(ok.copy().put("colour", "blue"), "settings.colour"),
        Arguments.of(ok.copy().put("username", "only-user"), "settings.password"),
        Arguments.of(ok.copy().put("connectTimeout", "soon"), "settings.connectTimeout"),
        Arguments.of(new JsonObject().put("port", 25), "settings.host"));
  }

  @ParameterizedTest
  @MethodSource("badSmtpSettings")
  void invalidSmtpSettingIsBadRequestNamingTheSetting(JsonObject settings, String field) {
    long before = backends();
    Api.Response r = http.post("/v1/admin/backends", ADMIN, new JsonObject().put("name", "bad-settings").put("type", "smtp")
        .put("region", "eu").put("settings", settings));
    assertError(r, 400, "invalid_setting", field);
    assertEquals(before, backends());
  }

  @Test
  void settingsThatAreNotAnObjectAreBadRequest() {
    Api.Response r = http.post("/v1/admin/backends", ADMIN, new JsonObject().put("name", "bad-settings").put("type", "smtp")
        .put("region", "eu").put("settings", "host=smtp.example.com"));
    assertError(r, 400, "invalid_field", "settings");
  }

  @Test
  void duplicateBackendNameIsConflict() {
    JsonObject body = new JsonObject().put("name", "dupe-backend").put("type", "file").put("region", "eu")
        .put("settings", new JsonObject().put("dir", "/tmp/mailgate-admin-test"));
    assertEquals(201, http.post("/v1/admin/backends", ADMIN, body).status());
    assertError(http.post("/v1/admin/backends", ADMIN, body), 409, "backend_exists", null);
    assertEquals(1, TestDatabase.count(gw.db, "SELECT count(*) FROM backends WHERE name = 'dupe-backend'"));
  }

  // --- routing

  @Test
  void routingToUnknownBackendIsBadRequestAndChangesNothing() {
    Api.Response t = http.post("/v1/admin/tenants", ADMIN, new JsonObject().put("name", "unrouted").put("region", "eu"));
    assertEquals(201, t.status());
    String id = t.json().getString("id");
    Api.Response r = http.put("/v1/admin/tenants/" + id + "/backend", ADMIN, new JsonObject().put("backend", "no-such-backend"));
    assertError(r, 400, "unknown_backend", "backend");
    assertNull(http.get("/v1/admin/tenants/" + id, ADMIN).json().getString("backend"));
    assertEquals(1, TestDatabase.count(gw.db, "SELECT count(*) FROM tenants WHERE id = '" + id + "' AND backend_id IS NULL"));

    assertError(http.put("/v1/admin/tenants/" + id + "/backend", ADMIN, new JsonObject()), 400, "missing_field", "backend");
  }

  @Test
  void routingToKnownBackendShowsItOnTheTenant() {
    assertEquals(201, http.post("/v1/admin/backends", ADMIN, new JsonObject().put("name", "route-target").put("type", "file")
        .put("region", "eu").put("settings", new JsonObject().put("dir", "/tmp/mailgate-admin-test"))).status());
    Api.Response t = http.post("/v1/admin/tenants", ADMIN, new JsonObject().put("name", "routed").put("region", "eu"));
    String id = t.json().getString("id");
    Api.Response r = http.put("/v1/admin/tenants/" + id + "/backend", ADMIN, new JsonObject().put("backend", "route-target"));
    assertEquals(200, r.status(), r.text());
    assertEquals("route-target", r.json().getString("backend"));
    assertFalse(r.json().containsKey("apiKey"));
    assertEquals("route-target", http.get("/v1/admin/tenants/" + id, ADMIN).json().getString("backend"));
  }

  // --- paging

  @Test
  void tenantListPagesWithLimitAndNext() {
    for (int i = 0; i < 5; i++) {
      assertEquals(201, http.post("/v1/admin/tenants", ADMIN, new JsonObject().put("name", "page-" + i).put("region", "eu")).status());
    }
    long total = tenants();
    List<String> ids = new ArrayList<>();
    String after = null;
    int pages = 0;
    do {
      Api.Response r = http.get("/v1/admin/tenants?limit=2" + (after == null ? "" : "&after=" + after), ADMIN);
      assertEquals(200, r.status(), r.text());
      JsonArray items = r.json().getJsonArray("items");
      assertTrue(items.size() <= 2, r.text());
      items.forEach(o -> ids.add(((JsonObject) o).getString("id")));
      Object next = r.json().getValue("next");
      if (items.size() < 2) {
        assertNull(next, "a short page is the last one");
      } else {
        assertEquals(items.getJsonObject(1).getString("id"), next, "next is the last id of a full page");
      }
      after = (String) next;
      pages++;
      assertTrue(pages <= total + 1, "paging terminates");
    } while (after != null);
    assertEquals(total, ids.size(), "every tenant once: " + ids);
    assertEquals(ids.size(), new HashSet<>(ids).size(), "no tenant twice: " + ids);
    List<String> sorted = new ArrayList<>(ids);
    sorted.sort(null);
    assertEquals(sorted, ids, "pages follow id order");
  }

  @Test
  void backendListPagesWithLimitAndNext() {
    for (int i = 0; i < 3; i++) {
      assertEquals(201, http.post("/v1/admin/backends", ADMIN, new JsonObject().put("name", "page-backend-" + i)
          .put("type", "file").put("region", "eu").put("settings", new JsonObject().put("dir", "/tmp/x"))).status());
    }
    Set<String> ids = new HashSet<>();
    String after = null;
    do {
      Api.Response r = http.get("/v1/admin/backends?limit=1" + (after == null ? "" : "&after=" + after), ADMIN);
      assertEquals(200, r.status(), r.text());
      JsonArray items = r.json().getJsonArray("items");
      assertTrue(items.size() <= 1);
      items.forEach(o -> assertTrue(ids.add(((JsonObject) o).getString("id")), "no backend twice"));
      after = r.json().getString("next");
    } while (after != null);
    assertEquals(backends(), ids.size());
  }

  @ParameterizedTest
  @ValueSource(strings = {"limit=0", "limit=-1", "limit=abc", "limit=1001", "after=not-an-id"})
  void invalidPagingParameterIsBadRequest(String query) {
    Api.Response r = http.get("/v1/admin/tenants?" + query, ADMIN);
    assertError(r, 400, "invalid_parameter", query.substring(0, query.indexOf('=')));
  }

  // --- helpers

  private static List<String> allPages(String path) {
    List<String> pages = new ArrayList<>();
    String after = null;
    do {
      Api.Response r = http.get(path + "?limit=3" + (after == null ? "" : "&after=" + after), ADMIN);
      assertEquals(200, r.status(), r.text());
      pages.add(r.text());
      after = r.json().getString("next");
    } while (after != null);
    return pages;
  }

  private static long tenants() {
    return TestDatabase.count(gw.db, "SELECT count(*) FROM tenants");
  }

  private static long backends() {
    return TestDatabase.count(gw.db, "SELECT count(*) FROM backends");
  }

  private static void assertError(Api.Response r, int status, String code, String field) {
    assertEquals(status, r.status(), r.text());
    assertNotNull(r.json(), r.text());
    assertEquals(code, r.errorCode(), r.text());
    assertEquals(field, r.json().getJsonObject("error").getString("field"), r.text());
  }
}

package io.mailgate.api;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The residency policy in the operator API: routes, fallbacks, tenant policy and backend changes. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RoutingPolicyApiTest {

  static TestGateway gw;
  static Api api;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_DISPATCH_ENABLED", "false"));
    api = gw.api.overHttp11();
    gw.api.createBackend("eu-file", "file", "eu", new JsonObject().put("dir", "/tmp/mailgate-routing-eu"));
    gw.api.createBackend("eu-file-2", "file", "eu", new JsonObject().put("dir", "/tmp/mailgate-routing-eu2"));
    gw.api.createBackend("us-file", "file", "us", new JsonObject().put("dir", "/tmp/mailgate-routing-us"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  private static Api.Response route(TenantKey t, String backend, String fallback) {
    JsonObject body = new JsonObject().put("backend", backend);
    if (fallback != null) {
      body.put("fallback", fallback);
    }
    return api.put("/v1/admin/tenants/" + t.id() + "/backend", TestGateway.ADMIN_TOKEN, body);
  }

  private static JsonObject tenant(TenantKey t) {
    Api.Response r = api.get("/v1/admin/tenants/" + t.id(), TestGateway.ADMIN_TOKEN);
    Api.expect(r, 200);
    return r.json();
  }

  @Test
  void refusesToRouteAnEuTenantThroughAUsBackendAndLeavesTheRouteUnchanged() {
    TenantKey t = gw.api.createTenant("eu-only", "eu");
    Api.Response r = route(t, "us-file", null);
    assertEquals(422, r.status(), r.text());
    assertEquals("region_not_allowed", r.errorCode());
    assertTrue(r.json().getJsonObject("error").getString("message").contains("'us'"), r.text());
    assertNull(tenant(t).getString("backend"));
  }

  @Test
  void routesToARegionTheTenantExplicitlyAllows() {
    Api.Response created = api.post("/v1/admin/tenants", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("name", "eu-and-us").put("region", "eu").put("allowedRegions", new JsonArray(List.of("us"))));
    Api.expect(created, 201);
    assertEquals(new JsonArray(List.of("us")), created.json().getJsonArray("allowedRegions"));
    TenantKey t = new TenantKey(created.json().getString("id"), created.json().getString("apiKey"));
    Api.Response r = route(t, "us-file", "eu-file");
    assertEquals(200, r.status(), r.text());
    assertEquals("us-file", r.json().getString("backend"));
    assertEquals("eu-file", r.json().getString("fallback"));
  }

  @Test
  void refusesAFallbackOutsideTheTenantsRegions() {
    TenantKey t = gw.api.createTenant("eu-fallback", "eu");
    Api.Response r = route(t, "eu-file", "us-file");
    assertEquals(422, r.status(), r.text());
    assertEquals("region_not_allowed", r.errorCode());
    assertTrue(r.json().getJsonObject("error").getString("message").startsWith("fallback"), r.text());
    assertNull(tenant(t).getString("backend"));
  }

  @Test
  void refusesAnEuBackendWhoseProviderSettingsPointToTheUs() {
    Api.Response r = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "mg-mislabelled")
        .put("type", "mailgun").put("region", "eu")
        .put("settings", new JsonObject().put("apiKey", "key-123").put("domain", "mg.acme.example").put("region", "us")));
    assertEquals(422, r.status(), r.text());
    assertEquals("region_mismatch", r.errorCode());
    Api.Response ses = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "ses-mislabelled")
        .put("type", "ses").put("region", "eu").put("settings", new JsonObject().put("accessKeyId", "AKIAIOSFODNN7EXAMPLE")
            .put("secretAccessKey", "secret").put("awsRegion", "us-east-1")));
    assertEquals(422, ses.status(), ses.text());
    Api.Response ok = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "mg-eu")
        .put("type", "mailgun").put("region", "eu")
        .put("settings", new JsonObject().put("apiKey", "key-123").put("domain", "mg.acme.example").put("region", "eu")));
    assertEquals(201, ok.status(), ok.text());
    Api.Response moved = api.send("PATCH", "/v1/admin/backends/" + ok.json().getString("id"), TestGateway.ADMIN_TOKEN,
        "application/json", java.net.http.HttpRequest.BodyPublishers.ofString("{\"region\":\"us\"}"), Map.of());
    assertEquals(422, moved.status(), "a region change must match the provider settings too: " + moved.text());
  }

  @Test
  void refusesTheSameBackendAsPrimaryAndFallback() {
    TenantKey t = gw.api.createTenant("same-twice", "eu");
    Api.Response r = route(t, "eu-file", "eu-file");
    assertEquals(400, r.status(), r.text());
    assertEquals("fallback", r.json().getJsonObject("error").getString("field"));
  }

  @Test
  void patchesTenantLimitsAndAllowedRegionsAndClearsThemWithNull() {
    TenantKey t = gw.api.createTenant("limits", "eu");
    Api.Response set = api.send("PATCH", "/v1/admin/tenants/" + t.id(), TestGateway.ADMIN_TOKEN, "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString(new JsonObject().put("maxRatePerSecond", 25)
            .put("maxConcurrentChunks", 2).put("allowedRegions", new JsonArray(List.of("US", "us"))).encode()), Map.of());
    assertEquals(200, set.status(), set.text());
    assertEquals(25.0, set.json().getDouble("maxRatePerSecond"));
    assertEquals(2, set.json().getInteger("maxConcurrentChunks"));
    assertEquals(new JsonArray(List.of("us")), set.json().getJsonArray("allowedRegions"));

    Api.Response cleared = api.send("PATCH", "/v1/admin/tenants/" + t.id(), TestGateway.ADMIN_TOKEN, "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString("{\"maxRatePerSecond\":null}"), Map.of());
    assertEquals(200, cleared.status(), cleared.text());
    assertNull(cleared.json().getValue("maxRatePerSecond"));
    assertEquals(2, cleared.json().getInteger("maxConcurrentChunks"), "fields not given stay");

    Api.Response bad = api.send("PATCH", "/v1/admin/tenants/" + t.id(), TestGateway.ADMIN_TOKEN, "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString("{\"maxConcurrentChunks\":0}"), Map.of());
    assertEquals(400, bad.status(), bad.text());
    assertEquals("maxConcurrentChunks", bad.json().getJsonObject("error").getString("field"));

    // the residency region its routes were checked against cannot change under them
    Api.Response region = api.send("PATCH", "/v1/admin/tenants/" + t.id(), TestGateway.ADMIN_TOKEN, "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString("{\"region\":\"us\"}"), Map.of());
    assertEquals(400, region.status(), region.text());
    assertEquals("region", region.json().getJsonObject("error").getString("field"));
    assertEquals("eu", tenant(t).getString("region"));
  }

  @Test
  void changingABackendBumpsItsVersionKeepsSecretsNotGivenAndNeverShowsThem() {
    Api.Response created = api.post("/v1/admin/backends", TestGateway.ADMIN_TOKEN, new JsonObject().put("name", "patched-smtp")
        .put("type", "smtp").put("region", "eu").put("settings", new JsonObject().put("host", "127.0.0.1").put("port", 2525)
            .put("tls", "none").put("username", "u").put("password", "s3cret-Pa55").put("allowPlaintextAuth", true)));
    Api.expect(created, 201);
    String id = created.json().getString("id");
    assertEquals(1, created.json().getInteger("version"));
    assertEquals("healthy", created.json().getJsonObject("health").getString("state"));

    Api.Response patched = api.send("PATCH", "/v1/admin/backends/" + id, TestGateway.ADMIN_TOKEN, "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString(new JsonObject().put("settings", new JsonObject().put("host", "127.0.0.1")
            .put("port", 2526).put("tls", "none").put("username", "u").put("allowPlaintextAuth", true)).encode()), Map.of());
    assertEquals(200, patched.status(), patched.text());
    assertEquals(2, patched.json().getInteger("version"));
    assertEquals(2526, patched.json().getJsonObject("settings").getInteger("port"));
    assertEquals(new JsonArray(List.of("password")), patched.json().getJsonArray("secretSettings"), "the password was kept");
    assertFalse(patched.text().contains("s3cret-Pa55"));

    Api.Response region = api.send("PATCH", "/v1/admin/backends/" + id, TestGateway.ADMIN_TOKEN, "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString("{\"region\":\"us\"}"), Map.of());
    assertEquals(200, region.status(), region.text());
    assertEquals("us", region.json().getString("region"));
    assertEquals(3, region.json().getInteger("version"));

    Api.Response unknown = api.send("PATCH", "/v1/admin/backends/" + id, TestGateway.ADMIN_TOKEN, "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString("{\"type\":\"file\"}"), Map.of());
    assertEquals(400, unknown.status(), unknown.text());
    assertEquals("unknown_field", unknown.errorCode());
  }
}

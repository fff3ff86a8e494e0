package io.mailgate.support;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;

/** The gateway's HTTP API as a client sees it: real requests over loopback, answers parsed as JSON. */
public final class Api implements AutoCloseable {

  /** An answer: status, JSON body (if any) and headers. */
  public record Response(int status, JsonObject json, String text, Map<String, List<String>> headers) {
    public String header(String name) {
      return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
          .findFirst().map(e -> e.getValue().get(0)).orElse(null);
    }

    public String errorCode() {
      return json == null || json.getJsonObject("error") == null ? null : json.getJsonObject("error").getString("code");
    }
  }

  /** A tenant created through the operator API. */
  public record TenantKey(String id, String apiKey) {}

  private final HttpClient client;
  private final String base;
  private final String adminToken;

  public Api(int port, String adminToken) {
    this("http://127.0.0.1:" + port, adminToken, HttpClient.Version.HTTP_2);
  }

  private Api(String base, String adminToken, HttpClient.Version version) {
    this.base = base;
    this.adminToken = adminToken;
    this.client = HttpClient.newBuilder().version(version).connectTimeout(Duration.ofSeconds(5)).build();
  }

  /**
   * The same API over HTTP/1.1 only, as a CRM or JMeter speaks it. (The default client upgrades body-less requests
   * to HTTP/2 (h2c), which TenantIsolationTest uses to check that an error answer ends only its own stream.)
   */
  public Api overHttp11() {
    return new Api(base, adminToken, HttpClient.Version.HTTP_1_1);
  }

  public String base() {
    return base;
  }

  public Response send(String method, String path, String token, String contentType, HttpRequest.BodyPublisher body,
                       Map<String, String> headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(120));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    headers.forEach(b::header);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : body);
    try {
      HttpResponse<String> r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
      JsonObject json = null;
      String text = r.body();
      if (text != null && text.startsWith("{")) {
        json = new JsonObject(text);
      }
      return new Response(r.statusCode(), json, text, r.headers().map());
    } catch (Exception e) {
      throw new IllegalStateException(method + " " + path + " failed", e);
    }
  }

  public Response get(String path, String token) {
    return send("GET", path, token, null, null, Map.of());
  }

  public Response post(String path, String token, JsonObject body) {
    return send("POST", path, token, "application/json", HttpRequest.BodyPublishers.ofString(body.encode()), Map.of());
  }

  public Response postRaw(String path, String token, String contentType, String body, Map<String, String> headers) {
    return send("POST", path, token, contentType, HttpRequest.BodyPublishers.ofString(body), headers);
  }

  public Response put(String path, String token, JsonObject body) {
    return send("PUT", path, token, "application/json", HttpRequest.BodyPublishers.ofString(body.encode()), Map.of());
  }

  // --- operator helpers

  public TenantKey createTenant(String name, String region) {
    Response r = post("/v1/admin/tenants", adminToken, new JsonObject().put("name", name).put("region", region));
    expect(r, 201);
    return new TenantKey(r.json().getString("id"), r.json().getString("apiKey"));
  }

  public String createBackend(String name, String type, String region, JsonObject settings) {
    Response r = post("/v1/admin/backends", adminToken,
        new JsonObject().put("name", name).put("type", type).put("region", region).put("settings", settings));
    expect(r, 201);
    return r.json().getString("id");
  }

  public void route(TenantKey tenant, String backend) {
    expect(put("/v1/admin/tenants/" + tenant.id() + "/backend", adminToken, new JsonObject().put("backend", backend)), 200);
  }

  /** A tenant routed to an SMTP backend at 127.0.0.1:port (plain, unthrottled unless settings say otherwise). */
  public TenantKey tenantOnSmtp(String name, int port, JsonObject extraSettings) {
    JsonObject settings = new JsonObject().put("host", "127.0.0.1").put("port", port).put("tls", "none")
        .put("maxConnections", 8).put("ratePerSecond", 0).put("connectTimeout", "2s").put("commandTimeout", "5s")
        .put("downBackoff", "200ms");
    if (extraSettings != null) {
      settings.mergeIn(extraSettings);
    }
    createBackend(name + "-smtp", "smtp", "eu", settings);
    TenantKey t = createTenant(name, "eu");
    route(t, name + "-smtp");
    return t;
  }

  // --- tenant helpers

  public Response submitJson(TenantKey t, JsonObject job) {
    return post("/v1/jobs", t.apiKey(), job);
  }

  public Response submitNdjson(TenantKey t, String body) {
    return postRaw("/v1/jobs", t.apiKey(), "application/x-ndjson", body, Map.of());
  }

  public Response submitNdjson(TenantKey t, Supplier<InputStream> body) {
    return send("POST", "/v1/jobs", t.apiKey(), "application/x-ndjson", HttpRequest.BodyPublishers.ofInputStream(body), Map.of());
  }

  /** {@code POST /v1/jobs/{id}/{action}} (pause, resume, cancel) without a body. */
  public Response control(String token, String jobId, String action) {
    return send("POST", "/v1/jobs/" + jobId + "/" + action, token, null, HttpRequest.BodyPublishers.noBody(), Map.of());
  }

  public JsonObject job(TenantKey t, String id) {
    Response r = get("/v1/jobs/" + id, t.apiKey());
    expect(r, 200);
    return r.json();
  }

  /** Polls the job until the condition holds; fails after the timeout with the last state seen. */
  public JsonObject awaitJob(TenantKey t, String id, Predicate<JsonObject> condition, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    JsonObject last = null;
    while (System.nanoTime() < deadline) {
      last = job(t, id);
      if (condition.test(last)) {
        return last;
      }
      sleep(50);
    }
    throw new AssertionError("job " + id + " did not reach the expected state within " + timeout + "; last: " + last);
  }

  public JsonObject awaitState(TenantKey t, String id, String state, Duration timeout) {
    return awaitJob(t, id, j -> state.equals(j.getString("state")), timeout);
  }

  /** Every recipient of a job, following the pages. */
  public List<JsonObject> recipients(TenantKey t, String id) {
    List<JsonObject> out = new ArrayList<>();
    String after = null;
    do {
      Response r = get("/v1/jobs/" + id + "/recipients?limit=1000" + (after == null ? "" : "&after=" + after), t.apiKey());
      expect(r, 200);
      JsonArray items = r.json().getJsonArray("items");
      items.forEach(o -> out.add((JsonObject) o));
      Object next = r.json().getValue("next");
      after = next == null ? null : next.toString();
    } while (after != null);
    return out;
  }

  public static void expect(Response r, int status) {
    if (r.status() != status) {
      throw new AssertionError("expected HTTP " + status + " but got " + r.status() + ": " + r.text());
    }
  }

  public static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    // the JDK client closes with its last reference (close() exists only from Java 21)
  }
}

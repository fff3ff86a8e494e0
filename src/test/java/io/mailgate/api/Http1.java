package io.mailgate.api;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/**
 * The gateway's API like {@link Api}, but over HTTP/1.1 only. {@link Api}'s JDK client upgrades body-less requests
 * to HTTP/2 (h2c), and the gateway answers an error on HTTP/2 by closing the whole connection (GOAWAY; see
 * {@code TenantIsolationTest#errorAnswerDoesNotAbortOtherRequestsOnTheSameHttp2Connection}), so the next request of
 * a test could fail for a reason that has nothing to do with what the test checks. Tests that expect error answers
 * send them through this client.
 */
final class Http1 {

  private final HttpClient client = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5))
      .build();
  private final String base;

  Http1(Api api) {
    this.base = api.base();
  }

  Api.Response send(String method, String path, String token, String contentType, HttpRequest.BodyPublisher body,
                    Map<String, String> headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60));
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
      String text = r.body();
      JsonObject json = text != null && text.startsWith("{") ? new JsonObject(text) : null;
      return new Api.Response(r.statusCode(), json, text, r.headers().map());
    } catch (Exception e) {
      throw new IllegalStateException(method + " " + path + " failed", e);
    }
  }

  Api.Response get(String path, String token) {
    return send("GET", path, token, null, null, Map.of());
  }

  Api.Response post(String path, String token, JsonObject body) {
    return postRaw(path, token, "application/json", body.encode(), Map.of());
  }

  Api.Response postRaw(String path, String token, String contentType, String body, Map<String, String> headers) {
    return send("POST", path, token, contentType, HttpRequest.BodyPublishers.ofString(body), headers);
  }

  Api.Response put(String path, String token, JsonObject body) {
    return send("PUT", path, token, "application/json", HttpRequest.BodyPublishers.ofString(body.encode()), Map.of());
  }

  Api.Response submitJson(TenantKey t, JsonObject job) {
    return post("/v1/jobs", t.apiKey(), job);
  }

  Api.Response submitNdjson(TenantKey t, String body) {
    return postRaw("/v1/jobs", t.apiKey(), "application/x-ndjson", body, Map.of());
  }

  /** {@code POST /v1/jobs/{id}/{action}} (pause, resume, cancel) without a body. */
  Api.Response control(String token, String jobId, String action) {
    return send("POST", "/v1/jobs/" + jobId + "/" + action, token, null, HttpRequest.BodyPublishers.noBody(), Map.of());
  }
}

package io.mailgate.webhook.in;

import io.mailgate.store.DbTarget;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the provider webhook tests share: a gateway on a fresh database with a public listener, webhook calls as the
 * providers make them (raw bytes, their own headers), and what the event log, suppressions and metrics show after.
 */
abstract class HookTests {

  static final Duration TIMEOUT = Duration.ofSeconds(60);
  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  static DbTarget db;
  static TestGateway gw;
  static Api api;
  static int publicPort;

  static void startGateway(Map<String, String> extra) {
    db = TestDatabase.fresh();
    Map<String, String> env = new HashMap<>(Map.of("MAILGATE_PUBLIC_PORT", Integer.toString(TestGateway.freePort()),
        "MAILGATE_PUBLIC_HOST", "127.0.0.1", "MAILGATE_CHUNK_SIZE", "1000"));
    env.putAll(extra);
    gw = TestGateway.start(db, env);
    api = gw.api;
    publicPort = gw.gateway.publicPort();
  }

  static void stopGateway() {
    if (gw != null) {
      gw.close();
    }
  }

  record Answer(int status, String body, Map<String, java.util.List<String>> headers) {
    JsonObject json() {
      return new JsonObject(body);
    }

    String errorCode() {
      return body.startsWith("{") && json().getJsonObject("error") != null ? json().getJsonObject("error").getString("code") : null;
    }
  }

  /** A POST as a provider makes it, to the public listener (or the main one). */
  static Answer hook(boolean publicListener, String provider, String backendId, String contentType, byte[] body,
                     Map<String, String> headers) {
    int port = publicListener ? publicPort : gw.gateway.httpPort();
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/hooks/" + provider + "/" + backendId))
        .timeout(Duration.ofSeconds(60)).header("Content-Type", contentType)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
    headers.forEach(b::header);
    try {
      HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
      return new Answer(r.statusCode(), r.body(), r.headers().map());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static Answer hook(String provider, String backendId, String body, Map<String, String> headers) {
    return hook(true, provider, backendId, "application/json", body.getBytes(StandardCharsets.UTF_8), headers);
  }

  static void expect(Answer a, int status) {
    if (a.status() != status) {
      throw new AssertionError("expected " + status + ", got " + a.status() + ": " + a.body());
    }
  }

  /** Events a webhook of this provider recorded, in the whole gateway. */
  static long recorded(String provider) {
    return TestDatabase.count(db, "SELECT count(*) FROM events WHERE source = 'webhook:" + provider + "'");
  }

  static long recorded(String provider, String email, String type) {
    return TestDatabase.count(db, "SELECT count(*) FROM events WHERE source = 'webhook:" + provider + "' AND email = '"
        + email + "' AND type = '" + type + "'");
  }

  static JsonObject recipient(TenantKey t, String job, String email) {
    return io.mailgate.support.TestJobs.recipient(api, t, job, email);
  }

  /** The tenant's suppression reasons by address. */
  static Map<String, String> suppressions(TenantKey t) {
    Map<String, String> out = new HashMap<>();
    JsonArray items = api.get("/v1/suppressions", t.apiKey()).json().getJsonArray("items");
    items.forEach(o -> out.put(((JsonObject) o).getString("address"), ((JsonObject) o).getString("reason")));
    return out;
  }

  private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})?\\s+(\\S+)");

  /** A counter of /metrics with these labels (0 when absent). */
  static double metric(String name, Map<String, String> labels) {
    String text = api.get("/metrics", null).text();
    double sum = 0;
    for (String line : text.split("\n")) {
      Matcher m = SAMPLE.matcher(line);
      if (!m.find() || !m.group(1).equals(name)) {
        continue;
      }
      String l = m.group(2) == null ? "" : m.group(2);
      if (labels.entrySet().stream().allMatch(e -> l.contains(e.getKey() + "=\"" + e.getValue() + "\""))) {
        sum += Double.parseDouble(m.group(3));
      }
    }
    return sum;
  }

  static long nowSeconds() {
    return System.currentTimeMillis() / 1000;
  }
}

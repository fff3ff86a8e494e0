package io.mailgate.support.sim;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * Postmark's batch email API on 127.0.0.1 (random port), as documented: {@code POST /email/batch} with
 * {@code X-Postmark-Server-Token} (401 with ErrorCode 10 otherwise), JSON in and out (415 otherwise), at most 500
 * messages (422 with ErrorCode 410 otherwise), and one result per message in order ({@code ErrorCode},
 * {@code Message}, {@code MessageID}, {@code To}, {@code SubmittedAt}). Tests script it: answers for the next calls
 * (429 with Retry-After, 5xx, 401, 422 with an ErrorCode) and per-address failures (406 inactive, 300 invalid...).
 * It records every call and every message it accepted.
 */
public final class PostmarkSimulator implements AutoCloseable {

  /** Postmark's documented batch limit. */
  public static final int BATCH_LIMIT = 500;

  /** A call as received, and the HTTP status it got. */
  public record Call(int status, Map<String, String> headers, JsonArray messages, long receivedAtNanos) {}

  /** A message Postmark accepted (ErrorCode 0), with the MessageID it answered. */
  public record Accepted(String messageId, JsonObject message) {}

  private record Scripted(int status, String body, Map<String, String> headers) {}

  private record Failure(int errorCode, String message) {}

  private final Vertx vertx = Vertx.vertx();
  private final ConcurrentLinkedQueue<Scripted> script = new ConcurrentLinkedQueue<>();
  private final Map<String, Failure> failures = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<Call> calls = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Accepted> accepted = new ConcurrentLinkedQueue<>();
  private volatile String serverToken;
  private HttpServer server;

  private PostmarkSimulator(String serverToken) {
    this.serverToken = serverToken;
  }

  /** Starts a simulator that accepts {@code serverToken}. */
  public static PostmarkSimulator start(String serverToken) {
    PostmarkSimulator sim = new PostmarkSimulator(serverToken);
    try {
      sim.server = sim.vertx.createHttpServer().requestHandler(sim::handle)
          .listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      sim.close();
      throw new IllegalStateException("Postmark simulator did not start", e);
    }
    return sim;
  }

  public String baseUrl() {
    return "http://127.0.0.1:" + server.actualPort();
  }

  /** The token accepted from now on (a rotated token). */
  public PostmarkSimulator serverToken(String token) {
    this.serverToken = token;
    return this;
  }

  /** Every message to {@code address} gets this ErrorCode and message in its result (e.g. 406 inactive). */
  public PostmarkSimulator failAddress(String address, int errorCode, String message) {
    failures.put(address, new Failure(errorCode, message));
    return this;
  }

  /** The next {@code times} calls are answered 429 with {@code Retry-After: retryAfterSeconds}. */
  public PostmarkSimulator throttleNext(int times, int retryAfterSeconds) {
    for (int i = 0; i < times; i++) {
      script.add(new Scripted(429, new JsonObject().put("ErrorCode", 429).put("Message", "Rate limit exceeded").encode(),
          Map.of("Retry-After", Integer.toString(retryAfterSeconds))));
    }
    return this;
  }

  /** The next {@code times} calls are answered with {@code status} (e.g. 500, 503) and a plain error body. */
  public PostmarkSimulator failNext(int times, int status) {
    for (int i = 0; i < times; i++) {
      script.add(new Scripted(status, "{\"ErrorCode\":0,\"Message\":\"Internal server error\"}", Map.of()));
    }
    return this;
  }

  /** The next {@code times} calls are refused as a whole: HTTP 422 with this ErrorCode (e.g. 405 not allowed to send). */
  public PostmarkSimulator rejectNext(int times, int errorCode, String message) {
    for (int i = 0; i < times; i++) {
      script.add(new Scripted(422, new JsonObject().put("ErrorCode", errorCode).put("Message", message).encode(), Map.of()));
    }
    return this;
  }

  public List<Call> calls() {
    return new ArrayList<>(calls);
  }

  /** Messages accepted (ErrorCode 0), in the order received. */
  public List<Accepted> accepted() {
    return new ArrayList<>(accepted);
  }

  /** How many messages were accepted per {@code To} address. */
  public Map<String, Integer> acceptedPerAddress() {
    Map<String, Integer> out = new HashMap<>();
    accepted.forEach(a -> out.merge(a.message().getString("To"), 1, Integer::sum));
    return out;
  }

  private void handle(HttpServerRequest req) {
    req.body().onSuccess(buf -> {
      long at = System.nanoTime();
      Map<String, String> headers = new HashMap<>();
      req.headers().forEach(e -> headers.put(e.getKey().toLowerCase(), e.getValue()));
      JsonArray messages = null;
      try {
        Object parsed = buf.length() == 0 ? null : io.vertx.core.json.Json.decodeValue(buf);
        messages = parsed instanceof JsonArray a ? a : null;
      } catch (DecodeException e) {
        // answered below as invalid JSON
      }
      Scripted answer = answer(req, messages);
      // recorded before the answer leaves, so a test that saw the outcome also sees the call
      calls.add(new Call(answer.status(), headers, messages, at));
      var resp = req.response().setStatusCode(answer.status()).putHeader("Content-Type", "application/json");
      answer.headers().forEach(resp::putHeader);
      resp.end(answer.body());
    });
  }

  private Scripted answer(HttpServerRequest req, JsonArray messages) {
    if (!req.method().name().equals("POST") || !req.path().equals("/email/batch")) {
      return new Scripted(404, error(404, "Not found"), Map.of());
    }
    String token = req.getHeader("X-Postmark-Server-Token");
    if (token == null || !token.equals(serverToken)) {
      return new Scripted(401, error(10, "The Server Token you provided in the X-Postmark-Server-Token request header was invalid."), Map.of());
    }
    if (!"application/json".equals(req.getHeader("Accept")) || !"application/json".equals(req.getHeader("Content-Type"))) {
      return new Scripted(415, error(409, "JSON required: set Accept and Content-Type to application/json."), Map.of());
    }
    Scripted s = script.poll();
    if (s != null) {
      return s;
    }
    if (messages == null) {
      return new Scripted(422, error(402, "Invalid JSON: the body must be an array of messages."), Map.of());
    }
    if (messages.size() > BATCH_LIMIT) {
      return new Scripted(422, error(410, "Too many batch messages: " + messages.size() + " (at most " + BATCH_LIMIT + ")."), Map.of());
    }
    JsonArray results = new JsonArray();
    for (Object o : messages) {
      results.add(result(o));
    }
    return new Scripted(200, results.encode(), Map.of());
  }

  private JsonObject result(Object o) {
    if (!(o instanceof JsonObject m)) {
      return new JsonObject().put("ErrorCode", 300).put("Message", "Invalid email request: a message must be an object.");
    }
    String to = m.getString("To");
    if (m.getString("From") == null || to == null || to.isBlank()) {
      return new JsonObject().put("ErrorCode", 300).put("Message", "Invalid email request: From and To are required.");
    }
    if (m.getString("TextBody") == null && m.getString("HtmlBody") == null) {
      return new JsonObject().put("ErrorCode", 300).put("Message", "Provide either email TextBody or HtmlBody or both.");
    }
    if (m.getValue("Attachments") != null) {
      if (!(m.getValue("Attachments") instanceof JsonArray files)) {
        return new JsonObject().put("ErrorCode", 300).put("Message", "Invalid email request: Attachments must be an array.");
      }
      for (Object o2 : files) {
        if (!(o2 instanceof JsonObject f) || f.getString("Name") == null || f.getString("Content") == null
            || f.getString("ContentType") == null) {
          return new JsonObject().put("ErrorCode", 300).put("Message", "Invalid email request: an attachment needs Name,"
              + " Content and ContentType.");
        }
        try {
          java.util.Base64.getDecoder().decode(f.getString("Content"));
        } catch (IllegalArgumentException e) {
          return new JsonObject().put("ErrorCode", 300).put("Message", "Invalid email request: attachment content is not base64.");
        }
        String cid = f.getString("ContentID");
        if (cid != null && !cid.startsWith("cid:")) {
          return new JsonObject().put("ErrorCode", 300).put("Message", "Invalid email request: ContentID must be cid:...");
        }
      }
    }
    Failure f = failures.get(to);
    if (f != null) {
      return new JsonObject().put("ErrorCode", f.errorCode()).put("Message", f.message());
    }
    String id = UUID.randomUUID().toString();
    accepted.add(new Accepted(id, m.copy()));
    return new JsonObject().put("To", to).put("SubmittedAt", java.time.OffsetDateTime.now().toString())
        .put("MessageID", id).put("ErrorCode", 0).put("Message", "OK");
  }

  private static String error(int code, String message) {
    return new JsonObject().put("ErrorCode", code).put("Message", message).encode();
  }

  @Override
  public void close() {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("Postmark simulator did not stop", e);
    }
  }
}

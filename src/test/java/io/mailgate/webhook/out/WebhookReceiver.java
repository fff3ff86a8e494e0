package io.mailgate.webhook.out;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A webhook endpoint on loopback for tests: a Vert.x HTTP server that keeps every call (path, headers, body) and
 * answers each with the status its path's rule gives (200 by default).
 */
final class WebhookReceiver implements AutoCloseable {

  record Call(String path, Map<String, String> headers, String body, int answered) {
    JsonObject json() {
      return new JsonObject(body);
    }
  }

  private final Vertx vertx = Vertx.vertx();
  private final List<Call> calls = new ArrayList<>();
  private final Map<String, Function<String, Integer>> rules = new ConcurrentHashMap<>();
  private HttpServer server;

  WebhookReceiver start() throws Exception {
    server = vertx.createHttpServer().requestHandler(req -> req.body().onSuccess(body -> {
      Function<String, Integer> rule = rules.get(req.path());
      String text = body.toString();
      int status = rule == null ? 200 : rule.apply(text);
      Map<String, String> headers = new ConcurrentHashMap<>();
      req.headers().forEach(e -> headers.put(e.getKey().toLowerCase(java.util.Locale.ROOT), e.getValue()));
      synchronized (calls) {
        calls.add(new Call(req.path(), headers, text, status));
      }
      req.response().setStatusCode(status).end(Buffer.buffer("ok"));
    })).listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    return this;
  }

  /** How a path answers: a status for each call's body. */
  WebhookReceiver rule(String path, Function<String, Integer> status) {
    rules.put(path, status);
    return this;
  }

  String url(String path) {
    return "http://127.0.0.1:" + server.actualPort() + path;
  }

  List<Call> calls(String path) {
    synchronized (calls) {
      return calls.stream().filter(c -> c.path().equals(path)).toList();
    }
  }

  @Override
  public void close() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }
}

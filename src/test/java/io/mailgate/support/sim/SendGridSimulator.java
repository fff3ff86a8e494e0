package io.mailgate.support.sim;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * SendGrid's v3 Mail Send API in the test JVM: {@code POST /v3/mail/send} on 127.0.0.1 (random port),
 * {@code Authorization: Bearer <key>}, a JSON body with 1 to 1,000 personalizations (each with {@code to}),
 * {@code from.email}, a subject (top level or in every personalization), {@code content} (text/plain first,
 * values not empty). Answers as SendGrid does: 202 with {@code X-Message-Id} and no body, 400/401
 * {"errors":[{"message","field","help"}]}. Tests script the next answers (429 with Retry-After, 5xx, 401, 400,
 * no answer) and read every request back.
 */
public final class SendGridSimulator implements AutoCloseable {

  public static final int MAX_PERSONALIZATIONS = 1000;

  /** One request as received: its JSON body and what it was answered. */
  public record Request(JsonObject body, String authorization, int status, String messageId, Instant receivedAt) {

    public boolean accepted() {
      return status == 202;
    }

    public JsonArray personalizations() {
      JsonArray p = body == null ? null : body.getJsonArray("personalizations");
      return p == null ? new JsonArray() : p;
    }

    /** The first {@code to} address of each personalization. */
    public List<String> to() {
      List<String> out = new ArrayList<>();
      personalizations().forEach(p -> out.add(((JsonObject) p).getJsonArray("to").getJsonObject(0).getString("email")));
      return out;
    }

    public JsonObject personalization(String address) {
      for (Object o : personalizations()) {
        JsonObject p = (JsonObject) o;
        if (p.getJsonArray("to").getJsonObject(0).getString("email").equals(address)) {
          return p;
        }
      }
      return null;
    }

    /** A content value ({@code text/plain}, {@code text/html}) with that recipient's substitutions applied. */
    public String personalised(String contentType, String address) {
      String value = null;
      for (Object o : body.getJsonArray("content")) {
        JsonObject c = (JsonObject) o;
        if (c.getString("type").equals(contentType)) {
          value = c.getString("value");
        }
      }
      JsonObject subs = personalization(address).getJsonObject("substitutions");
      if (value == null || subs == null) {
        return value;
      }
      for (String k : subs.fieldNames()) {
        value = value.replace(k, subs.getString(k));
      }
      return value;
    }

    /** The subject that recipient gets: its personalization's, else the request's. */
    public String subject(String address) {
      String s = personalization(address).getString("subject");
      return s != null ? s : body.getString("subject");
    }
  }

  /** A scripted answer for one call. {@code status} 0: never answer. */
  private record Script(int status, String body, Map<String, String> headers) {}

  private final Vertx vertx = Vertx.vertx();
  private final String apiKey;
  private final ArrayDeque<Script> script = new ArrayDeque<>();
  private final ConcurrentLinkedQueue<Request> requests = new ConcurrentLinkedQueue<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger maxInFlight = new AtomicInteger();
  private volatile long answerDelayMs;
  private HttpServer server;

  public SendGridSimulator(String apiKey) {
    this.apiKey = apiKey;
  }

  public SendGridSimulator start() {
    try {
      server = vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(0)).requestHandler(this::handle)
          .listen().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("simulator did not start", e);
    }
    return this;
  }

  public int port() {
    return server.actualPort();
  }

  public String baseUrl() {
    return "http://127.0.0.1:" + port();
  }

  // --- scripting

  /** The next {@code n} valid calls answer {@code status} with {@code body} and headers. */
  public synchronized SendGridSimulator answerNext(int n, int status, String body, Map<String, String> headers) {
    for (int i = 0; i < n; i++) {
      script.add(new Script(status, body, headers));
    }
    return this;
  }

  public SendGridSimulator throttleNext(int n, int retryAfterSeconds) {
    return answerNext(n, 429, errors("too many requests", null), Map.of("Retry-After", Integer.toString(retryAfterSeconds)));
  }

  public SendGridSimulator stallNext(int n) {
    return answerNext(n, 0, null, Map.of());
  }

  /** Every answer waits {@code ms} (calls stay in flight, to observe how many run at once). */
  public SendGridSimulator answerDelay(long ms) {
    this.answerDelayMs = ms;
    return this;
  }

  /** The most calls that were in flight (received, not yet answered) at one time. */
  public int maxConcurrentCalls() {
    return maxInFlight.get();
  }

  private synchronized Script nextScript() {
    return script.poll();
  }

  /** SendGrid's error body. */
  /**
   * SendGrid's {@code attachments}: each an object with {@code content} (base64) and {@code filename}, {@code type}
   * optional, {@code disposition} {@code attachment} (default) or {@code inline}, {@code content_id} required inline.
   */
  private static String attachmentsProblem(Object v) {
    if (v == null) {
      return null;
    }
    if (!(v instanceof JsonArray a)) {
      return errors("The attachments field must be an array.", "attachments");
    }
    for (int i = 0; i < a.size(); i++) {
      if (!(a.getValue(i) instanceof JsonObject f) || !(f.getValue("content") instanceof String c) || c.isEmpty()) {
        return errors("The attachment content is required.", "attachments." + i + ".content");
      }
      try {
        java.util.Base64.getDecoder().decode(c);
      } catch (IllegalArgumentException e) {
        return errors("The attachment content must be base64 encoded.", "attachments." + i + ".content");
      }
      if (!(f.getValue("filename") instanceof String n) || n.isEmpty()) {
        return errors("The attachment filename parameter is required.", "attachments." + i + ".filename");
      }
      String d = f.getString("disposition", "attachment");
      if (!d.equals("attachment") && !d.equals("inline")) {
        return errors("The disposition must be inline or attachment.", "attachments." + i + ".disposition");
      }
      if (d.equals("inline") && (f.getString("content_id") == null || f.getString("content_id").isEmpty())) {
        return errors("The content_id parameter is required if disposition is set to inline.", "attachments." + i + ".content_id");
      }
    }
    return null;
  }

  public static String errors(String message, String field) {
    return new JsonObject().put("errors", new JsonArray().add(new JsonObject().put("message", message)
        .put("field", field).putNull("help"))).encode();
  }

  // --- what was received

  public List<Request> requests() {
    return new ArrayList<>(requests);
  }

  public int calls() {
    return requests.size();
  }

  public List<Request> acceptedRequests() {
    return requests.stream().filter(Request::accepted).toList();
  }

  public Map<String, Integer> acceptedPerAddress() {
    Map<String, Integer> out = new HashMap<>();
    acceptedRequests().forEach(r -> r.to().forEach(a -> out.merge(a, 1, Integer::sum)));
    return out;
  }

  public int receivedRecipients() {
    return requests.stream().mapToInt(r -> r.personalizations().size()).sum();
  }

  // --- the API

  private void handle(HttpServerRequest req) {
    if (!req.path().equals("/v3/mail/send")) {
      req.response().setStatusCode(404).end(errors("not found", null));
      return;
    }
    if (req.method() != HttpMethod.POST) {
      req.response().setStatusCode(405).end(errors("method not allowed", null));
      return;
    }
    req.body().onSuccess(buf -> answer(req, buf));
  }

  private void answer(HttpServerRequest req, Buffer buf) {
    Instant receivedAt = Instant.now();
    String auth = req.getHeader("Authorization");
    JsonObject body = null;
    int status;
    String text = "";
    Map<String, String> headers = Map.of();
    String id = null;
    if (!("Bearer " + apiKey).equals(auth)) {
      status = 401;
      text = errors("The provided authorization grant is invalid, expired, or revoked", null);
    } else {
      String problem;
      try {
        body = buf.toJsonObject();
        problem = problem(body);
      } catch (DecodeException | ClassCastException e) {
        problem = errors("Bad Request", null);
      }
      Script s = problem == null ? nextScript() : null;
      if (problem != null) {
        status = 400;
        text = problem;
      } else if (s != null) {
        status = s.status();
        text = s.body();
        headers = s.headers();
      } else {
        status = 202;
        id = UUID.randomUUID().toString().replace("-", "").substring(0, 22);
        headers = Map.of("X-Message-Id", id);
      }
    }
    requests.add(new Request(body, auth, status, id, receivedAt));
    if (status == 0) {
      return; // scripted silence
    }
    int now = inFlight.incrementAndGet();
    maxInFlight.accumulateAndGet(now, Math::max);
    int st = status;
    String t = text;
    Map<String, String> h = headers;
    if (answerDelayMs > 0) {
      vertx.setTimer(answerDelayMs, x -> respond(req, st, t, h));
    } else {
      respond(req, st, t, h);
    }
  }

  private void respond(HttpServerRequest req, int status, String text, Map<String, String> headers) {
    inFlight.decrementAndGet();
    var resp = req.response().setStatusCode(status);
    headers.forEach(resp::putHeader);
    if (text != null && !text.isEmpty()) {
      resp.putHeader("Content-Type", "application/json");
    }
    resp.end(text == null ? "" : text);
  }

  /** SendGrid's 400 body for a request it would refuse, or null. */
  private static String problem(JsonObject b) {
    JsonArray ps = b.getJsonArray("personalizations");
    if (ps == null || ps.isEmpty()) {
      return errors("The personalizations field is required and must have at least one personalization.", "personalizations");
    }
    if (ps.size() > MAX_PERSONALIZATIONS) {
      return errors("The personalizations field may not have more than 1000 items.", "personalizations");
    }
    boolean everySubject = true;
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < ps.size(); i++) {
      JsonObject p = ps.getJsonObject(i);
      JsonArray to = p.getJsonArray("to");
      if (to == null || to.isEmpty()) {
        return errors("The to array is required for all personalization objects, and must have at least one email object with a valid email address.", "personalizations." + i + ".to");
      }
      for (Object o : to) {
        String email = ((JsonObject) o).getString("email");
        if (email == null || !email.matches("[^@\\s]+@[^@\\s]+\\.[^@\\s]+")) {
          return errors("Does not contain a valid address.", "personalizations." + i + ".to");
        }
        if (!seen.add(email.toLowerCase(Locale.ROOT))) {
          return errors("Each email address in the personalization block should be unique between to, cc, and bcc.", "personalizations." + i + ".to");
        }
      }
      JsonObject subs = p.getJsonObject("substitutions");
      if (subs != null) {
        for (String k : subs.fieldNames()) {
          if (!(subs.getValue(k) instanceof String)) {
            return errors("Substitutions must be strings.", "personalizations." + i + ".substitutions");
          }
        }
      }
      everySubject &= p.getString("subject") != null && !p.getString("subject").isEmpty();
    }
    JsonObject from = b.getJsonObject("from");
    if (from == null || from.getString("email") == null) {
      return errors("The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.", "from");
    }
    String subject = b.getString("subject");
    if (!everySubject && (subject == null || subject.isEmpty())) {
      return errors("The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.", "subject");
    }
    JsonArray content = b.getJsonArray("content");
    if (content == null || content.isEmpty()) {
      return errors("Unless a valid template_id is provided, the content parameter is required.", "content");
    }
    for (int i = 0; i < content.size(); i++) {
      JsonObject c = content.getJsonObject(i);
      if (c.getString("value") == null || c.getString("value").isEmpty()) {
        return errors("The content value must be a string at least one character in length.", "content." + i + ".value");
      }
      if (i > 0 && "text/plain".equals(c.getString("type"))) {
        return errors("If present, text/plain content must be first, followed by text/html.", "content." + i + ".type");
      }
    }
    JsonArray categories = b.getJsonArray("categories");
    if (categories != null && categories.size() > 10) {
      return errors("You may not have more than 10 categories per request.", "categories");
    }
    String files = attachmentsProblem(b.getValue("attachments"));
    if (files != null) {
      return files;
    }
    return null;
  }

  @Override
  public void close() {
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}

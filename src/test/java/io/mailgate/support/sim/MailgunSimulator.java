package io.mailgate.support.sim;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Mailgun's messages API in the test JVM: {@code POST /v3/{domain}/messages} on 127.0.0.1 (random port), HTTP
 * Basic {@code api:<key>}, a form (urlencoded or multipart) with {@code from}, {@code to} (repeated, at most 1,000),
 * {@code subject}, {@code text} and/or {@code html}, {@code recipient-variables} (a JSON object), {@code o:tag},
 * {@code h:*}, {@code v:*}. Answers as Mailgun does: 200 {"id","message"}, 400 {"message"}, 401 "Forbidden",
 * 404 for another domain. {@code POST /v3/{domain}/messages.mime}: {@code to} (the envelope, at most 1,000), the file
 * part {@code message} (the whole MIME message, kept as received) and the options. Tests script the next answers (429 with Retry-After, 5xx, 401, 400, no answer) and read
 * every request back.
 */
public final class MailgunSimulator implements AutoCloseable {

  public static final int MAX_RECIPIENTS = 1000;

  /** One request as received: the form fields (in order, names may repeat) and what it was answered. */
  public record Request(List<Map.Entry<String, String>> fields, String authorization, int status, String messageId,
                        Instant receivedAt, byte[] mime, List<FilePart> files) {

    /** The file parts named {@code name} ({@code attachment}, {@code inline}) in the order sent. */
    public List<FilePart> files(String name) {
      return files.stream().filter(f -> f.name().equals(name)).toList();
    }

    /** A messages.mime call. */
    public boolean isMime() {
      return mime != null;
    }

    public String first(String name) {
      return fields.stream().filter(e -> e.getKey().equals(name)).map(Map.Entry::getValue).findFirst().orElse(null);
    }

    public List<String> all(String name) {
      return fields.stream().filter(e -> e.getKey().equals(name)).map(Map.Entry::getValue).toList();
    }

    public List<String> to() {
      return all("to");
    }

    public boolean accepted() {
      return status == 200;
    }

    /** {@code recipient-variables} parsed, or null. */
    public JsonObject recipientVariables() {
      String v = first("recipient-variables");
      return v == null ? null : new JsonObject(v);
    }

    /**
     * A field as Mailgun would send it to one recipient: {@code %recipient.key%} replaced from the recipient's
     * variables and {@code %recipient%} by the address; unknown keys stay as they are.
     */
    public String personalised(String field, String address) {
      String value = first(field);
      if (value == null) {
        return null;
      }
      JsonObject vars = recipientVariables();
      JsonObject mine = vars == null ? new JsonObject() : vars.getJsonObject(address, new JsonObject());
      Matcher m = PLACEHOLDER.matcher(value);
      StringBuilder out = new StringBuilder();
      while (m.find()) {
        String key = m.group(1);
        String replacement = key == null ? (vars == null ? m.group() : address)
            : mine.containsKey(key) ? String.valueOf(mine.getValue(key)) : m.group();
        m.appendReplacement(out, Matcher.quoteReplacement(replacement));
      }
      m.appendTail(out);
      return out.toString();
    }
  }

  private static final Pattern PLACEHOLDER = Pattern.compile("%recipient(?:\\.([A-Za-z0-9_:-]+))?%");

  /** A scripted answer for one call. {@code status} 0: never answer (the client times out). */
  /** A file part of a messages call as received: its part name, file name, Content-Type and bytes. */
  public record FilePart(String name, String filename, String contentType, byte[] data) {}

  private record Script(int status, String body, Map<String, String> headers) {}

  private final Vertx vertx = Vertx.vertx();
  private final String domain;
  private final String apiKey;
  private final ArrayDeque<Script> script = new ArrayDeque<>();
  private final ConcurrentLinkedQueue<Request> requests = new ConcurrentLinkedQueue<>();
  private final AtomicInteger ids = new AtomicInteger();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger maxInFlight = new AtomicInteger();
  private volatile long answerDelayMs;
  private HttpServer server;

  public MailgunSimulator(String domain, String apiKey) {
    this.domain = domain;
    this.apiKey = apiKey;
  }

  public MailgunSimulator start() {
    HttpServerOptions options = new HttpServerOptions().setHost("127.0.0.1").setPort(0)
        .setMaxFormAttributeSize(16 * 1024 * 1024).setMaxFormFields(100_000).setMaxFormBufferedBytes(16 * 1024 * 1024);
    try {
      server = vertx.createHttpServer(options).requestHandler(this::handle).listen()
          .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
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

  /** The next {@code n} calls answer {@code status} with {@code body} (JSON or text) and headers. */
  public synchronized MailgunSimulator answerNext(int n, int status, String body, Map<String, String> headers) {
    for (int i = 0; i < n; i++) {
      script.add(new Script(status, body, headers));
    }
    return this;
  }

  /** The next {@code n} calls answer 429 with {@code Retry-After: seconds}. */
  public MailgunSimulator throttleNext(int n, int retryAfterSeconds) {
    return answerNext(n, 429, "{\"message\":\"Too many requests\"}", Map.of("Retry-After", Integer.toString(retryAfterSeconds)));
  }

  /** The next {@code n} calls get no answer at all (the client's request timeout fires). */
  public MailgunSimulator stallNext(int n) {
    return answerNext(n, 0, null, Map.of());
  }

  /** Every answer waits {@code ms} (calls stay in flight, to observe how many run at once). */
  public MailgunSimulator answerDelay(long ms) {
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

  /** How many accepted calls carried each address. */
  public Map<String, Integer> acceptedPerAddress() {
    Map<String, Integer> out = new HashMap<>();
    acceptedRequests().forEach(r -> r.to().forEach(a -> out.merge(a, 1, Integer::sum)));
    return out;
  }

  /** Recipients of every call, accepted or not. */
  public int receivedRecipients() {
    return requests.stream().mapToInt(r -> r.to().size()).sum();
  }

  // --- the API

  private void handle(HttpServerRequest req) {
    Matcher path = Pattern.compile("/v3/([^/]+)/messages(\\.mime)?").matcher(req.path());
    if (!path.matches()) {
      req.response().setStatusCode(404).end("{\"message\":\"Not Found\"}");
      return;
    }
    if (req.method() != io.vertx.core.http.HttpMethod.POST) {
      req.response().setStatusCode(405).end("{\"message\":\"Method Not Allowed\"}");
      return;
    }
    req.setExpectMultipart(true);
    if (path.group(2) != null) {
      io.vertx.core.buffer.Buffer message = io.vertx.core.buffer.Buffer.buffer();
      boolean[] got = {false};
      req.uploadHandler(u -> {
        if (u.name().equals("message")) {
          got[0] = true;
          u.handler(message::appendBuffer);
        } else {
          u.handler(b -> {});
        }
      });
      req.end().onSuccess(v -> answer(req, path.group(1), req.formAttributes(), got[0] ? message.getBytes() : new byte[0]));
      return;
    }
    List<FilePart> files = Collections.synchronizedList(new ArrayList<>());
    req.uploadHandler(u -> {
      io.vertx.core.buffer.Buffer data = io.vertx.core.buffer.Buffer.buffer();
      u.handler(data::appendBuffer);
      u.endHandler(x -> files.add(new FilePart(u.name(), u.filename(), u.contentType(), data.getBytes())));
    });
    req.end().onSuccess(v -> answer(req, path.group(1), req.formAttributes(), null, List.copyOf(files)));
  }

  private void answer(HttpServerRequest req, String requestDomain, MultiMap form, byte[] mime) {
    answer(req, requestDomain, form, mime, List.of());
  }

  private void answer(HttpServerRequest req, String requestDomain, MultiMap form, byte[] mime, List<FilePart> files) {
    Instant receivedAt = Instant.now();
    List<Map.Entry<String, String>> fields = new ArrayList<>();
    // Netty's multipart decoder turns the ':' of o:, h:, v: names into a space; Mailgun reads them as sent
    form.forEach(e -> fields.add(Map.entry(e.getKey().matches("[ohvt] .*") ? e.getKey().charAt(0) + ":" + e.getKey().substring(2)
        : e.getKey(), e.getValue())));
    String auth = req.getHeader("Authorization");
    String expected = "Basic " + Base64.getEncoder().encodeToString(("api:" + apiKey).getBytes(StandardCharsets.UTF_8));
    int status;
    String body;
    Map<String, String> headers = Map.of();
    String id = null;
    if (!expected.equals(auth)) {
      status = 401;
      body = "Forbidden";
    } else if (!requestDomain.equals(domain)) {
      status = 404;
      body = "{\"message\":\"Domain not found: " + requestDomain + "\"}";
    } else {
      String problem = mime != null ? mimeProblem(form, mime) : problem(form);
      Script s = problem == null ? nextScript() : null;
      if (problem != null) {
        status = 400;
        body = new JsonObject().put("message", problem).encode();
      } else if (s != null) {
        status = s.status();
        body = s.body();
        headers = s.headers();
      } else {
        status = 200;
        id = "<" + System.currentTimeMillis() + "." + ids.incrementAndGet() + "@" + domain + ">";
        body = new JsonObject().put("id", id).put("message", "Queued. Thank you.").encode();
      }
    }
    requests.add(new Request(Collections.unmodifiableList(fields), auth, status, id, receivedAt, mime, files));
    if (status == 0) {
      return; // scripted silence
    }
    int now = inFlight.incrementAndGet();
    maxInFlight.accumulateAndGet(now, Math::max);
    int st = status;
    String b = body;
    Map<String, String> h = headers;
    if (answerDelayMs > 0) {
      vertx.setTimer(answerDelayMs, t -> respond(req, st, b, h));
    } else {
      respond(req, st, b, h);
    }
  }

  private void respond(HttpServerRequest req, int status, String body, Map<String, String> headers) {
    inFlight.decrementAndGet();
    var resp = req.response().setStatusCode(status);
    headers.forEach(resp::putHeader);
    resp.putHeader("Content-Type", body != null && body.startsWith("{") ? "application/json" : "text/plain");
    resp.end(body == null ? "" : body);
  }

  /** What Mailgun would refuse with 400 in a messages.mime call, or null. */
  private static String mimeProblem(MultiMap form, byte[] mime) {
    List<String> to = form.getAll("to");
    if (to.isEmpty()) {
      return "'to' parameter is missing";
    }
    if (to.size() > MAX_RECIPIENTS) {
      return "Too many recipients: at most " + MAX_RECIPIENTS + " per message";
    }
    if (mime.length == 0) {
      return "'message' parameter is missing";
    }
    return null;
  }

  /** What Mailgun would refuse with 400, or null. */
  private static String problem(MultiMap form) {
    if (form.get("from") == null || form.get("from").isBlank()) {
      return "'from' parameter is missing";
    }
    List<String> to = form.getAll("to");
    if (to.isEmpty()) {
      return "'to' parameter is missing";
    }
    if (to.size() > MAX_RECIPIENTS) {
      return "Too many recipients: at most " + MAX_RECIPIENTS + " per message";
    }
    for (String a : to) {
      if (!a.matches("[^@\\s]+@[^@\\s]+\\.[^@\\s]+")) {
        return "'to' parameter is not a valid address. please check documentation";
      }
    }
    if (form.get("subject") == null) {
      return "'subject' parameter is missing";
    }
    if (form.get("text") == null && form.get("html") == null && form.get("template") == null) {
      return "Need at least one of 'text', 'html' or 'template' parameters specified";
    }
    String rv = form.get("recipient-variables");
    if (rv != null) {
      try {
        JsonObject vars = new JsonObject(rv);
        Map<String, Object> byAddress = new LinkedHashMap<>(vars.getMap());
        for (Object v : byAddress.values()) {
          if (!(v instanceof Map<?, ?>)) {
            return "recipient-variables parameter is not a valid JSON: each recipient's value must be an object";
          }
        }
      } catch (DecodeException e) {
        return "recipient-variables parameter is not a valid JSON";
      }
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

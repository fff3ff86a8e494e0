import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Provider webhooks in (issue 9): signed calls to {@code POST /hooks/{provider}/{backendId}} from many concurrent
 * senders, in the two shapes providers use: one event per call (Mailgun's shape, HMAC-signed) and batches (SendGrid's
 * shape, ECDSA-signed).
 *
 * <pre>
 *   mvn -B -DskipTests package
 *   java -cp target/mailgate.jar load-tests/WebhookBench.java [--recipients 100000] [--clients 50] [--batch 500]
 *        [--seconds 30] [--warmup 10] [--shapes single,batch,out] [--jar target/mailgate.jar] [--sink /usr/sbin/smtp-sink]
 *        [--env NAME=value,...]   (settings of the gateway, e.g. MAILGATE_PROVIDER_HOOK_GROUP_WRITERS=1)
 *        [--out-recipients 100000] [--out-pairs 2]
 * </pre>
 *
 * <b>out</b> (tenant webhooks out): a receiver on loopback (Vert.x, in this process) answers 200 and checks every
 * call's Mailgun signature with the tenant's signing key. {@code --out-pairs} times, a job of {@code --out-recipients}
 * is sent to smtp-sink without a webhook, then another with a Mailgun {@code delivered} webhook (every SMTP send is one
 * call): the dispatch rates side by side (submit to completed), the calls received while sending and, once sending is
 * over (the gateway otherwise idle), the calls/s until every one has arrived. The gateway runs with
 * {@code MAILGATE_WEBHOOK_ALLOW_HTTP} and {@code MAILGATE_WEBHOOK_ALLOW_PRIVATE} (loopback receiver).
 *
 * Starts Postfix's smtp-sink and the gateway (embedded PostgreSQL, -Xmx256m) on loopback, sends one job of
 * {@code --recipients} to the sink, then routes the tenant to a Mailgun and a SendGrid backend (their webhooks need the
 * tenant routed to them; nothing more is sent) and posts their webhooks: each event names a random recipient of the job
 * (delivered, opened, clicked; a tenth hard bounces) with a unique provider event id. {@code --clients} calls are in
 * flight at all times (Java's HttpClient, asynchronous). Prints calls/s and events/s, p50/p99/max per call, errors, and
 * the events the database holds afterwards.
 */
public class WebhookBench {

  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  static final String SIGNING_KEY = "bench-signing-key-0123456789";
  static String base;
  static String admin;

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>(Map.of("--recipients", "100000", "--clients", "50", "--batch", "500",
        "--seconds", "30", "--warmup", "10", "--shapes", "single,batch", "--jar", "target/mailgate.jar",
        "--sink", "/usr/sbin/smtp-sink", "--xmx", "256m", "--env", ""));
    opt.put("--out-recipients", "100000");
    opt.put("--out-pairs", "2");
    for (int i = 0; i + 1 < args.length; i += 2) {
      opt.put(args[i], args[i + 1]);
    }
    int n = Integer.parseInt(opt.get("--recipients"));
    Path dir = Files.createTempDirectory("mailgate-hooks");
    int port = freePort();
    int sinkPort = freePort();
    admin = "hooks-admin-token-" + System.nanoTime();
    base = "http://127.0.0.1:" + port;
    List<String> sinkCmd = new ArrayList<>(List.of(opt.get("--sink")));
    if ("root".equals(System.getProperty("user.name"))) {
      sinkCmd.addAll(List.of("-u", "nobody"));
    }
    sinkCmd.addAll(List.of("127.0.0.1:" + sinkPort, "1024"));
    Process sink = new ProcessBuilder(sinkCmd).redirectErrorStream(true).redirectOutput(dir.resolve("sink.log").toFile()).start();
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + opt.get("--xmx"), "-jar", opt.get("--jar"));
    pb.environment().put("MAILGATE_DATA_DIR", dir.resolve("data").toString());
    pb.environment().put("MAILGATE_HTTP_HOST", "127.0.0.1");
    pb.environment().put("MAILGATE_HTTP_PORT", Integer.toString(port));
    pb.environment().put("MAILGATE_ADMIN_TOKEN", admin);
    pb.environment().put("MAILGATE_DEMO", "false");
    // the out shape's receiver is on loopback, plain http
    pb.environment().put("MAILGATE_WEBHOOK_ALLOW_HTTP", "true");
    pb.environment().put("MAILGATE_WEBHOOK_ALLOW_PRIVATE", "true");
    for (String kv : opt.get("--env").split(",")) {
      if (kv.contains("=")) {
        pb.environment().put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
      }
    }
    Path log = dir.resolve("gateway.log");
    Process gw = pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      awaitHealthy(gw, log);
      System.out.printf("mailgate webhooks in %s: gateway -Xmx%s, embedded PostgreSQL, 2 cores shared with the load; data in %s%n",
          Instant.now(), opt.get("--xmx"), dir);
      adminCall("POST", "/v1/admin/backends", "{\"name\":\"sink\",\"type\":\"smtp\",\"region\":\"eu\",\"settings\":{\"host\":\"127.0.0.1\","
          + "\"port\":" + sinkPort + ",\"tls\":\"none\",\"maxConnections\":32,\"ratePerSecond\":0}}", 201);
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      KeyPair ec = g.generateKeyPair();
      String mailgun = field(adminCall("POST", "/v1/admin/backends", "{\"name\":\"mg\",\"type\":\"mailgun\",\"region\":\"eu\","
          + "\"settings\":{\"apiKey\":\"key-bench\",\"domain\":\"mg.acme.example\",\"region\":\"eu\",\"baseUrl\":\"http://127.0.0.1:9\","
          + "\"webhookSigningKey\":\"" + SIGNING_KEY + "\"}}", 201), "id");
      String sendgrid = field(adminCall("POST", "/v1/admin/backends", "{\"name\":\"sg\",\"type\":\"sendgrid\",\"region\":\"eu\","
          + "\"settings\":{\"apiKey\":\"SG.bench\",\"region\":\"eu\",\"baseUrl\":\"http://127.0.0.1:9\",\"webhookPublicKey\":\""
          + Base64.getEncoder().encodeToString(ec.getPublic().getEncoded()) + "\"}}", 201), "id");
      String t = adminCall("POST", "/v1/admin/tenants", "{\"name\":\"hooks\",\"region\":\"eu\"}", 201);
      String tenant = field(t, "id");
      String key = field(t, "apiKey");
      adminCall("PUT", "/v1/admin/tenants/" + tenant + "/backend", "{\"backend\":\"sink\"}", 200);
      long t0 = System.nanoTime();
      StringBuilder job = new StringBuilder("{\"from\":\"News <news@acme.example>\",\"subject\":\"Spring\",\"text\":\"Hello\"}\n");
      for (int i = 0; i < n; i++) {
        job.append("{\"email\":\"fan").append(i).append("@example.com\"}\n");
      }
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs"))
          .header("Authorization", "Bearer " + key).header("Content-Type", "application/x-ndjson").timeout(Duration.ofMinutes(10))
          .POST(HttpRequest.BodyPublishers.ofString(job.toString())).build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 202) {
        throw new IllegalStateException("job: " + r.statusCode() + " " + r.body());
      }
      String jobId = field(r.body(), "id");
      awaitCompleted(key, jobId);
      System.out.printf("setup: a job of %,d recipients sent to smtp-sink in %.1f s%n", n, (System.nanoTime() - t0) / 1e9);
      // the webhooks take events of tenants routed to their backend
      adminCall("PUT", "/v1/admin/tenants/" + tenant + "/backend", "{\"backend\":\"mg\",\"fallback\":\"sg\"}", 200);

      int clients = Integer.parseInt(opt.get("--clients"));
      int batch = Integer.parseInt(opt.get("--batch"));
      int seconds = Integer.parseInt(opt.get("--seconds"));
      int warmup = Integer.parseInt(opt.get("--warmup"));
      AtomicLong ids = new AtomicLong();
      List<String> shapes = Arrays.asList(opt.get("--shapes").split(","));
      if (shapes.contains("single")) {
        IntFunction<HttpRequest> single = x -> mailgunCall(mailgun, jobId, n, ids.incrementAndGet());
        run("warm-up", single, clients, warmup, 1);
        Result m = run("single", single, clients, seconds, 1);
        System.out.printf("one event per call (Mailgun shape, HMAC-SHA256), %d calls in flight, %d s:%n", clients, seconds);
        m.print(1);
      }
      if (shapes.contains("batch")) {
        IntFunction<HttpRequest> batched = x -> sendGridCall(sendgrid, ec, jobId, n, batch, ids);
        run("warm-up", batched, clients, warmup, batch);
        Result m = run("batch", batched, clients, seconds, batch);
        System.out.printf("batches of %d events (SendGrid shape, ECDSA P-256), %d calls in flight, %d s:%n", batch, clients, seconds);
        m.print(batch);
      }
      if (shapes.contains("out")) {
        // a tenant of its own: the webhooks-in shapes' bounces (a tenth of their events) put the first one on hold
        String o = adminCall("POST", "/v1/admin/tenants", "{\"name\":\"hooks-out\",\"region\":\"eu\"}", 201);
        adminCall("PUT", "/v1/admin/tenants/" + field(o, "id") + "/backend", "{\"backend\":\"sink\"}", 200);
        out(field(o, "apiKey"), Integer.parseInt(opt.get("--out-recipients")), Integer.parseInt(opt.get("--out-pairs")));
      }
      if (!shapes.contains("single") && !shapes.contains("batch")) {
        return;
      }
      String s = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/stats?resolution=day")).header("Authorization", "Bearer " + key).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      long counted = 0;
      for (String type : List.of("delivered", "opened", "clicked", "bounced")) {
        Matcher c = Pattern.compile("\"totals\":\\{[^}]*\"" + type + "\":(\\d+)").matcher(s);
        counted += c.find() ? Long.parseLong(c.group(1)) : 0;
      }
      System.out.printf("check: %,d provider events given (warm-ups included), %,d counted by /v1/stats today%n", ids.get(), counted);
    } finally {
      gw.destroy();
      gw.waitFor(60, TimeUnit.SECONDS);
      sink.destroy();
    }
  }

  /** Tenant webhooks out: jobs without and with a webhook, alternating, and the receiver's count. */
  static void out(String key, int n, int pairs) throws Exception {
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    try {
      String signingKey = field(tenantCall(key, "GET", "/v1/webhooks/signing-key", "", 200), "signingKey");
      byte[] k = signingKey.getBytes(StandardCharsets.UTF_8);
      AtomicLong received = new AtomicLong();
      AtomicLong badSignature = new AtomicLong();
      int port = freePort();
      vertx.createHttpServer().requestHandler(req -> req.body().onSuccess(b -> {
        io.vertx.core.json.JsonObject sig = new io.vertx.core.json.JsonObject(b).getJsonObject("signature");
        try {
          Mac mac = Mac.getInstance("HmacSHA256");
          mac.init(new SecretKeySpec(k, "HmacSHA256"));
          String want = HexFormat.of().formatHex(mac.doFinal((sig.getString("timestamp") + sig.getString("token"))
              .getBytes(StandardCharsets.UTF_8)));
          if (!want.equals(sig.getString("signature"))) {
            badSignature.incrementAndGet();
          }
        } catch (Exception e) {
          badSignature.incrementAndGet();
        }
        received.incrementAndGet();
        req.response().end();
      })).listen(port, "127.0.0.1").toCompletionStage().toCompletableFuture().get();
      System.out.printf("tenant webhooks out: jobs of %,d recipients to smtp-sink, without and with a Mailgun 'delivered' webhook"
          + " to a receiver on loopback (signatures checked), %d pairs%n", n, pairs);
      for (int p = 1; p <= pairs; p++) {
        double off = sendJob(key, n, "off" + p);
        System.out.printf("  pair %d, no webhook:   dispatch %,.0f msg/s%n", p, off);
        String hook = field(tenantCall(key, "POST", "/v1/webhooks", "{\"url\":\"http://127.0.0.1:" + port + "/hook\","
            + "\"events\":[\"sent\"],\"format\":\"mailgun\"}", 201), "id");
        long before = received.get();
        long t0 = System.nanoTime();
        double on = sendJob(key, n, "on" + p);
        long sentAt = System.nanoTime();
        long atSent = received.get() - before;
        long deadline = sentAt + TimeUnit.MINUTES.toNanos(5);
        while (received.get() - before < n && System.nanoTime() < deadline) {
          Thread.sleep(20);
        }
        long drained = System.nanoTime();
        long all = received.get() - before;
        System.out.printf("  pair %d, with webhook: dispatch %,.0f msg/s (%.2fx); calls received while sending %,d (%,.0f/s);"
            + " after it, idle: %,d more in %.1f s = %,.0f calls/s; in all %,d of %,d in %.1f s%n", p, on, on / off, atSent,
            atSent / ((sentAt - t0) / 1e9), all - atSent, (drained - sentAt) / 1e9, (all - atSent) / Math.max(1e-9, (drained - sentAt) / 1e9),
            all, n, (drained - t0) / 1e9);
        tenantCall(key, "DELETE", "/v1/webhooks/" + hook, "", 204);
      }
      System.out.printf("  signatures: %,d calls received, %,d with a bad signature%n", received.get(), badSignature.get());
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get();
    }
  }

  /** Sends a job of {@code n} recipients and waits for it to complete: messages per second, submit to completed. */
  static double sendJob(String key, int n, String prefix) throws Exception {
    StringBuilder job = new StringBuilder("{\"from\":\"News <news@acme.example>\",\"subject\":\"Spring\",\"text\":\"Hello\"}\n");
    for (int i = 0; i < n; i++) {
      job.append("{\"email\":\"").append(prefix).append('-').append(i).append("@example.com\"}\n");
    }
    long t0 = System.nanoTime();
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs"))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/x-ndjson").timeout(Duration.ofMinutes(10))
        .POST(HttpRequest.BodyPublishers.ofString(job.toString())).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 202) {
      throw new IllegalStateException("job: " + r.statusCode() + " " + r.body());
    }
    awaitCompleted(key, field(r.body(), "id"));
    return n / ((System.nanoTime() - t0) / 1e9);
  }

  static String tenantCall(String key, String method, String path, String body, int expect) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + key)
        .header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != expect) {
      throw new IllegalStateException(path + ": " + r.statusCode() + " " + r.body());
    }
    return r.body();
  }

  static String event(int n) {
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    int r = rnd.nextInt(10);
    return r == 0 ? "bounced" : r < 5 ? "delivered" : r < 8 ? "opened" : "clicked";
  }

  static HttpRequest mailgunCall(String backend, String job, int n, long id) {
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    int seq = rnd.nextInt(n);
    String type = event(n);
    String mgEvent = switch (type) {
      case "bounced" -> "failed\",\"severity\":\"permanent";
      default -> type;
    };
    String data = "{\"id\":\"mg-" + id + "\",\"event\":\"" + mgEvent + "\",\"recipient\":\"fan" + seq + "@example.com\","
        + "\"user-variables\":{\"mailgate-job\":\"" + job + "\",\"mailgate-recipient\":\"" + seq + "\"},"
        + "\"delivery-status\":{\"code\":250,\"message\":\"OK\"}}";
    long ts = System.currentTimeMillis() / 1000;
    String token = Long.toHexString(rnd.nextLong()) + Long.toHexString(rnd.nextLong()) + "-" + id;
    String body = "{\"signature\":{\"timestamp\":\"" + ts + "\",\"token\":\"" + token + "\",\"signature\":\""
        + hmac(ts + token) + "\"},\"event-data\":" + data + "}";
    return HttpRequest.newBuilder(URI.create(base + "/hooks/mailgun/" + backend)).header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
  }

  static HttpRequest sendGridCall(String backend, KeyPair ec, String job, int n, int batch, AtomicLong ids) {
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    StringBuilder b = new StringBuilder(batch * 220).append('[');
    long ts = System.currentTimeMillis() / 1000;
    for (int i = 0; i < batch; i++) {
      int seq = rnd.nextInt(n);
      String type = event(n);
      String sg = switch (type) {
        case "bounced" -> "bounce\",\"type\":\"bounce\",\"reason\":\"550 5.1.1 user unknown";
        case "opened" -> "open";
        case "clicked" -> "click";
        default -> type;
      };
      if (i > 0) {
        b.append(',');
      }
      b.append("{\"email\":\"fan").append(seq).append("@example.com\",\"timestamp\":").append(ts).append(",\"event\":\"")
          .append(sg).append("\",\"sg_event_id\":\"sg-").append(ids.incrementAndGet()).append("\",\"mailgate_job\":\"")
          .append(job).append("\",\"mailgate_recipient\":\"").append(seq).append("\"}");
    }
    byte[] body = b.append(']').toString().getBytes(StandardCharsets.UTF_8);
    try {
      Signature s = Signature.getInstance("SHA256withECDSA");
      s.initSign(ec.getPrivate());
      s.update(Long.toString(ts).getBytes(StandardCharsets.UTF_8));
      s.update(body);
      return HttpRequest.newBuilder(URI.create(base + "/hooks/sendgrid/" + backend)).header("Content-Type", "application/json")
          .header("X-Twilio-Email-Event-Webhook-Signature", Base64.getEncoder().encodeToString(s.sign()))
          .header("X-Twilio-Email-Event-Webhook-Timestamp", Long.toString(ts))
          .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  record Result(long ok, long failed, Map<Integer, Long> statuses, double seconds, long[] micros) {
    void print(int eventsPerCall) {
      Arrays.sort(micros);
      System.out.printf("  %,d calls answered 200 = %,.0f calls/s = %,.0f events/s; errors %,d %s%n", ok, ok / seconds,
          ok * eventsPerCall / seconds, failed, statuses);
      System.out.printf("  per call: p50 %.1f ms, p99 %.1f ms, max %.1f ms%n", pct(0.50), pct(0.99),
          micros.length == 0 ? 0 : micros[micros.length - 1] / 1000.0);
    }

    double pct(double q) {
      return micros.length == 0 ? 0 : micros[(int) Math.min(micros.length - 1, Math.floor(q * micros.length))] / 1000.0;
    }
  }

  /** {@code clients} calls in flight for {@code seconds}: each answer starts the next call. */
  static Result run(String name, IntFunction<HttpRequest> calls, int clients, int seconds, int eventsPerCall) throws Exception {
    Semaphore room = new Semaphore(clients);
    AtomicLong ok = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    Map<Integer, Long> statuses = new java.util.concurrent.ConcurrentHashMap<>();
    ConcurrentLinkedQueue<Long> latencies = new ConcurrentLinkedQueue<>();
    long start = System.nanoTime();
    long end = start + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < end) {
      if (!room.tryAcquire(100, TimeUnit.MILLISECONDS)) {
        continue;
      }
      HttpRequest req = calls.apply(0);
      long t = System.nanoTime();
      HTTP.sendAsync(req, HttpResponse.BodyHandlers.ofString()).whenComplete((resp, e) -> {
        if (e == null && resp.statusCode() == 200) {
          ok.incrementAndGet();
          latencies.add((System.nanoTime() - t) / 1000);
        } else {
          failed.incrementAndGet();
          statuses.merge(e == null ? resp.statusCode() : -1, 1L, Long::sum);
        }
        room.release();
      });
    }
    room.acquire(clients); // the calls in flight finish
    double secs = (System.nanoTime() - start) / 1e9;
    return new Result(ok.get(), failed.get(), statuses, secs, latencies.stream().mapToLong(Long::longValue).toArray());
  }

  static String hmac(String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(SIGNING_KEY.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal(data.getBytes(StandardCharsets.UTF_8)));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static void awaitCompleted(String key, String job) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (true) {
      String j = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs/" + job)).header("Authorization", "Bearer " + key).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      if ("completed".equals(field(j, "state"))) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("job not completed within 5 minutes: " + j);
      }
      Thread.sleep(100);
    }
  }

  static String adminCall(String method, String path, String body, int expect) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + admin)
        .header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != expect) {
      throw new IllegalStateException(path + ": " + r.statusCode() + " " + r.body());
    }
    return r.body();
  }

  static String field(String json, String name) {
    Matcher m = Pattern.compile("\"" + name + "\":\"([^\"]*)\"").matcher(json);
    return m.find() ? m.group(1) : null;
  }

  static void awaitHealthy(Process p, Path log) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IllegalStateException("gateway exited: " + Files.readString(log));
      }
      try {
        if (HTTP.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not yet
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("gateway not healthy: " + Files.readString(log));
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Many small jobs, as a CRM's customer-service mail sends them: one recipient per call, many clients at once.
 *
 * <pre>
 *   mvn -B -DskipTests package
 *   java -cp target/mailgate.jar load-tests/SmallJobs.java [--clients 50] [--seconds 60] [--probes 300]
 *        [--campaign 1000000] [--rate 1500] [--phases throughput,paced,idle,campaign,batch] [--api json|mailgun]
 * </pre>
 *
 * With {@code --api mailgun} the jobs are Mailgun calls ({@code POST /v3/acme.example/messages}, a form, Basic auth
 * {@code api:key}) instead of our JSON. <b>batch</b> (Mailgun API): {@code --batch-clients} (4) connections post calls
 * of 1,000 {@code to} with {@code recipient-variables} as fast as answered; prints recipients accepted per second.
 *
 * <b>throughput</b>: {@code --clients} connections of wrk (Debian package wrk) post one-recipient JSON jobs as fast
 * as they are answered for {@code --seconds}, to a gateway (the jar, embedded PostgreSQL, -Xmx256m) routed to Postfix's smtp-sink; prints
 * accepted jobs/s, p50/p99/max of the 202s, errors by status, messages sent per second in the same window (from
 * /metrics) and the backlog (accepted minus sent) every 10 s. <b>paced</b>: the same, with the clients together
 * offering {@code --rate} jobs a second (a CRM's threads each send a mail now and then; at saturation the latency
 * only measures the queue in front of the slowest part). <b>idle</b>: one job at a time to an SMTP sink in this
 * program that notes when each recipient reaches it: submit to handed-to-the-backend, p50/p99. <b>campaign</b>: the
 * same while one tenant's {@code --campaign}-recipient NDJSON campaign is sending through the same backend, probes
 * from that tenant and from another. Traffic stays on loopback; the run is bounded by the options.
 */
public class SmallJobs {

  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  static String base;
  static String admin;

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>(Map.of("--clients", "50", "--seconds", "60", "--probes", "300",
        "--campaign", "1000000", "--phases", "throughput,paced,idle,campaign", "--jar", "target/mailgate.jar",
        "--sink", "/usr/sbin/smtp-sink", "--xmx", "256m", "--warmup", "30", "--rate", "1500"));
    opt.put("--api", "json");
    opt.put("--batch-clients", "4");
    for (int i = 0; i + 1 < args.length; i += 2) {
      opt.put(args[i], args[i + 1]);
    }
    List<String> phases = List.of(opt.get("--phases").split(","));
    mailgun = opt.get("--api").equals("mailgun");
    Path dir = Files.createTempDirectory("mailgate-small");
    int port = freePort();
    int sinkPort = freePort();
    admin = "small-admin-token-" + System.nanoTime();
    base = "http://127.0.0.1:" + port;

    List<String> sinkCmd = new ArrayList<>(List.of(opt.get("--sink")));
    if ("root".equals(System.getProperty("user.name"))) {
      sinkCmd.addAll(List.of("-u", "nobody"));
    }
    sinkCmd.addAll(List.of("127.0.0.1:" + sinkPort, "1024"));
    Process sink = new ProcessBuilder(sinkCmd).redirectErrorStream(true).redirectOutput(dir.resolve("sink.log").toFile()).start();
    Probe probe = new Probe();
    int probePort = probe.start();

    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + opt.get("--xmx"), "-jar", opt.get("--jar"));
    pb.environment().put("MAILGATE_DATA_DIR", dir.resolve("data").toString());
    pb.environment().put("MAILGATE_HTTP_PORT", Integer.toString(port));
    pb.environment().put("MAILGATE_ADMIN_TOKEN", admin);
    pb.environment().put("MAILGATE_DEMO", "false");
    Path log = dir.resolve("gateway.log");
    Process gw = pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      awaitHealthy(gw, log);
      System.out.printf("mailgate small jobs %s: %s clients, %s s; gateway -Xmx%s, embedded PostgreSQL, 2 cores shared with the load%n",
          Instant.now(), opt.get("--clients"), opt.get("--seconds"), opt.get("--xmx"));
      backend("sink", sinkPort, 32);
      backend("probe", probePort, 32);
      String[] crm = tenant("crm", "sink");
      int clients = Integer.parseInt(opt.get("--clients"));
      int seconds = Integer.parseInt(opt.get("--seconds"));
      if (phases.contains("throughput") || phases.contains("paced")) {
        // warm up (the JIT compiles for a good minute on 2 cores), then let the backlog drain
        wrk(crm[1], clients, Integer.parseInt(opt.get("--warmup")), 0);
        awaitDrained(jobsTotal(), 180);
      }
      if (phases.contains("throughput")) {
        throughput(crm[1], clients, seconds, 0);
      }
      if (phases.contains("paced")) {
        throughput(crm[1], clients, seconds, Integer.parseInt(opt.get("--rate")));
      }
      if (phases.contains("batch")) {
        batch(crm[1], Integer.parseInt(opt.get("--batch-clients")), seconds);
      }
      String[] a = tenant("shop", "probe");
      String[] b = tenant("bank", "probe");
      if (phases.contains("idle")) {
        List<Long> idle = probes(probe, List.of(a[1]), Integer.parseInt(opt.get("--probes")), 0, null);
        report("idle:     submit -> handed to the backend, one job at a time", idle);
      }
      if (phases.contains("campaign")) {
        int n = Integer.parseInt(opt.get("--campaign"));
        AtomicBoolean accepted = new AtomicBoolean();
        Thread upload = new Thread(() -> {
          try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs"))
                .header("Authorization", "Bearer " + a[1]).header("Content-Type", "application/x-ndjson")
                .timeout(Duration.ofMinutes(30))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new Campaign(n))).build(), HttpResponse.BodyHandlers.ofString());
            accepted.set(r.statusCode() == 202);
          } catch (Exception e) {
            System.out.println("campaign upload failed: " + e);
          }
        });
        upload.start();
        upload.join();
        if (!accepted.get()) {
          throw new IllegalStateException("the campaign was not accepted");
        }
        long waitFrom = probe.campaign.get();
        while (probe.campaign.get() - waitFrom < 20_000) {
          Thread.sleep(50);
        }
        long c0 = probe.campaign.get();
        long t0 = System.nanoTime();
        List<Long> busy = probes(probe, List.of(a[1], b[1]), Integer.parseInt(opt.get("--probes")), 100, probe.campaign);
        double secs = (System.nanoTime() - t0) / 1e9;
        report("campaign: submit -> handed to the backend, while a " + String.format("%,d", n)
            + "-recipient campaign sends through the same backend (probes from its tenant and another)", busy);
        System.out.printf("          the campaign meanwhile: %,.0f msg/s%n", (probe.campaign.get() - c0) / secs);
      }
    } finally {
      gw.destroy();
      gw.waitFor(60, TimeUnit.SECONDS);
      sink.destroy();
      probe.vertx.close();
    }
  }

  /**
   * --clients connections posting one-recipient jobs for --seconds, with wrk (a load generator in C: the JDK's
   * HttpClient took 0.6 of this machine's 2 cores for 600 requests a second, which the gateway then lacked).
   */
  static void throughput(String key, int clients, int seconds, int rate) throws Exception {
    long sent0 = sentTotal();
    long t0 = System.nanoTime();
    List<String> backlog = Collections.synchronizedList(new ArrayList<>());
    AtomicLong acceptedSoFar = new AtomicLong();
    Thread sampler = new Thread(() -> {
      try {
        while (!Thread.currentThread().isInterrupted()) {
          Thread.sleep(10_000);
          long accepted = jobsTotal() - acceptedAtStart;
          backlog.add(String.format("%.0fs: %,d", (System.nanoTime() - t0) / 1e9, accepted - (sentTotal() - sent0)));
        }
      } catch (Exception e) {
        // done
      }
    });
    acceptedAtStart = jobsTotal();
    sampler.start();
    String out = wrk(key, clients, seconds, rate);
    sampler.interrupt();
    double secs = (System.nanoTime() - t0) / 1e9;
    long accepted = jobsTotal() - acceptedAtStart;
    long sent = sentTotal() - sent0;
    String what = mailgun ? "one-recipient Mailgun calls" : "one-recipient JSON jobs";
    System.out.printf(rate == 0 ? "throughput: %d connections (wrk), " + what + " as fast as answered, %d s%n"
        : "paced: %d connections (wrk), " + what + " offered at " + rate + "/s in all, %d s%n", clients, seconds);
    System.out.printf("  accepted: %,d jobs = %,.0f jobs/s, durable when answered; %s%n", accepted, accepted / (double) seconds,
        out.contains("Non-2xx") ? match(out, "(Non-2xx or 3xx responses: \\d+)") : "no errors (every answer 202)");
    System.out.printf("  202 latency: %s%n", match(out, "(p50 [^\\n]+)"));
    System.out.printf("  sent in the same window: %,d messages = %,.0f msg/s; backlog (accepted - sent) every 10 s: %s%n",
        sent, sent / secs, String.join(", ", backlog));
    long drain = System.nanoTime();
    awaitDrained(sent0 + accepted, 120);
    System.out.printf("  backlog of %,d drained %.1f s after the load stopped%n", accepted - sent, (System.nanoTime() - drain) / 1e9);
  }

  static long acceptedAtStart;
  static boolean mailgun;

  /** Mailgun calls of 1,000 recipients with recipient-variables, as fast as answered: recipients accepted per second. */
  static void batch(String key, int connections, int seconds) throws Exception {
    StringBuilder to = new StringBuilder();
    StringBuilder vars = new StringBuilder("{");
    for (int i = 0; i < 1000; i++) {
      String a = "batch" + i + "@example.com";
      to.append(i == 0 ? "" : ",").append(a);
      vars.append(i == 0 ? "" : ",").append("\"").append(a).append("\":{\"name\":\"Reader ").append(i).append("\"}");
    }
    vars.append("}");
    String body = "from=" + enc("News <news@acme.example>") + "&to=" + enc(to.toString()) + "&subject=" + enc("News for %recipient.name%")
        + "&text=" + enc("Hello %recipient.name%, this week's news.") + "&recipient-variables=" + enc(vars.toString());
    long jobs0 = jobsTotal();
    long t0 = System.nanoTime();
    String out = wrk(key, connections, seconds, 0, body);
    double secs = (System.nanoTime() - t0) / 1e9;
    long calls = jobsTotal() - jobs0;
    System.out.printf("batch: %d connections (wrk), Mailgun calls of 1,000 recipients with recipient-variables (%,d bytes), %d s%n",
        connections, body.length(), seconds);
    System.out.printf("  accepted: %,d calls = %,.0f recipients/s, durable when answered; %s%n", calls, calls * 1000 / secs,
        out.contains("Non-2xx") ? match(out, "(Non-2xx or 3xx responses: \\d+)") : "no errors (every answer 200)");
    System.out.printf("  200 latency: %s%n", match(out, "(p50 [^\\n]+)"));
  }

  static String enc(String v) {
    return java.net.URLEncoder.encode(v, StandardCharsets.UTF_8);
  }

  /**
   * wrk for {@code seconds} over {@code connections}; {@code rate} > 0 paces them to that many requests a second in
   * all (each of wrk's 2 threads hands its connections send times on a fixed schedule of rate/2 a second; a
   * connection whose slot has passed sends at once, so a slow answer delays no one else's slot), else each
   * connection sends its next request as soon as the last is answered. The latency wrk reports runs from a
   * request's first byte written to its answer's last byte read.
   */
  static String wrk(String key, int connections, int seconds, int rate) throws Exception {
    return wrk(key, connections, seconds, rate, null);
  }

  /** @param fixedBody a Mailgun form posted as it is (the batch phase), or null for one recipient per request */
  static String wrk(String key, int connections, int seconds, int rate, String fixedBody) throws Exception {
    Path script = Files.createTempFile("small-jobs", ".lua");
    String pacing = rate <= 0 ? "" : """
        local ffi = require("ffi")
        ffi.cdef[[ typedef struct { long tv_sec; long tv_usec; } mg_timeval; int gettimeofday(mg_timeval *tv, void *tz); ]]
        local tv = ffi.new("mg_timeval")
        local function now_ms() ffi.C.gettimeofday(tv, nil); return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000 end
        local interval = 2000 / RATE
        local slot = nil
        delay = function()
          local now = now_ms()
          if slot == nil or slot < now - 1000 then slot = now end
          slot = slot + interval
          local d = slot - now
          if d < 0 then return 0 end
          return math.floor(d)
        end
        """.replace("RATE", Integer.toString(rate));
    Files.writeString(script, pacing + """
        local n = 0
        local id = 0
        setup = function(thread) id = id + 1; thread:set("tid", id) end
        REQUEST
        done = function(summary, latency, requests)
          io.write(string.format("p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d requests)\\n", latency:percentile(50) / 1000,
            latency:percentile(99) / 1000, latency.max / 1000, summary.requests))
        end
        """.replace("REQUEST", request(fixedBody)).replace("KEY", key).replace("BASIC", basic(key)));
    Process p = new ProcessBuilder("wrk", "-t2", "-c" + connections, "-d" + seconds + "s", "--timeout", "30s", "-s", script.toString(),
        base + "/v1/jobs").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor();
    return out;
  }

  static String request(String fixedBody) {
    if (fixedBody != null) {
      return "local fixed = [==[" + fixedBody + "]==]\n"
          + "        request = function()\n"
          + "          return wrk.format(\"POST\", \"/v3/acme.example/messages\", {[\"Authorization\"] = \"Basic BASIC\","
          + " [\"Content-Type\"] = \"application/x-www-form-urlencoded\"}, fixed)\n"
          + "        end";
    }
    if (mailgun) {
      return """
        request = function()
          n = n + 1
          local body = 'from=Service+%3Cservice%40acme.example%3E&to=w' .. tostring(tid) .. '-' .. n .. '%40example.com&subject=Your+order&text=Hello+Ann%2C+your+order+has+shipped.'
          return wrk.format("POST", "/v3/acme.example/messages", {["Authorization"] = "Basic BASIC", ["Content-Type"] = "application/x-www-form-urlencoded"}, body)
        end""";
    }
    return JSON_REQUEST;
  }

  static String basic(String key) {
    return java.util.Base64.getEncoder().encodeToString(("api:" + key).getBytes(StandardCharsets.UTF_8));
  }

  static final String JSON_REQUEST = """
request = function()
          n = n + 1
          local body = '{"from":"Service <service@acme.example>","subject":"Your order","text":"Hello {{name}}, your order has shipped.","recipients":[{"email":"w' .. tostring(tid) .. '-' .. n .. '@example.com","vars":{"name":"Ann"}}]}'
          return wrk.format("POST", "/v1/jobs", {["Authorization"] = "Bearer KEY", ["Content-Type"] = "application/json"}, body)
        end""";

  static void awaitDrained(long sentTarget, int maxSeconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(maxSeconds);
    while (sentTotal() < sentTarget && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
  }

  static long jobsTotal() throws Exception {
    return (long) metric("mailgate_jobs_accepted_total\\{[^}]*\\} ([0-9.eE+]+)", "mailgate_jobs_accepted_total ([0-9.eE+]+)");
  }

  static double metric(String... patterns) throws Exception {
    String m = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
    for (String pat : patterns) {
      Matcher x = Pattern.compile(pat).matcher(m);
      if (x.find()) {
        return Double.parseDouble(x.group(1));
      }
    }
    return 0;
  }

  static String match(String text, String regex) {
    Matcher m = Pattern.compile(regex).matcher(text);
    return m.find() ? m.group(1) : "?";
  }

  /** One job at a time (every {@code everyMs} at most), from each key in turn; latency until the probe sink saw it. */
  static List<Long> probes(Probe probe, List<String> keys, int count, long everyMs, AtomicLong campaign) throws Exception {
    List<Long> out = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String address = "probe" + System.nanoTime() + "@example.com";
      CountDownLatch seen = new CountDownLatch(1);
      probe.waiting.put(address, seen);
      long t0 = System.nanoTime();
      int status = post(keys.get(i % keys.size()), oneRecipient(address, true));
      if (status != 202) {
        throw new IllegalStateException("probe refused: " + status);
      }
      if (!seen.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("probe " + address + " not delivered within 30 s");
      }
      out.add(probe.seenAt.get(address) - t0);
      if (everyMs > 0) {
        Thread.sleep(everyMs);
      }
    }
    return out;
  }

  static void report(String what, List<Long> nanos) {
    List<Long> s = new ArrayList<>(nanos);
    Collections.sort(s);
    if (s.isEmpty()) {
      System.out.println(what + ": no samples");
      return;
    }
    System.out.printf("%s: n=%,d p50 %.1f ms, p99 %.1f ms, max %.1f ms%n", what, s.size(), pct(s, 0.50), pct(s, 0.99),
        s.get(s.size() - 1) / 1e6);
  }

  static double pct(List<Long> sorted, double p) {
    return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1)) / 1e6;
  }

  static String oneRecipient(String local) {
    return oneRecipient(local + "@example.com", false);
  }

  static String oneRecipient(String address, boolean exact) {
    return "{\"from\":\"Service <service@acme.example>\",\"subject\":\"Your order\",\"text\":\"Hello {{name}}, your order has shipped.\","
        + "\"recipients\":[{\"email\":\"" + address + "\",\"vars\":{\"name\":\"Ann\"}}]}";
  }

  static int post(String key, String body) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs")).timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  static long sentTotal() throws Exception {
    return (long) metric("mailgate_backend_sends_total\\{backend=\"sink\",outcome=\"sent\"[^}]*\\} ([0-9.eE+]+)");
  }

  static void backend(String name, int port, int connections) throws Exception {
    String body = "{\"name\":\"" + name + "\",\"type\":\"smtp\",\"region\":\"eu\",\"settings\":{\"host\":\"127.0.0.1\",\"port\":"
        + port + ",\"tls\":\"none\",\"maxConnections\":" + connections + ",\"ratePerSecond\":0}}";
    adminCall("POST", "/v1/admin/backends", body, 201);
  }

  /** @return id and API key */
  static String[] tenant(String name, String backend) throws Exception {
    String t = adminCall("POST", "/v1/admin/tenants", "{\"name\":\"" + name + "\",\"region\":\"eu\"}", 201);
    String id = field(t, "id");
    adminCall("PUT", "/v1/admin/tenants/" + id + "/backend", "{\"backend\":\"" + backend + "\"}", 200);
    if (mailgun && name.equals("crm")) {
      adminCall("PUT", "/v1/admin/tenants/" + id + "/domains", "{\"domains\":[\"acme.example\"]}", 200);
    }
    return new String[] {id, field(t, "apiKey")};
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

  /** The campaign's NDJSON body: the job line, then n recipients of 2 KB messages. */
  static final class Campaign extends InputStream {
    private final int n;
    private byte[] cur;
    private int pos;
    private int i;

    Campaign(int n) {
      this.n = n;
      String text = "Hello {{name}},\n" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(35);
      cur = ("{\"from\":\"News <news@acme.example>\",\"subject\":\"Spring\",\"priority\":\"normal\",\"text\":\""
          + text.replace("\n", "\\n") + "\"}\n").getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public int read() {
      byte[] b = new byte[1];
      return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      int w = 0;
      while (w < len) {
        if (pos == cur.length) {
          if (i == n) {
            return w == 0 ? -1 : w;
          }
          cur = ("{\"email\":\"fan" + i + "@example.com\",\"vars\":{\"name\":\"Fan " + i + "\"}}\n").getBytes(StandardCharsets.US_ASCII);
          pos = 0;
          i++;
        }
        int k = Math.min(len - w, cur.length - pos);
        System.arraycopy(cur, pos, b, off + w, k);
        pos += k;
        w += k;
      }
      return w;
    }
  }

  /**
   * An SMTP sink (PIPELINING) that notes when a probe's RCPT TO arrives: the moment the gateway hands the message
   * to the backend. Counts campaign messages.
   */
  static final class Probe {
    final Vertx vertx = Vertx.vertx();
    final Map<String, CountDownLatch> waiting = new ConcurrentHashMap<>();
    final Map<String, Long> seenAt = new ConcurrentHashMap<>();
    final AtomicLong campaign = new AtomicLong();

    int start() throws Exception {
      NetServer server = vertx.createNetServer().connectHandler(this::session);
      return server.listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();
    }

    private void session(NetSocket s) {
      boolean[] data = {false};
      RecordParser p = RecordParser.newDelimited("\r\n");
      p.handler(line -> {
        if (data[0]) {
          if (line.length() == 1 && line.getByte(0) == '.') {
            data[0] = false;
            s.write("250 2.0.0 ok\r\n");
          }
          return;
        }
        String cmd = line.toString(StandardCharsets.US_ASCII);
        String upper = cmd.length() >= 4 ? cmd.substring(0, 4).toUpperCase() : cmd.toUpperCase();
        switch (upper) {
          case "EHLO" -> s.write("250-probe\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
          case "HELO" -> s.write("250 probe\r\n");
          case "MAIL", "RSET", "NOOP" -> s.write("250 2.0.0 ok\r\n");
          case "RCPT" -> {
            int lt = cmd.indexOf('<');
            int gt = cmd.indexOf('>');
            String address = lt >= 0 && gt > lt ? cmd.substring(lt + 1, gt) : "";
            CountDownLatch l = waiting.remove(address);
            if (l != null) {
              seenAt.put(address, System.nanoTime());
              l.countDown();
            } else {
              campaign.incrementAndGet();
            }
            s.write("250 2.1.5 ok\r\n");
          }
          case "DATA" -> {
            data[0] = true;
            s.write("354 go ahead\r\n");
          }
          case "QUIT" -> s.write("221 bye\r\n").onComplete(x -> s.close());
          default -> s.write("502 5.5.2 unknown\r\n");
        }
      });
      s.handler(p);
      s.write("220 probe ESMTP\r\n");
    }
  }
}

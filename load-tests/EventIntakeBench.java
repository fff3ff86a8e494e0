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
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Event intake through the entry point (issue 8): later events (delivered, opened, bounced, complained), batched, from
 * several clients at once, to {@code POST /v1/admin/events}.
 *
 * <pre>
 *   mvn -B -DskipTests package
 *   java -cp target/mailgate.jar load-tests/EventIntakeBench.java [--recipients 100000] [--clients 4] [--batch 500]
 *        [--seconds 60] [--jar target/mailgate.jar] [--sink /usr/sbin/smtp-sink] [--db-settings name=value,...]
 * </pre>
 *
 * Starts Postfix's smtp-sink and the gateway (embedded PostgreSQL, -Xmx256m) on loopback, sends one job of
 * {@code --recipients} to the sink and waits until every recipient is {@code sent}, then wrk's {@code --clients}
 * connections post batches of {@code --batch} events, each with a unique sourceId, for {@code --seconds}: half name a
 * recipient of the job (job and seq; its state moves on, suppressions follow from hard bounces and complaints), a
 * quarter name the job with a seq it does not have (recorded for the tenant, counted unmatched), a quarter name no
 * job. Prints events/s, p50/p99/max per batch, errors, and what the database holds afterwards.
 */
public class EventIntakeBench {

  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  static String base;
  static String admin;

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>(Map.of("--recipients", "100000", "--clients", "4", "--batch", "500",
        "--seconds", "60", "--jar", "target/mailgate.jar", "--sink", "/usr/sbin/smtp-sink", "--xmx", "256m",
        "--warmup", "15", "--db-settings", ""));
    for (int i = 0; i + 1 < args.length; i += 2) {
      opt.put(args[i], args[i + 1]);
    }
    int n = Integer.parseInt(opt.get("--recipients"));
    Path dir = Files.createTempDirectory("mailgate-events");
    int port = freePort();
    int sinkPort = freePort();
    admin = "events-admin-token-" + System.nanoTime();
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
    if (!opt.get("--db-settings").isEmpty()) {
      pb.environment().put("MAILGATE_EMBEDDED_DB_SETTINGS", opt.get("--db-settings"));
    }
    Path log = dir.resolve("gateway.log");
    Process gw = pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      awaitHealthy(gw, log);
      System.out.printf("mailgate event intake %s: gateway -Xmx%s, embedded PostgreSQL, 2 cores shared with the load; data in %s%n",
          Instant.now(), opt.get("--xmx"), dir);
      adminCall("POST", "/v1/admin/backends", "{\"name\":\"sink\",\"type\":\"smtp\",\"region\":\"eu\",\"settings\":{\"host\":\"127.0.0.1\","
          + "\"port\":" + sinkPort + ",\"tls\":\"none\",\"maxConnections\":32,\"ratePerSecond\":0}}", 201);
      String t = adminCall("POST", "/v1/admin/tenants", "{\"name\":\"events\",\"region\":\"eu\"}", 201);
      String tenant = field(t, "id");
      String key = field(t, "apiKey");
      adminCall("PUT", "/v1/admin/tenants/" + tenant + "/backend", "{\"backend\":\"sink\"}", 200);
      long t0 = System.nanoTime();
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs"))
          .header("Authorization", "Bearer " + key).header("Content-Type", "application/x-ndjson").timeout(Duration.ofMinutes(10))
          .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new Job(n))).build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 202) {
        throw new IllegalStateException("job: " + r.statusCode() + " " + r.body());
      }
      String job = field(r.body(), "id");
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
      while (true) {
        String j = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs/" + job)).header("Authorization", "Bearer " + key).build(),
            HttpResponse.BodyHandlers.ofString()).body();
        if ("completed".equals(field(j, "state"))) {
          break;
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("job not completed within 5 minutes: " + j);
        }
        Thread.sleep(500);
      }
      System.out.printf("setup: a job of %,d recipients sent to smtp-sink in %.1f s%n", n, (System.nanoTime() - t0) / 1e9);
      int clients = Integer.parseInt(opt.get("--clients"));
      int batch = Integer.parseInt(opt.get("--batch"));
      int warmup = Integer.parseInt(opt.get("--warmup"));
      long given = 0;
      if (warmup > 0) {
        Map<String, String> w = wrk(tenant, job, n, batch, clients, warmup, "w");
        given += (Long.parseLong(w.get("requests")) - Long.parseLong(w.get("non2xx")) - Long.parseLong(w.get("socket"))) * batch;
      }
      int seconds = Integer.parseInt(opt.get("--seconds"));
      Map<String, String> m = wrk(tenant, job, n, batch, clients, seconds, "m");
      double secs = Double.parseDouble(m.get("seconds"));
      long requests = Long.parseLong(m.get("requests"));
      long failed = Long.parseLong(m.get("non2xx")) + Long.parseLong(m.get("socket"));
      System.out.printf("intake: %d connections (wrk), batches of %d events (50%% matched, 25%% unmatched seq, 25%% no job), %d s%n",
          clients, batch, seconds);
      System.out.printf("  %,d events recorded = %,.0f events/s (%,d batches answered 200); errors: %s non-2xx, %s socket%n",
          (requests - failed) * batch, (requests - failed) * batch / secs, requests - failed, m.get("non2xx"), m.get("socket"));
      System.out.printf("  per batch: p50 %s ms, p99 %s ms, max %s ms%n", m.get("p50"), m.get("p99"), m.get("max"));
      String j = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs/" + job)).header("Authorization", "Bearer " + key).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      System.out.printf("  the job's counts afterwards: %s%n", match(j, "\"counts\":(\\{[^}]*\\})"));
      String s = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/stats?resolution=day")).header("Authorization", "Bearer " + key).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      given += (requests - failed) * batch;
      long counted = 0;
      for (String type : List.of("delivered", "opened", "bounced", "complained")) {
        String c = match(s, "\"totals\":\\{[^}]*\"" + type + "\":(\\d+)[^}]*\\}\\}$");
        counted += c.equals("?") ? 0 : Long.parseLong(c);
      }
      System.out.printf("  check: %,d events given in 200 answers (warm-up included), %,d counted by /v1/stats today%n", given, counted);
      if (Files.readString(log).contains("deadlock")) {
        System.out.println("  the gateway log mentions a deadlock");
      }
    } finally {
      gw.destroy();
      gw.waitFor(60, TimeUnit.SECONDS);
      sink.destroy();
    }
  }

  /**
   * wrk posting batches of events; each thread builds its bodies (unique sourceIds: run, thread, counter), so the
   * client costs little of the 2 cores.
   */
  static Map<String, String> wrk(String tenant, String job, int n, int batch, int conns, int seconds, String run) throws Exception {
    Path script = Files.createTempFile("event-intake", ".lua");
    Files.writeString(script, """
        local N = RECIPIENTS
        local id = 0
        local k = 0
        setup = function(thread) id = id + 1; thread:set("tid", id) end
        init = function() math.randomseed(tid * 7919 + os.time()) end
        local types = {"delivered", "delivered", "delivered", "delivered", "delivered", "opened", "opened", "opened",
                       "bounced", "complained"}
        request = function()
          local parts = {}
          for i = 1, BATCH do
            k = k + 1
            local r = math.random(1, 4)
            local ty = types[math.random(1, #types)]
            local sev = ""
            if ty == "bounced" then
              if math.random(1, 3) == 1 then sev = ',"severity":"hard","code":550,"message":"5.1.1 user unknown"'
              else sev = ',"severity":"soft","code":452,"message":"4.2.2 mailbox full"' end
            end
            local who
            if r <= 2 then
              local seq = math.random(0, N - 1)
              who = '"email":"fan' .. seq .. '@example.com","job":"JOB","seq":' .. seq
            elseif r == 3 then
              local seq = N + math.random(0, N)
              who = '"email":"gone' .. seq .. '@example.com","job":"JOB","seq":' .. seq
            else
              who = '"email":"other' .. math.random(0, 10 * N) .. '@example.org"'
            end
            parts[i] = '{"tenant":"TENANT",' .. who .. ',"type":"' .. ty .. '"' .. sev
              .. ',"source":"webhook:bench","sourceId":"RUN-' .. tid .. '-' .. k .. '"}'
          end
          local body = '{"events":[' .. table.concat(parts, ",") .. ']}'
          return wrk.format("POST", "/v1/admin/events", {["Authorization"] = "Bearer ADMIN", ["Content-Type"] = "application/json"}, body)
        end
        done = function(summary, latency, requests)
          local e = summary.errors
          io.write(string.format("RESULT requests=%d seconds=%.2f p50=%.1f p99=%.1f max=%.1f non2xx=%d socket=%d\\n",
            summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
            latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
        end
        """.replace("BATCH", Integer.toString(batch)).replace("RECIPIENTS", Integer.toString(n)).replace("JOB", job).replace("TENANT", tenant).replace("ADMIN", admin)
        .replace("RUN", run + System.nanoTime()));
    Process p = new ProcessBuilder("wrk", "-t" + Math.min(2, conns), "-c" + conns, "-d" + seconds + "s", "--timeout", "30s", "-s", script.toString(),
        base + "/v1/admin/events").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor();
    Files.delete(script);
    Map<String, String> m = new LinkedHashMap<>();
    Matcher x = Pattern.compile("(\\w+)=([\\d.]+)").matcher(out.substring(Math.max(0, out.indexOf("RESULT"))));
    while (x.find()) {
      m.put(x.group(1), x.group(2));
    }
    if (m.isEmpty()) {
      throw new IllegalStateException("wrk: " + out);
    }
    return m;
  }

  static String match(String text, String regex) {
    Matcher m = Pattern.compile(regex).matcher(text);
    return m.find() ? m.group(1) : "?";
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

  /** The job's NDJSON body: a small text message to n recipients fan0..fan(n-1)@example.com. */
  static final class Job extends InputStream {
    private final int n;
    private byte[] cur;
    private int pos;
    private int i;

    Job(int n) {
      this.n = n;
      cur = "{\"from\":\"News <news@acme.example>\",\"subject\":\"Spring\",\"text\":\"Hello {{name}}\",\"tags\":[\"newsletter\"]}\n"
          .getBytes(StandardCharsets.UTF_8);
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
}

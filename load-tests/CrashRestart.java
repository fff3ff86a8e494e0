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
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How long the gateway on its embedded database takes to be healthy again after a crash in the middle of a big
 * ingest, and that the half-received job left nothing behind.
 *
 * <pre>
 *   mvn -B -DskipTests package
 *   java -cp target/mailgate.jar load-tests/CrashRestart.java [--recipients 1000000] [--kill-at 600000]
 *        [--mode gateway|everything] [--runs 3]
 * </pre>
 *
 * {@code gateway}: SIGKILL to the gateway's JVM only (its watchdog then stops the embedded server cleanly).
 * {@code everything}: SIGKILL to the JVM, the watchdog and every PostgreSQL process at once, as a power loss or a
 * cgroup OOM kill would: the next start runs PostgreSQL's crash recovery. Loopback only, bounded by N.
 */
public class CrashRestart {

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>(Map.of("--recipients", "1000000", "--kill-at", "600000",
        "--mode", "gateway", "--runs", "3", "--jar", "target/mailgate.jar", "--xmx", "256m"));
    for (int i = 0; i + 1 < args.length; i += 2) {
      opt.put(args[i], args[i + 1]);
    }
    int n = Integer.parseInt(opt.get("--recipients"));
    long killAt = Long.parseLong(opt.get("--kill-at"));
    String mode = opt.get("--mode");
    System.out.printf("mailgate crash/restart %s: %,d-recipient NDJSON ingest killed after %,d lines, mode %s, embedded PostgreSQL%n",
        Instant.now(), n, killAt, mode);
    List<Long> restarts = new ArrayList<>();
    for (int run = 1; run <= Integer.parseInt(opt.get("--runs")); run++) {
      restarts.add(once(opt, n, killAt, mode, run));
    }
    restarts.sort(Long::compare);
    System.out.printf("restart to healthy: min %,d ms, median %,d ms, max %,d ms over %d runs%n",
        restarts.get(0), restarts.get(restarts.size() / 2), restarts.get(restarts.size() - 1), restarts.size());
  }

  static long once(Map<String, String> opt, int n, long killAt, String mode, int run) throws Exception {
    Path dir = Files.createTempDirectory("mailgate-crash");
    int port = freePort();
    String admin = "crash-admin-token-" + System.nanoTime();
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + port;
    Process gw = start(opt, dir, port, admin, dir.resolve("first.log"));
    awaitHealthy(http, base, gw, dir.resolve("first.log"), Duration.ofMinutes(2));
    String tenant = post(http, base + "/v1/admin/tenants", admin, "{\"name\":\"crash\",\"region\":\"eu\"}", 201);
    String apiKey = field(tenant, "apiKey");
    AtomicLong lines = new AtomicLong();
    Thread upload = new Thread(() -> {
      try {
        http.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs"))
            .header("Authorization", "Bearer " + apiKey).header("Content-Type", "application/x-ndjson")
            .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new Lines(n, lines))).build(), HttpResponse.BodyHandlers.ofString());
      } catch (Exception e) {
        // the gateway is killed under it
      }
    });
    upload.start();
    while (lines.get() < killAt) {
      Thread.sleep(5);
    }
    long pgPid = Long.parseLong(Files.readAllLines(dir.resolve("data/pg/postmaster.pid")).get(0).trim());
    List<ProcessHandle> victims = new ArrayList<>();
    victims.add(gw.toHandle());
    if (mode.equals("everything")) {
      ProcessHandle pg = ProcessHandle.of(pgPid).orElseThrow();
      victims.addAll(pg.descendants().toList());
      victims.add(pg);
      victims.addAll(gw.toHandle().descendants().toList());
    }
    victims.forEach(ProcessHandle::destroyForcibly);
    gw.waitFor();
    upload.join(30_000);
    if (mode.equals("gateway")) {
      // the watchdog stops the server; the next start would otherwise stop it itself
      while (ProcessHandle.of(pgPid).map(ProcessHandle::isAlive).orElse(false) && !zombie(pgPid)) {
        Thread.sleep(10);
      }
    }

    Path log = dir.resolve("second.log");
    long t0 = System.nanoTime();
    Process again = start(opt, dir, port, admin, log);
    try {
      awaitHealthy(http, base, again, log, Duration.ofMinutes(5));
      long ms = (System.nanoTime() - t0) / 1_000_000;
      String jobs = get(http, base + "/v1/jobs", apiKey);
      boolean clean = jobs.contains("\"items\":[]");
      String text = Files.readString(log);
      String pgReady = match(text, "embedded PostgreSQL ready.*?ms=(\\d+)");
      String pgLog = Files.exists(dir.resolve("data/pg.log")) ? Files.readString(dir.resolve("data/pg.log")) : "";
      String redo = match(pgLog, "redo done at [^\\n]*?elapsed: ([\\d.]+ s)");
      System.out.printf("run %d: killed after %,d lines; healthy again %,d ms after the restart (PostgreSQL start %s ms%s); half-received job stored: %s%n",
          run, lines.get(), ms, pgReady, redo.isEmpty() ? ", no crash recovery" : ", crash recovery redo " + redo, clean ? "nothing" : jobs);
      return ms;
    } finally {
      again.destroy();
      again.waitFor();
    }
  }

  static Process start(Map<String, String> opt, Path dir, int port, String admin, Path log) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + opt.get("--xmx"), "-jar", opt.get("--jar"));
    pb.environment().put("MAILGATE_DATA_DIR", dir.resolve("data").toString());
    pb.environment().put("MAILGATE_HTTP_PORT", Integer.toString(port));
    pb.environment().put("MAILGATE_ADMIN_TOKEN", admin);
    pb.environment().put("MAILGATE_DEMO", "false");
    return pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /** The job line, then n recipients; counts the lines handed to the HTTP client. */
  static final class Lines extends InputStream {
    private final int n;
    private final AtomicLong count;
    private byte[] cur = "{\"from\":\"a@acme.example\",\"subject\":\"Hello {{name}}\",\"text\":\"Hi {{name}}\"}\n".getBytes(StandardCharsets.UTF_8);
    private int pos;
    private int i;

    Lines(int n, AtomicLong count) {
      this.n = n;
      this.count = count;
    }

    @Override
    public int read() {
      byte[] b = new byte[1];
      return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      int written = 0;
      while (written < len) {
        if (pos == cur.length) {
          if (i == n) {
            return written == 0 ? -1 : written;
          }
          cur = ("{\"email\":\"user" + i + "@example.com\",\"vars\":{\"name\":\"User " + i + "\"}}\n").getBytes(StandardCharsets.US_ASCII);
          pos = 0;
          i++;
          count.incrementAndGet();
        }
        int k = Math.min(len - written, cur.length - pos);
        System.arraycopy(cur, pos, b, off + written, k);
        pos += k;
        written += k;
      }
      return written;
    }
  }

  static boolean zombie(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2) == 'Z';
    } catch (IOException e) {
      return false;
    }
  }

  static String match(String text, String regex) {
    Matcher m = Pattern.compile(regex).matcher(text);
    String last = "";
    while (m.find()) {
      last = m.group(1);
    }
    return last;
  }

  static void awaitHealthy(HttpClient http, String base, Process p, Path log, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IllegalStateException("gateway exited: " + Files.readString(log));
      }
      try {
        if (http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(), HttpResponse.BodyHandlers.ofString()).statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not yet
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException("gateway not healthy within " + timeout + ": " + Files.readString(log));
  }

  static String post(HttpClient http, String url, String token, String body, int expect) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + token)
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != expect) {
      throw new IllegalStateException(url + ": " + r.statusCode() + " " + r.body());
    }
    return r.body();
  }

  static String get(HttpClient http, String url, String token) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + token).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  static String field(String json, String name) {
    Matcher m = Pattern.compile("\"" + name + "\":\"?([^\",}]*)").matcher(json);
    return m.find() ? m.group(1) : null;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}

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
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A suppression list imported as CSV and exported again, on this machine.
 *
 * <pre>
 *   mvn -B -DskipTests package
 *   java -cp target/mailgate.jar load-tests/SuppressionImport.java [--lines 1000000] [--xmx 256m] [--jar target/mailgate.jar]
 * </pre>
 *
 * It starts the gateway jar (embedded PostgreSQL, -Xmx as given, no dispatcher) on loopback, creates a tenant, and
 * streams {@code POST /v1/suppressions/import} a CSV of N lines generated on the fly (chunked, no Content-Length):
 * lines/s until the 200 (which comes after the commit), the gateway's resident memory (VmRSS) before and after, and
 * its peak (VmHWM). Then it reads {@code GET /v1/suppressions/export} to the end: rows/s and the peak again.
 */
public class SuppressionImport {

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>(Map.of("--lines", "1000000", "--xmx", "256m", "--jar", "target/mailgate.jar"));
    for (int i = 0; i + 1 < args.length; i += 2) {
      opt.put(args[i], args[i + 1]);
    }
    int n = Integer.parseInt(opt.get("--lines"));
    Path data = Files.createTempDirectory("mailgate-csv-bench");
    int httpPort = freePort();
    String admin = "csv-bench-admin-" + System.nanoTime();
    Path gwLog = data.resolve("gateway.log");
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + opt.get("--xmx"), "-jar", opt.get("--jar"));
    pb.environment().put("MAILGATE_DATA_DIR", data.resolve("data").toString());
    pb.environment().put("MAILGATE_HTTP_PORT", Integer.toString(httpPort));
    pb.environment().put("MAILGATE_ADMIN_TOKEN", admin);
    pb.environment().put("MAILGATE_DEMO", "false");
    pb.environment().put("MAILGATE_DISPATCH_ENABLED", "false");
    pb.redirectErrorStream(true).redirectOutput(gwLog.toFile());
    Process gw = pb.start();
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    String base = "http://127.0.0.1:" + httpPort;
    try {
      awaitHealthy(http, base, gw, gwLog);
      HttpResponse<String> t = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/admin/tenants"))
          .header("Authorization", "Bearer " + admin).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"csv-bench\",\"region\":\"eu\"}")).build(),
          HttpResponse.BodyHandlers.ofString());
      String apiKey = field(t.body(), "apiKey");
      System.out.printf("mailgate suppression CSV benchmark %s: %,d lines, gateway -Xmx%s%n", Instant.now(), n, opt.get("--xmx"));
      System.out.printf("memory:   gateway RSS %s before the import%n", status(gw.pid(), "VmRSS"));

      Instant start = Instant.now();
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/suppressions/import"))
          .header("Authorization", "Bearer " + apiKey).header("Content-Type", "text/csv").timeout(Duration.ofMinutes(30))
          .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new Lines(n))).build(), HttpResponse.BodyHandlers.ofString());
      double secs = Duration.between(start, Instant.now()).toNanos() / 1e9;
      if (r.statusCode() != 200) {
        throw new IllegalStateException("import refused: " + r.statusCode() + " " + r.body());
      }
      System.out.printf("import:   %s in %.2f s = %,.0f lines/s (committed)%n", r.body(), secs, n / secs);
      System.out.printf("memory:   gateway RSS %s after the import, peak %s%n", status(gw.pid(), "VmRSS"), status(gw.pid(), "VmHWM"));

      start = Instant.now();
      HttpResponse<InputStream> e = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/suppressions/export?format=csv"))
          .header("Authorization", "Bearer " + apiKey).build(), HttpResponse.BodyHandlers.ofInputStream());
      long bytes = 0;
      long lines = 0;
      byte[] buf = new byte[64 * 1024];
      try (InputStream in = e.body()) {
        for (int k; (k = in.read(buf)) >= 0; ) {
          bytes += k;
          for (int i = 0; i < k; i++) {
            lines += buf[i] == '\n' ? 1 : 0;
          }
        }
      }
      secs = Duration.between(start, Instant.now()).toNanos() / 1e9;
      System.out.printf("export:   %,d rows (%,d bytes) in %.2f s = %,.0f rows/s%n", lines - 1, bytes, secs, (lines - 1) / secs);
      System.out.printf("memory:   gateway RSS %s after the export, peak %s; %s%n", status(gw.pid(), "VmRSS"),
          status(gw.pid(), "VmHWM"), Files.readString(gwLog).contains("OutOfMemoryError") ? "OutOfMemoryError in the log!" : "no OutOfMemoryError");
    } finally {
      gw.destroy();
      gw.waitFor();
    }
  }

  /** The CSV, made as it is read: a header, then address,reason,tag,created_at lines of realistic size. */
  static final class Lines extends InputStream {
    private final int n;
    private byte[] current = "address,reason,tag,created_at\n".getBytes(StandardCharsets.US_ASCII);
    private int pos;
    private int next;

    Lines(int n) {
      this.n = n;
    }

    @Override
    public int read() {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      int done = 0;
      while (done < len) {
        if (pos == current.length) {
          if (next == n) {
            break;
          }
          int i = next++;
          String line = i % 10 == 0 ? "subscriber" + i + "@example.org,unsubscribe,newsletter,2026-11-01T10:00:00Z\n"
              : "subscriber" + i + "@example.org,hard_bounce,,2026-11-01T10:00:00Z\n";
          current = line.getBytes(StandardCharsets.US_ASCII);
          pos = 0;
        }
        int k = Math.min(len - done, current.length - pos);
        System.arraycopy(current, pos, b, off + done, k);
        pos += k;
        done += k;
      }
      return done == 0 && len > 0 ? -1 : done;
    }
  }

  static String status(long pid, String key) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith(key + ":")) {
          return (Long.parseLong(line.replaceAll("\\D", "")) / 1024) + " MB";
        }
      }
    } catch (IOException e) {
      // not Linux
    }
    return "unknown";
  }

  static void awaitHealthy(HttpClient http, String base, Process gw, Path log) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (System.nanoTime() < deadline) {
      if (!gw.isAlive()) {
        throw new IllegalStateException("gateway exited:\n" + Files.readString(log));
      }
      try {
        if (http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(), HttpResponse.BodyHandlers.ofString()).statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not yet listening
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("gateway did not start:\n" + Files.readString(log));
  }

  static String field(String json, String name) {
    Matcher m = Pattern.compile("\"" + name + "\":\"?([^\",}]*)").matcher(json);
    return m.find() ? m.group(1) : "?";
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}

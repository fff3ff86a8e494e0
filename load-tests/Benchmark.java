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
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * mailgate's benchmark: ingest, dispatch and memory of one big job, on this machine.
 *
 * <pre>
 *   mvn -B -DskipTests package
 *   java -cp target/mailgate.jar load-tests/Benchmark.java [--recipients 1000000] [--body-kb 10] [--xmx 256m]
 *        [--connections 32] [--sink /usr/sbin/smtp-sink] [--dkim none|rsa|ed25519]
 * </pre>
 *
 * It starts Postfix's smtp-sink and the gateway jar (embedded PostgreSQL, -Xmx as given) on loopback, creates a
 * tenant routed to an smtp backend pointing at the sink, streams an NDJSON job of N recipients generated on the
 * fly, and measures: ingest (recipients/s until the 202, which comes after the commit), dispatch (messages/s from
 * the start of the submission until every recipient is 'sent'), and the gateway's peak resident memory. For a side
 * by side ratio it then COPYs the same rows into a scratch table of the same database (the raw Postgres ceiling).
 */
public class Benchmark {

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>(Map.of(
        "--recipients", "1000000", "--body-kb", "10", "--xmx", "256m", "--connections", "32",
        "--sink", "/usr/sbin/smtp-sink", "--jar", "target/mailgate.jar", "--copy", "true", "--dkim", "none",
        "--suppressed", "0", "--pg-stats", "false"));
    for (int i = 0; i + 1 < args.length; i += 2) {
      opt.put(args[i], args[i + 1]);
    }
    int n = Integer.parseInt(opt.get("--recipients"));
    int bodyKb = Integer.parseInt(opt.get("--body-kb"));
    Path data = Files.createTempDirectory("mailgate-bench");
    int sinkPort = freePort();
    int httpPort = freePort();
    String admin = "bench-admin-token-" + System.nanoTime();

    List<String> sinkCmd = new ArrayList<>(List.of(opt.get("--sink")));
    if ("root".equals(System.getProperty("user.name"))) {
      sinkCmd.addAll(List.of("-u", "nobody"));
    }
    sinkCmd.addAll(List.of("127.0.0.1:" + sinkPort, "1024"));
    Process sink = new ProcessBuilder(sinkCmd).redirectErrorStream(true)
        .redirectOutput(data.resolve("sink.log").toFile()).start();

    Path gwLog = data.resolve("gateway.log");
    ProcessBuilder pb = new ProcessBuilder(javaBin(), "-Xmx" + opt.get("--xmx"), "-jar", opt.get("--jar"));
    pb.environment().put("MAILGATE_DATA_DIR", data.resolve("data").toString());
    pb.environment().put("MAILGATE_HTTP_PORT", Integer.toString(httpPort));
    pb.environment().put("MAILGATE_ADMIN_TOKEN", admin);
    boolean pgStats = Boolean.parseBoolean(opt.get("--pg-stats"));
    if (pgStats) {
      // where PostgreSQL's time and WAL go, per statement (printed at the end)
      String more = System.getenv().getOrDefault("MAILGATE_EMBEDDED_DB_SETTINGS", "");
      pb.environment().put("MAILGATE_EMBEDDED_DB_SETTINGS", "shared_preload_libraries=pg_stat_statements,"
          + "pg_stat_statements.track_planning=on" + (more.isEmpty() ? "" : "," + more));
    }
    pb.redirectErrorStream(true).redirectOutput(gwLog.toFile());
    Process gw = pb.start();
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + httpPort;
    try {
      awaitHealthy(http, base, gw, gwLog);
      String backend = "{\"name\":\"sink\",\"type\":\"smtp\",\"region\":\"eu\",\"settings\":{\"host\":\"127.0.0.1\",\"port\":"
          + sinkPort + ",\"tls\":\"none\",\"maxConnections\":" + opt.get("--connections") + ",\"ratePerSecond\":0}}";
      post(http, base + "/v1/admin/backends", admin, backend, 201);
      String tenant = post(http, base + "/v1/admin/tenants", admin, "{\"name\":\"bench\",\"region\":\"eu\"}", 201);
      String tenantId = field(tenant, "id");
      String apiKey = field(tenant, "apiKey");
      put(http, base + "/v1/admin/tenants/" + tenantId + "/backend", admin, "{\"backend\":\"sink\"}");
      String dkim = opt.get("--dkim");
      if (!dkim.equals("none")) {
        // every message signed with a key of the From domain: rsa (rsa-sha256, 2048 bits) or ed25519 (ed25519-sha256)
        put(http, base + "/v1/admin/tenants/" + tenantId + "/domains", admin, "{\"domains\":[\"example.com\"]}");
        post(http, base + "/v1/admin/tenants/" + tenantId + "/dkim", admin, "{\"domain\":\"example.com\",\"selector\":\"bench\","
            + "\"algorithm\":\"" + (dkim.equals("rsa") ? "rsa-sha256" : "ed25519-sha256") + "\"}", 201);
      }

      int suppressed = Integer.parseInt(opt.get("--suppressed"));
      for (int i = 0; i < suppressed; i += 1000) {
        // a suppression list of that size (addresses outside the job: every recipient is looked up, none is a hit)
        StringBuilder items = new StringBuilder("[");
        for (int k = i; k < Math.min(suppressed, i + 1000); k++) {
          items.append(k == i ? "" : ",").append("{\"address\":\"gone").append(k).append("@example.org\",\"reason\":\"hard_bounce\"}");
        }
        post(http, base + "/v1/suppressions", apiKey, items.append("]").toString(), 200);
      }

      String paragraph = "Hello {{name}},\n\n" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod. ".repeat(14) + "\n";
      String body = paragraph.repeat((bodyKb * 1024 + paragraph.length() - 1) / paragraph.length());
      String jobLine = "{\"from\":\"Bench <bench@example.com>\",\"subject\":\"Hello {{name}}\",\"text\":" + jsonString(body) + "}\n";

      System.out.printf("mailgate benchmark %s: %,d recipients, %,d-byte text body, gateway -Xmx%s, smtp backend maxConnections %s -> smtp-sink, DKIM %s%n",
          Instant.now(), n, body.length(), opt.get("--xmx"), opt.get("--connections"), dkim);
      Instant start = Instant.now();
      HttpResponse<String> accepted = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs"))
              .header("Authorization", "Bearer " + apiKey).header("Content-Type", "application/x-ndjson")
              .timeout(Duration.ofMinutes(30))
              .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new NdjsonStream(jobLine, n))).build(),
          HttpResponse.BodyHandlers.ofString());
      Duration ingest = Duration.between(start, Instant.now());
      if (accepted.statusCode() != 202) {
        throw new IllegalStateException("submission refused: " + accepted.statusCode() + " " + accepted.body());
      }
      String jobId = field(accepted.body(), "id");
      System.out.printf("ingest:   %,d recipients accepted (durable) in %.2f s = %,.0f recipients/s%n",
          n, secs(ingest), n / secs(ingest));

      String job;
      long lastPrint = 0;
      while (true) {
        job = get(http, base + "/v1/jobs/" + jobId, apiKey);
        if (job.contains("\"state\":\"completed\"")) {
          break;
        }
        if (System.currentTimeMillis() - lastPrint > 10_000) {
          lastPrint = System.currentTimeMillis();
          System.out.printf("  ... %s sent after %.0f s%n", field(job, "sent"), secs(Duration.between(start, Instant.now())));
        }
        Thread.sleep(200);
      }
      Duration total = Duration.between(start, Instant.now());
      System.out.printf("dispatch: %,d messages sent in %.2f s from submission = %,.0f msg/s end to end (%s failed, %s deferred)%n",
          n, secs(total), n / secs(total), field(job, "failed"), field(job, "deferred"));
      System.out.printf("          sending alone (after the 202): %,.0f msg/s%n", n / (secs(total) - secs(ingest)));
      System.out.printf("memory:   gateway peak RSS %s with -Xmx%s; %s%n", peakRss(gw.pid()), opt.get("--xmx"),
          Files.readString(gwLog).contains("OutOfMemoryError") ? "OutOfMemoryError in the log!" : "no OutOfMemoryError");

      if (pgStats) {
        printStatements(gwLog, data.resolve("data"));
      }
      if (Boolean.parseBoolean(opt.get("--copy"))) {
        copyBaseline(gwLog, data.resolve("data"), n);
      }
    } finally {
      gw.destroy();
      gw.waitFor();
      sink.destroy();
    }
  }

  static Connection embeddedDb(Path gwLog, Path dataDir) throws Exception {
    Matcher m = Pattern.compile("db=postgresql://(\\w+)@([\\d.]+):(\\d+)/(\\w+)").matcher(Files.readString(gwLog));
    if (!m.find()) {
      throw new IllegalStateException("database address not found in the gateway log");
    }
    Path pw = dataDir.resolve("pg.password");
    return DriverManager.getConnection("jdbc:postgresql://" + m.group(2) + ":" + m.group(3) + "/" + m.group(4), m.group(1),
        Files.exists(pw) ? Files.readString(pw).trim() : "");
  }

  /** The statements that took PostgreSQL's time, with their WAL: where a change to the write path costs. */
  static void printStatements(Path gwLog, Path dataDir) throws Exception {
    try (Connection c = embeddedDb(gwLog, dataDir); Statement st = c.createStatement()) {
      st.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
      var rs = st.executeQuery("""
          SELECT calls, round(total_exec_time)::bigint AS ms, round((total_exec_time / nullif(calls, 0))::numeric, 2) AS mean_ms,
                 round((total_plan_time / nullif(plans, 0))::numeric, 2) AS plan_ms, rows,
                 round(wal_bytes / 1048576.0)::bigint AS wal_mb, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q
          FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12""");
      System.out.println("postgres: statements by total time (calls, ms, mean ms, mean planning ms, rows, WAL MB, query)");
      while (rs.next()) {
        System.out.printf("  %8d %8d %8.2f %8.2f %9d %6d  %s%n", rs.getLong(1), rs.getLong(2), rs.getDouble(3), rs.getDouble(4),
            rs.getLong(5), rs.getLong(6), rs.getString(7));
      }
      var w = st.executeQuery("SELECT round(wal_bytes / 1048576.0)::bigint, wal_fpi, wal_records FROM pg_stat_wal");
      if (w.next()) {
        System.out.printf("  WAL in all: %,d MB, %,d full-page images, %,d records%n", w.getLong(1), w.getLong(2), w.getLong(3));
      }
    }
  }

  /** The same rows, COPYed into a scratch table with the same columns and key: the raw PostgreSQL rate. */
  static void copyBaseline(Path gwLog, Path dataDir, int n) throws Exception {
    Matcher m = Pattern.compile("db=postgresql://(\\w+)@([\\d.]+):(\\d+)/(\\w+)").matcher(Files.readString(gwLog));
    if (!m.find()) {
      System.out.println("copy:     skipped (database address not found in the gateway log)");
      return;
    }
    String url = "jdbc:postgresql://" + m.group(2) + ":" + m.group(3) + "/" + m.group(4);
    // the embedded superuser's password is generated and kept beside the data directory
    Path pw = dataDir.resolve("pg.password");
    String password = Files.exists(pw) ? Files.readString(pw).trim() : "";
    try (Connection c = DriverManager.getConnection(url, m.group(1), password)) {
      try (Statement st = c.createStatement()) {
        st.execute("DROP TABLE IF EXISTS bench_copy");
        st.execute("CREATE TABLE bench_copy (job_id uuid NOT NULL, seq integer NOT NULL, email text NOT NULL, vars jsonb, PRIMARY KEY (job_id, seq))");
      }
      org.postgresql.copy.CopyManager cm = c.unwrap(org.postgresql.PGConnection.class).getCopyAPI();
      String job = java.util.UUID.randomUUID().toString();
      Instant s = Instant.now();
      cm.copyIn("COPY bench_copy (job_id, seq, email, vars) FROM STDIN", new InputStream() {
        int i = 0;
        byte[] cur = new byte[0];
        int pos = 0;

        @Override
        public int read() {
          byte[] one = new byte[1];
          return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) {
          if (pos == cur.length) {
            if (i == n) {
              return -1;
            }
            cur = (job + "\t" + i + "\tuser" + i + "@example.com\t{\"name\": \"User " + i + "\"}\n").getBytes(StandardCharsets.UTF_8);
            pos = 0;
            i++;
          }
          int k = Math.min(len, cur.length - pos);
          System.arraycopy(cur, pos, b, off, k);
          pos += k;
          return k;
        }
      });
      Duration d = Duration.between(s, Instant.now());
      System.out.printf("copy:     raw COPY of the same %,d rows into the same database: %.2f s = %,.0f rows/s%n", n, secs(d), n / secs(d));
      try (Statement st = c.createStatement()) {
        st.execute("DROP TABLE bench_copy");
      }
    }
  }

  /** The NDJSON body, generated as it is read: the job line, then one recipient per line. */
  static final class NdjsonStream extends InputStream {
    private final int n;
    private byte[] cur;
    private int pos;
    private int next;

    NdjsonStream(String jobLine, int n) {
      this.n = n;
      this.cur = jobLine.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public int read() {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      int written = 0;
      while (written < len) {
        if (pos == cur.length) {
          if (next == n) {
            return written == 0 ? -1 : written;
          }
          StringBuilder s = new StringBuilder(8192);
          for (int k = 0; k < 100 && next < n; k++, next++) {
            s.append("{\"email\":\"user").append(next).append("@example.com\",\"vars\":{\"name\":\"User ").append(next).append("\"}}\n");
          }
          cur = s.toString().getBytes(StandardCharsets.UTF_8);
          pos = 0;
        }
        int k = Math.min(len - written, cur.length - pos);
        System.arraycopy(cur, pos, b, off + written, k);
        pos += k;
        written += k;
      }
      return written;
    }
  }

  static String peakRss(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (line.startsWith("VmHWM:")) {
          long kb = Long.parseLong(line.replaceAll("\\D", ""));
          return (kb / 1024) + " MB";
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

  static String post(HttpClient http, String url, String token, String json, int expect) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + token)
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != expect) {
      throw new IllegalStateException(url + " -> " + r.statusCode() + " " + r.body());
    }
    return r.body();
  }

  static void put(HttpClient http, String url, String token, String json) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + token)
        .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IllegalStateException(url + " -> " + r.statusCode() + " " + r.body());
    }
  }

  static String get(HttpClient http, String url, String token) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + token).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  static String field(String json, String name) {
    Matcher m = Pattern.compile("\"" + name + "\":\"?([^\",}]*)").matcher(json);
    return m.find() ? m.group(1) : "?";
  }

  static String jsonString(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }

  static double secs(Duration d) {
    return d.toNanos() / 1e9;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static String javaBin() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}

import java.io.IOException;
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
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Statistics at scale (issue 8): {@code GET /v1/stats} and {@code GET /v1/reputation} over 30 days of rollups of
 * 100 tenants, many clients at once.
 *
 * <pre>
 *   mvn -B -DskipTests package
 *   java -cp target/mailgate.jar load-tests/StatsBench.java [--tenants 100] [--days 30] [--min-per-day 200]
 *        [--connections 32] [--admin-connections 4] [--seconds 20] [--data DIR] [--jar target/mailgate.jar]
 * </pre>
 *
 * Starts the gateway (embedded PostgreSQL in its own data directory under /tmp, or {@code --data DIR}: a directory
 * seeded by an earlier run is reused as it is), creates the tenants and three backends through the admin API, and
 * seeds the counter tables directly with SQL: rows of the shape the writers ({@code EventSql}) produce, per hour,
 * tenant, backend, sender domain, recipient domain (the 40 default domains, Zipf-shared, and 'other'), event type and
 * severity, split over the shards ({@code pg_backend_pid() % 16}) that the writing connections would have used; the
 * daily table is the hourly one summed by day with the same shards (the writers upsert both in one statement), the
 * tag table per tag of the jobs. The shards of closed hours and days are then folded as the gateway's folding pass
 * would have (StatsFolding; {@code --fold false}: left as the writers leave them, as before it). Tenants send log-uniformly from {@code --min-per-day} to 100 × that a day. Then wrk
 * runs each endpoint for {@code --seconds}, rotating over the tenants' keys and the query shapes (resolution, range,
 * groupBy), and prints requests/s, p50/p99/max and errors per endpoint, then a sequential pass per query shape.
 * Traffic stays on loopback; the run is bounded by its options.
 */
public class StatsBench {

  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  static final String DOMAINS = "gmail.com,googlemail.com,yahoo.com,yahoo.co.uk,yahoo.fr,yahoo.de,ymail.com,aol.com,"
      + "outlook.com,hotmail.com,hotmail.co.uk,hotmail.fr,live.com,msn.com,icloud.com,me.com,mac.com,gmx.de,gmx.net,"
      + "gmx.at,web.de,t-online.de,freenet.de,orange.fr,wanadoo.fr,free.fr,laposte.net,sfr.fr,libero.it,virgilio.it,"
      + "seznam.cz,wp.pl,o2.pl,onet.pl,proton.me,protonmail.com,yandex.ru,mail.ru,comcast.net,att.net";
  static String base;
  static String admin;

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>(Map.of("--tenants", "100", "--days", "30", "--min-per-day", "200",
        "--connections", "32", "--admin-connections", "4", "--seconds", "20", "--jar", "target/mailgate.jar",
        "--xmx", "256m", "--shapes", "true", "--rate", "50"));
    opt.put("--seed-only", "false");
    opt.put("--fold", "true");
    for (int i = 0; i + 1 < args.length; i += 2) {
      opt.put(args[i], args[i + 1]);
    }
    Path dir = opt.containsKey("--data") ? Path.of(opt.get("--data")) : Files.createTempDirectory("mailgate-stats");
    Files.createDirectories(dir);
    Path tokenFile = dir.resolve("admin.token");
    boolean reuse = Files.exists(dir.resolve("tenants.txt"));
    if (!Files.exists(tokenFile)) {
      Files.writeString(tokenFile, "stats-admin-token-" + System.nanoTime());
    }
    admin = Files.readString(tokenFile).trim();
    int port = freePort();
    base = "http://127.0.0.1:" + port;
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + opt.get("--xmx"), "-jar", opt.get("--jar"));
    pb.environment().put("MAILGATE_DATA_DIR", dir.resolve("data").toString());
    pb.environment().put("MAILGATE_HTTP_HOST", "127.0.0.1");
    pb.environment().put("MAILGATE_HTTP_PORT", Integer.toString(port));
    pb.environment().put("MAILGATE_ADMIN_TOKEN", admin);
    pb.environment().put("MAILGATE_DEMO", "false");
    // The gateway summarizes closed hours when it starts (everything since the first counted day) and every
    // maintenance interval (an hour by default). The seed writes closed hours directly, shard 0 included, which no
    // writer does: a pass during the seed would summarize hours before their rows are in and take them as done
    // (so a seed ran with a 1-minute interval summarized 3 % of the rows). The gateway of the seed runs with the
    // default interval and is started again once the seed is in; that one's start pass summarizes it all.
    Path log = dir.resolve("gateway.log");
    Process gw = pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      awaitHealthy(gw, log);
      System.out.printf("mailgate stats bench %s: gateway -Xmx%s, embedded PostgreSQL in %s, 2 cores shared with the load%n",
          Instant.now(), opt.get("--xmx"), dir);
      List<String> keys;
      try (Connection c = db(log, dir.resolve("data"))) {
        if (reuse) {
          keys = Files.readAllLines(dir.resolve("tenants.txt"));
          System.out.printf("reusing the seeded database of an earlier run (%d tenants)%n", keys.size());
        } else {
          keys = setup(Integer.parseInt(opt.get("--tenants")));
          seed(c, Integer.parseInt(opt.get("--days")), Integer.parseInt(opt.get("--min-per-day")),
              Boolean.parseBoolean(opt.get("--fold")));
          Files.write(dir.resolve("tenants.txt"), keys);
        }
      }
      if (!reuse) {
        gw.destroy();
        gw.waitFor(60, TimeUnit.SECONDS);
        gw = pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        awaitHealthy(gw, log);
      }
      try (Connection c = db(log, dir.resolve("data"))) {
        awaitSummaries(c);
        if (!reuse) {
          // the summaries were just written: their pages are not all-visible yet, so index-only scans visit the heap,
          // and autovacuum would get to them during the first measured run (it did: p99 61.6 ms against 24.6-35.0)
          long v0 = System.nanoTime();
          try (Statement st = c.createStatement()) {
            st.execute("VACUUM (ANALYZE) stats_summary_hourly, stats_summary_daily, stats_tags_hourly, stats_hourly, stats_daily");
          }
          System.out.printf("  vacuumed after %.0f s%n", (System.nanoTime() - v0) / 1e9);
        }
        sizes(c);
      }
      if (Boolean.parseBoolean(opt.get("--seed-only"))) {
        return;
      }
      int seconds = Integer.parseInt(opt.get("--seconds"));
      int conns = Integer.parseInt(opt.get("--connections"));
      int adminConns = Integer.parseInt(opt.get("--admin-connections"));
      long now = Instant.now().getEpochSecond();
      List<String> shapes = statsShapes(now);
      List<String[]> tenantStats = new ArrayList<>();
      List<String[]> tenantRep = new ArrayList<>();
      List<String[]> adminStats = new ArrayList<>();
      List<String[]> adminRep = new ArrayList<>();
      for (int i = 0; i < keys.size() * shapes.size(); i++) {
        // every tenant with every shape, in an order that does not repeat a tenant or a shape back to back
        tenantStats.add(new String[] {keys.get(i % keys.size()), "/v1/stats?" + shapes.get((i / keys.size() + i) % shapes.size())});
      }
      for (String k : keys) {
        tenantRep.add(new String[] {k, "/v1/reputation"});
      }
      for (String s : shapes) {
        if (s.equals("resolution=hour&begin=" + (now - 30 * 86400) + "&groupBy=senderDomain")) {
          continue; // across tenants, by hour and sender domain at most 7 days: refused with 400
        }
        adminStats.add(new String[] {admin, "/v1/admin/stats?" + s});
      }
      adminStats.add(new String[] {admin, "/v1/admin/stats?resolution=day&groupBy=tenant"});
      adminStats.add(new String[] {admin, "/v1/admin/stats?resolution=hour&groupBy=tenant"});
      adminRep.add(new String[] {admin, "/v1/admin/reputation"});
      // warm-up: the JIT and PostgreSQL's caches
      wrk(tenantStats, conns, Math.max(5, seconds / 2));
      wrk(tenantRep, conns, Math.max(5, seconds / 4));
      System.out.printf("load: wrk, 2 threads; %d connections for the tenant endpoints, %d for the operators'; %d s each%n",
          conns, adminConns, seconds);
      report("GET /v1/stats         (" + shapes.size() + " shapes x " + keys.size() + " tenants)", wrk(tenantStats, conns, seconds));
      report("GET /v1/reputation    (" + keys.size() + " tenants)", wrk(tenantRep, conns, seconds));
      int rate = Integer.parseInt(opt.get("--rate"));
      if (rate > 0) {
        // dashboards poll now and then: the same connections offering --rate requests a second in all
        System.out.printf("paced: the same %d connections offering %d requests/s in all%n", conns, rate);
        report("GET /v1/stats, paced", wrk(tenantStats, conns, seconds, rate));
        report("GET /v1/reputation, paced", wrk(tenantRep, conns, seconds, rate));
        // the same offered load, open loop: no first-request burst, and a late answer counts from when its request
        // was due, not from when it was sent
        System.out.printf("open loop: a request due every %.1f ms, each from its due time to its answer's last byte%n", 1000.0 / rate);
        report("GET /v1/stats, open loop", openLoop(tenantStats, seconds, rate));
        report("GET /v1/reputation, open loop", openLoop(tenantRep, seconds, rate));
      }
      // what the statistics cache held of the reads so far (absent when MAILGATE_STATS_CACHE_BYTES=0)
      for (String line : adminCall("GET", "/metrics", "", 200).split("\n")) {
        if (line.startsWith("mailgate_stats_cache_")) {
          System.out.println("  " + line);
        }
      }
      report("GET /v1/admin/stats   (" + adminStats.size() + " shapes)", wrk(adminStats, adminConns, seconds));
      report("GET /v1/admin/reputation", wrk(adminRep, adminConns, seconds));
      if (Boolean.parseBoolean(opt.get("--shapes"))) {
        // one request at a time, per shape, over the 5 busiest tenants (the ones with the most rows)
        System.out.println("per shape, one request at a time, the 5 busiest tenants (ms: p50 / max):");
        List<String> busiest = busiest(keys);
        for (String s : shapes) {
          shape("/v1/stats?" + s, busiest);
        }
        shape("/v1/reputation", busiest);
        shape("/v1/admin/reputation", List.of(admin, admin, admin));
        shape("/v1/admin/stats?resolution=day&begin=" + (now - 30 * 86400) + "&groupBy=tenant", List.of(admin, admin, admin));
      }
    } finally {
      gw.destroy();
      gw.waitFor(60, TimeUnit.SECONDS);
    }
  }

  /** Query shapes of /v1/stats: resolution x range x groupBy, and a filtered one per resolution. */
  static List<String> statsShapes(long now) {
    List<String> out = new ArrayList<>();
    String[][] ranges = {{"hour", null}, {"hour", "7"}, {"hour", "30"}, {"day", null}, {"day", "30"}, {"month", "30"}};
    for (String[] r : ranges) {
      for (String g : new String[] {null, "backend", "senderDomain", "recipientDomain", "tag"}) {
        if (r[0].equals("month") && "tag".equals(g)) {
          continue; // by tag at most 31 days, and a month's range starts on the 1st: refused with 400 after the 1st
        }
        if (r[0].equals("hour") && "30".equals(r[1]) && ("recipientDomain".equals(g) || "tag".equals(g))) {
          continue; // by hour and recipient domain or tag at most 7 days: refused with 400
        }
        StringBuilder q = new StringBuilder("resolution=" + r[0]);
        if (r[1] != null) {
          q.append("&begin=").append(now - Long.parseLong(r[1]) * 86400);
        }
        if (g != null) {
          q.append("&groupBy=").append(g);
        }
        out.add(q.toString());
      }
    }
    out.add("resolution=hour&event=sent,bounced,complained");
    out.add("resolution=day&begin=" + (now - 30 * 86400) + "&event=sent,bounced,complained&groupBy=senderDomain");
    return out;
  }

  /** Three backends and the tenants (their API keys, shown only at creation, are kept beside the data). */
  static List<String> setup(int tenants) throws Exception {
    for (String b : List.of("bench-a", "bench-b", "bench-c")) {
      adminCall("POST", "/v1/admin/backends", "{\"name\":\"" + b + "\",\"type\":\"smtp\",\"region\":\"eu\",\"settings\":"
          + "{\"host\":\"127.0.0.1\",\"port\":9,\"tls\":\"none\"}}", 201);
    }
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < tenants; i++) {
      String t = adminCall("POST", "/v1/admin/tenants", "{\"name\":\"bench-" + String.format("%03d", i) + "\",\"region\":\"eu\"}", 201);
      keys.add(field(t, "apiKey"));
    }
    return keys;
  }

  /**
   * The counters 30 days of events would have left, written directly. The expected events of a key in an hour
   * (tenant volume x time of day x backend, sender domain, recipient domain and event shares) are rounded at random
   * (so a rare key appears in some hours only, as it would), and split over the shards that distinct writing
   * connections would have used: of n events, 16 (1 - (15/16)^n) shards on average.
   */
  static void seed(Connection c, int days, int minPerDay, boolean fold) throws Exception {
    long t0 = System.nanoTime();
    try (Statement st = c.createStatement()) {
      st.execute("CREATE TEMP TABLE bench_vol AS SELECT t.id, i, " + minPerDay + " * power(100, ((i * 37) % 100) / 99.0) AS per_day"
          + " FROM (SELECT id, row_number() OVER (ORDER BY name) - 1 AS i FROM tenants WHERE name LIKE 'bench-%') t");
      st.execute("""
          CREATE TEMP TABLE bench_tb AS
            -- half the tenants send through one backend, half split 70/30 over two
            SELECT v.id AS tenant_id, v.i, b.id AS backend_id,
                   CASE WHEN v.i % 2 = 0 THEN 1.0 WHEN b.k = v.i % 3 THEN 0.7 ELSE 0.3 END AS share
            FROM bench_vol v
            JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS k FROM backends WHERE name LIKE 'bench-%') b
              ON b.k = v.i % 3 OR (v.i % 2 = 1 AND b.k = (v.i + 1) % 3)""");
      st.execute("CREATE TEMP TABLE bench_sd (j int, share float8)");
      st.execute("INSERT INTO bench_sd VALUES (0, 0.5), (1, 0.35), (2, 0.15)");
      st.execute("CREATE TEMP TABLE bench_rd AS SELECT d, CASE WHEN d = 'other' THEN 0.25 ELSE 0.75 / (k * 4.2785) END AS share"
          + " FROM unnest(string_to_array('" + DOMAINS + "', ',') || ARRAY['other']) WITH ORDINALITY AS x(d, k)");
      st.execute("CREATE TEMP TABLE bench_ev (event text, severity text, rate float8, no_backend boolean)");
      st.execute("""
          INSERT INTO bench_ev VALUES
            ('sent', '', 1.0, false), ('delivered', '', 0.96, false), ('deferred', '', 0.05, false),
            ('failed', 'hard', 0.006, false), ('failed', 'soft', 0.002, false), ('failed', 'other', 0.002, false),
            ('bounced', 'hard', 0.008, false), ('bounced', 'soft', 0.01, false), ('complained', '', 0.0008, false),
            ('opened', '', 0.25, false), ('clicked', '', 0.04, false), ('unsubscribed', '', 0.002, false),
            ('suppressed', 'hard_bounce', 0.003, true), ('suppressed', 'unsubscribe', 0.001, true)""");
      st.execute("ANALYZE bench_vol, bench_tb, bench_sd, bench_rd, bench_ev");
      st.execute("CREATE TEMP TABLE bench_tags (tag text, share float8)");
      st.execute("INSERT INTO bench_tags VALUES ('newsletter', 0.4), ('transactional', 0.3), ('promo', 0.15), "
          + "('onboarding', 0.08), ('alerts', 0.05), ('survey', 0.02)");
      // the expected events of each key at each hour of the day, once (keys under 0.02 a day-hour dropped: a
      // fraction of a percent of the events); each day below draws its counts from these
      st.execute("""
          CREATE TEMP TABLE bench_expect AS
            -- events through no backend (suppressed) of a tenant with two backends fall on one key: summed
            SELECT tenant_id, hod, backend_id, sender_domain, recipient_domain, event, severity, sum(e) AS e FROM (
              SELECT tb.tenant_id, hod,
                     CASE WHEN ev.no_backend THEN '00000000-0000-0000-0000-000000000000'::uuid ELSE tb.backend_id END AS backend_id,
                     'mail' || sd.j || '.t' || tb.i || '.example' AS sender_domain, rd.d AS recipient_domain, ev.event, ev.severity,
                     v.per_day / 24 * (1 + 0.6 * sin(2 * pi() * (hod - 9) / 24)) * tb.share * sd.share * rd.share * ev.rate AS e
              FROM bench_vol v JOIN bench_tb tb ON tb.tenant_id = v.id CROSS JOIN generate_series(0, 23) AS hod
              CROSS JOIN bench_sd sd CROSS JOIN bench_rd rd CROSS JOIN bench_ev ev) x
            WHERE e >= 0.02 GROUP BY 1, 2, 3, 4, 5, 6, 7""");
      st.execute("ANALYZE bench_expect");
      System.out.printf("  expected counts of %,d keys x hours of the day after %.0f s%n", count(st, "bench_expect"), (System.nanoTime() - t0) / 1e9);
      for (int d = days - 1; d >= 0; d--) {
        // one UTC day per statement (the last one up to the current hour); each day's volume varies by +-15 %
        st.execute("""
            CREATE TEMP TABLE bench_cells AS
              SELECT * FROM (
                SELECT x.tenant_id, date_trunc('day', now(), 'UTC') - DAYS * interval '1 day' + x.hod * interval '1 hour' AS hour,
                       x.backend_id, x.sender_domain, x.recipient_domain, x.event, x.severity,
                       floor(x.e * (0.85 + 0.3 * random()) + random())::bigint AS n
                FROM bench_expect x) c
              WHERE n > 0 AND hour <= date_trunc('hour', now(), 'UTC')""".replace("DAYS", Integer.toString(d)));
        st.execute("""
            INSERT INTO stats_hourly (tenant_id, hour, backend_id, sender_domain, recipient_domain, event, severity, shard, n)
            SELECT * FROM (
              SELECT c.tenant_id, c.hour, c.backend_id, c.sender_domain, c.recipient_domain, c.event, c.severity,
                     ((s.start + j) % 16)::smallint AS shard, c.n / s.k + CASE WHEN j < c.n % s.k THEN 1 ELSE 0 END AS n
              FROM bench_cells c
              CROSS JOIN LATERAL (SELECT least(c.n, ceil(16 * (1 - power(15 / 16.0, c.n))))::int AS k,
                                         floor(random() * 16)::int AS start) s
              CROSS JOIN LATERAL generate_series(0, s.k - 1) AS j) x
            ORDER BY 1, 2, 3, 4, 5, 6, 7, 8""");
        // the writers upsert the daily row with the hourly one, in the same statement (the same shard)
        st.execute("""
            INSERT INTO stats_daily (tenant_id, day, backend_id, sender_domain, recipient_domain, event, severity, shard, n)
            SELECT tenant_id, (hour AT TIME ZONE 'UTC')::date, backend_id, sender_domain, recipient_domain, event, severity, shard, sum(n)
            FROM stats_hourly
            WHERE hour >= (SELECT min(hour) FROM bench_cells) AND hour <= (SELECT max(hour) FROM bench_cells)
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8""");
        st.execute("""
            INSERT INTO stats_tags_hourly (tenant_id, hour, tag, event, severity, shard, n)
            SELECT x.tenant_id, x.hour, x.tag, x.event, x.severity, ((s.start + j) % 16)::smallint,
                   x.n / s.k + CASE WHEN j < x.n % s.k THEN 1 ELSE 0 END
            FROM (SELECT c.tenant_id, c.hour, t.tag, c.event, c.severity, floor(sum(c.n) * t.share + random())::bigint AS n
                  FROM bench_cells c CROSS JOIN bench_tags t GROUP BY 1, 2, 3, 4, 5, t.share) x
            CROSS JOIN LATERAL (SELECT least(x.n, ceil(16 * (1 - power(15 / 16.0, x.n))))::int AS k,
                                       floor(random() * 16)::int AS start) s
            CROSS JOIN LATERAL generate_series(0, s.k - 1) AS j
            WHERE x.n > 0
            ORDER BY 1, 2, 3, 4, 5, 6""");
        st.execute("DROP TABLE bench_cells");
        if (d % 5 == 0) {
          System.out.printf("  seeded down to day -%d after %.0f s%n", d, (System.nanoTime() - t0) / 1e9);
        }
      }
      if (fold) {
        foldClosed(st);
        System.out.printf("  closed hours and days folded after %.0f s%n", (System.nanoTime() - t0) / 1e9);
      }
      // autovacuum analyses tables this size within minutes of such growth; not waiting for it
      st.execute("VACUUM ANALYZE stats_hourly, stats_daily, stats_tags_hourly");
    }
    System.out.printf("seeded in %.0f s%n", (System.nanoTime() - t0) / 1e9);
  }

  /**
   * What the gateway's folding pass (StatsFolding) leaves after 30 days: the shards of every hour that is an hour
   * over, and of every day whose last hour is, summed into shard 0; the open hour and day keep their shards. Done
   * here in bulk, one statement per table (the pass folds an hour at a time, ~1 s per hour of this data).
   */
  static void foldClosed(Statement st) throws Exception {
    st.execute("SET work_mem = '512MB'");
    String closedHour = "date_trunc('hour', now(), 'UTC') - interval '1 hour'";
    String[][] tables = {
        {"stats_hourly", "tenant_id, hour, backend_id, sender_domain, recipient_domain, event, severity", "hour < " + closedHour},
        {"stats_tags_hourly", "tenant_id, hour, tag, event, severity", "hour < " + closedHour},
        {"stats_daily", "tenant_id, day, backend_id, sender_domain, recipient_domain, event, severity",
            "day + 1 <= (" + closedHour + ")::date"}};
    for (String[] t : tables) {
      int keys = t[1].split(",").length;
      StringBuilder by = new StringBuilder();
      for (int i = 1; i <= keys + 1; i++) {
        by.append(i == 1 ? "" : ", ").append(i);
      }
      st.execute("CREATE TEMP TABLE bench_fold AS SELECT " + t[1] + ", (CASE WHEN " + t[2] + " THEN 0 ELSE shard END)::smallint AS shard,"
          + " sum(n)::bigint AS n FROM " + t[0] + " GROUP BY " + by);
      st.execute("TRUNCATE " + t[0]);
      st.execute("INSERT INTO " + t[0] + " SELECT * FROM bench_fold ORDER BY " + by);
      st.execute("DROP TABLE bench_fold");
    }
    st.execute("RESET work_mem");
  }

  /**
   * Waits (at most 40 min) until the gateway's folding pass has summarized every closed hour (a jar before the
   * summaries, V9, has nothing to wait for): a database seeded by an earlier jar is summarized at the first start,
   * an hour per transaction, while the gateway serves.
   */
  static void awaitSummaries(Connection c) throws Exception {
    try (Statement st = c.createStatement()) {
      ResultSet has = st.executeQuery("SELECT to_regclass('stats_summarized') IS NOT NULL");
      has.next();
      if (!has.getBoolean(1)) {
        return;
      }
      long t0 = System.nanoTime();
      long last = 0;
      while (true) {
        ResultSet r = st.executeQuery("SELECT hours_until >= date_trunc('hour', now(), 'UTC') - interval '1 hour',"
            + " hours_until FROM stats_summarized");
        r.next();
        if (r.getBoolean(1)) {
          System.out.printf("  closed hours summarized (up to %s) after %.0f s%n", r.getString(2), (System.nanoTime() - t0) / 1e9);
          return;
        }
        long s = (System.nanoTime() - t0) / 1_000_000_000L;
        if (s >= 2400) {
          throw new IllegalStateException("the closed hours were not summarized within 40 min (up to " + r.getString(2) + ")");
        }
        if (s - last >= 60) {
          last = s;
          System.out.printf("  summarizing: up to %s after %d s%n", r.getString(2), s);
        }
        Thread.sleep(1000);
      }
    }
  }

  static long count(Statement st, String table) throws Exception {
    ResultSet r = st.executeQuery("SELECT count(*) FROM " + table);
    r.next();
    return r.getLong(1);
  }

  static void sizes(Connection c) throws Exception {
    try (Statement st = c.createStatement()) {
      ResultSet r = st.executeQuery("SELECT (SELECT count(*) FROM stats_hourly), (SELECT sum(n) FROM stats_hourly), "
          + "(SELECT count(*) FROM stats_daily), (SELECT count(*) FROM stats_tags_hourly), "
          + "pg_size_pretty(pg_total_relation_size('stats_hourly')), pg_size_pretty(pg_total_relation_size('stats_daily')), "
          + "pg_size_pretty(pg_total_relation_size('stats_tags_hourly')), "
          + "(SELECT count(*) FROM stats_hourly WHERE tenant_id = (SELECT tenant_id FROM stats_daily GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)), "
          + "(SELECT min(hour) FROM stats_hourly), (SELECT max(hour) FROM stats_hourly)");
      r.next();
      System.out.printf("rollups: stats_hourly %,d rows (%s) counting %,d events; stats_daily %,d rows (%s); stats_tags_hourly %,d rows (%s);"
              + " the busiest tenant %,d hourly rows; hours %s .. %s%n",
          r.getLong(1), r.getString(5), r.getLong(2), r.getLong(3), r.getString(6), r.getLong(4), r.getString(7), r.getLong(8),
          r.getString(9), r.getString(10));
      ResultSet has = st.executeQuery("SELECT to_regclass('stats_summarized') IS NOT NULL");
      has.next();
      if (has.getBoolean(1)) {
        ResultSet m = st.executeQuery("SELECT (SELECT count(*) FROM stats_summary_hourly), pg_size_pretty(pg_total_relation_size('stats_summary_hourly')),"
            + " (SELECT count(*) FROM stats_summary_daily), pg_size_pretty(pg_total_relation_size('stats_summary_daily'))");
        m.next();
        System.out.printf("summaries: stats_summary_hourly %,d rows (%s); stats_summary_daily %,d rows (%s)%n", m.getLong(1),
            m.getString(2), m.getLong(3), m.getString(4));
      }
    }
  }

  /** The keys of the 5 tenants that send the most (the seed's volume follows (i * 37) % 100). */
  static List<String> busiest(List<String> keys) {
    List<Integer> idx = new ArrayList<>();
    for (int i = 0; i < keys.size(); i++) {
      idx.add(i);
    }
    idx.sort((a, b) -> Integer.compare((b * 37) % 100, (a * 37) % 100));
    List<String> out = new ArrayList<>();
    for (int i = 0; i < Math.min(5, idx.size()); i++) {
      out.add(keys.get(idx.get(i)));
    }
    return out;
  }

  static void shape(String path, List<String> keys) throws Exception {
    List<Long> t = new ArrayList<>();
    for (String k : keys) {
      long t0 = System.nanoTime();
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + k)
          .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
      t.add(System.nanoTime() - t0);
      if (r.statusCode() != 200) {
        System.out.println("  " + path + ": " + r.statusCode() + " " + r.body());
        return;
      }
    }
    Collections.sort(t);
    System.out.printf("  %7.1f / %7.1f  %s%n", t.get(t.size() / 2) / 1e6, t.get(t.size() - 1) / 1e6, path.replaceAll("begin=\\d+", "begin=now-R"));
  }

  /** wrk over {@code conns} connections for {@code seconds}, rotating over the (key, path) pairs. */
  static Map<String, String> wrk(List<String[]> requests, int conns, int seconds) throws Exception {
    return wrk(requests, conns, seconds, 0);
  }

  /**
   * {@code rate} > 0: each of wrk's 2 threads hands out send times on a fixed schedule of rate/2 a second (a slow
   * answer delays no other connection's slot), as in SmallJobs' paced phase.
   */
  static Map<String, String> wrk(List<String[]> requests, int conns, int seconds, int rate) throws Exception {
    Path script = Files.createTempFile("stats-bench", ".lua");
    StringBuilder lua = new StringBuilder(rate <= 0 ? "" : """
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
        """.replace("RATE", Integer.toString(rate)));
    lua.append("local reqs = {\n");
    for (String[] r : requests) {
      lua.append("  {\"").append(r[1]).append("\", \"").append(r[0]).append("\"},\n");
    }
    lua.append("""
        }
        local n = 0
        local id = 0
        setup = function(thread) id = id + 1; thread:set("tid", id) end
        request = function()
          n = n + 1
          local r = reqs[((n * 2 + tid) % #reqs) + 1]
          return wrk.format("GET", r[1], {["Authorization"] = "Bearer " .. r[2]})
        end
        done = function(summary, latency, requests)
          local e = summary.errors
          io.write(string.format("RESULT requests=%d seconds=%.2f p50=%.1f p99=%.1f max=%.1f non2xx=%d socket=%d\\n",
            summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
            latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
        end
        """);
    Files.writeString(script, lua);
    Process p = new ProcessBuilder("wrk", "-t" + Math.min(2, conns), "-c" + conns, "-d" + seconds + "s", "--timeout", "30s", "-s", script.toString(),
        base + "/").redirectErrorStream(true).start();
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

  /**
   * {@code rate} requests a second for {@code seconds}, the i-th due at start + i / rate whatever the answers before
   * it; latency from the due time to the whole answer. The same format as {@link #wrk}'s results.
   */
  static Map<String, String> openLoop(List<String[]> requests, int seconds, int rate) throws Exception {
    int total = seconds * rate;
    long[] latency = new long[total];
    java.util.concurrent.atomic.AtomicInteger non2xx = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger failed = new java.util.concurrent.atomic.AtomicInteger();
    List<java.util.concurrent.CompletableFuture<?>> all = new ArrayList<>(total);
    long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
    for (int i = 0; i < total; i++) {
      long due = start + i * 1_000_000_000L / rate;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        TimeUnit.NANOSECONDS.sleep(wait);
      }
      String[] r = requests.get(i % requests.size());
      int k = i;
      all.add(HTTP.sendAsync(HttpRequest.newBuilder(URI.create(base + r[1])).header("Authorization", "Bearer " + r[0])
              .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.discarding())
          .handle((resp, e) -> {
            latency[k] = System.nanoTime() - due;
            if (e != null) {
              failed.incrementAndGet();
            } else if (resp.statusCode() / 100 != 2) {
              non2xx.incrementAndGet();
            }
            return null;
          }));
    }
    java.util.concurrent.CompletableFuture.allOf(all.toArray(java.util.concurrent.CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    double secs = (System.nanoTime() - start) / 1e9;
    long[] sorted = latency.clone();
    java.util.Arrays.sort(sorted);
    Map<String, String> m = new LinkedHashMap<>();
    m.put("requests", Integer.toString(total));
    m.put("seconds", String.format("%.2f", secs));
    m.put("p50", String.format("%.1f", sorted[total / 2] / 1e6));
    m.put("p99", String.format("%.1f", sorted[(int) Math.min(total - 1, Math.ceil(total * 0.99) - 1)] / 1e6));
    m.put("max", String.format("%.1f", sorted[total - 1] / 1e6));
    m.put("non2xx", Integer.toString(non2xx.get()));
    m.put("socket", Integer.toString(failed.get()));
    return m;
  }

  static void report(String what, Map<String, String> m) {
    double secs = Double.parseDouble(m.get("seconds"));
    long n = Long.parseLong(m.get("requests"));
    System.out.printf("  %-50s %,8.0f req/s  p50 %6s ms  p99 %7s ms  max %7s ms  errors: %s non-2xx, %s socket (%,d requests)%n",
        what, n / secs, m.get("p50"), m.get("p99"), m.get("max"), m.get("non2xx"), m.get("socket"), n);
  }

  static Connection db(Path gwLog, Path dataDir) throws Exception {
    // the last gateway's: a restarted one appends to the log, and its embedded PostgreSQL may listen elsewhere
    Matcher m = Pattern.compile("db=postgresql://(\\w+)@([\\d.]+):(\\d+)/(\\w+)").matcher(Files.readString(gwLog));
    boolean found = false;
    String[] at = new String[4];
    while (m.find()) {
      found = true;
      for (int g = 0; g < 4; g++) {
        at[g] = m.group(g + 1);
      }
    }
    if (!found) {
      throw new IllegalStateException("database address not found in the gateway log");
    }
    // the embedded superuser's password is generated and kept beside the data directory
    Path pw = dataDir.resolve("pg.password");
    return DriverManager.getConnection("jdbc:postgresql://" + at[1] + ":" + at[2] + "/" + at[3], at[0],
        Files.exists(pw) ? Files.readString(pw).trim() : "");
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

package io.mailgate.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.TestDatabase;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.TimeUnit;
import io.mailgate.store.StatsStore.Count;
import io.mailgate.store.StatsStore.GroupBy;
import io.mailgate.store.StatsStore.Resolution;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Folding a closed period's shards keeps every key's sum, leaves one row per key, and leaves other periods alone;
 * summarizing an hour keeps every count the statistics read, once, whichever side of the mark an hour is on; and
 * reads through the cache of closed ranges answer the same as reads without it, as the mark moves and after late
 * writers' rows are folded into summarized hours.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StatsFoldingTest {

  static DbTarget db;
  static Vertx vertx;
  static Pool pool;
  static StatsStore stats;
  /** The same reads through a cache of closed ranges: every view must equal the uncached one at every step. */
  static StatsStore cached;

  @BeforeEach
  void start() {
    db = TestDatabase.fresh();
    vertx = Vertx.vertx();
    pool = PgBuilder.pool().connectingTo(db.connectOptions()).with(new PoolOptions().setMaxSize(2)).using(vertx).build();
    stats = new StatsStore(pool);
    cached = new StatsStore(pool, new StatsCache(8L * 1024 * 1024));
    TestDatabase.execute(db, "INSERT INTO tenants (id, name, region, api_key_hash) VALUES ('00000000-0000-0000-0000-0000000000a1', 'fold', 'eu', '\\x01')");
  }

  @AfterEach
  void stop() {
    if (vertx != null) {
      vertx.close();
    }
  }

  static final String T = "'00000000-0000-0000-0000-0000000000a1'";
  static final String B = "'00000000-0000-0000-0000-0000000000b1'";

  @Test
  void foldsTheShardsOfAClosedHourAndDayIntoOneRowPerKey() throws Exception {
    OffsetDateTime hour = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.HOURS).minusHours(3);
    OffsetDateTime other = hour.plusHours(1);
    LocalDate day = LocalDate.of(2026, 1, 2);
    for (int shard : new int[] {0, 3, 7}) {
      TestDatabase.execute(db, "INSERT INTO stats_hourly VALUES (" + T + ", '" + hour + "', " + B + ", 'a.example', 'gmail.com', 'sent', '', "
          + shard + ", " + (10 + shard) + "), (" + T + ", '" + hour + "', " + B + ", 'a.example', 'other', 'bounced', 'hard', "
          + shard + ", 1), (" + T + ", '" + other + "', " + B + ", 'a.example', 'gmail.com', 'sent', '', " + shard + ", 5)");
      TestDatabase.execute(db, "INSERT INTO stats_tags_hourly VALUES (" + T + ", '" + hour + "', 'news', 'sent', '', " + shard + ", 2)");
      TestDatabase.execute(db, "INSERT INTO stats_daily VALUES (" + T + ", '" + day + "', " + B + ", 'a.example', 'gmail.com', 'sent', '', "
          + shard + ", 4)");
    }
    assertTrue(await(stats.dayHasShards(day)));

    await(stats.foldHour(hour));
    await(stats.foldDay(day));

    String at = "hour = '" + hour + "'";
    assertEquals(2, TestDatabase.count(db, "SELECT count(*) FROM stats_hourly WHERE " + at));
    assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM stats_hourly WHERE " + at + " AND shard <> 0"));
    assertEquals(10 + 13 + 17, TestDatabase.count(db, "SELECT n FROM stats_hourly WHERE " + at + " AND event = 'sent'"));
    assertEquals(3, TestDatabase.count(db, "SELECT n FROM stats_hourly WHERE " + at + " AND event = 'bounced'"));
    assertEquals(6, TestDatabase.count(db, "SELECT n FROM stats_tags_hourly WHERE " + at + " AND shard = 0"));
    assertEquals(1, TestDatabase.count(db, "SELECT count(*) FROM stats_tags_hourly WHERE " + at));
    assertEquals(12, TestDatabase.count(db, "SELECT n FROM stats_daily WHERE day = '" + day + "' AND shard = 0"));
    assertFalse(await(stats.dayHasShards(day)));
    // the next hour is not touched
    assertEquals(3, TestDatabase.count(db, "SELECT count(*) FROM stats_hourly WHERE hour = '" + other + "'"));

    // a late writer's shard row of the folded hour is folded again, adding to the folded row
    TestDatabase.execute(db, "INSERT INTO stats_hourly VALUES (" + T + ", '" + hour + "', " + B + ", 'a.example', 'gmail.com', 'sent', '', 9, 2)");
    await(stats.foldHour(hour));
    assertEquals(42, TestDatabase.count(db, "SELECT n FROM stats_hourly WHERE " + at + " AND event = 'sent'"));
    assertEquals(2, TestDatabase.count(db, "SELECT count(*) FROM stats_hourly WHERE " + at));
    // ... and to the summaries, once
    assertEquals(42, summary("hourly", "n", "hour = '" + hour + "'", ""));
    assertEquals(42, summary("daily", "r", "day = '" + hour.toLocalDate() + "'", "gmail.com"));
    assertEquals(6, summary("daily", "t", "day = '" + hour.toLocalDate() + "'", "news"));
  }

  @Test
  void summarizedHoursCountTheSameAsTheCountersInEveryGroupingAndResolution() throws Exception {
    UUID tenant = UUID.fromString(T.replace("'", ""));
    OffsetDateTime first = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.HOURS).minusHours(30);
    for (int h = 0; h < 30; h++) {
      OffsetDateTime hour = first.plusHours(h);
      for (int shard = 1; shard <= 3; shard++) {
        TestDatabase.execute(db, "INSERT INTO stats_hourly VALUES (" + T + ", '" + hour + "', " + B + ", '" + (h % 2 == 0 ? "a" : "b")
            + ".example', '" + (shard == 1 ? "gmail.com" : "other") + "', 'sent', '', " + shard + ", " + (h + shard) + "), ("
            + T + ", '" + hour + "', " + B + ", 'a.example', 'gmail.com', 'bounced', 'hard', " + shard + ", 1)");
        TestDatabase.execute(db, "INSERT INTO stats_tags_hourly VALUES (" + T + ", '" + hour + "', 'news', 'sent', '', " + shard + ", " + h + ")");
      }
    }
    OffsetDateTime end = first.plusHours(30);
    OffsetDateTime dayBegin = first.truncatedTo(ChronoUnit.DAYS);
    OffsetDateTime dayEnd = end.truncatedTo(ChronoUnit.DAYS).plusDays(1);
    Map<String, Long> before = bothViews(tenant, first, end, dayBegin, dayEnd);
    assertNull(await(stats.summarizedUntil()));

    // an hour after the mark would leave a gap: refused, nothing folded
    await(stats.foldHour(first));
    assertThrows(Exception.class, () -> await(stats.foldHour(first.plusHours(2))));
    assertEquals(first.plusHours(1).toInstant(), await(stats.summarizedUntil()).toInstant());
    sameViews(before, bothViews(tenant, first, end, dayBegin, dayEnd));

    // the rest of the closed hours but the last two, as the folding pass leaves them
    for (int h = 1; h < 28; h++) {
      await(stats.foldHour(first.plusHours(h)));
    }
    assertEquals(first.plusHours(28).toInstant(), await(stats.summarizedUntil()).toInstant());
    sameViews(before, bothViews(tenant, first, end, dayBegin, dayEnd));

    // a late writer adds to a summarized hour: counted once the next pass folds it (and not twice after)
    TestDatabase.execute(db, "INSERT INTO stats_hourly VALUES (" + T + ", '" + first.plusHours(5) + "', " + B
        + ", 'a.example', 'other', 'sent', '', 4, 1000)");
    TestDatabase.execute(db, "INSERT INTO stats_tags_hourly VALUES (" + T + ", '" + first.plusHours(5) + "', 'news', 'sent', '', 4, 1000)");
    // (where read from the summaries, the hour shows it once folded)
    await(stats.foldHour(first.plusHours(5)));
    Map<String, Long> late = bothViews(tenant, first, end, dayBegin, dayEnd);
    for (String k : List.of("hour/none/sent", "day/none/sent", "month/none/sent", "hour/a.example/sent", "day/other/sent",
        "day/news/sent", "24h/a.example/sent/", "30d/a.example/sent")) {
      assertEquals(before.get(k) + 1000, late.get(k), k);
    }
    await(stats.foldHour(first.plusHours(5)));
    sameViews(late, bothViews(tenant, first, end, dayBegin, dayEnd));
    assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM stats_hourly WHERE shard <> 0 AND hour = '" + first.plusHours(5) + "'"));
  }

  /** {@link #everyView} read without the cache and through it (twice: as read, and as kept), all equal. */
  private Map<String, Long> bothViews(UUID tenant, OffsetDateTime begin, OffsetDateTime end, OffsetDateTime dayBegin,
                                      OffsetDateTime dayEnd) throws Exception {
    Map<String, Long> plain = everyView(stats, tenant, begin, end, dayBegin, dayEnd);
    sameViews(plain, everyView(cached, tenant, begin, end, dayBegin, dayEnd));
    sameViews(plain, everyView(cached, tenant, begin, end, dayBegin, dayEnd));
    // a cache asked for a later range, then a wider one, then one inside: grown before and after, never twice counted
    StatsStore growing = new StatsStore(pool, new StatsCache(8L * 1024 * 1024));
    OffsetDateTime mid = begin.plusHours(20);
    for (OffsetDateTime[] r : new OffsetDateTime[][] {{mid, mid.plusHours(4)}, {begin.plusHours(2), mid.plusHours(6)},
        {begin, end}, {begin.plusHours(3), mid}}) {
      for (GroupBy by : List.of(GroupBy.NONE, GroupBy.RECIPIENT_DOMAIN)) {
        assertEquals(byKey(await(stats.counts(tenant, r[0], r[1], Resolution.HOUR, by, List.of()))),
            byKey(await(growing.counts(tenant, r[0], r[1], Resolution.HOUR, by, List.of()))), by + " " + r[0] + " " + r[1]);
      }
    }
    return plain;
  }

  /** Counts summed by time, group, event and severity. */
  private static Map<String, Long> byKey(List<Count> counts) {
    Map<String, Long> out = new TreeMap<>();
    for (Count c : counts) {
      out.merge(c.time().toInstant() + "/" + c.group() + "/" + c.event() + "/" + c.severity(), c.n(), Long::sum);
    }
    return out;
  }

  /** Every grouping at every resolution, summed per resolution, group and event: what a reader sees. */
  private Map<String, Long> everyView(StatsStore stats, UUID tenant, OffsetDateTime begin, OffsetDateTime end, OffsetDateTime dayBegin,
                                      OffsetDateTime dayEnd) throws Exception {
    Map<String, Long> out = new TreeMap<>();
    for (GroupBy by : List.of(GroupBy.NONE, GroupBy.BACKEND, GroupBy.SENDER_DOMAIN, GroupBy.RECIPIENT_DOMAIN, GroupBy.TAG)) {
      for (Resolution res : Resolution.values()) {
        boolean hourly = res == Resolution.HOUR;
        for (Count c : await(stats.counts(tenant, hourly ? begin : dayBegin, hourly ? end : dayEnd, res, by, List.of()))) {
          String k = res.name().toLowerCase() + "/" + (c.group() == null ? "none" : c.group()) + "/" + c.event();
          out.merge(k, c.n(), Long::sum);
          out.merge(k + "@" + c.time().toInstant(), c.n(), Long::sum);
        }
        // a filtered read, and the operators' view by tenant
        for (Count c : await(stats.counts(tenant, hourly ? begin : dayBegin, hourly ? end : dayEnd, res, by, List.of("bounced")))) {
          out.merge(res.name().toLowerCase() + "/" + (c.group() == null ? "none" : c.group()) + "/only-" + c.event()
              + "@" + c.time().toInstant(), c.n(), Long::sum);
        }
      }
      for (Count c : await(stats.counts(null, dayBegin, dayEnd, Resolution.MONTH, GroupBy.TENANT, List.of()))) {
        out.merge("month/tenant-" + c.group() + "/" + c.event() + "@" + c.time().toInstant(), c.n(), Long::sum);
      }
    }
    for (StatsStore.Window w : await(stats.window(tenant, begin))) {
      out.merge("24h/" + w.senderDomain() + "/" + w.event() + "/" + w.severity(), w.n(), Long::sum);
    }
    for (StatsStore.Window[] w : await(stats.weekAndMonth(tenant, dayBegin.toLocalDate(), dayBegin.toLocalDate()))) {
      out.merge("30d/" + w[1].senderDomain() + "/" + w[1].event(), w[1].n(), Long::sum);
    }
    return out;
  }

  /** Equal views, naming only the keys that differ. */
  private static void sameViews(Map<String, Long> expected, Map<String, Long> actual) {
    Map<String, String> diff = new TreeMap<>();
    expected.forEach((k, v) -> {
      if (!v.equals(actual.get(k))) {
        diff.put(k, v + " != " + actual.get(k));
      }
    });
    actual.keySet().stream().filter(k -> !expected.containsKey(k)).forEach(k -> diff.put(k, "unexpected " + actual.get(k)));
    assertTrue(diff.isEmpty(), "views differ: " + diff);
  }

  private long summary(String table, String dim, String at, String grp) {
    return TestDatabase.count(db, "SELECT coalesce(sum(n), 0) FROM stats_summary_" + table + " WHERE dim = '" + dim + "' AND "
        + at + " AND grp = '" + grp + "' AND event = 'sent'");
  }

  static <T> T await(io.vertx.core.Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}

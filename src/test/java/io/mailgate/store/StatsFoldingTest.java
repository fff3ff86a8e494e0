package io.mailgate.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Folding a closed period's shards keeps every key's sum, leaves one row per key, and leaves other periods alone. */
class StatsFoldingTest {

  static DbTarget db;
  static Vertx vertx;
  static Pool pool;
  static StatsStore stats;

  @BeforeAll
  static void start() {
    db = TestDatabase.fresh();
    vertx = Vertx.vertx();
    pool = PgBuilder.pool().connectingTo(db.connectOptions()).with(new PoolOptions().setMaxSize(2)).using(vertx).build();
    stats = new StatsStore(pool);
    TestDatabase.execute(db, "INSERT INTO tenants (id, name, region, api_key_hash) VALUES ('00000000-0000-0000-0000-0000000000a1', 'fold', 'eu', '\\x01')");
  }

  @AfterAll
  static void stop() {
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
  }

  static <T> T await(io.vertx.core.Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}

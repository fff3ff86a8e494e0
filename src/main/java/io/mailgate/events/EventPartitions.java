package io.mailgate.events;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the event log's daily partitions: makes today's and the next {@code ahead} days' (UTC), and drops whole
 * partitions once their day is older than the retention, so retention never runs a DELETE over millions of rows.
 * Rows that landed in the default partition (a clock far off) and remembered provider event ids are deleted in
 * batches past the same retention. Runs at start and every {@code interval}; several gateways may run it at once
 * (an advisory lock lets one work at a time). A drop waits at most {@link #LOCK_TIMEOUT} for its lock, so it never
 * holds up the dispatchers' writes for long; it is tried again at the next run.
 */
public final class EventPartitions extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(EventPartitions.class);
  private static final DateTimeFormatter DAY = DateTimeFormatter.BASIC_ISO_DATE;
  /** How long dropping a partition may wait for the lock on the event table. */
  static final String LOCK_TIMEOUT = "2s";
  /** Rows per DELETE when trimming the default partition and the provider ids. */
  static final int DELETE_BATCH = 10_000;
  private static final long ADVISORY_KEY = 0x6d67_6576_7470L; // "mgevtp"

  private final Pool pool;
  private final Duration retention;
  private final int ahead;
  private final Duration interval;
  private long timer = -1;

  public EventPartitions(Pool pool, Duration retention, int ahead, Duration interval) {
    this.pool = pool;
    this.retention = retention;
    this.ahead = ahead;
    this.interval = interval;
  }

  @Override
  public Future<?> start() {
    // the first run before the gateway serves: today's partition exists before the first event is written
    return maintain().onSuccess(v -> timer = vertx.setPeriodic(interval.toMillis(), id -> maintain()));
  }

  @Override
  public Future<?> stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
    return Future.succeededFuture();
  }

  static String partitionName(LocalDate day) {
    return "events_p" + day.format(DAY);
  }

  /** One pass: create, drop, trim. Failures are logged and tried again at the next pass. */
  public Future<Void> maintain() {
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    LocalDate oldestKept = LocalDate.now(ZoneOffset.UTC).minusDays(Math.max(0, retention.toDays()));
    return pool.withTransaction(conn -> conn.preparedQuery("SELECT pg_try_advisory_xact_lock($1)").execute(Tuple.of(ADVISORY_KEY))
            .compose(rows -> {
              if (!rows.iterator().next().getBoolean(0)) {
                return Future.succeededFuture(); // another gateway is at it
              }
              return create(conn, today.minusDays(1), today.plusDays(ahead))
                  .compose(v -> dropBefore(conn, oldestKept));
            }))
        .compose(v -> trim())
        .recover(e -> {
          LOG.atWarn().addKeyValue("error", e.getMessage()).log("event partition maintenance failed; trying again later");
          return Future.succeededFuture();
        });
  }

  private Future<Void> create(SqlConnection conn, LocalDate from, LocalDate to) {
    Future<Void> f = Future.succeededFuture();
    for (LocalDate d = from; !d.isAfter(to); d = d.plusDays(1)) {
      LocalDate day = d;
      f = f.compose(v -> conn.query("SELECT to_regclass('" + partitionName(day) + "') IS NOT NULL").execute()
          .compose(rows -> rows.iterator().next().getBoolean(0) ? Future.succeededFuture()
              : conn.query("CREATE TABLE " + partitionName(day) + " PARTITION OF events FOR VALUES FROM ('" + day
                  + " 00:00:00+00') TO ('" + day.plusDays(1) + " 00:00:00+00')").execute()
                  .onSuccess(x -> LOG.atInfo().addKeyValue("partition", partitionName(day)).log("event partition created"))
                  .mapEmpty()));
    }
    return f;
  }

  /** Drops the daily partitions of days before {@code oldestKept}. */
  private Future<Void> dropBefore(SqlConnection conn, LocalDate oldestKept) {
    return conn.query("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_p[0-9]{8}$' ORDER BY c.relname""").execute()
        .compose(rows -> {
          List<String> old = new ArrayList<>();
          for (Row r : rows) {
            String name = r.getString(0);
            LocalDate day = LocalDate.parse(name.substring("events_p".length()), DAY);
            if (day.isBefore(oldestKept)) {
              old.add(name);
            }
          }
          if (old.isEmpty()) {
            return Future.succeededFuture();
          }
          Future<Void> f = conn.query("SET LOCAL lock_timeout = '" + LOCK_TIMEOUT + "'").execute().mapEmpty();
          for (String name : old) {
            f = f.compose(v -> conn.query("DROP TABLE " + name).execute()
                .onSuccess(x -> LOG.atInfo().addKeyValue("partition", name).log("event partition dropped (retention)"))
                .mapEmpty());
          }
          return f;
        });
  }

  private Future<Void> trim() {
    long secs = retention.toSeconds();
    return deleteInBatches("DELETE FROM events_default WHERE ctid = ANY(ARRAY(SELECT ctid FROM events_default"
            + " WHERE at < now() - $1::float8 * interval '1 second' LIMIT " + DELETE_BATCH + "))", secs)
        .compose(v -> deleteInBatches("DELETE FROM seen_source_events WHERE (source, source_id) IN (SELECT source, source_id"
            + " FROM seen_source_events WHERE at < now() - $1::float8 * interval '1 second' LIMIT " + DELETE_BATCH + ")", secs));
  }

  private Future<Void> deleteInBatches(String sql, long secs) {
    return pool.preparedQuery(sql).execute(Tuple.of((double) secs)).compose(rows ->
        rows.rowCount() >= DELETE_BATCH ? deleteInBatches(sql, secs) : Future.succeededFuture());
  }
}

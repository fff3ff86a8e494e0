package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Reads the rollups (never events or recipients): hourly counters for hour resolution and the last 24 hours, daily
 * ones for days and months. {@code tenantId} null reads every tenant (the operators' view).
 */
public final class StatsStore {

  /** One counter of a bucket: the time it starts, its group (null when not grouped), the event and severity. */
  public record Count(OffsetDateTime time, String group, String event, String severity, long n) {}

  public enum Resolution { HOUR, DAY, MONTH }

  public enum GroupBy {
    NONE("NULL::text"), BACKEND("coalesce(b.name, CASE WHEN s.backend_id = '" + EventSql.NO_BACKEND + "' THEN 'none' ELSE s.backend_id::text END)"),
    SENDER_DOMAIN("s.sender_domain"), RECIPIENT_DOMAIN("s.recipient_domain"), TAG("s.tag"),
    TENANT("coalesce(t.name, s.tenant_id::text)");

    final String expr;

    GroupBy(String expr) {
      this.expr = expr;
    }
  }

  private final Pool pool;

  public StatsStore(Pool pool) {
    this.pool = pool;
  }

  /** Counters in [begin, end) at the resolution, grouped, of the given events (all when empty). */
  public Future<List<Count>> counts(UUID tenantId, OffsetDateTime begin, OffsetDateTime end, Resolution res, GroupBy by,
                                    List<String> events) {
    boolean hourly = res == Resolution.HOUR || by == GroupBy.TAG;
    String table = by == GroupBy.TAG ? "stats_tags_hourly" : hourly ? "stats_hourly" : "stats_daily";
    String col = hourly ? "s.hour" : "s.day";
    String bucket = switch (res) {
      case HOUR -> "s.hour";
      case DAY -> hourly ? "date_trunc('day', s.hour, 'UTC')" : "(s.day::timestamp AT TIME ZONE 'UTC')";
      case MONTH -> hourly ? "date_trunc('month', s.hour, 'UTC')" : "(date_trunc('month', s.day)::timestamp AT TIME ZONE 'UTC')";
    };
    StringBuilder sql = new StringBuilder("SELECT ").append(bucket).append(" AS t, ").append(by.expr)
        .append(" AS g, s.event, s.severity, sum(s.n)::bigint AS n FROM ").append(table).append(" s");
    if (by == GroupBy.BACKEND) {
      sql.append(" LEFT JOIN backends b ON b.id = s.backend_id");
    }
    if (by == GroupBy.TENANT) {
      sql.append(" LEFT JOIN tenants t ON t.id = s.tenant_id");
    }
    Tuple args = Tuple.tuple();
    sql.append(" WHERE ");
    if (tenantId != null) {
      args.addValue(tenantId);
      sql.append("s.tenant_id = $1 AND ");
    }
    if (hourly) {
      args.addValue(begin).addValue(end);
    } else {
      args.addValue(begin.withOffsetSameInstant(ZoneOffset.UTC).toLocalDate())
          .addValue(end.withOffsetSameInstant(ZoneOffset.UTC).toLocalDate());
    }
    sql.append(col).append(" >= $").append(args.size() - 1).append(" AND ").append(col).append(" < $").append(args.size());
    if (!events.isEmpty()) {
      args.addValue(events.toArray(String[]::new));
      sql.append(" AND s.event = ANY($").append(args.size()).append("::text[])");
    }
    sql.append(" GROUP BY 1, 2, 3, 4 ORDER BY 1, 2");
    return pool.preparedQuery(sql.toString()).execute(args).map(rows -> {
      List<Count> out = new ArrayList<>(rows.size());
      for (Row r : rows) {
        out.add(new Count(r.getOffsetDateTime("t"), r.getString("g"), r.getString("event"), r.getString("severity"),
            r.getLong("n")));
      }
      return out;
    });
  }

  /** Totals per sender domain (and per tenant when {@code tenantId} is null) since {@code since}. */
  public Future<List<Window>> window(UUID tenantId, OffsetDateTime since, boolean hourly) {
    String table = hourly ? "stats_hourly" : "stats_daily";
    String col = hourly ? "s.hour" : "s.day";
    Object from = hourly ? since : since.withOffsetSameInstant(ZoneOffset.UTC).toLocalDate();
    String sql = "SELECT s.tenant_id, s.sender_domain, s.event, s.severity, sum(s.n)::bigint AS n FROM " + table + " s WHERE "
        + (tenantId == null ? "" : "s.tenant_id = $2 AND ") + col + " >= $1 GROUP BY 1, 2, 3, 4";
    Tuple args = tenantId == null ? Tuple.of(from) : Tuple.of(from, tenantId);
    return pool.preparedQuery(sql).execute(args).map(rows -> {
      List<Window> out = new ArrayList<>(rows.size());
      for (Row r : rows) {
        out.add(new Window(r.getUUID("tenant_id"), r.getString("sender_domain"), r.getString("event"), r.getString("severity"),
            r.getLong("n")));
      }
      return out;
    });
  }

  /**
   * The 7- and 30-day windows from one pass over the daily counters: per tenant and sender domain, the sums since
   * {@code week} ({@code n7}) and since {@code month} ({@code n30}).
   */
  public Future<List<Window[]>> weekAndMonth(UUID tenantId, LocalDate week, LocalDate month) {
    String sql = "SELECT s.tenant_id, s.sender_domain, s.event, s.severity, (sum(s.n) FILTER (WHERE s.day >= $2))::bigint AS n7,"
        + " sum(s.n)::bigint AS n30 FROM stats_daily s WHERE " + (tenantId == null ? "" : "s.tenant_id = $3 AND ")
        + "s.day >= $1 GROUP BY 1, 2, 3, 4";
    Tuple args = tenantId == null ? Tuple.of(month, week) : Tuple.of(month, week, tenantId);
    return pool.preparedQuery(sql).execute(args).map(rows -> {
      List<Window[]> out = new ArrayList<>(rows.size());
      for (Row r : rows) {
        Long n7 = r.getLong("n7");
        out.add(new Window[] {
            new Window(r.getUUID("tenant_id"), r.getString("sender_domain"), r.getString("event"), r.getString("severity"),
                n7 == null ? 0 : n7),
            new Window(r.getUUID("tenant_id"), r.getString("sender_domain"), r.getString("event"), r.getString("severity"),
                r.getLong("n30"))});
      }
      return out;
    });
  }

  // Folding a closed period's shards into shard 0. The shards are there so that concurrent writers of the open hour
  // and day do not queue on one row's lock; once the period is over nobody writes it (a writer counts into the hour
  // and day of its statement's now()), and its rows are read many times: 30 days of one busy tenant read 2.5x
  // fewer hourly and 7.5x fewer daily rows folded. A writer that commits into the period after the fold (its
  // statement began before the hour ended) adds a shard row again, folded at the next pass; readers sum shards
  // either way. Rows are looked up tenant by tenant (the keys lead with the tenant).
  private static final String FOLD = """
      WITH gone AS (
        DELETE FROM TABLE s WHERE s.tenant_id IN (SELECT id FROM tenants) AND s.TIME = $1 AND s.shard <> 0
        RETURNING KEYS, s.n
      )
      INSERT INTO TABLE AS s (KEYS_PLAIN, shard, n)
      SELECT KEYS_PLAIN, 0, sum(n) FROM gone GROUP BY GROUPS ORDER BY GROUPS
      ON CONFLICT (KEYS_PLAIN, shard) DO UPDATE SET n = s.n + excluded.n""";

  private static String fold(String table, String time, String... keys) {
    String plain = String.join(", ", keys);
    String prefixed = "s." + String.join(", s.", keys);
    StringBuilder groups = new StringBuilder();
    for (int i = 1; i <= keys.length; i++) {
      groups.append(i == 1 ? "" : ", ").append(i);
    }
    return FOLD.replace("TABLE", table).replace("TIME", time).replace("KEYS_PLAIN", plain).replace("KEYS", prefixed)
        .replace("GROUPS", groups);
  }

  private static final String FOLD_HOURLY = fold("stats_hourly", "hour", "tenant_id", "hour", "backend_id", "sender_domain",
      "recipient_domain", "event", "severity");
  private static final String FOLD_TAGS = fold("stats_tags_hourly", "hour", "tenant_id", "hour", "tag", "event", "severity");
  private static final String FOLD_DAILY = fold("stats_daily", "day", "tenant_id", "day", "backend_id", "sender_domain",
      "recipient_domain", "event", "severity");

  /** Folds the shards of a closed hour (hourly and per-tag counters). @return the shard rows folded */
  public Future<Integer> foldHour(OffsetDateTime hour) {
    return pool.withTransaction(c -> c.preparedQuery(FOLD_HOURLY).execute(Tuple.of(hour))
        .compose(a -> c.preparedQuery(FOLD_TAGS).execute(Tuple.of(hour)).map(b -> a.rowCount() + b.rowCount())));
  }

  /** Folds the shards of a closed UTC day. @return the folded rows written */
  public Future<Integer> foldDay(LocalDate day) {
    return pool.preparedQuery(FOLD_DAILY).execute(Tuple.of(day)).map(r -> r.rowCount());
  }

  /** Whether a day's counters have rows of shards other than 0 (not folded yet, or written since). */
  public Future<Boolean> dayHasShards(LocalDate day) {
    return pool.preparedQuery("SELECT EXISTS (SELECT 1 FROM stats_daily WHERE day = $1 AND shard <> 0)").execute(Tuple.of(day))
        .map(rows -> rows.iterator().next().getBoolean(0));
  }

  /** The first day with counters, or null. */
  public Future<LocalDate> firstCountedDay() {
    return pool.query("SELECT min(day) FROM stats_daily").execute().map(rows -> rows.iterator().next().getLocalDate(0));
  }

  /** A counter summed over a window. */
  public record Window(UUID tenantId, String senderDomain, String event, String severity, long n) {}

  /** The first day of the daily counters a window of {@code days} reads (today included). */
  public static LocalDate firstDay(int days) {
    return LocalDate.now(ZoneOffset.UTC).minusDays(days - 1L);
  }
}

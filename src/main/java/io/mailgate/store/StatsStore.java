package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Reads the rollups (never events or recipients). Closed hours come from the summaries (one row per group, event and
 * severity: {@code stats_summary_hourly} and {@code stats_summary_daily}, written by the folding pass), the hours not
 * summarized yet (the last one or two) from the counters the writers keep ({@code stats_hourly}, sharded); a
 * statement reads both sides of the mark ({@code stats_summarized.hours_until}) in one snapshot, so an hour is
 * counted once whether or not it has been summarized meanwhile. Hour resolution grouped by tag reads the folded
 * per-tag counters themselves (an hour's folded counters are its summary). {@code tenantId} null reads every
 * tenant (the operators' view).
 */
public final class StatsStore {

  /** One counter of a bucket: the time it starts, its group (null when not grouped), the event and severity. */
  public record Count(OffsetDateTime time, String group, String event, String severity, long n) {}

  public enum Resolution { HOUR, DAY, MONTH }

  /** A grouping: its dimension in the summaries, and the answer's group name for a row {@code s} of a source. */
  public enum GroupBy {
    NONE('n', "NULL::text"),
    BACKEND('b', "coalesce(b.name, CASE WHEN s.g = '" + EventSql.NO_BACKEND + "' THEN 'none' ELSE s.g END)"),
    SENDER_DOMAIN('s', "s.g"), RECIPIENT_DOMAIN('r', "s.g"), TAG('t', "s.g"),
    TENANT('n', "coalesce(t.name, s.tenant_id::text)");

    final char dim;
    final String expr;

    GroupBy(char dim, String expr) {
      this.dim = dim;
      this.expr = expr;
    }
  }

  /** The dimensions the hourly summaries keep; the daily ones keep these and 't'. */
  private static final String HOURLY_DIMS = "nbsr";

  /** The first hour not summarized yet: hours before it are in the summaries. */
  private static final String MARK = "(SELECT coalesce(hours_until, '-infinity') FROM stats_summarized)";

  private final Pool pool;
  private final StatsCache cache;

  /** Reads every range from the database. */
  public StatsStore(Pool pool) {
    this(pool, null);
  }

  /** Reads closed ranges through {@code cache} (null: none), checking the summaries' generation on every read. */
  public StatsStore(Pool pool, StatsCache cache) {
    this(pool, cache, java.time.Duration.ZERO);
  }

  /**
   * The same, taking the summaries' mark and generation read within {@code checkInterval} as current
   * ({@code MAILGATE_STATS_CACHE_CHECK_INTERVAL}): a fold's additions to closed hours show that much later, and a
   * read costs one statement, not two, on the statistics' few connections.
   */
  public StatsStore(Pool pool, StatsCache cache, java.time.Duration checkInterval) {
    this.pool = pool;
    this.cache = cache;
    this.checkNanos = checkInterval.toNanos();
  }

  private final long checkNanos;

  /** The summaries' mark (null: none) and generation, and when they were read. */
  private record Token(OffsetDateTime mark, long generation, long readAt) {}

  private volatile Token token;

  private Future<Token> token() {
    Token t = token;
    long now = System.nanoTime();
    if (t != null && checkNanos > 0 && now - t.readAt() < checkNanos) {
      return Future.succeededFuture(t);
    }
    return pool.query("SELECT hours_until, generation FROM stats_summarized").execute().recover(StatsStore::timedOut)
        .map(rows -> {
          Row r = rows.iterator().next();
          Token fresh = new Token(r.getOffsetDateTime(0), r.getLong(1), now);
          token = fresh;
          return fresh;
        });
  }

  /** The counters' column that a dimension groups by. */
  private static String rawGroup(char dim) {
    return switch (dim) {
      case 'n' -> "''";
      case 'b' -> "backend_id::text";
      case 's' -> "sender_domain";
      case 'r' -> "recipient_domain";
      case 't' -> "tag";
      default -> throw new IllegalArgumentException("dimension " + dim);
    };
  }

  /**
   * A sub-query of the rows {@code (tenant_id, t, g, event, severity, n)} counted in [{@code begin}, {@code end}) for a
   * dimension: per hour ({@code t} the hour), or per day ({@code t} the day's start; then {@code begin} and {@code end}
   * must be day boundaries). {@code tenant} is a parameter reference, or null for every tenant. Sums over the rows are
   * the counts; a key may have several rows (from both sides of the mark, or shards).
   */
  public static String source(char dim, boolean daily, String tenant, String begin, String end) {
    return String.join(" UNION ALL ", parts(dim, daily, tenant, begin, end).stream().map(Part::sql).toList());
  }

  /**
   * A part of a source: its rows, and the resolution at which they are already one row per key (summaries are one
   * row per tenant, group, bucket, event and severity), or null (counters: shards, other dimensions).
   */
  private record Part(String sql, Resolution uniqueAt) {}

  /** The parts of {@link #source}, in time order of their ranges. */
  private static List<Part> parts(char dim, boolean daily, String tenant, String begin, String end) {
    String of = tenant == null ? "" : "tenant_id = " + tenant + " AND ";
    // Every tenant's counters are looked up tenant by tenant, as the fold does: their keys lead with the tenant and
    // nothing indexes their hour, so "hour >= x" alone scans the whole table (the operators' 24 hours per sender
    // domain: a parallel scan of 11.9 million rows, 732 ms, against 53 ms this way on StatsBench's data). The
    // summaries have an index by dimension and time.
    String ofCounters = tenant == null ? "tenant_id IN (SELECT id FROM tenants) AND " : of;
    if (daily) {
      List<Part> out = new ArrayList<>();
      out.add(new Part("SELECT tenant_id, (day::timestamp AT TIME ZONE 'UTC') AS t, grp AS g, event, severity, n FROM stats_summary_daily"
          + " WHERE " + of + "dim = '" + dim + "' AND day >= (" + begin + " AT TIME ZONE 'UTC')::date"
          + " AND day < least((" + end + " AT TIME ZONE 'UTC')::date, (" + MARK + " AT TIME ZONE 'UTC')::date)", Resolution.DAY));
      out.addAll(parts(dim, false, tenant, "greatest(" + begin + ", date_trunc('day', " + MARK + ", 'UTC'))", end));
      return out;
    }
    if (dim == 't') {
      return List.of(new Part("SELECT tenant_id, hour AS t, tag AS g, event, severity, n FROM stats_tags_hourly WHERE " + ofCounters
          + "hour >= " + begin + " AND hour < " + end, null));
    }
    String counters = "SELECT tenant_id, hour AS t, " + rawGroup(dim) + " AS g, event, severity, n FROM stats_hourly WHERE " + ofCounters;
    if (HOURLY_DIMS.indexOf(dim) < 0) {
      return List.of(new Part(counters + "hour >= " + begin + " AND hour < " + end, null));
    }
    return List.of(new Part("SELECT tenant_id, hour AS t, grp AS g, event, severity, n FROM stats_summary_hourly WHERE " + of
            + "dim = '" + dim + "' AND hour >= " + begin + " AND hour < least(" + end + ", " + MARK + ")", Resolution.HOUR),
        new Part(counters + "hour >= greatest(" + begin + ", " + MARK + ") AND hour < " + end, null));
  }

  /**
   * A read cancelled by the statistics connections' statement timeout (SQLSTATE 57014): 503 with Retry-After, so the
   * caller narrows the range or comes back, rather than a 500.
   */
  private static <T> Future<T> timedOut(Throwable e) {
    if (e instanceof io.vertx.pgclient.PgException pg && "57014".equals(pg.getSqlState())) {
      return Future.failedFuture(new io.mailgate.error.OverloadedException("the statistics query ran longer than"
          + " MAILGATE_STATS_QUERY_TIMEOUT; ask for a shorter range, a coarser resolution, or retry later", 5));
    }
    return Future.failedFuture(e);
  }

  /** Counters in [begin, end) at the resolution, grouped, of the given events (all when empty). */
  public Future<List<Count>> counts(UUID tenantId, OffsetDateTime begin, OffsetDateTime end, Resolution res, GroupBy by,
                                    List<String> events) {
    return counts(tenantId, begin, end, res, by, events, null);
  }

  /** The same, of one group only (one sender domain, one tag) when {@code onlyGroup} is not null. */
  public Future<List<Count>> counts(UUID tenantId, OffsetDateTime begin, OffsetDateTime end, Resolution res, GroupBy by,
                                    List<String> events, String onlyGroup) {
    return columns(tenantId, begin, end, res, by, events, onlyGroup).map(CountColumns::toList);
  }

  /**
   * The same as columns, in time order. With a cache, the range's closed part (hours before the mark; for day and
   * month resolution, days before the mark's day) comes from it at the summaries' generation, read first; the rest
   * from the database.
   */
  public Future<CountColumns> columns(UUID tenantId, OffsetDateTime begin, OffsetDateTime end, Resolution res, GroupBy by,
                                      List<String> events, String onlyGroup) {
    if (cache == null) {
      return read(tenantId, begin, end, res, by, events, onlyGroup);
    }
    return token().compose(tok -> {
          OffsetDateTime mark = tok.mark();
          long generation = tok.generation();
          boolean daily = res != Resolution.HOUR;
          Instant closedEnd = mark == null ? Instant.MIN
              : daily ? mark.toInstant().truncatedTo(ChronoUnit.DAYS) : mark.toInstant();
          if (end.toInstant().isBefore(closedEnd)) {
            closedEnd = end.toInstant();
          }
          if (!begin.toInstant().isBefore(closedEnd)) {
            return read(tenantId, begin, end, res, by, events, onlyGroup);
          }
          StatsCache.Key key = new StatsCache.Key(tenantId, by, daily, events.stream().sorted().distinct().toList(), onlyGroup);
          Instant b = begin.toInstant();
          Instant e = closedEnd;
          return closedAndOpen(key, generation, b, e, end.toInstant(), daily ? Resolution.DAY : Resolution.HOUR)
              .map(parts -> merged(parts[0], b, e, parts[1], res));
        });
  }

  /**
   * The slice holding the closed part [begin, closedEnd) and the open part's counters [closedEnd, end), both at the
   * base resolution, in one statement where one will do: all of it when nothing cached touches the range (the
   * slice is then cut from it), what lies after the cached slice (its growth and the open part together), and a
   * second statement only for what a request asks for before the slice. @return {slice's counters, open part}
   */
  private Future<CountColumns[]> closedAndOpen(StatsCache.Key key, long generation, Instant begin, Instant closedEnd,
                                               Instant end, Resolution base) {
    StatsCache.Slice have = cache.get(key, generation);
    if (have == null || closedEnd.isBefore(have.from()) || begin.isAfter(have.to())) {
      cache.missed.increment();
      return readRange(key, begin, end, base).map(rows -> {
        CountColumns closed = rows.between(begin, closedEnd);
        cache.put(key, new StatsCache.Slice(generation, begin, closedEnd, closed));
        return new CountColumns[] {closed, rows.between(closedEnd, end)};
      });
    }
    // the slice's end is at or before the mark; the request's closed part ends at the mark or at its own end
    Instant tail = have.to().isBefore(closedEnd) ? have.to() : closedEnd;
    Future<CountColumns> before = begin.isBefore(have.from()) ? readRange(key, begin, have.from(), base)
        : Future.succeededFuture(CountColumns.EMPTY);
    Future<CountColumns> after = tail.isBefore(end) ? readRange(key, tail, end, base) : Future.succeededFuture(CountColumns.EMPTY);
    return Future.all(before, after).map(x -> {
      CountColumns later = after.result();
      StatsCache.Slice s = have;
      boolean grows = begin.isBefore(have.from()) || closedEnd.isAfter(have.to());
      (grows ? cache.grown : cache.covered).increment();
      if (grows) {
        s = have.spliced(before.result(), closedEnd.isAfter(have.to()) ? later.between(have.to(), closedEnd) : CountColumns.EMPTY,
            begin.isBefore(have.from()) ? begin : have.from(), closedEnd.isAfter(have.to()) ? closedEnd : have.to());
        cache.put(key, s);
      }
      return new CountColumns[] {s.counts(), later.between(closedEnd, end)};
    });
  }

  private Future<CountColumns> readRange(StatsCache.Key key, Instant begin, Instant end, Resolution base) {
    return read(key.tenant(), OffsetDateTime.ofInstant(begin, ZoneOffset.UTC), OffsetDateTime.ofInstant(end, ZoneOffset.UTC),
        base, key.by(), key.events(), key.onlyGroup());
  }

  /**
   * The closed part's counters of [begin, end) followed by the open part's, both at the base resolution (for month
   * resolution the days are summed into their months), in time order.
   */
  private static CountColumns merged(CountColumns closed, Instant begin, Instant end, CountColumns open, Resolution res) {
    int lo = closed.lowerBound(begin.getEpochSecond());
    int hi = closed.lowerBound(end.getEpochSecond());
    CountColumns both = new CountColumns(hi - lo + open.size()).append(closed, lo, hi).append(open, 0, open.size());
    if (res != Resolution.MONTH) {
      return both;
    }
    record K(long t, String g, String event, String severity) {}
    Map<K, long[]> sums = new java.util.LinkedHashMap<>();
    // the closed days, then the open ones: their months come in time order
    for (int i = 0; i < both.size(); i++) {
      long month = OffsetDateTime.ofInstant(Instant.ofEpochSecond(both.time(i)), ZoneOffset.UTC)
          .truncatedTo(ChronoUnit.DAYS).withDayOfMonth(1).toEpochSecond();
      sums.computeIfAbsent(new K(month, both.group(i), both.event(i), both.severity(i)), k -> new long[1])[0] += both.n(i);
    }
    CountColumns out = new CountColumns(sums.size());
    sums.forEach((k, n) -> out.add(k.t(), k.g(), k.event(), k.severity(), n[0]));
    return out;
  }

  /** Counters in [begin, end) from the database, in time order. */
  private Future<CountColumns> read(UUID tenantId, OffsetDateTime begin, OffsetDateTime end, Resolution res, GroupBy by,
                                    List<String> events, String onlyGroup) {
    boolean daily = res != Resolution.HOUR;
    Tuple args = Tuple.of(begin, end);
    String tenant = null;
    if (tenantId != null) {
      args.addValue(tenantId);
      tenant = "$3::uuid";
    }
    String bucket = switch (res) {
      case HOUR -> "s.t";
      case DAY -> "date_trunc('day', s.t, 'UTC')";
      case MONTH -> "date_trunc('month', s.t, 'UTC')";
    };
    String join = by == GroupBy.BACKEND ? " LEFT JOIN backends b ON b.id = s.g::uuid"
        : by == GroupBy.TENANT ? " LEFT JOIN tenants t ON t.id = s.tenant_id" : "";
    List<String> where = new ArrayList<>();
    if (!events.isEmpty()) {
      args.addValue(events.toArray(String[]::new));
      where.add("s.event = ANY($" + args.size() + "::text[])");
    }
    if (onlyGroup != null) {
      args.addValue(onlyGroup);
      where.add("s.g = $" + args.size());
    }
    String filter = where.isEmpty() ? "" : " WHERE " + String.join(" AND ", where);
    // A summary at the resolution asked for is already one row per key of a tenant: its rows are taken as they are
    // (summing them again was ~60 % of a week by hour and recipient domain: 85 ms against 18 ms for its 27,000 rows,
    // measured on the busiest of StatsBench's tenants). The other parts are summed. A key may then come in more
    // than one row (a tenant's name shared, a bucket on both sides of the mark): every reader sums by key.
    List<String> selects = new ArrayList<>();
    for (Part part : parts(by.dim, daily, tenant, "$1::timestamptz", "$2::timestamptz")) {
      boolean asIs = part.uniqueAt() == res && (tenantId != null || by == GroupBy.TENANT);
      selects.add("SELECT " + bucket + " AS t, " + by.expr + " AS g, s.event, s.severity, "
          + (asIs ? "s.n" : "sum(s.n)::bigint") + " AS n FROM (" + part.sql() + ") s" + join + filter
          + (asIs ? "" : " GROUP BY 1, 2, 3, 4"));
    }
    // in time order only: the answers order groups themselves
    String sql = "SELECT * FROM (" + String.join(" UNION ALL ", selects) + ") x ORDER BY 1";
    return pool.preparedQuery(sql).collecting(CountColumns.COLLECTOR).execute(args)
        .recover(StatsStore::timedOut).map(io.vertx.sqlclient.SqlResult::value);
  }

  /** Totals per sender domain (and per tenant when {@code tenantId} is null) of the hours since {@code since}. */
  public Future<List<Window>> window(UUID tenantId, OffsetDateTime since) {
    OffsetDateTime end = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.HOURS).plusHours(1);
    String sql = "SELECT s.tenant_id, s.g, s.event, s.severity, sum(s.n)::bigint AS n FROM ("
        + source('s', false, tenantId == null ? null : "$3::uuid", "$1::timestamptz", "$2::timestamptz") + ") s GROUP BY 1, 2, 3, 4";
    Tuple args = tenantId == null ? Tuple.of(since, end) : Tuple.of(since, end, tenantId);
    return pool.preparedQuery(sql).execute(args).recover(StatsStore::timedOut).map(rows -> {
      List<Window> out = new ArrayList<>(rows.size());
      for (Row r : rows) {
        out.add(new Window(r.getUUID(0), r.getString(1), r.getString(2), r.getString(3), r.getLong(4)));
      }
      return out;
    });
  }

  /**
   * The 7- and 30-day windows (today included) from one pass over the days: per tenant and sender domain, the sums
   * since {@code week} ({@code n7}) and since {@code month} ({@code n30}).
   */
  public Future<List<Window[]>> weekAndMonth(UUID tenantId, LocalDate week, LocalDate month) {
    OffsetDateTime from = month.atStartOfDay().atOffset(ZoneOffset.UTC);
    OffsetDateTime until = LocalDate.now(ZoneOffset.UTC).plusDays(1).atStartOfDay().atOffset(ZoneOffset.UTC);
    String sql = "SELECT s.tenant_id, s.g, s.event, s.severity, (sum(s.n) FILTER (WHERE s.t >= $3::timestamptz))::bigint AS n7,"
        + " sum(s.n)::bigint AS n30 FROM (" + source('s', true, tenantId == null ? null : "$4::uuid", "$1::timestamptz",
        "$2::timestamptz") + ") s GROUP BY 1, 2, 3, 4";
    Tuple args = Tuple.of(from, until, week.atStartOfDay().atOffset(ZoneOffset.UTC));
    if (tenantId != null) {
      args.addValue(tenantId);
    }
    return pool.preparedQuery(sql).execute(args).recover(StatsStore::timedOut).map(rows -> {
      List<Window[]> out = new ArrayList<>(rows.size());
      for (Row r : rows) {
        Long n7 = r.getLong("n7");
        out.add(new Window[] {
            new Window(r.getUUID(0), r.getString(1), r.getString(2), r.getString(3), n7 == null ? 0 : n7),
            new Window(r.getUUID(0), r.getString(1), r.getString(2), r.getString(3), r.getLong("n30"))});
      }
      return out;
    });
  }

  // Folding a closed period's shards into shard 0. The shards are there so that concurrent writers of the open hour
  // and day do not queue on one row's lock; once the period is over nobody writes it (a writer counts into the hour
  // and day of its statement's now()), and its rows are read many times. A writer that commits into the period after
  // the fold (its statement began before the hour ended) adds a shard row again (writers never write shard 0:
  // EventSql.SHARD), folded at the next pass. Rows are looked up tenant by tenant (the keys lead with the tenant).
  private static final String FOLD = """
      WITH gone AS (
        DELETE FROM TABLE s WHERE s.tenant_id IN (SELECT id FROM tenants) AND s.TIME = $1 AND s.shard <> 0
        RETURNING KEYS, s.n
      ), folded AS (
        INSERT INTO TABLE AS s (KEYS_PLAIN, shard, n)
        SELECT KEYS_PLAIN, 0, sum(n) FROM gone GROUP BY GROUPS ORDER BY GROUPS
        ON CONFLICT (KEYS_PLAIN, shard) DO UPDATE SET n = s.n + excluded.n
      )""";

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

  // Summarizing, in the statement that folds the hour. An hour not summarized yet (at the mark) is summarized whole:
  // its rows as the statement found them, whose sums the fold does not change. An hour summarized before gets what
  // the fold moved: rows that late writers added since. Hourly summaries of the dimensions in HOURLY_DIMS, daily
  // ones (the hour's day) of all of them.
  private static final String SUMMARIZE = """
      , src AS (SOURCE
      ), dims AS (
        SELECT x.tenant_id, d.dim, d.grp, x.event, x.severity, sum(x.n) AS n FROM src x
        CROSS JOIN LATERAL (VALUES DIMS) AS d(dim, grp)
        GROUP BY 1, 2, 3, 4, 5
      ), hourly AS (
        INSERT INTO stats_summary_hourly AS s (tenant_id, dim, hour, grp, event, severity, n)
        SELECT tenant_id, dim, $1, grp, event, severity, n FROM dims WHERE dim <> 't'
        ORDER BY 1, 2, 4, 5, 6
        ON CONFLICT (tenant_id, dim, hour, grp, event, severity) DO UPDATE SET n = s.n + excluded.n
      ), daily AS (
        INSERT INTO stats_summary_daily AS s (tenant_id, dim, day, grp, event, severity, n)
        SELECT tenant_id, dim, ($1::timestamptz AT TIME ZONE 'UTC')::date, grp, event, severity, n FROM dims
        ORDER BY 1, 2, 4, 5, 6
        ON CONFLICT (tenant_id, dim, day, grp, event, severity) DO UPDATE SET n = s.n + excluded.n
      )
      SELECT count(*) FROM gone""";

  private static final String DOMAIN_DIMS = "('n'::\"char\", ''::text), ('b', x.backend_id::text), ('s', x.sender_domain),"
      + " ('r', x.recipient_domain)";

  private static String foldAndSummarize(boolean whole, boolean tags) {
    String fold = tags
        ? fold("stats_tags_hourly", "hour", "tenant_id", "hour", "tag", "event", "severity")
        : fold("stats_hourly", "hour", "tenant_id", "hour", "backend_id", "sender_domain", "recipient_domain", "event", "severity");
    String columns = tags ? "tenant_id, tag, event, severity, n" : "tenant_id, backend_id, sender_domain, recipient_domain, event, severity, n";
    String source = whole
        ? "SELECT " + columns + " FROM " + (tags ? "stats_tags_hourly" : "stats_hourly")
            + " WHERE tenant_id IN (SELECT id FROM tenants) AND hour = $1"
        : "SELECT " + columns + " FROM gone";
    String dims = tags ? "('t'::\"char\", x.tag)" : DOMAIN_DIMS;
    return fold + SUMMARIZE.replace("SOURCE", source).replace("DIMS", dims);
  }

  private static final String FOLD_HOUR_WHOLE = foldAndSummarize(true, false);
  private static final String FOLD_HOUR_LATE = foldAndSummarize(false, false);
  private static final String FOLD_TAGS_WHOLE = foldAndSummarize(true, true);
  private static final String FOLD_TAGS_LATE = foldAndSummarize(false, true);
  private static final String FOLD_DAILY = fold("stats_daily", "day", "tenant_id", "day", "backend_id", "sender_domain",
      "recipient_domain", "event", "severity") + " SELECT count(*) FROM gone";

  /** The mark: hours before it are summarized; null when none is. */
  public Future<OffsetDateTime> summarizedUntil() {
    return pool.query("SELECT hours_until FROM stats_summarized").execute()
        .map(rows -> rows.iterator().next().getOffsetDateTime(0));
  }

  /**
   * Folds the shards of a closed hour (hourly and per-tag counters) and summarizes it: whole when it is the first hour
   * not summarized (the mark, or any hour when none is; the mark then moves past it), else what late writers added
   * to it. The mark's row is locked for the transaction, so processes folding at once summarize an hour once.
   * Fails for an hour after the mark (it would leave a gap). @return the shard rows folded
   */
  public Future<Integer> foldHour(OffsetDateTime hour) {
    return pool.withTransaction(c -> c.query("SELECT hours_until FROM stats_summarized FOR UPDATE").execute().compose(rows -> {
      OffsetDateTime mark = rows.iterator().next().getOffsetDateTime(0);
      if (mark != null && hour.isAfter(mark)) {
        return Future.failedFuture(new IllegalStateException("hour " + hour + " is after the summaries' mark " + mark));
      }
      boolean whole = mark == null || !hour.isBefore(mark);
      Tuple at = Tuple.of(hour);
      Future<Integer> folded = c.preparedQuery(whole ? FOLD_HOUR_WHOLE : FOLD_HOUR_LATE).execute(at)
          .compose(a -> c.preparedQuery(whole ? FOLD_TAGS_WHOLE : FOLD_TAGS_LATE).execute(at)
              .map(b -> (int) (a.iterator().next().getLong(0) + b.iterator().next().getLong(0))));
      if (!whole) {
        // late writers' rows added to a summarized hour: the cached closed parts read before are stale
        return folded.compose(n -> n == 0 ? Future.succeededFuture(0)
            : c.query("UPDATE stats_summarized SET generation = generation + 1").execute().map(n));
      }
      return folded.compose(n -> c.preparedQuery("UPDATE stats_summarized SET hours_until = $1")
          .execute(Tuple.of(hour.plusHours(1))).map(n));
    }));
  }

  /** Folds the shards of a closed UTC day. @return the folded rows written */
  public Future<Integer> foldDay(LocalDate day) {
    return pool.preparedQuery(FOLD_DAILY).execute(Tuple.of(day)).map(r -> r.iterator().next().getLong(0).intValue());
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

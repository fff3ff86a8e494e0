package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import java.util.HashMap;
import java.util.Map;

/**
 * The figures behind the gauges of {@code /metrics}, read without scanning history: the open work from the open
 * chunks alone (the partial index {@code chunks_open} holds only chunks not done, so the cost follows the queue, not
 * the jobs ever sent), and today's events from the daily counters (index {@code stats_daily_by_day}).
 */
public final class GaugeStore {

  /** Open work: jobs with an open chunk by state, their recipients not yet final by state, chunks due now. */
  public record Queue(Map<String, Long> jobs, Map<String, Long> recipients, long readyChunks) {}

  private static final String OPEN_JOBS = """
      SELECT j.state, count(*) FROM jobs j
      WHERE j.id IN (SELECT c.job_id FROM chunks c WHERE c.state <> 'done')
      GROUP BY j.state""";

  private static final String OPEN_RECIPIENTS = """
      SELECT coalesce(sum(c.n_queued), 0), coalesce(sum(c.n_sending), 0), coalesce(sum(c.n_deferred), 0),
             count(*) FILTER (WHERE c.state = 'ready' AND c.not_before <= now())
      FROM chunks c WHERE c.state <> 'done'""";

  private static final String EVENTS_TODAY = """
      SELECT event, severity, sum(n)::bigint FROM stats_daily WHERE day = (now() AT TIME ZONE 'UTC')::date GROUP BY 1, 2""";

  private final Pool pool;

  public GaugeStore(Pool pool) {
    this.pool = pool;
  }

  public Future<Queue> queue() {
    Future<Map<String, Long>> jobs = pool.query(OPEN_JOBS).execute().map(rows -> {
      Map<String, Long> m = new HashMap<>();
      for (Row r : rows) {
        m.put(r.getString(0), r.getLong(1));
      }
      return m;
    });
    return jobs.compose(j -> pool.query(OPEN_RECIPIENTS).execute().map(rows -> {
      Row r = rows.iterator().next();
      return new Queue(j, Map.of("queued", r.getLong(0), "sending", r.getLong(1), "deferred", r.getLong(2)), r.getLong(3));
    }));
  }

  /** Events of the current UTC day across the gateway, by type and severity ("" for none). */
  public Future<Map<String, Map<String, Long>>> eventsToday() {
    return pool.query(EVENTS_TODAY).execute().map(rows -> {
      Map<String, Map<String, Long>> m = new HashMap<>();
      for (Row r : rows) {
        m.computeIfAbsent(r.getString(0), x -> new HashMap<>()).put(r.getString(1), r.getLong(2));
      }
      return m;
    });
  }
}

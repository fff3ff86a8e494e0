package io.mailgate.stats;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads jobs and recipients by state and the queue depth from the database every interval into the gauges, so a
 * scrape of {@code /metrics} costs no query. Recipient counts come from the chunks' counters, not a table scan.
 */
public final class StatsRefresher extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(StatsRefresher.class);

  private final Pool pool;
  private final GatewayMetrics metrics;
  private final Duration interval;
  private long timer;

  public StatsRefresher(Pool pool, GatewayMetrics metrics, Duration interval) {
    this.pool = pool;
    this.metrics = metrics;
    this.interval = interval;
  }

  @Override
  public Future<?> start() {
    timer = vertx.setPeriodic(1, interval.toMillis(), id -> refresh());
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    return Future.succeededFuture();
  }

  private void refresh() {
    pool.query("SELECT state, count(*) FROM jobs GROUP BY state").execute()
        .onSuccess(rows -> {
          Map<String, Long> m = new HashMap<>();
          for (Row r : rows) {
            m.put(r.getString(0), r.getLong(1));
          }
          metrics.jobsByState(m);
        })
        .compose(v -> pool.query("""
            SELECT coalesce(sum(n_queued), 0), coalesce(sum(n_sending), 0), coalesce(sum(n_sent), 0),
                   coalesce(sum(n_deferred), 0), coalesce(sum(n_failed), 0), coalesce(sum(n_cancelled), 0), coalesce(sum(n_expired), 0),
                   coalesce(sum(n_suppressed), 0), count(*) FILTER (WHERE state = 'ready' AND not_before <= now())
            FROM chunks""").execute())
        .onSuccess(rows -> {
          Row r = rows.iterator().next();
          Map<String, Long> m = new HashMap<>();
          String[] states = GatewayMetrics.RECIPIENT_STATES;
          for (int i = 0; i < states.length; i++) {
            m.put(states[i], r.getLong(i));
          }
          metrics.recipientsByState(m);
          metrics.readyChunks(r.getLong(8));
        })
        .onFailure(e -> LOG.atDebug().addKeyValue("error", e.getMessage()).log("stats refresh failed"));
  }
}

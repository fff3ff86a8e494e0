package io.mailgate.stats;

import io.mailgate.store.GaugeStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the open work (jobs, recipients not yet final, chunks due) and today's events from the database every
 * interval into the gauges, so a scrape of {@code /metrics} costs no query. Neither read scans history
 * ({@link GaugeStore}).
 */
public final class StatsRefresher extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(StatsRefresher.class);

  private final GaugeStore store;
  private final GatewayMetrics metrics;
  private final Duration interval;
  private long timer;

  public StatsRefresher(Pool pool, GatewayMetrics metrics, Duration interval) {
    this.store = new GaugeStore(pool);
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
    store.queue()
        .onSuccess(q -> {
          metrics.jobsByState(q.jobs());
          metrics.recipientsByState(q.recipients());
          metrics.readyChunks(q.readyChunks());
        })
        .compose(v -> store.eventsToday())
        .onSuccess(metrics::eventsToday)
        .onFailure(e -> LOG.atDebug().addKeyValue("error", e.getMessage()).log("stats refresh failed"));
  }
}

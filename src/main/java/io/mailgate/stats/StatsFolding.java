package io.mailgate.stats;

import io.mailgate.store.StatsStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import java.time.Duration;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Folds the counters' shards of hours and days that are over into one row per key, and summarizes each closed hour
 * per dimension ({@link StatsStore#foldHour}), so the statistics read a few rows per group instead of one per key and
 * writing connection. At start it folds everything since
 * the first counted day (in the background: the gateway serves meanwhile), then every {@code interval} the periods
 * closed since, from a day back (a writer may commit into an hour just over). An hour is folded once it is an hour
 * old, a day once it is an hour into the next.
 */
public final class StatsFolding extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(StatsFolding.class);

  private final StatsStore stats;
  private final Duration interval;
  private long timer = -1;
  private boolean running;
  /** Hours before this one are folded (null: not yet known). */
  private OffsetDateTime foldedUntil;

  public StatsFolding(StatsStore stats, Duration interval) {
    this.stats = stats;
    this.interval = interval;
  }

  @Override
  public Future<?> start() {
    pass();
    timer = vertx.setPeriodic(interval.toMillis(), id -> pass());
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
    return Future.succeededFuture();
  }

  /** One pass; failures are logged and the pass is tried again at the next interval. */
  Future<Void> pass() {
    if (running) {
      return Future.succeededFuture();
    }
    running = true;
    OffsetDateTime closedBefore = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.HOURS).minusHours(1);
    // from a day back (late writers), or from the first counted day; and never after the summaries' mark, so that
    // every hour is summarized in order
    Future<OffsetDateTime> counted = foldedUntil != null ? Future.succeededFuture(foldedUntil.minusDays(1))
        : stats.firstCountedDay().map(d -> d == null ? closedBefore : d.atStartOfDay().atOffset(ZoneOffset.UTC));
    Future<OffsetDateTime> mark = stats.summarizedUntil();
    long t0 = System.nanoTime();
    int[] folded = {0};
    return Future.all(counted, mark).map(v -> {
          OffsetDateTime f = counted.result();
          OffsetDateTime m = mark.result();
          return m != null && m.isBefore(f) ? m : f;
        })
        .compose(f -> hours(f, closedBefore, mark.result(), folded))
        .onSuccess(v -> {
          foldedUntil = closedBefore;
          if (folded[0] > 0) {
            LOG.atInfo().addKeyValue("rows", folded[0]).addKeyValue("ms", (System.nanoTime() - t0) / 1_000_000)
                .log("statistics of closed hours and days folded");
          }
        })
        .recover(e -> {
          LOG.atWarn().addKeyValue("error", e.getMessage()).log("folding statistics failed; trying again later");
          return Future.succeededFuture();
        })
        .eventually(() -> {
          running = false;
          return Future.succeededFuture();
        });
  }

  /**
   * The hours in [from, until), one transaction each, and each day once its last hour is folded; {@code mark} is
   * the summaries' mark when the pass began.
   */
  private Future<Void> hours(OffsetDateTime from, OffsetDateTime until, OffsetDateTime mark, int[] folded) {
    if (!from.isBefore(until)) {
      return Future.succeededFuture();
    }
    OffsetDateTime nextDay = from.plusDays(1);
    if (from.getHour() == 0 && !nextDay.isAfter(until) && mark != null && !nextDay.isAfter(mark)) {
      // a whole closed and summarized day: a day is folded after its hours, so a day without shard rows has none in
      // its hours either (a late writer of one of its hours writes the day too)
      LocalDate day = from.toLocalDate();
      return stats.dayHasShards(day).compose(has -> has ? hour(from, until, mark, folded) : hours(nextDay, until, mark, folded));
    }
    return hour(from, until, mark, folded);
  }

  private Future<Void> hour(OffsetDateTime from, OffsetDateTime until, OffsetDateTime mark, int[] folded) {
    Future<Void> step = stats.foldHour(from).map(n -> {
      folded[0] += n;
      return null;
    });
    OffsetDateTime next = from.plusHours(1);
    if (next.getHour() == 0) {
      LocalDate day = from.toLocalDate();
      step = step.compose(v -> stats.foldDay(day)).map(n -> {
        folded[0] += n;
        return null;
      });
    }
    return step.compose(v -> hours(next, until, mark, folded));
  }
}

package io.mailgate.backend;

import org.junit.jupiter.api.Timeout;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The token bucket: immediate within the burst, paced after it, fair to waiters in order, batches in debt. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RateLimiterTest {

  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  /** Runs {@code n} acquisitions of {@code size} on one event loop; returns the nanoTime of each grant. */
  private List<Long> grants(double rate, int n, int size) throws Exception {
    CompletableFuture<List<Long>> out = new CompletableFuture<>();
    var ctx = vertx.getOrCreateContext();
    ctx.runOnContext(v -> {
      RateLimiter limiter = new RateLimiter(ctx, rate);
      List<Long> times = new ArrayList<>();
      List<Future<Void>> all = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        all.add(limiter.acquire(size).onSuccess(x -> times.add(System.nanoTime())));
      }
      Future.all(all).onComplete(ar -> out.complete(times));
    });
    return out.get(30, TimeUnit.SECONDS);
  }

  @Test
  void grantsEveryRequestAtTheConfiguredAverageRate() throws Exception {
    List<Long> t = grants(50, 30, 1);
    assertEquals(30, t.size());
    double seconds = (t.get(t.size() - 1) - t.get(0)) / 1e9;
    // 30 permits at 50/s with a burst of 5: at least 25 / 50 s; a lower bound only
    assertTrue(seconds >= 0.45, "took only " + seconds + " s");
  }

  @Test
  void unlimitedGrantsAtOnce() throws Exception {
    List<Long> t = grants(0, 1000, 1);
    assertEquals(1000, t.size());
  }

  @Test
  void batchesLargerThanTheBurstGoOneAfterAnotherAtTheAverageRate() throws Exception {
    List<Long> t = grants(100, 4, 50);
    assertEquals(4, t.size());
    double seconds = (t.get(3) - t.get(0)) / 1e9;
    // 200 messages at 100/s, the first batch at once: at least ~1.5 s until the fourth batch
    assertTrue(seconds >= 1.3, "took only " + seconds + " s");
  }
}

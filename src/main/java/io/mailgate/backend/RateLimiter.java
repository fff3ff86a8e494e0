package io.mailgate.backend;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayDeque;

/**
 * A token bucket for messages per second, for one backend in one process. Waiters are served in order from a
 * timer, never by spinning. Not thread-safe: used from the dispatcher's event loop only.
 */
public final class RateLimiter {

  private final Context context;
  private final double ratePerNano;
  private final double capacity;
  private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
  private double tokens;
  private long last;
  private boolean timerSet;

  /** @param ratePerSecond messages per second; 0 or less means unlimited */
  public RateLimiter(Context context, double ratePerSecond) {
    this.context = context;
    this.ratePerNano = ratePerSecond / 1e9;
    // a tenth of a second of burst, at least one message
    this.capacity = Math.max(1.0, ratePerSecond / 10.0);
    this.tokens = capacity;
    this.last = System.nanoTime();
  }

  public double ratePerSecond() {
    return ratePerNano * 1e9;
  }

  public boolean unlimited() {
    return ratePerNano <= 0;
  }

  public Future<Void> acquire() {
    return acquire(1);
  }

  /**
   * Permission to send {@code n} messages. A batch larger than the bucket may go when the bucket is full and
   * leaves it in debt, so the average rate holds for batches of any size.
   */
  public Future<Void> acquire(int n) {
    if (unlimited()) {
      return Future.succeededFuture();
    }
    refill();
    double need = Math.min(n, capacity);
    if (waiters.isEmpty() && tokens >= need) {
      tokens -= n;
      return Future.succeededFuture();
    }
    Promise<Void> p = Promise.promise();
    waiters.add(new Waiter(p, n));
    schedule();
    return p.future();
  }

  private record Waiter(Promise<Void> promise, int n) {}

  private void refill() {
    long now = System.nanoTime();
    tokens = Math.min(capacity, tokens + (now - last) * ratePerNano);
    last = now;
  }

  private void schedule() {
    if (timerSet || waiters.isEmpty()) {
      return;
    }
    double missing = Math.max(0, Math.min(waiters.peek().n(), capacity) - tokens);
    long delayMs = Math.max(1, (long) Math.ceil(missing / ratePerNano / 1e6));
    timerSet = true;
    context.owner().setTimer(delayMs, id -> context.runOnContext(v -> {
      timerSet = false;
      refill();
      while (!waiters.isEmpty() && tokens >= Math.min(waiters.peek().n(), capacity)) {
        Waiter w = waiters.poll();
        tokens -= w.n();
        w.promise().complete();
      }
      schedule();
    }));
  }
}

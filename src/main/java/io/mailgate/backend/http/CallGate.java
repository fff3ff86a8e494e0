package io.mailgate.backend.http;

import io.mailgate.backend.Outcome;
import io.mailgate.backend.RateLimiter;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.time.Duration;
import java.util.ArrayDeque;

/**
 * One provider backend's admission of API calls in this dispatcher: at most {@code maxConcurrentCalls} in flight
 * (waiters served in order), {@code ratePerSecond} messages per second, and no call at all while the provider's
 * last 429 Retry-After runs. Shared by all deliveries of the backend instance; used from its event loop only.
 */
public final class CallGate {

  private final int maxCalls;
  private final RateLimiter rate;
  private final ArrayDeque<Promise<Void>> waiting = new ArrayDeque<>();
  private int inFlight;
  private long throttledUntil;
  private Outcome.Temporary throttle;

  public CallGate(Context context, int maxConcurrentCalls, double ratePerSecond) {
    this.maxCalls = Math.max(1, maxConcurrentCalls);
    this.rate = new RateLimiter(context, ratePerSecond);
  }

  /**
   * Completes when a call of {@code messages} messages may start: a call slot first, then the rate's tokens; the
   * caller must {@link #release()} after it.
   */
  public Future<Void> acquire(int messages) {
    Future<Void> slot;
    if (inFlight < maxCalls && waiting.isEmpty()) {
      inFlight++;
      slot = Future.succeededFuture();
    } else {
      Promise<Void> p = Promise.promise();
      waiting.add(p);
      slot = p.future();
    }
    return slot.compose(v -> rate.acquire(messages));
  }

  public void release() {
    Promise<Void> next = waiting.poll();
    if (next != null) {
      next.complete(); // the slot passes to the next waiter
    } else {
      inFlight--;
    }
  }

  /** The provider answered 429 with a Retry-After: calls wait that long, whichever delivery they belong to. */
  public void throttled(Outcome.Temporary outcome) {
    if (outcome.retryAfter() != null && !outcome.retryAfter().isZero()) {
      throttledUntil = System.nanoTime() + outcome.retryAfter().toNanos();
      throttle = outcome;
    }
  }

  /** While a Retry-After runs: the outcome for a call not made, with the time left; otherwise null. */
  public Outcome.Temporary throttledNow() {
    if (throttle == null) {
      return null;
    }
    long left = throttledUntil - System.nanoTime();
    if (left <= 0) {
      throttle = null;
      return null;
    }
    return new Outcome.Temporary(throttle.code(), throttle.message(), Duration.ofNanos(left), false, throttle.fault());
  }
}

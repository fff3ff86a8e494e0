package io.mailgate.dispatch;

import io.mailgate.config.GatewayConfig.RetryConfig;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.concurrent.ThreadLocalRandom;

/**
 * When to try a temporarily failed recipient again: {@code base * 2^(attempt-1)}, capped at {@code maxDelay},
 * shortened by up to {@code jitter} so retries of one outage do not arrive together, never sooner than the backend's
 * Retry-After. Gives up after {@code maxAttempts} or once the job is older than {@code maxAge}.
 */
public final class RetryPolicy {

  /** Retry after {@code delay}, or give up ({@code delay == null}) for {@code reason}. */
  public record Decision(Duration delay, String reason) {
    public boolean giveUp() {
      return delay == null;
    }
  }

  private final RetryConfig config;

  public RetryPolicy(RetryConfig config) {
    this.config = config;
  }

  public Decision next(int attempt, Duration retryAfter, OffsetDateTime jobCreated, OffsetDateTime now) {
    return next(attempt, retryAfter, jobCreated, now, true);
  }

  /**
   * @param mayGiveUp false for failures that say nothing about the recipient and must never fail it (the backend
   *     refusing our credentials, or asking us to slow down): retried until an operator acts or cancels
   */
  public Decision next(int attempt, Duration retryAfter, OffsetDateTime jobCreated, OffsetDateTime now, boolean mayGiveUp) {
    return next(attempt, retryAfter, jobCreated, now, mayGiveUp, ThreadLocalRandom.current().nextLong());
  }

  /**
   * @param jitterSeed recipients given the same seed get the same delay: the dispatcher passes one per chunk and
   *     attempt, so a provider batch that failed as a whole is retried as a whole, not scattered over many calls
   */
  public Decision next(int attempt, Duration retryAfter, OffsetDateTime jobCreated, OffsetDateTime now, boolean mayGiveUp,
                       long jitterSeed) {
    if (!mayGiveUp) {
      Duration d = backoff(attempt, jitterSeed);
      return new Decision(retryAfter != null && retryAfter.compareTo(d) > 0 ? retryAfter : d, null);
    }
    if (attempt >= config.maxAttempts()) {
      return new Decision(null, "gave up after " + attempt + " attempts");
    }
    Duration delay = backoff(attempt, jitterSeed);
    if (retryAfter != null && retryAfter.compareTo(delay) > 0) {
      delay = retryAfter;
    }
    if (now.plus(delay).isAfter(jobCreated.plus(config.maxAge()))) {
      return new Decision(null, "gave up: the job is older than " + config.maxAge().toMinutes() + " minutes at the next attempt");
    }
    return new Decision(delay, null);
  }

  Duration backoff(int attempt) {
    return backoff(attempt, ThreadLocalRandom.current().nextLong());
  }

  Duration backoff(int attempt, long jitterSeed) {
    double base = config.baseDelay().toMillis() * Math.pow(2, Math.max(0, attempt - 1));
    double capped = Math.min(base, config.maxDelay().toMillis());
    // jitter only shortens, so maxDelay stays a true cap and retries of one outage still spread out
    double spread = 1 - config.jitter() * new java.util.SplittableRandom(jitterSeed).nextDouble();
    return Duration.ofMillis(Math.max(1, Math.round(capped * spread)));
  }
}

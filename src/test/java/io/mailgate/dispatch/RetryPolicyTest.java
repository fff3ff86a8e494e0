package io.mailgate.dispatch;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.config.GatewayConfig;
import io.mailgate.config.GatewayConfig.RetryConfig;
import io.mailgate.dispatch.RetryPolicy.Decision;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Map;
import org.junit.jupiter.api.Test;

@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RetryPolicyTest {

  private static final OffsetDateTime NOW = OffsetDateTime.of(2026, 11, 29, 12, 0, 0, 0, ZoneOffset.UTC);
  private static final Duration BASE = Duration.ofMinutes(1);
  private static final Duration MAX_DELAY = Duration.ofHours(1);
  private static final Duration MAX_AGE = Duration.ofHours(8);

  private static RetryPolicy policy(double jitter) {
    return new RetryPolicy(new RetryConfig(BASE, MAX_DELAY, 10, MAX_AGE, jitter));
  }

  private static final RetryPolicy EXACT = policy(0);

  @Test
  void backoffDoublesWithEachAttempt() {
    assertEquals(Duration.ofMinutes(1), EXACT.backoff(1));
    assertEquals(Duration.ofMinutes(2), EXACT.backoff(2));
    assertEquals(Duration.ofMinutes(4), EXACT.backoff(3));
    assertEquals(Duration.ofMinutes(8), EXACT.backoff(4));
    assertEquals(Duration.ofMinutes(32), EXACT.backoff(6));
  }

  @Test
  void backoffIsCappedAtMaxDelay() {
    assertEquals(MAX_DELAY, EXACT.backoff(7));
    assertEquals(MAX_DELAY, EXACT.backoff(64));
    assertEquals(MAX_DELAY, EXACT.backoff(Integer.MAX_VALUE));
  }

  @Test
  void attemptZeroBacksOffLikeTheFirst() {
    assertEquals(BASE, EXACT.backoff(0));
  }

  @Test
  void jitterOnlyShortensByUpToHalfAndActuallySpreads() {
    RetryPolicy jittered = policy(0.5);
    for (int attempt = 1; attempt <= 12; attempt++) {
      long nominal = EXACT.backoff(attempt).toMillis();
      long min = Long.MAX_VALUE;
      long max = 0;
      for (int i = 0; i < 1000; i++) {
        long d = jittered.backoff(attempt).toMillis();
        assertTrue(d >= nominal / 2 && d <= nominal, "attempt " + attempt + ": " + d + " ms for nominal " + nominal);
        min = Math.min(min, d);
        max = Math.max(max, d);
      }
      // 1000 uniform draws all in one half of [nominal/2, nominal]: probability 2 * 0.5^1000
      assertTrue(min < nominal * 0.7 && max > nominal * 0.8, "attempt " + attempt + " spread " + min + ".." + max);
    }
  }

  @Test
  void defaultConfigHasHalfJitter() {
    RetryConfig defaults = GatewayConfig.from(Map.of()).retry();
    assertEquals(0.5, defaults.jitter());
    RetryPolicy p = new RetryPolicy(defaults);
    for (int i = 0; i < 200; i++) {
      long d = p.backoff(1).toMillis();
      assertTrue(d >= 30_000 && d <= 60_000, d + " ms");
    }
  }

  @Test
  void retriesWithBackoffWhileAttemptsAndAgeAllow() {
    Decision d = EXACT.next(3, null, NOW.minusMinutes(10), NOW);
    assertFalse(d.giveUp());
    assertEquals(Duration.ofMinutes(4), d.delay());
    assertNull(d.reason());
  }

  @Test
  void honoursRetryAfterLongerThanBackoff() {
    assertEquals(Duration.ofMinutes(10), EXACT.next(1, Duration.ofMinutes(10), NOW, NOW).delay());
  }

  @Test
  void ignoresRetryAfterShorterThanBackoff() {
    assertEquals(Duration.ofMinutes(4), EXACT.next(3, Duration.ofSeconds(5), NOW, NOW).delay());
  }

  @Test
  void honoursRetryAfterBeyondMaxDelay() {
    assertEquals(Duration.ofHours(2), EXACT.next(9, Duration.ofHours(2), NOW, NOW).delay());
  }

  @Test
  void givesUpAtMaxAttempts() {
    assertFalse(EXACT.next(9, null, NOW, NOW).giveUp());
    Decision d = EXACT.next(10, null, NOW, NOW);
    assertTrue(d.giveUp());
    assertNull(d.delay());
    assertEquals("gave up after 10 attempts", d.reason());
    assertTrue(EXACT.next(11, null, NOW, NOW).giveUp());
  }

  @Test
  void givesUpWhenTheNextAttemptWouldPassMaxAge() {
    // attempt 1 waits one minute: due exactly at the job's max age is still allowed
    assertFalse(EXACT.next(1, null, NOW.minus(MAX_AGE).plusMinutes(1), NOW).giveUp());
    Decision d = EXACT.next(1, null, NOW.minus(MAX_AGE).plusSeconds(59), NOW);
    assertTrue(d.giveUp());
    assertTrue(d.reason().contains("older than 480 minutes"), d.reason());
  }

  @Test
  void givesUpWhenRetryAfterWouldPassMaxAge() {
    OffsetDateTime created = NOW.minusHours(7);
    assertFalse(EXACT.next(1, Duration.ofMinutes(30), created, NOW).giveUp());
    assertTrue(EXACT.next(1, Duration.ofMinutes(61), created, NOW).giveUp());
  }
}

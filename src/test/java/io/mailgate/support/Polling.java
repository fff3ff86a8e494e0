package io.mailgate.support;

import java.time.Duration;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;

/** Waiting for a condition by polling with a deadline, instead of sleeping a guessed time. */
public final class Polling {

  private static final long POLL_MS = 50;

  private Polling() {}

  private static void pause() {
    try {
      Thread.sleep(POLL_MS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Polls {@code probe} until its value satisfies {@code done}; fails with the last value after {@code timeout}. */
  public static <T> T await(String what, Supplier<T> probe, Predicate<T> done, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    T last;
    do {
      last = probe.get();
      if (done.test(last)) {
        return last;
      }
      pause();
    } while (System.nanoTime() < deadline);
    throw new AssertionError(what + ": not reached within " + timeout + "; last seen: " + last);
  }

  public static void await(String what, BooleanSupplier condition, Duration timeout) {
    await(what, condition::getAsBoolean, ok -> ok, timeout);
  }

  /**
   * Polls {@code probe} until its value has stayed the same for {@code window}; returns that value. Fails if the
   * value still changes after {@code timeout}.
   */
  public static <T> T awaitStable(String what, Supplier<T> probe, Duration window, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    T value = probe.get();
    long since = System.nanoTime();
    while (System.nanoTime() < deadline) {
      pause();
      T now = probe.get();
      if (!Objects.equals(now, value)) {
        value = now;
        since = System.nanoTime();
      } else if (System.nanoTime() - since >= window.toNanos()) {
        return value;
      }
    }
    throw new AssertionError(what + ": still changing after " + timeout + "; last seen: " + value);
  }
}

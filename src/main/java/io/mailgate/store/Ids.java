package io.mailgate.store;

import java.security.SecureRandom;
import java.util.UUID;

/**
 * UUIDv7 (RFC 9562): time ordered, so ids sort by creation and keyset pages follow it. Within one millisecond
 * the 12-bit {@code rand_a} field is a counter (RFC 9562 6.2, method 1), so ids made by one process keep their
 * order; 62 bits stay random.
 */
public final class Ids {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static long lastMs;
  private static int counter;

  private Ids() {}

  public static UUID newId() {
    long ms;
    int seq;
    synchronized (Ids.class) {
      ms = Math.max(System.currentTimeMillis(), lastMs);
      if (ms == lastMs) {
        if (++counter > 0xFFF) {
          ms++;
          counter = RANDOM.nextInt(1 << 10);
        }
      } else {
        counter = RANDOM.nextInt(1 << 10);
      }
      lastMs = ms;
      seq = counter;
    }
    long msb = (ms << 16) | (0x7L << 12) | seq;
    long lsb = (RANDOM.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(msb, lsb);
  }

  /** Parses a path or query id; {@code null} when it is not a UUID (so it answers 404, not 500). */
  public static UUID parseOrNull(String s) {
    if (s == null || s.length() != 36) {
      return null;
    }
    try {
      return UUID.fromString(s);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}

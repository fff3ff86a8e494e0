package io.mailgate.store;

import java.security.SecureRandom;
import java.util.UUID;

/** UUIDv7 (RFC 9562): time ordered, so ids sort by creation and keyset pages follow it; 74 random bits. */
public final class Ids {
  private static final SecureRandom RANDOM = new SecureRandom();

  private Ids() {}

  public static UUID newId() {
    long ms = System.currentTimeMillis();
    long randA = RANDOM.nextInt(1 << 12);
    long msb = (ms << 16) | (0x7L << 12) | randA;
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

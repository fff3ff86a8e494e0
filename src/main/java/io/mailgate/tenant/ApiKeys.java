package io.mailgate.tenant;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * Tenant API keys: 256 random bits, shown once. Only their SHA-256 is stored; a key that random needs no
 * slow hash, and a plain digest lets the key be looked up by an index.
 */
public final class ApiKeys {
  private static final SecureRandom RANDOM = new SecureRandom();
  public static final String PREFIX = "mg_";

  private ApiKeys() {}

  public static String generate() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  public static byte[] hash(String key) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Compares in time independent of where the inputs differ. */
  public static boolean constantTimeEquals(String a, String b) {
    return MessageDigest.isEqual(hash(a), hash(b));
  }
}

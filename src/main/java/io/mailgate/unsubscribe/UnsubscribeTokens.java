package io.mailgate.unsubscribe;

import io.mailgate.message.ListUnsubscribe;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.Optional;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The tokens of one-click unsubscribe links: which tenant, job and recipient (seq) a link unsubscribes, authenticated
 * with HMAC-SHA256 under a server key, so verifying one needs no database and a guessed or altered one is refused.
 *
 * <p>Layout, base64url (64 characters): version byte {@code 1}, tenant id (16 bytes), job id (16), seq (4,
 * big-endian), then the first 11 bytes (88 bits) of HMAC-SHA256(key, the 37 bytes before it). Thread-safe.
 */
public final class UnsubscribeTokens {

  /** What a token names. */
  public record Target(UUID tenantId, UUID jobId, int seq) {
    /** The same for every copy of the link: repeated POSTs of one token record one event. */
    public String sourceId() {
      return jobId + ":" + seq;
    }
  }

  static final byte VERSION = 1;
  private static final int PAYLOAD = 1 + 16 + 16 + 4;
  /** 48 bytes in all: base64 without spare bits, so each token has exactly one spelling. */
  private static final int MAC_BYTES = 11;
  /** The length of every token of this version. */
  public static final int LENGTH = (PAYLOAD + MAC_BYTES) / 3 * 4;
  /** What a key derived from MAILGATE_SECRET_KEY is derived for (so it is not the key that seals secrets). */
  public static final String KEY_PURPOSE = "mailgate one-click unsubscribe token v1";

  private final SecretKeySpec key;
  private final String baseUrl;
  private final ThreadLocal<Mac> macs;

  /** @param baseUrl MAILGATE_PUBLIC_URL without a trailing '/', or null (tokens verify, but no link can be made) */
  public UnsubscribeTokens(byte[] key, String baseUrl) {
    if (key.length < 32) {
      throw new IllegalArgumentException("an unsubscribe key needs at least 32 bytes");
    }
    this.key = new SecretKeySpec(key.clone(), "HmacSHA256");
    this.baseUrl = baseUrl;
    this.macs = ThreadLocal.withInitial(this::newMac);
  }

  /** Whether links can be made (MAILGATE_PUBLIC_URL is set). */
  public boolean linksAvailable() {
    return baseUrl != null;
  }

  public String mint(UUID tenantId, UUID jobId, int seq) {
    ByteBuffer b = ByteBuffer.allocate(PAYLOAD + MAC_BYTES);
    b.put(VERSION).putLong(tenantId.getMostSignificantBits()).putLong(tenantId.getLeastSignificantBits())
        .putLong(jobId.getMostSignificantBits()).putLong(jobId.getLeastSignificantBits()).putInt(seq);
    byte[] all = b.array();
    System.arraycopy(mac(all), 0, all, PAYLOAD, MAC_BYTES);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(all);
  }

  /** What the token names, or empty if it is not one of ours (malformed, another key, altered). */
  public Optional<Target> verify(String token) {
    if (token == null || token.length() != LENGTH) {
      return Optional.empty();
    }
    byte[] all;
    try {
      all = Base64.getUrlDecoder().decode(token);
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
    if (all.length != PAYLOAD + MAC_BYTES || all[0] != VERSION) {
      return Optional.empty();
    }
    byte[] expected = java.util.Arrays.copyOf(mac(all), MAC_BYTES);
    byte[] given = java.util.Arrays.copyOfRange(all, PAYLOAD, PAYLOAD + MAC_BYTES);
    if (!MessageDigest.isEqual(expected, given)) {
      return Optional.empty();
    }
    ByteBuffer b = ByteBuffer.wrap(all, 1, PAYLOAD - 1);
    UUID tenant = new UUID(b.getLong(), b.getLong());
    UUID job = new UUID(b.getLong(), b.getLong());
    int seq = b.getInt();
    return seq < 0 ? Optional.empty() : Optional.of(new Target(tenant, job, seq));
  }

  /** The link of a recipient: {@code {MAILGATE_PUBLIC_URL}/u/{token}}. */
  public String url(UUID tenantId, UUID jobId, int seq) {
    if (baseUrl == null) {
      throw new IllegalStateException("MAILGATE_PUBLIC_URL is not set: no unsubscribe link can be made");
    }
    return baseUrl + "/u/" + mint(tenantId, jobId, seq);
  }

  /** A job's links, for its compiled message. */
  public ListUnsubscribe forJob(UUID tenantId, UUID jobId, String mailto) {
    if (baseUrl == null) {
      throw new IllegalStateException("the job asks for one-click unsubscribe but MAILGATE_PUBLIC_URL is not set on this process");
    }
    return new ListUnsubscribe() {
      @Override
      public String url(int seq) {
        return UnsubscribeTokens.this.url(tenantId, jobId, seq);
      }

      @Override
      public String mailto() {
        return mailto;
      }
    };
  }

  /** MAC over the payload part of {@code token} (its first 37 bytes). */
  private byte[] mac(byte[] token) {
    Mac m = macs.get();
    m.update(token, 0, PAYLOAD);
    return m.doFinal();
  }

  private Mac newMac() {
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(key);
      return m;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  @Override
  public String toString() {
    return "UnsubscribeTokens[" + (baseUrl == null ? "no public URL" : baseUrl) + "]";
  }
}

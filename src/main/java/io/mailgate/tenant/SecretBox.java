package io.mailgate.tenant;

import io.mailgate.config.ConfigException;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Encrypts backend secrets at rest with AES-256-GCM. Layout: version byte, 12-byte nonce, ciphertext and tag.
 * The key comes from MAILGATE_SECRET_KEY (base64 of 32 bytes) or a file in the data dir.
 */
public final class SecretBox {
  private static final byte VERSION = 1;
  private static final int NONCE_BYTES = 12;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final SecretKeySpec key;

  private SecretBox(byte[] key) {
    this.key = new SecretKeySpec(key, "AES");
  }

  public static SecretBox fromBase64(String base64) {
    byte[] k;
    try {
      k = Base64.getDecoder().decode(base64.trim());
    } catch (IllegalArgumentException e) {
      throw new ConfigException("MAILGATE_SECRET_KEY must be base64 of 32 random bytes");
    }
    if (k.length != 32) {
      throw new ConfigException("MAILGATE_SECRET_KEY must be base64 of 32 random bytes, got " + k.length + " bytes");
    }
    return new SecretBox(k);
  }

  public static String generateKey() {
    byte[] k = new byte[32];
    RANDOM.nextBytes(k);
    return Base64.getEncoder().encodeToString(k);
  }

  /**
   * A key for another purpose, derived from this one (HMAC-SHA256 of the purpose under it), so that one setting,
   * MAILGATE_SECRET_KEY, yields independent keys and none of them is the key that seals secrets.
   */
  public byte[] derive(String purpose) {
    try {
      javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key.getEncoded(), "HmacSHA256"));
      return mac.doFinal(purpose.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  public byte[] seal(byte[] plain) {
    try {
      byte[] nonce = new byte[NONCE_BYTES];
      RANDOM.nextBytes(nonce);
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nonce));
      byte[] ct = c.doFinal(plain);
      return ByteBuffer.allocate(1 + NONCE_BYTES + ct.length).put(VERSION).put(nonce).put(ct).array();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("encryption failed", e);
    }
  }

  public byte[] open(byte[] sealed) {
    if (sealed.length < 1 + NONCE_BYTES || sealed[0] != VERSION) {
      throw new IllegalStateException("unknown secret format");
    }
    try {
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, sealed, 1, NONCE_BYTES));
      return c.doFinal(sealed, 1 + NONCE_BYTES, sealed.length - 1 - NONCE_BYTES);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("secrets cannot be decrypted: is MAILGATE_SECRET_KEY the key they were written with?");
    }
  }
}

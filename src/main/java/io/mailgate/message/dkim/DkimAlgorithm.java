package io.mailgate.message.dkim;

import java.util.Locale;
import java.util.Optional;

/** The DKIM signing algorithms the gateway signs with: {@code a=} of the signature, {@code k=} of the DNS record. */
public enum DkimAlgorithm {
  /** RFC 6376: RSASSA-PKCS1-v1_5 with SHA-256 over the canonicalized header data. */
  RSA_SHA256("rsa-sha256", "rsa", "RSA"),
  /** RFC 8463: pure Ed25519 over the SHA-256 hash of the canonicalized header data. */
  ED25519_SHA256("ed25519-sha256", "ed25519", "Ed25519");

  private final String tag;
  private final String keyType;
  private final String jcaName;

  DkimAlgorithm(String tag, String keyType, String jcaName) {
    this.tag = tag;
    this.keyType = keyType;
    this.jcaName = jcaName;
  }

  /** The {@code a=} value, also the name stored and shown by the API. */
  public String tag() {
    return tag;
  }

  /** The {@code k=} value of the DNS record. */
  public String keyType() {
    return keyType;
  }

  /** The JCA key algorithm name. */
  String jcaName() {
    return jcaName;
  }

  public static Optional<DkimAlgorithm> byTag(String tag) {
    if (tag == null) {
      return Optional.empty();
    }
    String t = tag.toLowerCase(Locale.ROOT);
    for (DkimAlgorithm a : values()) {
      if (a.tag.equals(t)) {
        return Optional.of(a);
      }
    }
    return Optional.empty();
  }
}

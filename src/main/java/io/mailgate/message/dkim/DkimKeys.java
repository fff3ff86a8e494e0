package io.mailgate.message.dkim;

import io.mailgate.error.InvalidInputException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.EdECPrivateKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.RSAPublicKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * DKIM key material: PEM private keys read (PKCS#8 {@code PRIVATE KEY} for RSA and Ed25519, PKCS#1
 * {@code RSA PRIVATE KEY} for RSA), keys generated, and the DNS record's {@code p=} value. Failures name the
 * problem, never a byte of the key.
 */
public final class DkimKeys {
  private DkimKeys() {}

  public static final int MIN_RSA_BITS = 2048;
  /** RFC 8301 3.2: verifiers must handle RSA keys up to 4096 bits; larger ones may not verify everywhere. */
  public static final int MAX_RSA_BITS = 4096;
  private static final String FIELD = "privateKeyPem";
  private static final Pattern PEM = Pattern.compile(
      "-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);
  /** The DER AlgorithmIdentifier of rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters. */
  private static final byte[] RSA_ALGORITHM_ID = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86,
      (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

  /** A private key, its PKCS#8 encoding (what is sealed and stored) and the DNS record's {@code p=} value. */
  public record KeyMaterial(DkimAlgorithm algorithm, PrivateKey privateKey, byte[] pkcs8, String publicKeyBase64) {
    @Override
    public String toString() {
      return "KeyMaterial[" + algorithm.tag() + "]";
    }
  }

  /** A new key: RSA-2048 or Ed25519. */
  public static KeyMaterial generate(DkimAlgorithm algorithm) {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance(algorithm.jcaName());
      if (algorithm == DkimAlgorithm.RSA_SHA256) {
        g.initialize(MIN_RSA_BITS);
      }
      KeyPair kp = g.generateKeyPair();
      return new KeyMaterial(algorithm, kp.getPrivate(), kp.getPrivate().getEncoded(), publicValue(algorithm, kp.getPublic()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("key generation failed: " + e.getClass().getSimpleName());
    }
  }

  /**
   * Reads a PEM private key. {@code expected} (may be null) is the algorithm the caller asked for; the key must
   * be of that type. RSA keys must have {@value #MIN_RSA_BITS} to {@value #MAX_RSA_BITS} bits.
   */
  public static KeyMaterial parsePem(String pem, DkimAlgorithm expected) {
    Matcher m = PEM.matcher(pem);
    if (!m.find()) {
      throw invalid("privateKeyPem is not a PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)");
    }
    String type = m.group(1);
    String body = m.group(2);
    if (type.equals("ENCRYPTED PRIVATE KEY") || body.contains("Proc-Type:") || body.contains("DEK-Info:")) {
      throw invalid("encrypted private keys are not accepted; send the key unencrypted (the gateway encrypts it at rest)");
    }
    byte[] der;
    try {
      der = Base64.getMimeDecoder().decode(body.strip());
    } catch (IllegalArgumentException e) {
      throw invalid("privateKeyPem is not valid base64 inside its PEM armour");
    }
    if (der.length == 0) {
      throw invalid("privateKeyPem is empty");
    }
    PrivateKey key;
    DkimAlgorithm alg;
    switch (type) {
      case "RSA PRIVATE KEY" -> {
        key = decode("RSA", pkcs1ToPkcs8(der));
        alg = DkimAlgorithm.RSA_SHA256;
      }
      case "PRIVATE KEY" -> {
        PrivateKey rsa = tryDecode("RSA", der);
        if (rsa != null) {
          key = rsa;
          alg = DkimAlgorithm.RSA_SHA256;
        } else {
          key = decode("Ed25519", der);
          alg = DkimAlgorithm.ED25519_SHA256;
        }
      }
      default -> throw invalid("a '" + type + "' PEM is not supported; send an RSA or Ed25519 key as PKCS#8 (PRIVATE KEY)"
          + " or an RSA key as PKCS#1 (RSA PRIVATE KEY)");
    }
    if (expected != null && expected != alg) {
      throw invalid("privateKeyPem is an " + (alg == DkimAlgorithm.RSA_SHA256 ? "RSA" : "Ed25519") + " key but algorithm is "
          + expected.tag());
    }
    if (alg == DkimAlgorithm.RSA_SHA256) {
      if (!(key instanceof RSAPrivateCrtKey crt)) {
        throw invalid("the RSA key lacks its public part (CRT parameters)");
      }
      int bits = crt.getModulus().bitLength();
      if (bits < MIN_RSA_BITS) {
        throw new InvalidInputException("weak_key", "RSA keys must have at least " + MIN_RSA_BITS + " bits (RFC 8301); this one has "
            + bits, FIELD);
      }
      if (bits > MAX_RSA_BITS) {
        throw invalid("RSA keys over " + MAX_RSA_BITS + " bits are not verified by every receiver (RFC 8301); this one has " + bits);
      }
      try {
        PublicKey pub = KeyFactory.getInstance("RSA").generatePublic(new RSAPublicKeySpec(crt.getModulus(), crt.getPublicExponent()));
        return new KeyMaterial(alg, key, key.getEncoded(), publicValue(alg, pub));
      } catch (GeneralSecurityException e) {
        throw invalid("the RSA key is malformed");
      }
    }
    return new KeyMaterial(alg, key, key.getEncoded(), publicValue(alg, ed25519Public(key)));
  }

  /** The stored PKCS#8 bytes as a key. */
  public static PrivateKey privateKey(DkimAlgorithm algorithm, byte[] pkcs8) {
    try {
      return KeyFactory.getInstance(algorithm.jcaName()).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("a stored DKIM key cannot be read: " + e.getClass().getSimpleName());
    }
  }

  /** The TXT record to publish at {@link #dnsName}. */
  public static String dnsRecord(DkimAlgorithm algorithm, String publicKeyBase64) {
    return "v=DKIM1; k=" + algorithm.keyType() + "; p=" + publicKeyBase64;
  }

  public static String dnsName(String selector, String domain) {
    return selector + "._domainkey." + domain;
  }

  /** {@code p=}: base64 SubjectPublicKeyInfo for RSA (RFC 6376 3.6.1), the raw 32-byte key for Ed25519 (RFC 8463 4). */
  private static String publicValue(DkimAlgorithm algorithm, PublicKey pub) {
    byte[] spki = pub.getEncoded();
    byte[] value = algorithm == DkimAlgorithm.RSA_SHA256 ? spki : Arrays.copyOfRange(spki, spki.length - 32, spki.length);
    return Base64.getEncoder().encodeToString(value);
  }

  /**
   * The JDK has no call that derives an Ed25519 public key from a private one, but its key pair generator derives
   * the public key from the 32 random bytes it draws: given the private key's bytes as its "randomness", it
   * rebuilds the pair. A signature made with the key and checked with the derived public key confirms the result.
   */
  private static PublicKey ed25519Public(PrivateKey key) {
    byte[] seed = key instanceof EdECPrivateKey ed ? ed.getBytes().orElse(null) : null;
    if (seed == null || seed.length != 32) {
      throw invalid("the Ed25519 key is malformed");
    }
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("Ed25519");
      g.initialize(255, new SeedRandom(seed));
      PublicKey pub = g.generateKeyPair().getPublic();
      byte[] probe = "mailgate dkim key check".getBytes(StandardCharsets.US_ASCII);
      Signature s = Signature.getInstance("Ed25519");
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance("Ed25519");
      v.initVerify(pub);
      v.update(probe);
      if (!v.verify(sig)) {
        throw new IllegalStateException("the Ed25519 public key could not be derived from the private key");
      }
      return pub;
    } catch (GeneralSecurityException e) {
      throw invalid("the Ed25519 key is malformed");
    }
  }

  /** Hands out the given bytes as its only "random" output. */
  private static final class SeedRandom extends SecureRandom {
    private final byte[] seed;

    SeedRandom(byte[] seed) {
      this.seed = seed;
    }

    @Override
    public void nextBytes(byte[] bytes) {
      if (bytes.length != seed.length) {
        throw new IllegalStateException("unexpected request for " + bytes.length + " random bytes");
      }
      System.arraycopy(seed, 0, bytes, 0, bytes.length);
    }
  }

  private static PrivateKey decode(String algorithm, byte[] pkcs8) {
    PrivateKey k = tryDecode(algorithm, pkcs8);
    if (k == null) {
      throw invalid("privateKeyPem is not a readable RSA or Ed25519 private key");
    }
    return k;
  }

  private static PrivateKey tryDecode(String algorithm, byte[] pkcs8) {
    try {
      return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
    } catch (GeneralSecurityException | RuntimeException e) {
      return null;
    }
  }

  /** PKCS#1 RSAPrivateKey wrapped as PKCS#8: SEQUENCE { INTEGER 0, rsaEncryption, OCTET STRING { key } }. */
  private static byte[] pkcs1ToPkcs8(byte[] pkcs1) {
    ByteArrayOutputStream inner = new ByteArrayOutputStream(pkcs1.length + 32);
    inner.writeBytes(new byte[] {0x02, 0x01, 0x00});
    inner.writeBytes(RSA_ALGORITHM_ID);
    inner.write(0x04);
    writeLength(inner, pkcs1.length);
    inner.writeBytes(pkcs1);
    ByteArrayOutputStream out = new ByteArrayOutputStream(inner.size() + 8);
    out.write(0x30);
    writeLength(out, inner.size());
    out.writeBytes(inner.toByteArray());
    return out.toByteArray();
  }

  private static void writeLength(ByteArrayOutputStream out, int len) {
    if (len < 0x80) {
      out.write(len);
    } else if (len < 0x100) {
      out.write(0x81);
      out.write(len);
    } else if (len < 0x10000) {
      out.write(0x82);
      out.write(len >> 8);
      out.write(len);
    } else {
      out.write(0x83);
      out.write(len >> 16);
      out.write(len >> 8);
      out.write(len);
    }
  }

  private static InvalidInputException invalid(String message) {
    return new InvalidInputException("invalid_key", message, FIELD);
  }
}

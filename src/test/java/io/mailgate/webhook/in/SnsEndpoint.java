package io.mailgate.webhook.in;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Signature;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.ASN1EncodableVector;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.DERBitString;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.DERSequence;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x509.TBSCertificate;
import org.bouncycastle.asn1.x509.Time;
import org.bouncycastle.asn1.x509.V3TBSCertificateGenerator;

/**
 * SNS's side of an HTTP subscription, for tests: a signing key with a self-signed certificate served over loopback
 * HTTP (as SNS serves its certificate from sns.{region}.amazonaws.com), the confirmation link it hands out, and SNS
 * messages signed as SNS signs them (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA, over the canonical string).
 */
final class SnsEndpoint implements AutoCloseable {

  private final Vertx vertx = Vertx.vertx();
  private final KeyPair keys;
  private final String pem;
  private final ConcurrentLinkedQueue<String> requests = new ConcurrentLinkedQueue<>();
  private HttpServer server;

  SnsEndpoint() {
    this.keys = rsa();
    this.pem = selfSigned(keys);
  }

  SnsEndpoint start() {
    try {
      server = vertx.createHttpServer().requestHandler(req -> {
        requests.add(req.uri());
        if (req.path().equals("/big.pem")) {
          req.response().putHeader("Content-Type", "application/x-pem-file").end("A".repeat(200 * 1024));
        } else if (req.path().endsWith(".pem")) {
          req.response().putHeader("Content-Type", "application/x-pem-file").end(pem);
        } else if (req.path().equals("/confirm")) {
          req.response().putHeader("Content-Type", "text/xml").end("<ConfirmSubscriptionResponse/>");
        } else {
          req.response().setStatusCode(404).end();
        }
      }).listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    return this;
  }

  String base() {
    return "http://127.0.0.1:" + server.actualPort();
  }

  String certUrl() {
    return base() + "/SimpleNotificationService-0000000000000000000000.pem";
  }

  /** The paths (with query) requested so far. */
  List<String> requests() {
    return List.copyOf(requests);
  }

  /** A message with its Signature, SignatureVersion and SigningCertURL, signed with {@code key}. */
  static JsonObject sign(JsonObject m, String version, PrivateKey key, String certUrl) {
    String canonical = SnsHook.canonical(m, m.getString("Type"));
    try {
      Signature s = Signature.getInstance(version.equals("1") ? "SHA1withRSA" : "SHA256withRSA");
      s.initSign(key);
      s.update(canonical.getBytes(StandardCharsets.UTF_8));
      return m.copy().put("SignatureVersion", version).put("Signature", Base64.getEncoder().encodeToString(s.sign()))
          .put("SigningCertURL", certUrl);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  JsonObject sign(JsonObject m, String version) {
    return sign(m, version, keys.getPrivate(), certUrl());
  }

  static KeyPair rsa() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
      g.initialize(2048);
      return g.generateKeyPair();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** A self-signed X.509 certificate of the key pair, valid from an hour ago for a day, as PEM. */
  static String selfSigned(KeyPair kp) {
    try {
      X500Name name = new X500Name("CN=sns.test.amazonaws.com");
      long now = System.currentTimeMillis();
      AlgorithmIdentifier alg = new AlgorithmIdentifier(PKCSObjectIdentifiers.sha256WithRSAEncryption, DERNull.INSTANCE);
      V3TBSCertificateGenerator g = new V3TBSCertificateGenerator();
      g.setSerialNumber(new ASN1Integer(BigInteger.valueOf(now)));
      g.setIssuer(name);
      g.setSubject(name);
      g.setStartDate(new Time(new Date(now - 3_600_000)));
      g.setEndDate(new Time(new Date(now + 86_400_000)));
      g.setSubjectPublicKeyInfo(SubjectPublicKeyInfo.getInstance(kp.getPublic().getEncoded()));
      g.setSignature(alg);
      TBSCertificate tbs = g.generateTBSCertificate();
      Signature s = Signature.getInstance("SHA256withRSA");
      s.initSign(kp.getPrivate());
      s.update(tbs.getEncoded(ASN1Encoding.DER));
      ASN1EncodableVector v = new ASN1EncodableVector();
      v.add(tbs);
      v.add(alg);
      v.add(new DERBitString(s.sign()));
      byte[] der = new DERSequence(v).getEncoded(ASN1Encoding.DER);
      return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
          .encodeToString(der) + "\n-----END CERTIFICATE-----\n";
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    vertx.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }
}

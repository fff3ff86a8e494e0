package io.mailgate.support;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.james.jdkim.DKIMVerifier;
import org.apache.james.jdkim.api.SignatureRecord;
import org.apache.james.jdkim.exceptions.FailException;
import org.apache.james.jdkim.exceptions.PermFailException;

/**
 * Independent DKIM verifiers for tests, each given one DNS TXT record instead of DNS: Apache jDKIM (RSA only) in
 * this JVM, and dkimpy (RSA and Ed25519, Debian packages python3-dkim and python3-nacl) in a python3 process, found by
 * {@link Tools#dkimpyPython()} (a test without it is skipped on a developer's machine and fails under CI=true).
 */
public final class DkimVerifiers {
  private DkimVerifiers() {}

  /** A verifier's verdict and what it said. */
  public record Verdict(boolean valid, String detail) {}

  /** jDKIM: valid when a signature verifies with the record published at {@code dnsName}. */
  public static Verdict jdkim(byte[] message, String dnsName, String record) {
    DKIMVerifier v = new DKIMVerifier((method, selector, domain) -> {
      String asked = selector + "._domainkey." + domain;
      if (asked.equalsIgnoreCase(dnsName)) {
        return List.of(record);
      }
      throw new PermFailException("no record at " + asked);
    });
    try {
      List<SignatureRecord> ok = v.verify(new ByteArrayInputStream(message));
      if (ok == null || ok.isEmpty()) {
        return new Verdict(false, "no valid signature: " + v.getResults());
      }
      return new Verdict(true, ok.toString());
    } catch (FailException e) {
      return new Verdict(false, e.toString());
    } catch (Exception e) {
      throw new IllegalStateException("jDKIM could not read the message", e);
    }
  }

  private static final String DKIMPY = """
      import sys, logging, dkim
      logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)
      name, rec = sys.argv[1].encode(), sys.argv[2].encode()
      msg = sys.stdin.buffer.read()
      def dns(n, timeout=5):
          print("lookup", n)
          return rec if n.rstrip(b".").lower() == name.lower() else None
      ok = dkim.verify(msg, logger=logging.getLogger("dkim"), dnsfunc=dns)
      print("verified" if ok else "not verified")
      sys.exit(0 if ok else 1)
      """;

  /** dkimpy's {@code dkim.verify} with the record as the only DNS answer. */
  public static Verdict dkimpy(byte[] message, String dnsName, String record) {
    String python = Tools.dkimpyPython();
    try {
      Process p = new ProcessBuilder(python, "-c", DKIMPY, dnsName, record).redirectErrorStream(true).start();
      try (OutputStream in = p.getOutputStream()) {
        in.write(message);
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      p.getInputStream().transferTo(out);
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException("dkimpy did not finish");
      }
      String text = out.toString(StandardCharsets.UTF_8);
      if (p.exitValue() > 1) {
        throw new IllegalStateException("dkimpy failed: " + text);
      }
      return new Verdict(p.exitValue() == 0, text);
    } catch (Exception e) {
      throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
    }
  }
}

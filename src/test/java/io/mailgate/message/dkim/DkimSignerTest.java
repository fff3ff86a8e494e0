package io.mailgate.message.dkim;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.backend.smtp.SmtpData;
import io.mailgate.config.GatewayConfig;
import io.mailgate.job.JobSpecParser;
import io.mailgate.message.ComposedMessage;
import io.mailgate.message.EmailAddress;
import io.mailgate.message.MimeComposer;
import io.mailgate.support.DkimVerifiers;
import io.mailgate.support.DkimVerifiers.Verdict;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Signatures checked by verifiers that share no code with the signer: Apache jDKIM (rsa-sha256) and dkimpy
 * (rsa-sha256 and ed25519-sha256; see {@link io.mailgate.support.Tools}). Messages come from the real composer.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DkimSignerTest {

  private static final UUID JOB = UUID.fromString("0f8fad5b-d9cb-469f-a165-70867728950e");
  private static final EmailAddress TO = EmailAddress.parse("ada@example.com", "email");
  private static final String DOMAIN = "acme.example";
  private static final String SELECTOR = "s2026";
  private static final String DNS_NAME = SELECTOR + "._domainkey." + DOMAIN;

  private static final DkimKeys.KeyMaterial RSA = DkimKeys.generate(DkimAlgorithm.RSA_SHA256);
  private static final DkimKeys.KeyMaterial ED25519 = DkimKeys.generate(DkimAlgorithm.ED25519_SHA256);
  private static final Map<String, Object> VARS = Map.of("name", "Zoë <Ada> & Co", "code", "C-42");

  /** The messages every verifier must accept. */
  static Stream<Arguments> messages() {
    JsonObject base = new JsonObject().put("from", "Acme News <news@acme.example>").put("subject", "Hello {{name}}");
    return Stream.of(
        Arguments.of("plain text", base.copy().put("text", "Dear {{name}},\nyour code is {{code}}.\n")),
        Arguments.of("html and text", base.copy().put("text", "Dear {{name}},\nsee the web version.")
            .put("html", "<html><body><p>Dear {{name}},</p>\n<p>your code is <b>{{code}}</b>.</p></body></html>")),
        Arguments.of("non-ASCII subject and body", base.copy()
            .put("subject", "Grüße, {{name}} — ça coûte 5 € (日本語)")
            .put("text", "Liebe {{name}},\nÄrger über Öl? Prix: 5 €. 日本語のテキスト。\n")
            .put("html", "<p>Liebe {{name}}, Ärger über Öl? 5 €</p>")),
        Arguments.of("lines starting with a dot", base.copy()
            .put("text", ".hidden line\n..two dots\n.\nmiddle\n.\n")),
        Arguments.of("custom headers", base.copy().put("text", "Hi {{name}}")
            .put("replyTo", "help@acme.example")
            .put("headers", new JsonObject().put("X-Campaign", "spring sale").put("List-Unsubscribe", "<mailto:u@acme.example>"))),
        Arguments.of("whitespace and trailing empty lines", base.copy()
            .put("text", "  indented\twith  tabs  \n\ntrailing spaces   \n\n\n\n")),
        Arguments.of("long subject folded", base.copy()
            .put("subject", "A subject long enough to be folded by the composer, " + "word ".repeat(30) + "{{name}}")
            .put("text", "x")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("messages")
  void rsaSignatureVerifiesWithJdkim(String name, JsonObject job) {
    byte[] signed = sign(job, RSA);
    Verdict v = DkimVerifiers.jdkim(signed, DNS_NAME, record(RSA));
    assertTrue(v.valid(), name + ": " + v.detail() + "\n" + text(signed));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("messages")
  void rsaSignatureVerifiesWithDkimpy(String name, JsonObject job) {
    byte[] signed = sign(job, RSA);
    Verdict v = DkimVerifiers.dkimpy(signed, DNS_NAME, record(RSA));
    assertTrue(v.valid(), name + ": " + v.detail() + "\n" + text(signed));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("messages")
  void ed25519SignatureVerifiesWithDkimpy(String name, JsonObject job) {
    byte[] signed = sign(job, ED25519);
    assertTrue(text(signed).startsWith("DKIM-Signature: v=1; a=ed25519-sha256;"), text(signed));
    Verdict v = DkimVerifiers.dkimpy(signed, DNS_NAME, record(ED25519));
    assertTrue(v.valid(), name + ": " + v.detail() + "\n" + text(signed));
  }

  @Test
  void tamperedEd25519MessageFailsDkimpy() {
    byte[] signed = sign(plain(), ED25519);
    byte[] tampered = replace(signed, "your code is C-42", "your code is C-43");
    assertFalse(DkimVerifiers.dkimpy(tampered, DNS_NAME, record(ED25519)).valid());
    assertFalse(DkimVerifiers.dkimpy(signed, DNS_NAME, record(DkimKeys.generate(DkimAlgorithm.ED25519_SHA256))).valid(),
        "another key's record must not verify");
  }

  @Test
  void tamperedBodyFailsJdkim() {
    byte[] signed = sign(plain(), RSA);
    assertTrue(DkimVerifiers.jdkim(signed, DNS_NAME, record(RSA)).valid());
    Verdict v = DkimVerifiers.jdkim(replace(signed, "your code is C-42", "your code is C-43"), DNS_NAME, record(RSA));
    assertFalse(v.valid(), v.detail());
  }

  @Test
  void tamperedSubjectFailsJdkim() {
    byte[] signed = sign(plain(), RSA);
    // "Hello Zoë..." encoded: SGVsbG8g... becomes "Hallo": SGFsbG8g...
    Verdict v = DkimVerifiers.jdkim(replace(signed, "Subject: =?UTF-8?B?SGVs", "Subject: =?UTF-8?B?SGFs"), DNS_NAME, record(RSA));
    assertFalse(v.valid(), v.detail());
  }

  @Test
  void tamperedCustomHeaderFailsJdkim() {
    JsonObject job = plain().put("headers", new JsonObject().put("X-Campaign", "spring"));
    byte[] signed = sign(job, RSA);
    assertTrue(DkimVerifiers.jdkim(signed, DNS_NAME, record(RSA)).valid());
    Verdict v = DkimVerifiers.jdkim(replace(signed, "X-Campaign: spring", "X-Campaign: autumn"), DNS_NAME, record(RSA));
    assertFalse(v.valid(), v.detail());
  }

  @Test
  void addedFromOrReplyToFailsBecauseTheyAreOverSigned() {
    byte[] signed = sign(plain(), RSA);
    String s = text(signed);
    int body = s.indexOf("\r\n\r\n");
    String addedFrom = s.substring(0, body) + "\r\nFrom: Evil <ceo@evil.example>" + s.substring(body);
    String addedReplyTo = s.substring(0, body) + "\r\nReply-To: ceo@evil.example" + s.substring(body);
    assertTrue(DkimVerifiers.dkimpy(signed, DNS_NAME, record(RSA)).valid());
    assertFalse(DkimVerifiers.dkimpy(addedFrom.getBytes(StandardCharsets.US_ASCII), DNS_NAME, record(RSA)).valid());
    assertFalse(DkimVerifiers.dkimpy(addedReplyTo.getBytes(StandardCharsets.US_ASCII), DNS_NAME, record(RSA)).valid());
  }

  @Test
  void relaxedCanonicalizationSurvivesRefoldedHeadersAndTrailingWhitespace() {
    byte[] signed = sign(plain(), RSA);
    // what a relay may do under relaxed/relaxed: change header whitespace and folding, add trailing blanks
    byte[] changed = replace(signed, "Subject: =?UTF-8?B?", "SUBJECT:   \r\n\t=?UTF-8?B?");
    changed = replace(changed, "your code is C-42.", "your code  is C-42.   ");
    Verdict v = DkimVerifiers.jdkim(changed, DNS_NAME, record(RSA));
    assertTrue(v.valid(), v.detail() + "\n" + text(changed));
  }

  @Test
  void dotStuffedSmtpDataUnstuffedByTheReceiverVerifies() {
    JsonObject job = plain().put("text", ".starts with a dot\n..and two\n.\n");
    ComposedMessage composed = composer(job).compose(1, TO, VARS);
    ComposedMessage signed = signer(RSA).sign(composed);
    assertTrue(signed.dotAtLineStart(), "the dot flag of the message carries over");
    // the exact DATA section the SMTP backend writes, and what a receiver makes of it (RFC 5321 4.5.2)
    Buffer wire = SmtpData.encode(signed);
    String onWire = wire.toString(StandardCharsets.ISO_8859_1);
    assertTrue(onWire.contains("\r\n..starts with a dot\r\n"), onWire);
    assertTrue(onWire.endsWith("\r\n.\r\n"), onWire);
    byte[] received = unstuff(wire.getBytes(0, wire.length() - 3));
    assertArrayEquals(signed.toBytes(), received, "the receiver gets exactly the signed bytes");
    Verdict v = DkimVerifiers.jdkim(received, DNS_NAME, record(RSA));
    assertTrue(v.valid(), v.detail());
  }

  @Test
  void signatureHeaderIsFoldedToShortLinesAndNamesTheSignedHeaders() {
    JsonObject job = plain().put("replyTo", "help@acme.example").put("headers", new JsonObject().put("X-Campaign", "spring"));
    Clock fixed = Clock.fixed(Instant.parse("2026-03-01T12:00:00Z"), ZoneOffset.UTC);
    ComposedMessage composed = composer(job).compose(7, TO, VARS);
    ComposedMessage signed = new DkimSigner(DkimAlgorithm.RSA_SHA256, DOMAIN, SELECTOR, RSA.privateKey(), fixed).sign(composed);
    String s = text(signed.toBytes());
    assertTrue(s.endsWith(text(composed.toBytes())), "the message follows the signature unchanged");
    String field = s.substring(0, s.length() - composed.length());
    assertTrue(field.endsWith("\r\n"), field);
    String[] lines = field.substring(0, field.length() - 2).split("\r\n", -1);
    assertTrue(lines.length > 1, field);
    assertTrue(lines[0].startsWith("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.example; s=s2026;"), lines[0]);
    for (int i = 0; i < lines.length; i++) {
      assertTrue(lines[i].length() <= 78, "line " + i + " is " + lines[i].length() + " long: " + lines[i]);
      assertFalse(lines[i].contains("\r") || lines[i].contains("\n"), lines[i]);
      if (i > 0) {
        assertTrue(lines[i].startsWith(" "), "a continuation line starts with whitespace: " + lines[i]);
      }
    }
    String unfolded = field.replace("\r\n", "").replace(" ", "");
    assertTrue(unfolded.contains(";t=" + Instant.parse("2026-03-01T12:00:00Z").getEpochSecond() + ";"), unfolded);
    Matcher h = Pattern.compile(";h=([^;]+);").matcher(unfolded);
    assertTrue(h.find(), unfolded);
    String signedHeaders = ":" + h.group(1) + ":";
    for (String name : new String[] {"from", "to", "subject", "date", "message-id", "mime-version", "content-type",
        "content-transfer-encoding", "reply-to", "x-campaign"}) {
      assertTrue(signedHeaders.contains(":" + name + ":"), name + " not in h=" + h.group(1));
    }
    assertTrue(signedHeaders.contains(":from:from:"), "From is over-signed: " + h.group(1));
    assertTrue(DkimVerifiers.jdkim(signed.toBytes(), DNS_NAME, record(RSA)).valid());
  }

  @Test
  void signedMessageKeepsCrlfLinesAndRoomForTheTerminator() {
    ComposedMessage signed = signer(RSA).sign(composer(plain()).compose(1, TO, VARS));
    byte[] b = signed.toBytes();
    for (int i = 0; i < b.length; i++) {
      if (b[i] == '\n') {
        assertTrue(i > 0 && b[i - 1] == '\r', "bare LF at " + i);
      } else if (b[i] == '\r') {
        assertTrue(i + 1 < b.length && b[i + 1] == '\n', "bare CR at " + i);
      }
    }
    assertTrue(signed.data().length - signed.length() >= MimeComposer.TAIL_ROOM);
    assertFalse(signed.dotAtLineStart());
  }

  // --- helpers

  private static JsonObject plain() {
    return new JsonObject().put("from", "Acme News <news@acme.example>").put("subject", "Hello {{name}}")
        .put("text", "Dear {{name}},\nyour code is {{code}}.\n");
  }

  private static MimeComposer composer(JsonObject job) {
    return new MimeComposer(new JobSpecParser(GatewayConfig.from(Map.of()).limits()).parse(job, false)
        .compile(JOB, UUID.randomUUID()));
  }

  private static DkimSigner signer(DkimKeys.KeyMaterial key) {
    return new DkimSigner(key.algorithm(), DOMAIN, SELECTOR, key.privateKey());
  }

  @Test
  void utf8AddressHeadersVerifyWithDkimpy() {
    // RFC 6532 headers: raw UTF-8 in To and Reply-To; relaxed canonicalisation works on the octets
    JsonObject job = new JsonObject().put("from", "Acme News <news@acme.example>").put("subject", "Hallo {{name}}")
        .put("replyTo", "Hjälp <hjälp@acme.example>").put("text", "Grüße\n");
    ComposedMessage composed = composer(job).compose(1, EmailAddress.parse("jürgen@bücher.example", "email"), VARS);
    String head = new String(composed.toBytes(), StandardCharsets.UTF_8);
    assertTrue(head.contains("\r\nTo: jürgen@bücher.example\r\n") && head.contains("<hjälp@acme.example>"), head);
    for (DkimKeys.KeyMaterial key : List.of(RSA, ED25519)) {
      byte[] signed = signer(key).sign(composed).toBytes();
      Verdict v = DkimVerifiers.dkimpy(signed, DNS_NAME, record(key));
      assertTrue(v.valid(), key.algorithm() + ": " + v.detail());
      String tampered = new String(signed, StandardCharsets.UTF_8).replace("To: jürgen@", "To: jurgen@");
      assertFalse(DkimVerifiers.dkimpy(tampered.getBytes(StandardCharsets.UTF_8), DNS_NAME, record(key)).valid(),
          "the UTF-8 To is signed");
    }
  }

  private static byte[] sign(JsonObject job, DkimKeys.KeyMaterial key) {
    return signer(key).sign(composer(job).compose(1, TO, VARS)).toBytes();
  }

  private static String record(DkimKeys.KeyMaterial key) {
    return DkimKeys.dnsRecord(key.algorithm(), key.publicKeyBase64());
  }

  private static String text(byte[] b) {
    return new String(b, StandardCharsets.ISO_8859_1);
  }

  private static byte[] replace(byte[] message, String from, String to) {
    String s = text(message);
    assertTrue(s.contains(from), "'" + from + "' not in the message:\n" + s);
    return s.replace(from, to).getBytes(StandardCharsets.ISO_8859_1);
  }

  /** What an SMTP receiver does with a DATA section: a leading '.' of a line is removed. */
  private static byte[] unstuff(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(data.length);
    boolean lineStart = true;
    for (int i = 0; i < data.length; i++) {
      byte b = data[i];
      if (!(lineStart && b == '.')) {
        out.write(b);
      }
      lineStart = b == '\n';
    }
    return out.toByteArray();
  }
}

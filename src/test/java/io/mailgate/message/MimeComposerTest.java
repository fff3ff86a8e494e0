package io.mailgate.message;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.mailgate.config.GatewayConfig;
import io.mailgate.job.JobSpec;
import io.mailgate.job.JobSpecParser;
import io.vertx.core.json.JsonObject;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.internet.MimePart;
import jakarta.mail.internet.MimeUtility;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 5, unit = TimeUnit.MINUTES)
class MimeComposerTest {

  private static final UUID JOB = UUID.fromString("0f8fad5b-d9cb-469f-a165-70867728950e");
  private static final EmailAddress TO = EmailAddress.parse("ada@example.com", "email");

  private static JsonObject job() {
    return new JsonObject().put("from", "Acme News <news@acme.example>").put("subject", "Hello {{name}}");
  }

  private static MimeComposer composer(JsonObject job) {
    JobSpec spec = new JobSpecParser(GatewayConfig.from(Map.of()).limits()).parse(job, false);
    return new MimeComposer(spec.compile(JOB, UUID.randomUUID()));
  }

  private static ComposedMessage compose(JsonObject job, Map<String, Object> vars) {
    return composer(job).compose(1, TO, vars);
  }

  @Test
  void aUtf8LocalPartGoesIntoToAsUtf8Bytes() {
    ComposedMessage m = composer(job().put("text", "x")).compose(1, EmailAddress.parse("jürgen@bücher.example", "email"), Map.of());
    String wire = new String(m.toBytes(), StandardCharsets.UTF_8);
    assertTrue(wire.contains("\r\nTo: jürgen@bücher.example\r\n"), wire);
    assertWireSafe(m);
  }

  @Test
  void anIdnDomainWithAnAsciiLocalPartGoesIntoHeadersAsALabels() {
    ComposedMessage m = composer(job().put("from", "Bücher <news@bücher.example>").put("replyTo", "help@bücher.example")
        .put("text", "x")).compose(1, EmailAddress.parse("ann@münchen.example", "email"), Map.of());
    String wire = new String(m.toBytes(), StandardCharsets.UTF_8);
    assertTrue(wire.contains("\r\nTo: ann@xn--mnchen-3ya.example\r\n"), wire);
    assertTrue(wire.contains(" <news@xn--bcher-kva.example>\r\n"), wire);
    assertTrue(wire.contains("Message-ID: <1.0f8fad5bd9cb469fa16570867728950e@xn--bcher-kva.example>\r\n"), wire);
    assertTrue(wire.contains("Reply-To: help@xn--bcher-kva.example\r\n"), wire);
    for (byte b : m.toBytes()) {
      assertTrue(b >= 0, "all ASCII: no SMTPUTF8 needed");
    }
  }

  private static MimeMessage parse(ComposedMessage m) throws Exception {
    return new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(m.toBytes()));
  }

  /** Every line ends in CRLF, with no bare CR or LF, and no line is longer than 998 octets. */
  private static void assertWireSafe(ComposedMessage m) {
    byte[] b = m.toBytes();
    assertTrue(b.length >= 2 && b[b.length - 2] == '\r' && b[b.length - 1] == '\n', "message must end with CRLF");
    int lineStart = 0;
    for (int i = 0; i < b.length; i++) {
      if (b[i] == '\r') {
        if (i + 1 >= b.length || b[i + 1] != '\n') {
          fail("bare CR at offset " + i);
        }
        int lineLength = i - lineStart;
        if (lineLength > 998) {
          fail("line of " + lineLength + " octets at offset " + lineStart + ": "
              + new String(b, lineStart, Math.min(lineLength, 60), StandardCharsets.ISO_8859_1) + "...");
        }
        i++;
        lineStart = i + 1;
      } else if (b[i] == '\n') {
        fail("bare LF at offset " + i);
      }
    }
  }

  private static boolean someLineStartsWithDot(ComposedMessage m) {
    byte[] b = m.toBytes();
    for (int i = 0; i < b.length; i++) {
      if (b[i] == '.' && (i == 0 || b[i - 1] == '\n')) {
        return true;
      }
    }
    return false;
  }

  /** assertEquals for long texts: reports where they differ instead of printing both. */
  private static void assertSameText(String expected, Object actual) {
    assertTrue(actual instanceof String, "content is not text: " + actual);
    String a = (String) actual;
    if (expected.equals(a)) {
      return;
    }
    int i = 0;
    while (i < expected.length() && i < a.length() && expected.charAt(i) == a.charAt(i)) {
      i++;
    }
    fail("texts differ at index " + i + " (lengths " + expected.length() + " and " + a.length() + "): expected "
        + snippet(expected, i) + " but was " + snippet(a, i));
  }

  private static String snippet(String s, int at) {
    int from = Math.max(0, at - 10);
    return "[" + s.substring(from, Math.min(s.length(), at + 20)).replace("\r", "\\r").replace("\n", "\\n") + "]";
  }

  private static String header(MimeMessage msg, String name) throws Exception {
    String[] values = msg.getHeader(name);
    assertNotNull(values, name + " header is missing");
    assertEquals(1, values.length, "exactly one " + name + " header");
    return values[0];
  }

  @Test
  void composesTextOnlyMessage() throws Exception {
    ComposedMessage m = compose(job().put("text", "Dear {{name}},\nsee you.\n"), Map.of("name", "Ada"));
    assertWireSafe(m);
    MimeMessage msg = parse(m);
    assertEquals("Hello Ada", msg.getSubject());
    assertEquals("news@acme.example", ((InternetAddress) msg.getFrom()[0]).getAddress());
    assertEquals("Acme News", ((InternetAddress) msg.getFrom()[0]).getPersonal());
    assertEquals("ada@example.com", header(msg, "To"));
    assertEquals("1.0", header(msg, "MIME-Version"));
    assertNotNull(msg.getSentDate());
    assertTrue(msg.isMimeType("text/plain"), msg.getContentType());
    assertEquals("UTF-8", new jakarta.mail.internet.ContentType(msg.getContentType()).getParameter("charset"));
    assertEquals("7bit", msg.getEncoding());
    assertEquals("Dear Ada,\r\nsee you.\r\n", msg.getContent());
  }

  @Test
  void composesHtmlOnlyMessage() throws Exception {
    ComposedMessage m = compose(job().put("html", "<p>Dear {{name}}</p>"), Map.of("name", "<Ada>"));
    assertWireSafe(m);
    MimeMessage msg = parse(m);
    assertTrue(msg.isMimeType("text/html"), msg.getContentType());
    assertEquals("<p>Dear &lt;Ada&gt;</p>\r\n", msg.getContent());
  }

  @Test
  void composesTextAndHtmlAsMultipartAlternative() throws Exception {
    ComposedMessage m = compose(job().put("text", "Dear {{name}}").put("html", "<p>Dear {{name}}</p>"),
        Map.of("name", "Ada"));
    assertWireSafe(m);
    MimeMessage msg = parse(m);
    assertTrue(msg.isMimeType("multipart/alternative"), msg.getContentType());
    MimeMultipart mp = (MimeMultipart) msg.getContent();
    assertEquals(2, mp.getCount());
    assertTrue(mp.getBodyPart(0).isMimeType("text/plain"), mp.getBodyPart(0).getContentType());
    assertTrue(mp.getBodyPart(1).isMimeType("text/html"), mp.getBodyPart(1).getContentType());
    // the CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1)
    assertEquals("Dear Ada", mp.getBodyPart(0).getContent());
    assertEquals("<p>Dear Ada</p>", mp.getBodyPart(1).getContent());
  }

  @Test
  void writesReplyToAndCustomHeaders() throws Exception {
    ComposedMessage m = compose(job().put("text", "x").put("replyTo", "Support <help@acme.example>")
        .put("headers", new JsonObject().put("X-Campaign", "spring").put("List-Unsubscribe", "<mailto:u@acme.example>")),
        Map.of());
    assertWireSafe(m);
    MimeMessage msg = parse(m);
    assertEquals("help@acme.example", ((InternetAddress) msg.getReplyTo()[0]).getAddress());
    assertEquals("spring", header(msg, "X-Campaign"));
    assertEquals("<mailto:u@acme.example>", header(msg, "List-Unsubscribe"));
  }

  @Test
  void encodesNonAsciiSubjectAndDecodesBack() throws Exception {
    String subject = "Grüße, {{name}} — ваш заказ 📦 готов";
    ComposedMessage m = compose(job().put("subject", subject).put("text", "x"), Map.of("name", "Jürgen"));
    assertWireSafe(m);
    String raw = new String(m.toBytes(), StandardCharsets.ISO_8859_1);
    String rawSubject = raw.substring(raw.indexOf("\r\nSubject: ") + 2);
    assertTrue(rawSubject.startsWith("Subject: =?UTF-8?B?"), rawSubject);
    assertEquals("Grüße, Jürgen — ваш заказ 📦 готов", parse(m).getSubject());
  }

  @Test
  void headersAreAllAscii() {
    ComposedMessage m = compose(job().put("from", "Jürgen Größe <j@acme.example>").put("subject", "Grüße {{name}}")
        .put("headers", new JsonObject().put("X-Note", "naïve café")).put("text", "x"), Map.of("name", "Zoë"));
    byte[] b = m.toBytes();
    String raw = new String(b, StandardCharsets.ISO_8859_1);
    int end = raw.indexOf("\r\n\r\n");
    for (int i = 0; i < end; i++) {
      assertTrue(b[i] >= 0, "non-ASCII octet in headers at " + i);
    }
  }

  @Test
  void subjectVarCannotInjectHeader() throws Exception {
    ComposedMessage m = compose(job().put("text", "x"), Map.of("name", "x\r\nBcc: x@y.z"));
    assertWireSafe(m);
    MimeMessage msg = parse(m);
    assertNull(msg.getHeader("Bcc"));
    assertEquals("Hello x Bcc: x@y.z", msg.getSubject());
  }

  @ParameterizedTest
  @ValueSource(strings = {"x\nBcc: x@y.z", "x\rBcc: x@y.z", "x\r\n\r\nBcc: x@y.z", "x\u0000Bcc: x@y.z"})
  void subjectVarWithAnyLineBreakCannotInjectHeader(String value) throws Exception {
    ComposedMessage m = compose(job().put("subject", "{{{name}}}").put("text", "x"), Map.of("name", value));
    assertWireSafe(m);
    MimeMessage msg = parse(m);
    assertNull(msg.getHeader("Bcc"));
    assertTrue(msg.getSubject().endsWith("Bcc: x@y.z"), msg.getSubject());
  }

  @Test
  void tenThousandCharacterSingleLineBodyIsEncodedIntoShortLines() throws Exception {
    String line = "word-".repeat(2000);
    ComposedMessage m = compose(job().put("text", "{{body}}"), Map.of("body", line));
    assertWireSafe(m);
    MimeMessage msg = parse(m);
    assertEquals("quoted-printable", msg.getEncoding());
    assertSameText(line + "\r\n", msg.getContent());
  }

  @Test
  void tenThousandCharacterSingleLineHtmlInMultipartIsEncodedIntoShortLines() throws Exception {
    String line = "x".repeat(10_000);
    ComposedMessage m = compose(job().put("text", line).put("html", "<p>" + line + "</p>"), Map.of());
    assertWireSafe(m);
    MimeMultipart mp = (MimeMultipart) parse(m).getContent();
    assertSameText(line, mp.getBodyPart(0).getContent());
    assertSameText("<p>" + line + "</p>", mp.getBodyPart(1).getContent());
    assertEquals("quoted-printable", ((MimePart) mp.getBodyPart(0)).getEncoding());
  }

  @Test
  void lineOf997OctetsStays7bit() throws Exception {
    String line = "y".repeat(997);
    ComposedMessage m = compose(job().put("text", line + "\n" + line), Map.of());
    assertWireSafe(m);
    MimeMessage msg = parse(m);
    assertEquals("7bit", msg.getEncoding());
    assertSameText(line + "\r\n" + line + "\r\n", msg.getContent());
  }

  @Test
  void nonAsciiBodiesAreQuotedPrintableAndDecodeBack() throws Exception {
    String text = "Grüße {{name}},\nдобро пожаловать 🎉\n\n" + "ü".repeat(3000) + "\n. trailing space \n=end=";
    String html = "<p>日本語のテキスト {{name}}</p>" + "<i>é</i>".repeat(2000);
    ComposedMessage m = compose(job().put("text", text).put("html", html), Map.of("name", "Zoë"));
    assertWireSafe(m);
    MimeMultipart mp = (MimeMultipart) parse(m).getContent();
    assertEquals("quoted-printable", ((MimePart) mp.getBodyPart(0)).getEncoding());
    assertSameText("Grüße Zoë,\r\nдобро пожаловать 🎉\r\n\r\n" + "ü".repeat(3000) + "\r\n. trailing space \r\n=end=",
        mp.getBodyPart(0).getContent());
    assertSameText("<p>日本語のテキスト Zoë</p>" + "<i>é</i>".repeat(2000), mp.getBodyPart(1).getContent());
  }

  @Test
  void normalisesBareLineBreaksInTemplatesAndValues() throws Exception {
    ComposedMessage m = compose(job().put("text", "a\rb\n{{{v}}}\r\n{{v}}"), Map.of("v", "c\nd\re"));
    assertWireSafe(m);
    assertEquals("a\r\nb\r\nc\r\nd\r\ne\r\nc\r\nd\r\ne\r\n", parse(m).getContent());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "'no dots at all'         |                | false",
      "'a.b. c.'                |                | false",
      "'.starts with a dot'     |                | true",
      "'a\\n.b'                 |                | true",
      "'a\\n..'                 |                | true",
      "'a\\n.'                  |                | true",
      "'.é non-ASCII goes QP'   |                | false",
      "'ü\\n.second line'       |                | false",
      "'text'                   | '.html'        | true",
      "'.text'                  | '<p>é</p>'     | true",
      "'é'                      | '<p>\\n.x</p>' | true",
      "'é'                      | 'ü\\n.y'       | false"})
  void dotAtLineStartIsTrueExactlyWhenSomeLineStartsWithDot(String text, String html, boolean expected) {
    JsonObject job = job().put("text", text.replace("\\n", "\n"));
    if (html != null) {
      job.put("html", html.replace("\\n", "\n"));
    }
    ComposedMessage m = compose(job, Map.of());
    assertWireSafe(m);
    String raw = new String(m.toBytes(), StandardCharsets.UTF_8);
    assertEquals(expected, someLineStartsWithDot(m), raw);
    assertEquals(expected, m.dotAtLineStart(), raw);
  }

  @Test
  void dotAtLineStartIsSetForDotsFromVars() {
    ComposedMessage m = compose(job().put("text", "Hi\n{{v}}"), Map.of("v", ".dot"));
    assertTrue(someLineStartsWithDot(m));
    assertTrue(m.dotAtLineStart());
  }

  @Test
  void quotedPrintableBodiesNeverStartALineWithDot() {
    ComposedMessage m = compose(job().put("text", ".é\n." + "ü".repeat(500) + ".".repeat(500)), Map.of());
    assertFalse(someLineStartsWithDot(m));
    assertFalse(m.dotAtLineStart());
  }

  @Test
  void messageIdIsStablePerSeqAndDistinctAcrossSeqs() throws Exception {
    MimeComposer c = composer(job().put("text", "x"));
    String id7 = parse(c.compose(7, TO, Map.of())).getMessageID();
    assertEquals("<7.0f8fad5bd9cb469fa16570867728950e@acme.example>", id7);
    assertEquals(id7, parse(c.compose(7, TO, Map.of("name", "other"))).getMessageID());
    // a composer built again for the same job (after a restart) gives the same id
    assertEquals(id7, parse(composer(job().put("text", "x")).compose(7, TO, Map.of())).getMessageID());
    assertNotEquals(id7, parse(c.compose(8, TO, Map.of())).getMessageID());
  }

  @Test
  void composesSameBytesApartFromDateForSameInputs() {
    MimeComposer c = composer(job().put("text", "Hi {{name}}"));
    String a = new String(c.compose(3, TO, Map.of("name", "Ada")).toBytes(), StandardCharsets.US_ASCII);
    String b = new String(c.compose(3, TO, Map.of("name", "Ada")).toBytes(), StandardCharsets.US_ASCII);
    assertEquals(a.substring(a.indexOf("\r\n")), b.substring(b.indexOf("\r\n")));
  }

  @Test
  void leavesTailRoomAfterTheMessage() {
    ComposedMessage m = compose(job().put("text", "x".repeat(5000)), Map.of());
    assertTrue(m.data().length - m.length() >= MimeComposer.TAIL_ROOM);
    assertArrayEquals(java.util.Arrays.copyOf(m.data(), m.length()), m.toBytes());
  }

  // RFC 5322 2.1.1: a header line must not pass 998 octets either; these use values the parser accepts.

  @Test
  void longestAllowedSubjectWithoutSpacesStaysWithin998Octets() throws Exception {
    String subject = "s".repeat(998);
    ComposedMessage m = compose(job().put("subject", subject).put("text", "x"), Map.of());
    assertWireSafe(m);
    assertEquals(subject, parse(m).getSubject());
  }

  @Test
  void longSubjectVarWithoutSpacesStaysWithin998Octets() throws Exception {
    String value = "v".repeat(2000);
    ComposedMessage m = compose(job().put("text", "x"), Map.of("name", value));
    assertWireSafe(m);
    assertEquals("Hello " + value, parse(m).getSubject());
  }

  @Test
  void longestAllowedCustomHeaderValueStaysWithin998Octets() throws Exception {
    String value = "h".repeat(998);
    ComposedMessage m = compose(job().put("text", "x").put("headers", new JsonObject().put("X-Long", value)), Map.of());
    assertWireSafe(m);
    assertEquals(value, MimeUtility.decodeText(MimeUtility.unfold(header(parse(m), "X-Long"))));
  }

  @Test
  void longestAllowedNonAsciiDisplayNameStaysWithin998Octets() throws Exception {
    String name = "日本".repeat(100);
    ComposedMessage m = compose(job().put("from", name + " <news@acme.example>").put("text", "x"), Map.of());
    assertWireSafe(m);
    assertEquals(name, ((InternetAddress) parse(m).getFrom()[0]).getPersonal());
  }

  @Test
  void longNonAsciiSubjectIsFoldedAndDecodesBack() throws Exception {
    String value = "Привет мир ".repeat(60).trim();
    ComposedMessage m = compose(job().put("text", "x"), Map.of("name", value));
    assertWireSafe(m);
    assertEquals("Hello " + value, parse(m).getSubject());
  }

  @Test
  void aSharedMessageShowsItsToAndCcListsFoldedAndTheSameBytesWhenComposedAgain() {
    StringBuilder many = new StringBuilder();
    io.vertx.core.json.JsonArray to = new io.vertx.core.json.JsonArray();
    for (int i = 0; i < 8; i++) {
      to.add("Person Number " + i + " <person" + i + "@example.com>");
    }
    JsonObject job = new JsonObject().put("from", "news@acme.example").put("subject", "Minutes").put("text", "Notes")
        .put("to", to).put("cc", new io.vertx.core.json.JsonArray().add("\"Smith, Carl\" <carl@example.com>"));
    MimeComposer c = composer(job);
    java.time.OffsetDateTime at = java.time.OffsetDateTime.parse("2026-12-03T08:00:00Z");
    ComposedMessage m = c.composeShared(at);
    assertWireSafe(m);
    String s = new String(m.toBytes(), StandardCharsets.US_ASCII);
    assertTrue(s.startsWith("Date: Thu, 3 Dec 2026 08:00:00 +0000\r\n"), s);
    assertTrue(s.contains("\r\nTo: Person Number 0 <person0@example.com>,"), s);
    assertTrue(s.contains("\r\nCc: \"Smith, Carl\" <carl@example.com>\r\n"), s);
    assertFalse(s.contains("Bcc"), s);
    assertTrue(s.contains("Message-ID: <" + JOB.toString().replace("-", "") + "@acme.example>\r\n"), s);
    for (String line : s.split("\r\n")) {
      assertTrue(line.length() <= 78 || !line.startsWith("To:") && !line.startsWith(" "), "folded: " + line);
    }
    assertArrayEquals(m.toBytes(), c.composeShared(at).toBytes(), "the same bytes each time");
  }

  // --- attachments

  private static io.vertx.core.json.JsonArray files(String... namesTypesInline) {
    io.vertx.core.json.JsonArray a = new io.vertx.core.json.JsonArray();
    for (int i = 0; i < namesTypesInline.length; i += 3) {
      JsonObject f = new JsonObject().put("filename", namesTypesInline[i]).put("contentType", namesTypesInline[i + 1])
          .put("content", java.util.Base64.getEncoder().encodeToString(("bytes of " + namesTypesInline[i]).getBytes(StandardCharsets.UTF_8)));
      if (namesTypesInline[i + 2].equals("inline")) {
        f.put("inline", true);
      }
      a.add(f);
    }
    return a;
  }

  @Test
  void aLongNonAsciiFileNameIsWrittenAsRfc2231ContinuationsThatJakartaMailDecodes() throws Exception {
    String name = "Überweisungsbestätigung für den Zeitraum Januar bis März — Kunde Ørsted Ærø.pdf";
    ComposedMessage m = compose(job().put("text", "see attached").put("attachments", files(name, "application/pdf", "no")),
        Map.of());
    assertWireSafe(m);
    String wire = new String(m.toBytes(), StandardCharsets.US_ASCII);
    assertTrue(wire.contains(" filename*0*=UTF-8''%C3%9Cberweisungsbest"), wire);
    assertTrue(wire.contains(" filename*1*="), "continued: " + wire);
    for (String line : wire.split("\r\n")) {
      assertTrue(line.length() <= 78 || !line.contains("filename"), "a parameter line of " + line.length() + ": " + line);
    }
    MimeMultipart mixed = (MimeMultipart) parse(m).getContent();
    assertEquals(2, mixed.getCount());
    MimePart file = (MimePart) mixed.getBodyPart(1);
    assertEquals(name, file.getFileName());
    assertEquals("attachment", file.getDisposition());
    assertEquals("bytes of " + name, new String(file.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  @Test
  void inlinePartsWithoutAttachmentsMakeAMultipartRelatedMessageAndWithoutHtmlAreFilesOfTheirOwn() throws Exception {
    MimeMessage related = parse(compose(job().put("html", "<img src=\"cid:a.png\">")
        .put("attachments", files("a.png", "image/png", "inline")), Map.of()));
    assertTrue(related.getContentType().startsWith("multipart/related"), related.getContentType());
    MimeMultipart r = (MimeMultipart) related.getContent();
    assertEquals(2, r.getCount());
    assertTrue(r.getBodyPart(0).isMimeType("text/html"));
    assertEquals("<a.png>", ((MimePart) r.getBodyPart(1)).getContentID());

    MimeMessage mixed = parse(compose(job().put("text", "no html")
        .put("attachments", files("a.png", "image/png", "inline")), Map.of()));
    assertTrue(mixed.getContentType().startsWith("multipart/mixed"), "no html to relate it to: " + mixed.getContentType());
    MimeMultipart x = (MimeMultipart) mixed.getContent();
    assertTrue(x.getBodyPart(0).isMimeType("text/plain"));
    assertEquals("inline", x.getBodyPart(1).getDisposition());
  }

  @Test
  void everyRecipientsMessageSharesTheAttachmentsOneEncoding() {
    MimeComposer c = composer(job().put("text", "Hi {{name}}").put("attachments", files("r.bin", "application/octet-stream", "no")));
    ComposedMessage a = c.compose(1, TO, Map.of("name", "Ann"));
    ComposedMessage b = c.compose(2, EmailAddress.parse("bob@example.com", "email"), Map.of("name", "Bob"));
    String one = new String(a.toBytes(), StandardCharsets.US_ASCII);
    String two = new String(b.toBytes(), StandardCharsets.US_ASCII);
    String encoded = java.util.Base64.getEncoder().encodeToString("bytes of r.bin".getBytes(StandardCharsets.UTF_8));
    assertTrue(one.contains(encoded) && two.contains(encoded), one);
    assertTrue(one.contains("Hi Ann") && two.contains("Hi Bob"), "personal text, shared files");
  }
}

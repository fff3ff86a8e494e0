package io.mailgate.backend.smtp;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.mailgate.config.GatewayConfig;
import io.mailgate.job.JobSpecParser;
import io.mailgate.message.ComposedMessage;
import io.mailgate.message.EmailAddress;
import io.mailgate.message.MimeComposer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SmtpDataTest {

  private static String encode(String s) {
    byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
    return new String(SmtpData.encode(b, b.length).getBytes(), StandardCharsets.ISO_8859_1);
  }

  private static String visible(String s) {
    return "[" + s.replace("\r", "\\r").replace("\n", "\\n") + "]";
  }

  /**
   * What a server reads: data ends at the first CRLF.CRLF (or a leading .CRLF), then dot-unstuffing. Also checks that
   * no bare CR or LF is on the wire.
   */
  private static String serverView(String wire) {
    for (int i = 0; i < wire.length(); i++) {
      char c = wire.charAt(i);
      if (c == '\r' && (i + 1 >= wire.length() || wire.charAt(i + 1) != '\n') || c == '\n' && (i == 0 || wire.charAt(i - 1) != '\r')) {
        fail("bare " + (c == '\r' ? "CR" : "LF") + " at " + i + " in " + visible(wire));
      }
    }
    int terminator = wire.indexOf("\r\n.\r\n");
    int end = wire.startsWith(".\r\n") ? 0 : terminator < 0 ? -1 : terminator + 2;
    assertTrue(end >= 0 && end + 3 == wire.length(), "end of data must come exactly at the end: " + visible(wire));
    StringBuilder data = new StringBuilder();
    for (String line : wire.substring(0, end).split("\r\n", -1)) {
      data.append(line.startsWith(".") ? line.substring(1) : line).append("\r\n");
    }
    return end == 0 ? "" : data.substring(0, data.length() - 2);
  }

  private static String normalize(String s) {
    return s.replace("\r\n", "\n").replace('\r', '\n').replace("\n", "\r\n");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "''              | '.\\r\\n'",
      "'a'             | 'a\\r\\n.\\r\\n'",
      "'a\\r\\n'       | 'a\\r\\n.\\r\\n'",
      "'a\\nb\\n'      | 'a\\r\\nb\\r\\n.\\r\\n'",
      "'a\\rb\\r'      | 'a\\r\\nb\\r\\n.\\r\\n'",
      "'a\\n\\rb'      | 'a\\r\\n\\r\\nb\\r\\n.\\r\\n'",
      "'\\r\\r\\n\\n'  | '\\r\\n\\r\\n\\r\\n.\\r\\n'"})
  void normalisesLineBreaksAndAppendsTerminator(String in, String expected) {
    assertEquals(unescape(expected), encode(unescape(in)));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "'.'               | '..\\r\\n.\\r\\n'",
      "'.a\\r\\n..b'     | '..a\\r\\n...b\\r\\n.\\r\\n'",
      "'a.b\\r\\nc.'     | 'a.b\\r\\nc.\\r\\n.\\r\\n'",
      "'a\\r\\n.\\r\\n'  | 'a\\r\\n..\\r\\n.\\r\\n'",
      "'a\\n.b'          | 'a\\r\\n..b\\r\\n.\\r\\n'",
      "'a\\r.b'          | 'a\\r\\n..b\\r\\n.\\r\\n'"})
  void dotStuffsLinesStartingWithDot(String in, String expected) {
    assertEquals(unescape(expected), encode(unescape(in)));
  }

  private static String unescape(String s) {
    return s.replace("\\r", "\r").replace("\\n", "\n");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "'\\n.\\r\\n'", "'\\r.\\r\\n'", "'\\n.\\n'", "'\\r.\\r'", "'\\r\\n.\\n'", "'\\r\\n.\\r'", "'\\n.\\r'"})
  void smugglingSequenceDoesNotEndTheData(String sequence) {
    String in = "Subject: hi\r\n\r\nbody" + unescape(sequence) + "MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\n";
    String wire = encode(in);
    assertEquals(normalize(in), serverView(wire));
  }

  @Test
  void manySmugglingSequencesInOneMessageAreAllStuffed() {
    String in = "x\r.\r\n".repeat(50) + "y\n.\r\n".repeat(50);
    String wire = encode(in);
    assertEquals(normalize(in), serverView(wire));
  }

  @Test
  void manyDotsAfterBareCrFitTheOutput() {
    String in = "\r.".repeat(100);
    assertEquals("\r\n..".repeat(100) + "\r\n.\r\n", encode(in));
  }

  @Test
  void randomInputsReachTheServerUnchangedApartFromLineBreaks() {
    String[] pieces = {"\r", "\n", "\r\n", ".", "..", "a", "bc", " ", "\r\n.\r\n", "\n.\n", "\r.\r"};
    Random r = new Random(97);
    for (int i = 0; i < 3000; i++) {
      StringBuilder b = new StringBuilder();
      for (int k = r.nextInt(60); k > 0; k--) {
        b.append(pieces[r.nextInt(pieces.length)]);
      }
      String in = b.toString();
      String wire;
      try {
        wire = encode(in);
      } catch (RuntimeException e) {
        throw new AssertionError("encode failed for " + visible(in), e);
      }
      String expected = normalize(in);
      // the transport adds a final CRLF when the data does not end with one
      if (!expected.isEmpty() && !expected.endsWith("\r\n")) {
        expected += "\r\n";
      }
      assertEquals(expected, serverView(wire), visible(in));
    }
  }

  @Test
  void encodesOnlyTheFirstNBytes() {
    byte[] b = "ab\r\ncd-ignored".getBytes(StandardCharsets.US_ASCII);
    assertEquals("ab\r\ncd\r\n.\r\n", new String(SmtpData.encode(b, 6).getBytes(), StandardCharsets.US_ASCII));
  }

  private static ComposedMessage composed(String text) {
    JsonObject job = new JsonObject().put("from", "Acme <news@acme.example>").put("subject", "Hi {{name}}").put("text", text);
    MimeComposer composer = new MimeComposer(
        new JobSpecParser(GatewayConfig.from(Map.of()).limits()).parse(job, false).compile(UUID.randomUUID(), UUID.randomUUID()));
    return composer.compose(1, EmailAddress.parse("ada@example.com", "email"), Map.of("name", "Ada"));
  }

  @Test
  void fastPathGivesTheSameBytesAsTheGeneralPath() {
    for (String text : new String[] {"Hello {{name}}", "Hello\nworld\n", "ü".repeat(300), "a. b.\n\n", "x".repeat(5000)}) {
      ComposedMessage m = composed(text);
      assertFalse(m.dotAtLineStart());
      byte[] general = SmtpData.encode(m.toBytes(), m.length()).getBytes();
      byte[] fast = SmtpData.encode(m).getBytes();
      assertArrayEquals(general, fast, text);
    }
  }

  @Test
  void fastPathLeavesTheMessageItselfUnchanged() {
    ComposedMessage m = composed("Hello {{name}}");
    byte[] before = m.toBytes().clone();
    byte[] first = SmtpData.encode(m).getBytes();
    assertArrayEquals(before, m.toBytes());
    assertArrayEquals(first, SmtpData.encode(m).getBytes());
  }

  @Test
  void messageWithDotAtLineStartIsStuffed() {
    ComposedMessage m = composed("Hello\n.hidden\n");
    assertTrue(m.dotAtLineStart());
    String wire = new String(SmtpData.encode(m).getBytes(), StandardCharsets.US_ASCII);
    assertTrue(wire.contains("\r\n..hidden\r\n"), visible(wire));
    assertEquals(new String(m.toBytes(), StandardCharsets.US_ASCII), serverView(wire));
  }

  @Test
  void fastPathAddsCrlfWhenTheMessageDoesNotEndWithOne() {
    byte[] data = Arrays.copyOf("a\r\nb".getBytes(StandardCharsets.US_ASCII), 32);
    String wire = new String(SmtpData.encode(new ComposedMessage(data, 4, false)).getBytes(), StandardCharsets.US_ASCII);
    assertEquals("a\r\nb\r\n.\r\n", wire);
  }

  @Test
  void messageWithoutTailRoomTakesTheGeneralPath() {
    byte[] data = "a\r\nb\r\n".getBytes(StandardCharsets.US_ASCII);
    String wire = new String(SmtpData.encode(new ComposedMessage(data, data.length, false)).getBytes(), StandardCharsets.US_ASCII);
    assertEquals("a\r\nb\r\n.\r\n", wire);
    assertEquals("a\r\nb\r\n", new String(data, StandardCharsets.US_ASCII));
  }

  @Test
  void emptyMessageIsJustTheTerminator() {
    assertEquals(".\r\n", new String(SmtpData.encode(new ComposedMessage(new byte[8], 0, false)).getBytes(), StandardCharsets.US_ASCII));
  }
}

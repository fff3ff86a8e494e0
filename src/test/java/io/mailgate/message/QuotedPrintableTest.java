package io.mailgate.message;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import jakarta.mail.internet.MimeUtility;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 5, unit = TimeUnit.MINUTES)
class QuotedPrintableTest {

  /** Pieces random texts are made of: the troublesome ones (whitespace, '=', '.', breaks) over-represented. */
  private static final String[] ASCII_PIECES = {"a", "b", "Z", "0", "~", "!", " ", "  ", "\t", "=", "==", ".", "..",
      "\r\n", "\r\n.", "\r\n..", " \r\n", "\t\r\n", "=\r\n", "-", "_", "?", "\"", "<p>", "word ", "\u0001", "\u007f"};
  private static final String[] UTF8_PIECES = {"é", "ü", "ß", "日本", "语", "🎉", "д", "\u00a0", "\u2028", "€"};

  private static byte[] encode(byte[] in) {
    byte[] out = new byte[QuotedPrintable.maxEncodedLength(in.length)];
    int n = QuotedPrintable.encode(in, in.length, out, 0);
    return Arrays.copyOf(out, n);
  }

  private static byte[] decode(byte[] encoded) throws Exception {
    try (InputStream in = MimeUtility.decode(new ByteArrayInputStream(encoded), "quoted-printable")) {
      return in.readAllBytes();
    }
  }

  private static String encode(String s) {
    return new String(encode(s.getBytes(StandardCharsets.UTF_8)), StandardCharsets.US_ASCII);
  }

  /** RFC 2045 6.7 output rules, plus no '.' at a line start so SMTP needs no dot-stuffing. */
  private static void assertValidEncoding(byte[] e) {
    int lineStart = 0;
    for (int i = 0; i < e.length; i++) {
      int b = e[i] & 0xFF;
      if (b == '\r') {
        if (i + 1 >= e.length || e[i + 1] != '\n') {
          fail("bare CR at " + i);
        }
        if (i - lineStart > 76) {
          fail("line of " + (i - lineStart) + " characters at " + lineStart);
        }
        if (i > lineStart && (e[i - 1] == ' ' || e[i - 1] == '\t')) {
          fail("whitespace before line break at " + i);
        }
        i++;
        lineStart = i + 1;
      } else if (b == '\n') {
        fail("bare LF at " + i);
      } else if (b > 126 || b < 32 && b != '\t') {
        fail("unencoded byte " + b + " at " + i);
      } else if (b == '.' && i == lineStart) {
        fail("line starting with '.' at " + i);
      }
    }
    if (e.length - lineStart > 76) {
      fail("last line of " + (e.length - lineStart) + " characters");
    }
  }

  private static String randomText(Random r, int pieces, boolean utf8) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < pieces; i++) {
      if (utf8 && r.nextInt(3) == 0) {
        b.append(UTF8_PIECES[r.nextInt(UTF8_PIECES.length)]);
      } else if (r.nextInt(40) == 0) {
        b.append("x".repeat(r.nextInt(300)));
      } else {
        b.append(ASCII_PIECES[r.nextInt(ASCII_PIECES.length)]);
      }
    }
    return b.toString();
  }

  private static void assertRoundTrip(String text) throws Exception {
    byte[] in = text.getBytes(StandardCharsets.UTF_8);
    byte[] encoded = encode(in);
    assertValidEncoding(encoded);
    byte[] decoded = decode(encoded);
    if (!Arrays.equals(in, decoded)) {
      fail("round trip changed " + describe(text) + " encoded as " + describe(new String(encoded, StandardCharsets.US_ASCII)));
    }
  }

  private static String describe(String s) {
    String shown = s.length() > 300 ? s.substring(0, 300) + "..." : s;
    return "[" + shown.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t") + "]";
  }

  @Test
  void roundTripsRandomAsciiTexts() throws Exception {
    Random r = new Random(20261129);
    for (int i = 0; i < 2000; i++) {
      assertRoundTrip(randomText(r, 1 + r.nextInt(120), false));
    }
  }

  @Test
  void roundTripsRandomUtf8Texts() throws Exception {
    Random r = new Random(4711);
    for (int i = 0; i < 2000; i++) {
      assertRoundTrip(randomText(r, 1 + r.nextInt(120), true));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "a", ".", " ", "\t", "=", "\r\n", "\r\n\r\n", ".\r\n.", "a \r\nb\t\r\n", "trailing space ",
      "Grüße aus Köln", "a=b==c", "=\r\n=", "🎉🎉🎉"})
  void roundTripsEdgeCases(String text) throws Exception {
    assertRoundTrip(text);
  }

  @Test
  void roundTripsLongLinesOfEveryLength() throws Exception {
    for (int n = 70; n <= 240; n++) {
      assertRoundTrip("a".repeat(n));
      assertRoundTrip("é".repeat(n));
      assertRoundTrip(".".repeat(n));
      assertRoundTrip(" ".repeat(n) + "\r\n" + "=".repeat(n));
    }
  }

  @Test
  void leavesShortPlainAsciiUnchanged() {
    assertEquals("Hello, world!\r\nSecond line.", encode("Hello, world!\r\nSecond line."));
  }

  @Test
  void encodesEqualsSignsAndNonAsciiBytes() {
    assertEquals("a=3Db", encode("a=b"));
    assertEquals("Gr=C3=BC=C3=9Fe", encode("Grüße"));
  }

  @Test
  void encodesWhitespaceBeforeLineBreaksAndAtTheEnd() {
    assertEquals("a=20\r\nb=09\r\nc d=20", encode("a \r\nb\t\r\nc d "));
  }

  @Test
  void encodesDotOnlyAtLineStart() {
    assertEquals("=2Ea.b.\r\n=2E\r\n=2E.", encode(".a.b.\r\n.\r\n.."));
  }

  @Test
  void encodesDotThatASoftBreakMovesToLineStart() {
    String encoded = encode("a".repeat(75) + ".b");
    assertEquals("a".repeat(75) + "=\r\n=2Eb", encoded);
  }

  @Test
  void breaksLongLinesSoftlyAt76Characters() {
    String encoded = encode("a".repeat(200));
    String[] lines = encoded.split("\r\n");
    assertEquals(3, lines.length);
    assertEquals(76, lines[0].length());
    assertTrue(lines[0].endsWith("="), lines[0]);
    assertEquals(76, lines[1].length());
    assertEquals("a".repeat(50), lines[2]);
  }

  @Test
  void neverSplitsAnEncodedTriple() {
    String encoded = encode("é".repeat(60));
    for (String line : encoded.split("\r\n")) {
      String content = line.endsWith("=") ? line.substring(0, line.length() - 1) : line;
      assertTrue(content.matches("(=[0-9A-F]{2})*"), line);
    }
  }

  @Test
  void encodesBareCrAndLfInsteadOfPassingThemThrough() throws Exception {
    String encoded = encode("a\rb\nc");
    assertEquals("a=0Db=0Ac", encoded);
    assertRoundTrip("a\rb\nc\r");
  }

  @Test
  void maxEncodedLengthIsEnoughForTheWorstCase() {
    for (int n = 0; n <= 400; n++) {
      byte[] worst = new byte[n];
      Arrays.fill(worst, (byte) 0xFF);
      byte[] out = new byte[QuotedPrintable.maxEncodedLength(n)];
      int end = QuotedPrintable.encode(worst, n, out, 0);
      assertTrue(end <= out.length, "n=" + n);
      assertValidEncoding(Arrays.copyOf(out, end));
    }
  }

  @Test
  void encodesAtTheGivenOffset() {
    byte[] in = "é.".getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[4 + QuotedPrintable.maxEncodedLength(in.length)];
    Arrays.fill(out, (byte) '#');
    int end = QuotedPrintable.encode(in, in.length, out, 4);
    assertEquals("####=C3=A9.", new String(out, 0, end, StandardCharsets.US_ASCII));
  }
}

package io.mailgate.message;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.error.InvalidInputException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 1, unit = TimeUnit.MINUTES)
class MimeMessageTest {

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  private static MimeMessage parse(String s) {
    byte[] b = bytes(s);
    return MimeMessage.parse(b, b.length);
  }

  @Test
  void readsFromSubjectAndMessageIdAndKeepsTheBytes() {
    byte[] b = bytes("From: \"Acme, Inc\" <news@acme.example>\r\nSubject: a long\r\n\tfolded subject\r\n"
        + "Message-ID:  <x.1@acme.example>\r\n\r\nbody\r\n");
    MimeMessage m = MimeMessage.parse(b, b.length);
    assertSame(b, m.data(), "a CRLF message is kept as given");
    assertEquals("news@acme.example", m.from().address().value());
    assertEquals("Acme, Inc", m.from().displayName());
    assertEquals("a long folded subject", m.subject());
    assertEquals("<x.1@acme.example>", m.messageId());
    assertFalse(m.dotAtLineStart());
  }

  @Test
  void aUtf8FromIsReadAsUtf8AndTheHeadersAreEightBit() {
    byte[] b = "From: Jürgen <jürgen@xn--bcher-kva.example>\r\nSubject: Grüße\r\n\r\nbody ü\r\n".getBytes(StandardCharsets.UTF_8);
    MimeMessage m = MimeMessage.parse(b, b.length);
    assertEquals("jürgen@bücher.example", m.from().address().value());
    assertTrue(m.eightBitHeaders());
    assertFalse(parse("From: a@acme.example\r\n\r\nbody \u00fc\r\n").eightBitHeaders(), "8-bit in the body only");
  }

  @Test
  void aFromThatIsNotUtf8IsRefused() {
    var e = assertThrows(io.mailgate.error.InvalidInputException.class, () -> parse("From: j\u00fcrgen@acme.example\r\n\r\nx\r\n"));
    assertTrue(e.getMessage().contains("not valid UTF-8"), e.getMessage());
  }

  @Test
  void aMessageOfBareLfsGetsCrlfs() {
    MimeMessage m = parse("From: a@acme.example\n\n.dot\nend\n");
    assertArrayEquals(bytes("From: a@acme.example\r\n\r\n.dot\r\nend\r\n"), m.data());
    assertTrue(m.dotAtLineStart(), "a line starting with '.' is flagged for dot-stuffing");
  }

  @Test
  void aMessageIdIsAddedInFrontOnlyWhenMissing() {
    MimeMessage without = parse("From: a@acme.example\r\n\r\nbody\r\n");
    assertNull(without.messageId());
    assertEquals("Message-ID: <job@acme.example>\r\nFrom: a@acme.example\r\n\r\nbody\r\n",
        new String(without.toComposed("<job@acme.example>").toBytes(), StandardCharsets.US_ASCII));
    MimeMessage with = parse("From: a@acme.example\r\nMessage-ID: <own@acme.example>\r\n\r\nbody\r\n");
    assertArrayEquals(with.data(), with.toComposed("<job@acme.example>").toBytes());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "Subject: no from\r\n\r\nbody\r\n",
      "From: a@acme.example\r\nFrom: b@acme.example\r\n\r\nbody\r\n",
      "From: a@acme.example, b@acme.example\r\n\r\nbody\r\n",
      "From: not an address\r\n\r\nbody\r\n",
      "From: a@acme.example\r\nSubject: mixed\n\r\nbody\r\n",
      "From: a@acme.example\rSubject: bare cr\r\n\r\nbody\r\n",
      "From: a@acme.example\r\n\r\nbo\0dy\r\n",
      "From: a@acme.example\r\nno colon here\r\n\r\nbody\r\n",
      "From: a@acme.example\r\nX;Odd: 1\r\n\r\nbody\r\n",
      " From: a@acme.example\r\n\r\nbody\r\n",
      "From: a@acme.example\r\nMessage-ID: no-brackets@acme.example\r\n\r\nbody\r\n",
      ""})
  void refusesWhatCannotBeSentAsIs(String message) {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> parse(message));
    assertEquals("invalid_message", e.code());
  }

  @Test
  void refusesALineOver998Octets() {
    assertThrows(InvalidInputException.class, () -> parse("From: a@acme.example\r\n\r\n" + "x".repeat(999) + "\r\n"));
    parse("From: a@acme.example\r\n\r\n" + "x".repeat(998) + "\r\n");
  }

  // --- fed a piece at a time, as intake stores a message

  /** What a checker gave for a message fed in the pieces cut at {@code cuts}: the bytes as stored, and the facts. */
  private record Fed(byte[] stored, MimeMessage.Checked checked) {}

  private static Fed fed(String message, int... cuts) {
    return fed(Integer.MAX_VALUE, bytes(message), cuts);
  }

  private static Fed fed(int maxHeaderBytes, byte[] b, int... cuts) {
    MimeMessage.Checker c = new MimeMessage.Checker(maxHeaderBytes);
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    int from = 0;
    for (int cut : cuts) {
      c.feed(b, from, cut - from, out::write);
      from = cut;
    }
    c.feed(b, from, b.length - from, out::write);
    return new Fed(out.toByteArray(), c.finish());
  }

  @Test
  void aCrlfSplitBetweenTwoPiecesIsOneLineEndingKeptAsIs() {
    String m = "From: a@acme.example\r\nSubject: split\r\n\r\nbody\r\n";
    int cr = m.indexOf("\r\n") + 1; // the CR ends the first piece, its LF starts the second
    Fed f = fed(m, cr);
    assertArrayEquals(bytes(m), f.stored());
    assertFalse(f.checked().converted());
    assertEquals("split", f.checked().subject());
    assertEquals(m.length(), f.checked().size());
  }

  @Test
  void aBareLfAtAPieceBoundaryBecomesCrlf() {
    String m = "From: a@acme.example\nSubject: lf\n\nbody\nend\n";
    for (int cut : new int[] {m.indexOf('\n'), m.indexOf('\n') + 1, m.indexOf("\n\n") + 1}) {
      Fed f = fed(m, cut);
      assertArrayEquals(bytes(m.replace("\n", "\r\n")), f.stored(), "cut at " + cut);
      assertTrue(f.checked().converted());
      assertEquals("lf", f.checked().subject(), "the header section read across the cut");
      assertEquals(m.length() + 5, f.checked().size());
    }
  }

  @Test
  void everyCutGivesWhatParseGivesTheWholeMessage() {
    for (String m : List.of("From: \"Acme\" <news@acme.example>\r\nSubject: a\r\n folded\r\nMessage-ID: <x@acme.example>\r\n\r\n"
            + "line\r\n.dot\r\nend",
        "From: news@acme.example\nSubject: unix\n\nline\n.dot\nend\n")) {
      MimeMessage whole = parse(m);
      for (int cut = 0; cut <= m.length(); cut++) {
        for (int second = cut; second <= m.length(); second += 7) {
          Fed f = fed(m, cut, second);
          String at = "cut at " + cut + " and " + second;
          assertArrayEquals(whole.data(), f.stored(), at);
          assertEquals(whole.from(), f.checked().from(), at);
          assertEquals(whole.subject(), f.checked().subject(), at);
          assertEquals(whole.messageId(), f.checked().messageId(), at);
          assertTrue(f.checked().dotAtLineStart(), at);
        }
      }
    }
  }

  @Test
  void aLineStartingWithADotIsFlaggedWhenItStartsAPieceAndOnlyAtALineStart() {
    String m = "From: a@acme.example\r\n\r\nx\r\n.dot\r\n";
    assertTrue(fed(m, m.indexOf(".dot")).checked().dotAtLineStart(), "the '.' first in the second piece");
    String mid = "From: a@acme.example\r\n\r\nx.y\r\n";
    assertFalse(fed(mid, mid.indexOf(".y")).checked().dotAtLineStart(), "a '.' within a line");
  }

  @Test
  void aLineOver998OctetsAcrossPiecesIsRefused() {
    String head = "From: a@acme.example\r\n\r\n";
    String over = head + "x".repeat(999) + "\r\n";
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> fed(over, head.length() + 500));
    assertTrue(e.getMessage().contains("longer than 998"), e.getMessage());
    String ok = head + "x".repeat(998) + "\r\n";
    assertArrayEquals(bytes(ok), fed(ok, head.length() + 500, head.length() + 998).stored(), "998 octets in two pieces");
  }

  @Test
  void aNulInTheSecondPieceIsRefused() {
    String m = "From: a@acme.example\r\n\r\nfirst piece\r\nsecond\0piece\r\n";
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> fed(m, m.indexOf("second")));
    assertEquals("invalid_message", e.code());
    assertTrue(e.getMessage().contains("NUL"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "From: a@acme.example\r|Subject: bare cr\r\n\r\nbody\r\n",
      "From: a@acme.example\r\n\r\nbody\r|",
      "From: a@acme.example\r\n\r\nbody\r\n|more\n",
      "From: a@acme.example\n\nbody\n|more\r\n"})
  void aBareCrOrMixedLineEndingsAcrossPiecesAreRefused(String cutAtBar) {
    int cut = cutAtBar.indexOf('|');
    String m = cutAtBar.replace("|", "");
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> fed(m, cut));
    assertEquals("invalid_message", e.code());
    assertTrue(e.getMessage().contains("bare CR") || e.getMessage().contains("mixes"), e.getMessage());
  }

  @Test
  void aHeaderSectionOverItsBoundIsRefusedNamingTheSetting() {
    String head = "From: a@acme.example\r\nSubject: " + "s".repeat(60) + "\r\n";
    byte[] ok = bytes(head + "\r\n" + "body\r\n".repeat(100));
    assertEquals(ok.length, fed(head.length(), ok).checked().size(), "a section of exactly the bound, a longer body");
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> fed(head.length() - 1, ok));
    assertTrue(e.getMessage().contains("MAILGATE_MAX_MIME_HEADER_BYTES"), e.getMessage());
    assertThrows(InvalidInputException.class, () -> fed(head.length() - 1, bytes(head)), "a message all header");
  }
}

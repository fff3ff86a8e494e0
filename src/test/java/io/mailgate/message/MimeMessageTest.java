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
}

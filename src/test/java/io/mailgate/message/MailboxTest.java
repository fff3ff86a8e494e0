package io.mailgate.message;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.error.InvalidInputException;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeUtility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 5, unit = TimeUnit.MINUTES)
class MailboxTest {

  @Test
  void parsesDisplayNameAndAddress() {
    Mailbox m = Mailbox.parse("Acme News <news@acme.example>", "from");
    assertEquals("Acme News", m.displayName());
    assertEquals("news@acme.example", m.address().value());
    assertEquals("Acme News <news@acme.example>", m.toHeader());
  }

  @Test
  void parsesBareAddressWithoutDisplayName() {
    Mailbox m = Mailbox.parse("  news@acme.example  ", "from");
    assertNull(m.displayName());
    assertEquals("news@acme.example", m.address().value());
    assertEquals("news@acme.example", m.toHeader());
  }

  @Test
  void treatsAngleAddressWithoutNameAsBareAddress() {
    Mailbox m = Mailbox.parse("<news@acme.example>", "from");
    assertNull(m.displayName());
    assertEquals("news@acme.example", m.toHeader());
  }

  @Test
  void unquotesQuotedDisplayName() {
    Mailbox m = Mailbox.parse("\"Doe, John\" <john@acme.example>", "from");
    assertEquals("Doe, John", m.displayName());
  }

  @Test
  void unescapesQuotesAndBackslashesInQuotedDisplayName() {
    Mailbox m = Mailbox.parse("\"Say \\\"hi\\\" \\\\ bye\" <a@acme.example>", "from");
    assertEquals("Say \"hi\" \\ bye", m.displayName());
  }

  @Test
  void toHeaderQuotesDisplayNameWithSpecialsSoItParsesBack() throws Exception {
    Mailbox m = Mailbox.parse("\"Doe, \\\"JD\\\" John\" <john@acme.example>", "from");
    String header = m.toHeader();
    assertEquals("\"Doe, \\\"JD\\\" John\" <john@acme.example>", header);
    InternetAddress parsed = new InternetAddress(header, true);
    assertEquals("Doe, \"JD\" John", parsed.getPersonal());
    assertEquals("john@acme.example", parsed.getAddress());
  }

  @Test
  void toHeaderEncodesNonAsciiDisplayNamePerRfc2047() throws Exception {
    Mailbox m = Mailbox.parse("Jürgen Größe <j@acme.example>", "from");
    String header = m.toHeader();
    assertTrue(header.startsWith("=?UTF-8?"), header);
    assertTrue(header.endsWith(" <j@acme.example>"), header);
    assertTrue(HeaderValues.isPlainAscii(header), header);
    String encodedName = header.substring(0, header.lastIndexOf(" <"));
    assertEquals("Jürgen Größe", MimeUtility.decodeText(encodedName));
    assertEquals("Jürgen Größe", new InternetAddress(header, true).getPersonal());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "Acme\r\nBcc: victim@example.com <news@acme.example>",
      "Acme\nNews <news@acme.example>",
      "Acme\rNews <news@acme.example>",
      "Acme\0 <news@acme.example>",
      "news@acme.example\r\n"})
  void rejectsLineBreaksAsHeaderInjection(String raw) {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> Mailbox.parse(raw, "from"));
    assertEquals("header_injection", e.code());
    assertEquals("from", e.field());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "   "})
  void rejectsBlankAsMissing(String raw) {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> Mailbox.parse(raw, "from"));
    assertEquals("missing_field", e.code());
  }

  @Test
  void rejectsNullAsMissing() {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> Mailbox.parse(null, "replyTo"));
    assertEquals("missing_field", e.code());
    assertEquals("replyTo", e.field());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "Acme news@acme.example>",
      "Acme <news@acme>",
      "Acme <not an address>",
      "Acme <news@acme.example",
      "A<b> <news@acme.example>"})
  void rejectsMalformedMailboxesAsInvalidAddress(String raw) {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> Mailbox.parse(raw, "from"));
    assertEquals("invalid_address", e.code());
  }

  @Test
  void rejectsDisplayNameLongerThan200Characters() {
    assertEquals(200, Mailbox.parse("n".repeat(200) + " <a@acme.example>", "from").displayName().length());
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> Mailbox.parse("n".repeat(201) + " <a@acme.example>", "from"));
    assertEquals("invalid_address", e.code());
  }
}

package io.mailgate.message;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.error.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 5, unit = TimeUnit.MINUTES)
class EmailAddressTest {

  @ParameterizedTest
  @ValueSource(strings = {
      "a@b.co",
      "news@acme.example",
      "first.last@sub.domain.example",
      "user+tag@example.com",
      "o'brien@example.ie",
      "!#$%&'*+-/=?^_`{|}~@example.com",
      "x@a-b.example",
      "UPPER@EXAMPLE.COM",
      "123@456.example"})
  void acceptsValidAddresses(String address) {
    assertNull(EmailAddress.problem(address), address);
    assertEquals(address, EmailAddress.parse(address, "email").value());
  }

  @Test
  void domainIsThePartAfterTheAt() {
    assertEquals("sub.acme.example", EmailAddress.parse("news@sub.acme.example", "from").domain());
  }

  @Test
  void rejectsNullAndEmpty() {
    assertEquals("address is empty", EmailAddress.problem(null));
    assertEquals("address is empty", EmailAddress.problem(""));
  }

  @ParameterizedTest
  @ValueSource(strings = {"plainaddress", "@example.com", "user@", "a@b@example.com", "user@@example.com"})
  void rejectsAddressesWithoutExactlyOneAtBetweenLocalAndDomain(String address) {
    String problem = EmailAddress.problem(address);
    assertNotNull(problem, address);
    assertTrue(problem.contains("is not an address of the form local@domain"), problem);
  }

  @ParameterizedTest
  @ValueSource(strings = {".user@example.com", "user.@example.com", "us..er@example.com"})
  void rejectsMisplacedDotsInTheLocalPart(String address) {
    assertNotNull(EmailAddress.problem(address), address);
  }

  @ParameterizedTest
  @ValueSource(strings = {"user@.example.com", "user@example..com", "user@example.com."})
  void rejectsEmptyDomainLabels(String address) {
    String problem = EmailAddress.problem(address);
    assertNotNull(problem, address);
    assertTrue(problem.contains("invalid domain"), problem);
  }

  @ParameterizedTest
  @ValueSource(strings = {"user@-example.com", "user@example-.com", "user@example.-com"})
  void rejectsDomainLabelsStartingOrEndingWithHyphen(String address) {
    String problem = EmailAddress.problem(address);
    assertNotNull(problem, address);
    assertTrue(problem.contains("starting or ending with '-'"), problem);
  }

  @Test
  void rejectsDomainWithoutTopLevelDomain() {
    String problem = EmailAddress.problem("user@localhost");
    assertNotNull(problem);
    assertTrue(problem.contains("no top-level domain"), problem);
  }

  @Test
  void rejectsDomainLabelLongerThan63Characters() {
    assertNull(EmailAddress.problem("u@" + "a".repeat(63) + ".com"));
    assertNotNull(EmailAddress.problem("u@" + "a".repeat(64) + ".com"));
  }

  @Test
  void acceptsLocalPartOf64AndRejects65Characters() {
    assertNull(EmailAddress.problem("a".repeat(64) + "@example.com"));
    String problem = EmailAddress.problem("a".repeat(65) + "@example.com");
    assertEquals("local part is longer than 64 octets", problem);
  }

  @Test
  void acceptsTotalLengthOf254AndRejects255Characters() {
    String domain = "a".repeat(63) + "." + "b".repeat(63) + "." + "c".repeat(63) + "." + "d".repeat(60);
    String ok = "x@" + domain;
    assertEquals(254, ok.length());
    assertNull(EmailAddress.problem(ok), ok);
    String tooLong = "xy@" + domain;
    assertEquals(255, tooLong.length());
    assertEquals("address is longer than 254 octets", EmailAddress.problem(tooLong));
  }

  // --- internationalised addresses (RFC 6531/6532)

  @ParameterizedTest
  @ValueSource(strings = {
      "jürgen@example.com",
      "用户@例子.广告",
      "δοκιμή@παράδειγμα.δοκιμή",
      "user@bücher.example",
      "ivan.иван.李@example.com",        // scripts mixed: allowed
      "अजय@डाटा.भारत",
      "🙂@example.com",
      "über+tag@münchen.example"})
  void acceptsInternationalisedAddresses(String address) {
    assertNull(EmailAddress.problem(address), address);
    assertEquals(address, EmailAddress.parse(address, "email").value(), "stored as given when already canonical");
  }

  @Test
  void aPlainAsciiAddressIsReturnedAsTheSameString() {
    String raw = new String("news@acme.example");
    assertSame(raw, EmailAddress.canonical(raw, "email"), "no copy on the hot path");
    assertSame(raw, EmailAddress.normalize(raw));
  }

  @Test
  void anALabelDomainIsTheSameAddressAsItsULabels() {
    assertEquals("user@bücher.example", EmailAddress.normalize("user@xn--bcher-kva.example"));
    assertEquals("user@bücher.example", EmailAddress.normalize("user@XN--BCHER-KVA.example"));
    assertEquals("user@bücher.example", EmailAddress.normalize("user@BÜCHER.EXAMPLE"), "domain case folded");
    assertEquals(EmailAddress.key("User@xn--bcher-kva.example"), EmailAddress.key("user@Bücher.example"));
  }

  @Test
  void anALabelThatDoesNotDecodeStaysAsGiven() {
    assertEquals("user@xn--zz.example", EmailAddress.normalize("user@xn--zz.example"));
  }

  @Test
  void addressesAreNfcNormalised() {
    String decomposed = "jo\u0065\u0301@example.com"; // e + combining acute
    assertEquals("jo\u00e9@example.com", EmailAddress.normalize(decomposed));
    assertEquals(EmailAddress.key("jo\u00e9@example.com"), EmailAddress.key(decomposed));
  }

  @Test
  void keyFoldsAsciiCaseOnly() {
    assertEquals("jürgen@example.com", EmailAddress.key("JüRGEN@Example.COM"));
    assertEquals("Ürs@example.com", EmailAddress.key("Ürs@example.com"), "non-ASCII letters keep their case");
  }

  @Test
  void localPartLengthIsCountedInOctetsOfUtf8() {
    assertNull(EmailAddress.problem("ü".repeat(32) + "@example.com"), "32 x 2 octets = 64");
    String problem = EmailAddress.problem("ü".repeat(33) + "@example.com");
    assertNotNull(problem);
    assertTrue(problem.startsWith("local part is longer than 64 octets"), problem);
    assertNotNull(EmailAddress.problem("用".repeat(22) + "@example.com"), "22 x 3 octets = 66");
    assertNull(EmailAddress.problem("🙂".repeat(16) + "@example.com"), "16 x 4 octets = 64");
    assertNotNull(EmailAddress.problem("🙂".repeat(17) + "@example.com"));
  }

  @Test
  void wholeLengthIsCountedInOctetsOfUtf8() {
    String domain = "a".repeat(63) + "." + "b".repeat(63) + "." + "c".repeat(63) + "." + "d".repeat(57);
    assertNull(EmailAddress.problem("xyü@" + domain)); // 254 octets
    String problem = EmailAddress.problem("xyzü@" + domain);
    assertNotNull(problem);
    assertTrue(problem.startsWith("address is longer than 254 octets"), problem);
  }

  @Test
  void aDomainTooLongAsALabelsIsRefused() {
    String label = "ü".repeat(30);
    String problem = EmailAddress.problem("u@" + String.join(".", java.util.Collections.nCopies(5, label)) + ".example");
    assertNotNull(problem);
    assertTrue(problem.contains("A-labels") || problem.contains("octets"), problem);
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "a\u0085b@example.com",   // C1 control
      "a\u009bb@example.com",
      "a\u00a0b@example.com",   // no-break space
      "a\u3000b@example.com",   // ideographic space
      "a\u2028b@example.com",   // line separator
      "a\u202eb@example.com",   // right-to-left override
      "a\u2066b@example.com",   // left-to-right isolate
      "a\ufeffb@example.com",
      "a\ue000b@example.com",   // private use
      "a\ud800b@example.com",   // lone surrogate
      "x\u037e@example.com"})   // Greek question mark: NFC makes it ';'
  void refusesControlSpaceAndFormattingCharactersInTheLocalPart(String address) {
    String problem = EmailAddress.problem(address);
    assertNotNull(problem, address);
    assertTrue(problem.chars().noneMatch(c -> c < 32 || c >= 0x80 && c <= 0x9f || c == 0x2028 || c == 0x202e),
        "never echoed: " + problem);
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "user@faß.de",            // IDNA2003 maps ß to ss: another domain
      "user@exa\u3002mple.com", // an ideographic full stop as a dot
      "user@ｅｘａｍｐｌｅ.com",  // full-width letters
      "user@bü\u00a0cher.example",
      "user@üaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example"})  // an A-label over 63
  void refusesInvalidOrRemappedIdnDomains(String address) {
    String problem = EmailAddress.problem(address);
    assertNotNull(problem, address);
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> EmailAddress.parse(address, "to"));
    assertEquals("invalid_address", e.code());
  }

  @Test
  void aRemappedDomainIsNamedInTheError() {
    String problem = EmailAddress.problem("user@faß.de");
    assertTrue(problem.contains("fass.de") && problem.contains("A-labels"), problem);
  }

  @Test
  void formsForTheWire() {
    EmailAddress idn = EmailAddress.parse("user@bücher.example", "to");
    assertFalse(idn.utf8Local());
    assertEquals("user@xn--bcher-kva.example", idn.asciiForm());
    assertEquals("user@xn--bcher-kva.example", idn.headerForm());
    EmailAddress utf8 = EmailAddress.parse("jürgen@bücher.example", "to");
    assertTrue(utf8.utf8Local());
    assertNull(utf8.asciiForm(), "no ASCII form: only SMTPUTF8 carries it");
    assertEquals("jürgen@bücher.example", utf8.headerForm());
    EmailAddress plain = EmailAddress.parse("a@b.example", "to");
    assertSame(plain.value(), plain.asciiForm());
    assertSame(plain, plain.toAscii());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "user\r\n@example.com",
      "user@example.com\r\nRCPT TO:<x@y.z>",
      "user\n@example.com",
      "us er@example.com",
      "user@exa mple.com",
      " user@example.com",
      "user@example.com ",
      "user\0@example.com",
      "<user@example.com>",
      "user,other@example.com",
      "\"quoted\"@example.com",
      "user@[127.0.0.1]"})
  void rejectsLineBreaksSpacesAndSpecials(String address) {
    assertNotNull(EmailAddress.problem(address), address);
  }

  @Test
  void problemNeverEchoesControlCharacters() {
    String problem = EmailAddress.problem("a\r\nb@@example.com");
    assertNotNull(problem);
    assertTrue(problem.indexOf('\r') < 0 && problem.indexOf('\n') < 0, problem);
  }

  @Test
  void parseThrowsInvalidAddressNamingTheField() {
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> EmailAddress.parse("nope", "replyTo"));
    assertEquals("invalid_address", e.code());
    assertEquals("replyTo", e.field());
    assertTrue(e.getMessage().startsWith("replyTo: "), e.getMessage());
  }
}

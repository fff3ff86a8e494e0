package io.mailgate.message;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
    assertEquals("local part is longer than 64 characters", problem);
  }

  @Test
  void acceptsTotalLengthOf254AndRejects255Characters() {
    String domain = "a".repeat(63) + "." + "b".repeat(63) + "." + "c".repeat(63) + "." + "d".repeat(60);
    String ok = "x@" + domain;
    assertEquals(254, ok.length());
    assertNull(EmailAddress.problem(ok), ok);
    String tooLong = "xy@" + domain;
    assertEquals(255, tooLong.length());
    assertEquals("address is longer than 254 characters", EmailAddress.problem(tooLong));
  }

  @ParameterizedTest
  @ValueSource(strings = {"jürgen@example.com", "user@exämple.com", "用户@例子.广告"})
  void rejectsNonAsciiAddressesWithAClearMessage(String address) {
    assertEquals("non-ASCII addresses are not supported", EmailAddress.problem(address));
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

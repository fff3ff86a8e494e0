package io.mailgate.message;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mailgate.error.InvalidInputException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 1, unit = TimeUnit.MINUTES)
class AddressListTest {

  static List<String> parsed(String raw) {
    return AddressList.parse(raw, "to").stream().map(Mailbox::toString).toList();
  }

  @Test
  void splitsAtCommasBetweenMailboxesOnly() {
    assertEquals(List.of("a@example.com", "Smith, Bob <bob@example.com>", "Carl <carl@example.com>"),
        parsed("a@example.com, \"Smith, Bob\" <bob@example.com>,Carl <carl@example.com>"));
  }

  @Test
  void dropsCommentsEmptyEntriesAndGroupNames() {
    assertEquals(List.of("a@example.com", "b@example.com", "c@example.com"),
        parsed("a@example.com (work, mostly), , team: b@example.com, c@example.com;"));
    assertEquals(List.of("Say \"hi\" <d@example.com>"), parsed("\"Say \\\"hi\\\"\" <d@example.com>"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"\"open <a@example.com>", "a@example.com (open", "<a@example.com", "a@example.com>",
      "<<a@example.com>>", "not an address", "a@example.com\r\nBcc: b@example.com"})
  void refusesMalformedLists(String raw) {
    assertThrows(InvalidInputException.class, () -> AddressList.parse(raw, "to"));
  }
}

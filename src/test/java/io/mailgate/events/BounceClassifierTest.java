package io.mailgate.events;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mailgate.events.BounceClassifier.Verdict;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The enhanced status code decides first, the reply text second, the basic code last. */
class BounceClassifierTest {

  @ParameterizedTest(name = "{0} {1} -> {2}")
  @CsvSource(delimiter = '|', nullValues = "none", textBlock = """
      550 | 5.1.1 <a@example.com>: Recipient address rejected: User unknown in virtual mailbox table | HARD
      550 | 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup      | HARD
      550 | 5.1.2 bad destination system: no such domain                                           | HARD
      550 | 5.2.1 The email account that you tried to reach is disabled                            | HARD
      552 | 5.2.2 The email account that you tried to reach is over quota                          | SOFT
      550 | 5.7.1 Message rejected as spam by Content Filtering                                     | OTHER
      550 | 5.7.26 This message does not pass authentication checks (SPF and DKIM both fail)      | OTHER
      554 | 5.6.0 Message content rejected                                                          | OTHER
      451 | 4.7.1 Greylisting in action, please come back later                                     | SOFT
      452 | 4.2.2 Mailbox full                                                                      | SOFT
      550 | Requested action not taken: mailbox unavailable (user unknown)                          | HARD
      550 | No such user here                                                                       | HARD
      552 | Mailbox quota exceeded                                                                  | SOFT
      550 | Message blocked due to poor reputation                                                  | OTHER
      550 | Requested action not taken                                                              | HARD
      554 | Transaction failed                                                                      | OTHER
      421 | Service not available, closing transmission channel                                     | SOFT
      none | 400 Bad Request: 'to' parameter is not a valid address                                | OTHER
      none | connection refused                                                                      | OTHER
      550 | 2.0.0 looks positive but 550 user unknown                                               | HARD
      """)
  void classifies(Integer code, String message, Verdict expected) {
    assertEquals(expected, BounceClassifier.classify(code, message));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', nullValues = "none", textBlock = """
      5.1.1 user unknown             | 5.1.1
      #5.01.001 padded               | 5.1.1
      see RFC 3463 (version 1.2.3.4) | none
      no code at all                 | none
      """)
  void findsTheEnhancedCode(String message, String expected) {
    assertEquals(expected, BounceClassifier.enhanced(message));
  }
}

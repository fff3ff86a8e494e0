package io.mailgate.backend;

import io.mailgate.message.Campaign;
import java.util.stream.Stream;

/**
 * Internationalised addresses (RFC 6530) a backend may not carry: an address with a UTF-8 local part has no ASCII
 * form and travels only over SMTPUTF8 (RFC 6531) or an API that takes it as is. An IDN domain with an ASCII local
 * part always has one (its A-labels). A backend that cannot carry an address fails it for good with 553 5.6.7 (RFC
 * 6531 3.7.4.2's "address requires SMTPUTF8"), never sends it changed.
 */
public final class Utf8Addresses {
  private Utf8Addresses() {}

  /**
   * Why every recipient of the job needs UTF-8 addresses carried: the sender (MAIL FROM and From) or an address the
   * gateway writes into the headers (Reply-To, a shared message's To and Cc) has a UTF-8 local part; null if none has.
   */
  public static String jobNeed(Campaign c) {
    if (c.from().address().utf8Local()) {
      return "the sender address has a UTF-8 local part";
    }
    if (c.replyTo() != null && c.replyTo().address().utf8Local()) {
      return "the Reply-To address has a UTF-8 local part";
    }
    if (c.shape() == Campaign.Shape.SHARED
        && Stream.concat(c.to().stream(), c.cc().stream()).anyMatch(m -> m.address().utf8Local())) {
      return "the message's To or Cc has an address with a UTF-8 local part";
    }
    return null;
  }

  /** The permanent failure for {@code reason} on a backend that cannot carry it ({@code what}: which and why not). */
  public static Outcome refusal(String reason, String what) {
    return new Outcome.Permanent(553, "5.6.7 not sent: " + reason + " and needs SMTPUTF8 (RFC 6531), " + what);
  }
}

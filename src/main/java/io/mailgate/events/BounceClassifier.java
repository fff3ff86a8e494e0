package io.mailgate.events;

import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a refused send means for the address: {@link Verdict#HARD} (it does not exist, or never will take mail: suppress
 * it), {@link Verdict#SOFT} (a problem of the mailbox or the moment: full, over quota, greylisted), or
 * {@link Verdict#OTHER} (about the message or the sender: content, policy, authentication, our own setup; the address
 * is fine). The enhanced status code (RFC 3463) decides first, the reply text second, the basic code last. A table:
 * the first matching row wins.
 */
public final class BounceClassifier {

  public enum Verdict {
    HARD, SOFT, OTHER;

    /** As stored in an event's severity. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private record ByStatus(String prefix, Verdict verdict) {}

  private record ByText(Pattern pattern, Verdict verdict) {}

  // Enhanced status codes, most specific first (RFC 3463 and the IANA registry of RFC 5248)
  private static final List<ByStatus> STATUS = List.of(
      new ByStatus("5.1.0", Verdict.HARD),   // other address status
      new ByStatus("5.1.1", Verdict.HARD),   // bad destination mailbox address (user unknown)
      new ByStatus("5.1.2", Verdict.HARD),   // bad destination system address (no such domain)
      new ByStatus("5.1.3", Verdict.HARD),   // bad destination mailbox address syntax
      new ByStatus("5.1.6", Verdict.HARD),   // destination mailbox has moved, no forwarding address
      new ByStatus("5.1.10", Verdict.HARD),  // recipient address has null MX
      new ByStatus("5.2.1", Verdict.HARD),   // mailbox disabled, not accepting messages
      new ByStatus("5.2.2", Verdict.SOFT),   // mailbox full
      new ByStatus("5.2.3", Verdict.OTHER),  // message length exceeds administrative limit
      new ByStatus("5.4.4", Verdict.HARD),   // unable to route (no MX, no A)
      new ByStatus("5.1.", Verdict.HARD),    // other addressing errors
      new ByStatus("5.2.", Verdict.SOFT),    // mailbox status
      new ByStatus("5.3.", Verdict.OTHER),   // mail system status (the receiver's problem)
      new ByStatus("5.4.", Verdict.OTHER),   // network and routing
      new ByStatus("5.5.", Verdict.OTHER),   // protocol
      new ByStatus("5.6.", Verdict.OTHER),   // content
      new ByStatus("5.7.", Verdict.OTHER),   // security or policy (spam, authentication, blocks)
      new ByStatus("4.", Verdict.SOFT));     // every persistent transient failure

  // Reply texts of servers that give no enhanced code (or a generic one), as the big receivers word them
  private static final List<ByText> TEXT = List.of(
      text("(user|mailbox|recipient|address)( name)? (unknown|not found|does not exist|doesn't exist|invalid|unavailable)", Verdict.HARD),
      text("no such (user|mailbox|recipient|address)", Verdict.HARD),
      text("unknown (user|recipient|mailbox)", Verdict.HARD),
      text("(account|mailbox) (has been )?(disabled|deactivated|closed|suspended)", Verdict.HARD),
      text("(mailbox|quota|storage|inbox) (is )?(full|exceeded)|over quota|insufficient (storage|space)", Verdict.SOFT),
      text("greylist|try again later|temporarily", Verdict.SOFT),
      text("spam|blocked|blacklist|blocklist|denied|policy|reputation|dmarc|spf|dkim", Verdict.OTHER));

  private static final Pattern ENHANCED = Pattern.compile("(?<![0-9.])([245])\\.(\\d{1,3})\\.(\\d{1,3})(?![0-9])");

  private BounceClassifier() {}

  private static ByText text(String regex, Verdict v) {
    return new ByText(Pattern.compile(regex, Pattern.CASE_INSENSITIVE), v);
  }

  /**
   * @param code the basic reply code (550, 452...), or null (an HTTP provider, a connection error)
   * @param message the reply text, which may carry the enhanced code
   */
  public static Verdict classify(Integer code, String message) {
    String status = enhanced(message);
    if (status != null && !status.startsWith("2")) {
      for (ByStatus s : STATUS) {
        if (s.prefix().endsWith(".") ? status.startsWith(s.prefix()) : status.equals(s.prefix())) {
          return s.verdict();
        }
      }
    }
    if (message != null) {
      for (ByText t : TEXT) {
        if (t.pattern().matcher(message).find()) {
          return t.verdict();
        }
      }
    }
    if (code != null && code >= 400 && code < 500) {
      return Verdict.SOFT;
    }
    if (code != null && (code == 550 || code == 551 || code == 553)) {
      // "mailbox unavailable" / "user not local" / "mailbox name not allowed" without a code or text saying more
      return Verdict.HARD;
    }
    return Verdict.OTHER;
  }

  /** The first enhanced status code in a reply ("5.1.1"), or null. */
  static String enhanced(String message) {
    if (message == null) {
      return null;
    }
    Matcher m = ENHANCED.matcher(message);
    return m.find() ? m.group(1) + "." + Integer.parseInt(m.group(2)) + "." + Integer.parseInt(m.group(3)) : null;
  }
}

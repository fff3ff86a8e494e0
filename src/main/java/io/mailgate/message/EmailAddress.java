package io.mailgate.message;

import io.mailgate.error.InvalidInputException;

/**
 * A validated mailbox address (local@domain), ASCII only. Stricter than RFC 5321 on purpose: no quoted
 * local parts, no IP literals, no source routes. Whatever passes can be written into an SMTP command and a
 * header without quoting. Called once per recipient, so it is a hand-written scan rather than a regex.
 */
public record EmailAddress(String value) {

  public static final int MAX_LENGTH = 254;
  public static final int MAX_LOCAL = 64;

  public static EmailAddress parse(String raw, String field) {
    String problem = problem(raw);
    if (problem != null) {
      throw new InvalidInputException("invalid_address", field + ": " + problem, field);
    }
    return new EmailAddress(raw);
  }

  public String domain() {
    return value.substring(value.lastIndexOf('@') + 1);
  }

  /** Why {@code s} is not a valid address, or {@code null} if it is. */
  public static String problem(String s) {
    if (s == null || s.isEmpty()) {
      return "address is empty";
    }
    int len = s.length();
    if (len > MAX_LENGTH) {
      return "address is longer than " + MAX_LENGTH + " characters";
    }
    int at = s.indexOf('@');
    if (at <= 0 || at != s.lastIndexOf('@') || at == len - 1) {
      return "'" + printable(s) + "' is not an address of the form local@domain";
    }
    if (at > MAX_LOCAL) {
      return "local part is longer than " + MAX_LOCAL + " characters";
    }
    char prev = '.';
    for (int i = 0; i < at; i++) {
      char c = s.charAt(i);
      if (c == '.') {
        if (prev == '.') {
          return "'" + printable(s) + "' has an empty part before '@'";
        }
      } else if (!isAtext(c)) {
        return c > 127 ? "non-ASCII addresses are not supported" : "'" + printable(s) + "' has a character not allowed in an address";
      }
      prev = c;
    }
    if (prev == '.') {
      return "'" + printable(s) + "' has a local part ending with '.'";
    }
    int labels = 0;
    int labelStart = at + 1;
    for (int i = at + 1; i <= len; i++) {
      char c = i == len ? '.' : s.charAt(i);
      if (c == '.') {
        int labelLen = i - labelStart;
        if (labelLen == 0 || labelLen > 63) {
          return "'" + printable(s) + "' has an invalid domain";
        }
        if (s.charAt(labelStart) == '-' || s.charAt(i - 1) == '-') {
          return "'" + printable(s) + "' has a domain label starting or ending with '-'";
        }
        labels++;
        labelStart = i + 1;
      } else if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-')) {
        return c > 127 ? "non-ASCII addresses are not supported" : "'" + printable(s) + "' has an invalid domain";
      }
    }
    if (labels < 2) {
      return "'" + printable(s) + "' has no top-level domain";
    }
    return null;
  }

  private static boolean isAtext(char c) {
    if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
      return true;
    }
    return "!#$%&'*+-/=?^_`{|}~".indexOf(c) >= 0;
  }

  /** Input as it may be echoed in an error: at most 80 characters, control characters as '?'. */
  public static String printable(String s) {
    StringBuilder b = new StringBuilder(Math.min(s.length(), 80));
    for (int i = 0; i < s.length() && i < 80; i++) {
      char c = s.charAt(i);
      b.append(c < 32 || c == 127 ? '?' : c);
    }
    return b.toString();
  }

  @Override
  public String toString() {
    return value;
  }
}

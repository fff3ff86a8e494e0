package io.mailgate.message;

import io.mailgate.error.InvalidInputException;

/** An address with an optional display name, as in {@code Acme News <news@acme.example>}. */
public record Mailbox(String displayName, EmailAddress address) {

  public static Mailbox parse(String raw, String field) {
    if (raw == null || raw.isBlank()) {
      throw new InvalidInputException("missing_field", field + " is required", field);
    }
    HeaderValues.rejectLineBreaks(raw, field);
    String s = raw.trim();
    if (!s.endsWith(">")) {
      return new Mailbox(null, EmailAddress.parse(s, field));
    }
    int lt = s.lastIndexOf('<');
    if (lt < 0) {
      throw new InvalidInputException("invalid_address", field + ": unbalanced '<' and '>'", field);
    }
    EmailAddress addr = EmailAddress.parse(s.substring(lt + 1, s.length() - 1).trim(), field);
    String name = s.substring(0, lt).trim();
    if (name.length() >= 2 && name.startsWith("\"") && name.endsWith("\"")) {
      name = name.substring(1, name.length() - 1).replace("\\\"", "\"").replace("\\\\", "\\");
    }
    if (name.indexOf('<') >= 0 || name.indexOf('>') >= 0) {
      throw new InvalidInputException("invalid_address", field + ": display name must not contain '<' or '>'", field);
    }
    if (name.length() > 200) {
      throw new InvalidInputException("invalid_address", field + ": display name is longer than 200 characters", field);
    }
    return new Mailbox(name.isEmpty() ? null : name, addr);
  }

  /**
   * The header form: the display name encoded per RFC 2047 when it is not plain ASCII, the address in its
   * {@link EmailAddress#headerForm()} (an IDN domain as A-labels; UTF-8 only for a UTF-8 local part, RFC 6532).
   */
  public String toHeader() {
    if (displayName == null) {
      return address.headerForm();
    }
    return HeaderValues.phrase(displayName) + " <" + address.headerForm() + ">";
  }

  @Override
  public String toString() {
    return displayName == null ? address.value() : displayName + " <" + address.value() + ">";
  }
}

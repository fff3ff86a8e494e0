package io.mailgate.message;

import io.mailgate.error.InvalidInputException;
import java.util.ArrayList;
import java.util.List;

/**
 * An RFC 5322 address list ({@code Ann <ann@example.com>, "Smith, Bob" <bob@example.com>, carl@example.com}): split
 * at the commas that separate mailboxes, not those inside a quoted display name, angle brackets or a comment.
 * Comments are dropped; a group ({@code team: a@x.example, b@x.example;}) gives its members.
 */
public final class AddressList {
  private AddressList() {}

  public static List<Mailbox> parse(String raw, String field) {
    List<Mailbox> out = new ArrayList<>();
    if (raw == null) {
      return out;
    }
    HeaderValues.rejectLineBreaks(raw, field);
    StringBuilder current = new StringBuilder();
    boolean quoted = false;
    boolean angle = false;
    int comment = 0;
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (quoted) {
        current.append(c);
        if (c == '\\' && i + 1 < raw.length()) {
          current.append(raw.charAt(++i));
        } else if (c == '"') {
          quoted = false;
        }
      } else if (comment > 0) {
        if (c == '\\' && i + 1 < raw.length()) {
          i++;
        } else if (c == '(') {
          comment++;
        } else if (c == ')') {
          comment--;
        }
      } else if (c == '"') {
        quoted = true;
        current.append(c);
      } else if (c == '(') {
        comment = 1;
      } else if (c == '<') {
        if (angle) {
          throw invalid(field, raw);
        }
        angle = true;
        current.append(c);
      } else if (c == '>') {
        if (!angle) {
          throw invalid(field, raw);
        }
        angle = false;
        current.append(c);
      } else if (!angle && c == ':') {
        current.setLength(0); // a group's name: its members follow
      } else if (!angle && (c == ',' || c == ';')) {
        add(out, current, field);
      } else {
        current.append(c);
      }
    }
    if (quoted || angle || comment > 0) {
      throw invalid(field, raw);
    }
    add(out, current, field);
    return out;
  }

  private static void add(List<Mailbox> out, StringBuilder current, String field) {
    String s = current.toString().trim();
    current.setLength(0);
    if (!s.isEmpty()) {
      out.add(Mailbox.parse(s, field));
    }
  }

  private static InvalidInputException invalid(String field, String raw) {
    return new InvalidInputException("invalid_address", field + ": '" + EmailAddress.printable(raw)
        + "' has an unclosed quote, comment or angle bracket", field);
  }
}

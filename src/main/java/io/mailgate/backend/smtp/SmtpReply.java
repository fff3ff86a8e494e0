package io.mailgate.backend.smtp;

import java.util.List;

/** A server reply: its code and text lines (a multi-line reply has several). */
public record SmtpReply(int code, List<String> lines) {

  public boolean isPositive() {
    return code >= 200 && code < 400;
  }

  public boolean isPermanent() {
    return code >= 500;
  }

  /** The whole reply on one line, as recorded for the recipient, e.g. {@code 550 5.1.1 user unknown}. */
  public String text() {
    StringBuilder b = new StringBuilder().append(code);
    for (String l : lines) {
      b.append(' ').append(l);
    }
    String s = b.toString();
    return s.length() > 500 ? s.substring(0, 500) : s;
  }
}

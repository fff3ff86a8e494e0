package io.mailgate.message;

import io.mailgate.error.InvalidInputException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * A caller's whole RFC 5322 message (Mailgun's {@code messages.mime}), checked once at intake so that it can be sent
 * as is: no NUL, one kind of line ending (a message of bare LFs is given CRLFs, the only change ever made to it; bare
 * CRs or a mix are refused), no line over 998 octets, a header section of fields, exactly one From with one address,
 * at most one Message-ID ({@code <id@domain>}) and Subject. {@code data} is the message as stored and sent.
 */
public record MimeMessage(byte[] data, Mailbox from, String subject, String messageId, boolean dotAtLineStart) {

  /** RFC 5322 2.1.1: a line is at most 998 characters, without its CRLF. */
  static final int MAX_LINE = 998;

  /** Checks {@code data[0..length)}; the array is kept (not copied) unless its line endings must change. */
  public static MimeMessage parse(byte[] data, int length) {
    if (length == 0) {
      throw invalid("the message is empty");
    }
    byte[] d = crlf(data, length);
    int n = d == data ? length : d.length;
    boolean dot = d[0] == '.';
    int lineStart = 0;
    int headerEnd = -1;
    for (int i = 0; i < n; i++) {
      byte b = d[i];
      if (b == 0) {
        throw invalid("the message contains a NUL byte");
      }
      if (b == '\n') {
        if (i - 1 - lineStart > MAX_LINE) {
          throw invalid("the message has a line longer than " + MAX_LINE + " octets");
        }
        if (headerEnd < 0 && i - 1 == lineStart) {
          headerEnd = lineStart; // the empty line after the headers
        }
        lineStart = i + 1;
        if (lineStart < n && d[lineStart] == '.') {
          dot = true;
        }
      }
    }
    if (n - lineStart > MAX_LINE) {
      throw invalid("the message has a line longer than " + MAX_LINE + " octets");
    }
    if (headerEnd < 0) {
      headerEnd = n;
    }
    if (d.length != n) {
      d = java.util.Arrays.copyOf(d, n);
    }
    Headers h = headers(d, headerEnd);
    if (h.from == null) {
      throw invalid("the message has no From header");
    }
    // the header section was read octet by octet: the From as UTF-8, for an internationalised address (RFC 6532)
    String fromValue = new String(h.from.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
    if (fromValue.indexOf('\uFFFD') >= 0) {
      throw invalid("the message's From is not valid UTF-8");
    }
    List<Mailbox> from;
    try {
      from = AddressList.parse(fromValue, "From");
    } catch (InvalidInputException e) {
      throw invalid("the message's From is not an address: " + e.getMessage());
    }
    if (from.size() != 1) {
      throw invalid("the message's From must be one address");
    }
    String id = h.messageId == null ? null : h.messageId.trim();
    if (id != null && !id.matches("<[!-;=?-~]+@[!-;=?-~]+>")) {
      throw invalid("the message's Message-ID is not of the form <id@domain>");
    }
    return new MimeMessage(d, from.get(0), h.subject, id, dot);
  }

  /**
   * The message as it goes out: the stored bytes, behind a Message-ID field when it has none ({@code messageId}, the
   * job's), with room for a transport's terminator.
   */
  public ComposedMessage toComposed(String messageId) {
    byte[] head = this.messageId != null ? new byte[0]
        : ("Message-ID: " + messageId + "\r\n").getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[head.length + data.length + MimeComposer.TAIL_ROOM];
    System.arraycopy(head, 0, out, 0, head.length);
    System.arraycopy(data, 0, out, head.length, data.length);
    return new ComposedMessage(out, head.length + data.length, dotAtLineStart);
  }

  /** True when the header section has 8-bit octets (UTF-8 headers, RFC 6532): SMTP asks for SMTPUTF8 where offered. */
  public boolean eightBitHeaders() {
    for (int i = 0; i < data.length; i++) {
      if (data[i] < 0) {
        return true;
      }
      if (data[i] == '\n' && i + 2 < data.length && data[i + 1] == '\r' && data[i + 2] == '\n') {
        return false; // the empty line after the headers
      }
    }
    return false;
  }

  private record Headers(String from, String subject, String messageId) {}

  /** The unfolded values of From, Subject and Message-ID; every line of the section must be a field or its fold. */
  private static Headers headers(byte[] d, int end) {
    String from = null;
    String subject = null;
    String id = null;
    String name = null;
    StringBuilder value = new StringBuilder();
    int at = 0;
    while (true) {
      int eol = at >= end ? end : indexOf(d, (byte) '\n', at, end);
      boolean last = at >= end;
      boolean fold = !last && (d[at] == ' ' || d[at] == '\t');
      if (name != null && !fold) {
        String v = value.toString().trim();
        switch (name.toLowerCase(Locale.ROOT)) {
          case "from" -> from = once(from, v, "From");
          case "subject" -> subject = once(subject, v, "Subject");
          case "message-id" -> id = once(id, v, "Message-ID");
          default -> { }
        }
        name = null;
        value.setLength(0);
      }
      if (last) {
        break;
      }
      int lineEnd = eol < 0 ? end : eol;
      int contentEnd = lineEnd > at && d[lineEnd - 1] == '\r' ? lineEnd - 1 : lineEnd;
      String line = new String(d, at, contentEnd - at, StandardCharsets.ISO_8859_1);
      if (fold) {
        if (at == 0) {
          throw invalid("the message starts with a folded line");
        }
        if (name != null) {
          value.append(' ').append(line.trim());
        }
      } else {
        int colon = line.indexOf(':');
        if (colon <= 0 || !fieldName(line, colon)) {
          throw invalid("the message's header section has a line that is not a field: "
              + EmailAddress.printable(line.length() > 60 ? line.substring(0, 60) : line));
        }
        name = line.substring(0, colon);
        value.append(line, colon + 1, line.length());
      }
      at = eol < 0 ? end : eol + 1;
    }
    return new Headers(from, subject, id);
  }

  private static String once(String seen, String v, String field) {
    if (seen != null) {
      throw invalid("the message has more than one " + field + " header");
    }
    return v;
  }

  private static boolean fieldName(String line, int colon) {
    for (int i = 0; i < colon; i++) {
      char c = line.charAt(i);
      // ';' is legal in a field name, but would end the name list of the DKIM signature the gateway adds
      if (c < 33 || c > 126 || c == ';') {
        return false;
      }
    }
    return true;
  }

  private static int indexOf(byte[] d, byte b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (d[i] == b) {
        return i;
      }
    }
    return -1;
  }

  /**
   * The array as is when every line ends in CRLF; a new one with CRLFs when every line ends in a bare LF (files
   * written on Unix); refused when it has a bare CR, or CRLF and bare LF mixed (what SMTP smuggling is made of).
   */
  private static byte[] crlf(byte[] d, int n) {
    int crlf = 0;
    int bareLf = 0;
    for (int i = 0; i < n; i++) {
      if (d[i] == '\r') {
        if (i + 1 >= n || d[i + 1] != '\n') {
          throw invalid("the message has a bare CR (a CR not followed by LF)");
        }
        crlf++;
        i++;
      } else if (d[i] == '\n') {
        bareLf++;
      }
    }
    if (bareLf == 0) {
      return d;
    }
    if (crlf > 0) {
      throw invalid("the message mixes CRLF and bare LF line endings");
    }
    byte[] out = new byte[n + bareLf];
    int o = 0;
    for (int i = 0; i < n; i++) {
      if (d[i] == '\n') {
        out[o++] = '\r';
      }
      out[o++] = d[i];
    }
    return out;
  }

  private static InvalidInputException invalid(String message) {
    return new InvalidInputException("invalid_message", message, "message");
  }
}

package io.mailgate.message;

import io.mailgate.error.InvalidInputException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A caller's whole RFC 5322 message (Mailgun's {@code messages.mime}), checked once at intake so that it can be sent
 * as is: no NUL, one kind of line ending (a message of bare LFs is given CRLFs, the only change ever made to it; bare
 * CRs or a mix are refused), no line over 998 octets, a header section of fields, exactly one From with one address,
 * at most one Message-ID ({@code <id@domain>}) and Subject. {@code data} is the message as stored and sent.
 *
 * <p>Intake checks it a piece at a time with a {@link Checker} while it is stored in parts, so an upload is never
 * held whole; {@link #parse} checks one already in memory (a stored message, loaded for dispatch) the same way.
 */
public record MimeMessage(byte[] data, Mailbox from, String subject, String messageId, boolean dotAtLineStart) {

  /** RFC 5322 2.1.1: a line is at most 998 characters, without its CRLF. */
  static final int MAX_LINE = 998;

  private static final byte[] CRLF = {'\r', '\n'};

  /** Checks {@code data[0..length)}; the array is kept (not copied) unless its line endings must change. */
  public static MimeMessage parse(byte[] data, int length) {
    // a stored message was bounded at intake; one stored before the header bound is still sent
    Checker c = new Checker(Integer.MAX_VALUE);
    c.feed(data, 0, length, (b, off, len) -> { });
    Checked k = c.finish();
    byte[] d = k.converted() ? crlf(data, length, k.size()) : length == data.length ? data : Arrays.copyOf(data, length);
    return new MimeMessage(d, k.from(), k.subject(), k.messageId(), k.dotAtLineStart());
  }

  /** Where a {@link Checker} writes the message as stored. */
  @FunctionalInterface
  public interface Sink {
    void write(byte[] b, int offset, int length);
  }

  /**
   * What a checked message says of itself: its From, Subject and Message-ID, whether a line starts with '.' (for
   * dot-stuffing), its size as stored and whether that differs from what was given (bare LFs made CRLF).
   */
  public record Checked(Mailbox from, String subject, String messageId, boolean dotAtLineStart, long size,
                        boolean converted) {}

  /**
   * The check of a message fed a piece at a time, in order: each piece is checked and written to a {@link Sink} as
   * stored (bare LFs as CRLF) at once; what spans pieces (a CR at the end of one and its LF at the start of the
   * next, a line's length, whether a line starts with '.') is carried over. The header section is kept, at most
   * {@code maxHeaderBytes} (MAILGATE_MAX_MIME_HEADER_BYTES), and read by {@link #finish}. Not thread-safe: one
   * caller at a time, in order.
   */
  public static final class Checker {
    private final int maxHeaderBytes;
    private long given;
    private long bareLfs;
    private boolean crlfs;
    private boolean cr;
    private int lineLength;
    private boolean dot;
    private boolean inHeader = true;
    private byte[] header = new byte[256];
    private int headerLength;
    private int headerLineStart;

    public Checker(int maxHeaderBytes) {
      this.maxHeaderBytes = maxHeaderBytes;
    }

    /** Checks {@code b[offset..offset+length)}, the message's next bytes, and writes them as stored to {@code out}. */
    public void feed(byte[] b, int offset, int length, Sink out) {
      int end = offset + length;
      int run = offset;
      for (int i = offset; i < end; i++) {
        byte c = b[i];
        if (cr) {
          cr = false;
          if (c != '\n') {
            throw bareCr();
          }
          crlfs = true;
          if (bareLfs > 0) {
            throw mixed();
          }
          if (inHeader) {
            header(c);
          }
          lineEnd();
        } else if (c == '\r') {
          cr = true;
          if (inHeader) {
            header(c);
          }
        } else if (c == '\n') {
          bareLfs++;
          if (crlfs) {
            throw mixed();
          }
          out.write(b, run, i - run);
          out.write(CRLF, 0, 2);
          run = i + 1;
          if (inHeader) {
            header((byte) '\r');
            header(c);
          }
          lineEnd();
        } else {
          if (c == 0) {
            throw invalid("the message contains a NUL byte");
          }
          if (lineLength == 0 && c == '.') {
            dot = true;
          }
          if (++lineLength > MAX_LINE) {
            throw invalid("the message has a line longer than " + MAX_LINE + " octets");
          }
          if (inHeader) {
            header(c);
          }
        }
      }
      out.write(b, run, end - run);
      given += length;
    }

    private void header(byte c) {
      if (headerLength == header.length) {
        header = Arrays.copyOf(header, header.length * 2);
      }
      header[headerLength++] = c;
    }

    private void lineEnd() {
      if (inHeader) {
        if (lineLength == 0) {
          inHeader = false; // the empty line after the headers, which is not theirs
          headerLength = headerLineStart;
        } else {
          headerLineStart = headerLength;
          checkHeaderSize();
        }
      }
      lineLength = 0;
    }

    private void checkHeaderSize() {
      if (headerLength > maxHeaderBytes) {
        throw invalid("the message's header section is larger than " + maxHeaderBytes
            + " bytes (MAILGATE_MAX_MIME_HEADER_BYTES)");
      }
    }

    /** After the last piece: the message's header facts, or why it cannot be sent as is. */
    public Checked finish() {
      if (given == 0) {
        throw invalid("the message is empty");
      }
      if (cr) {
        throw bareCr();
      }
      if (inHeader) {
        checkHeaderSize(); // a message that is all header, its last line not ended
      }
      Headers h = headers(header, headerLength);
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
      return new Checked(from.get(0), h.subject, id, dot, given + bareLfs, bareLfs > 0);
    }

    private static InvalidInputException bareCr() {
      return invalid("the message has a bare CR (a CR not followed by LF)");
    }

    private static InvalidInputException mixed() {
      return invalid("the message mixes CRLF and bare LF line endings");
    }
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

  /** {@code d[0..n)} with a CR before every LF: a message of bare LFs (files written on Unix), checked already. */
  private static byte[] crlf(byte[] d, int n, long size) {
    byte[] out = new byte[Math.toIntExact(size)];
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

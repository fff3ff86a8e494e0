package io.mailgate.message;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import org.eclipse.angus.mail.util.QPEncoderStream;

/**
 * Writes one recipient's RFC 5322 message: headers, then a text, html or multipart/alternative body.
 * Every line ends in CRLF and no line is longer than 998 octets; plain ASCII bodies go out as 7bit,
 * anything else as quoted-printable. Dot-stuffing is the transport's job, after this.
 */
public final class MimeComposer {

  private static final DateTimeFormatter DATE =
      DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.US);
  private static final byte[] CRLF = {'\r', '\n'};
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Campaign campaign;
  private final String boundary;
  private final String fromHeader;
  private final String replyToHeader;

  public MimeComposer(Campaign campaign) {
    this.campaign = campaign;
    byte[] r = new byte[12];
    RANDOM.nextBytes(r);
    this.boundary = "=_mg_" + HexFormat.of().formatHex(r);
    this.fromHeader = fold("From", campaign.from().toHeader());
    this.replyToHeader = campaign.replyTo() == null ? null : fold("Reply-To", campaign.replyTo().toHeader());
  }

  /** The whole message for one recipient, CRLF line endings, not dot-stuffed. */
  public byte[] compose(int seq, EmailAddress to, Map<String, Object> vars) {
    String subject = campaign.renderSubject(vars);
    String text = campaign.text() == null ? null : campaign.text().render(vars);
    String html = campaign.html() == null ? null : campaign.html().render(vars);
    int estimate = 1024 + (text == null ? 0 : text.length() * 11 / 10) + (html == null ? 0 : html.length() * 11 / 10);
    Out out = new Out(estimate);
    out.header("Date", ZonedDateTime.now(ZoneOffset.UTC).format(DATE));
    out.line(fromHeader);
    out.header("To", to.value());
    if (replyToHeader != null) {
      out.line(replyToHeader);
    }
    out.line(fold("Subject", HeaderValues.unstructured("Subject", subject)));
    out.header("Message-ID", campaign.messageId(seq));
    out.header("MIME-Version", "1.0");
    for (Map.Entry<String, String> h : campaign.headers().entrySet()) {
      out.line(fold(h.getKey(), HeaderValues.unstructured(h.getKey(), h.getValue())));
    }
    if (text != null && html != null) {
      out.header("Content-Type", "multipart/alternative; boundary=\"" + boundary + "\"");
      out.line("");
      out.line("--" + boundary);
      part(out, "text/plain", text);
      out.line("--" + boundary);
      part(out, "text/html", html);
      out.line("--" + boundary + "--");
    } else if (html != null) {
      part(out, "text/html", html);
    } else {
      part(out, "text/plain", text == null ? "" : text);
    }
    return out.toByteArray();
  }

  private static String fold(String name, String value) {
    return name + ": " + value;
  }

  private static void part(Out out, String type, String body) {
    String normalized = normalizeLineBreaks(body);
    boolean sevenBit = isSevenBitSafe(normalized);
    out.header("Content-Type", type + "; charset=UTF-8");
    out.header("Content-Transfer-Encoding", sevenBit ? "7bit" : "quoted-printable");
    out.line("");
    byte[] bytes = normalized.getBytes(sevenBit ? StandardCharsets.US_ASCII : StandardCharsets.UTF_8);
    if (sevenBit) {
      out.write(bytes);
    } else {
      try (QPEncoderStream qp = new QPEncoderStream(out)) {
        qp.write(bytes);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    if (!out.endsWithCrlf()) {
      out.write(CRLF);
    }
  }

  /** Bare CR, bare LF and CRLF all become CRLF: no bare line ending can reach the wire (SMTP smuggling). */
  public static String normalizeLineBreaks(String s) {
    int n = s.length();
    boolean clean = true;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c == '\r' ? i + 1 >= n || s.charAt(i + 1) != '\n' : c == '\n' && (i == 0 || s.charAt(i - 1) != '\r')) {
        clean = false;
        break;
      }
    }
    if (clean) {
      return s;
    }
    StringBuilder b = new StringBuilder(n + 64);
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c == '\r') {
        b.append("\r\n");
        if (i + 1 < n && s.charAt(i + 1) == '\n') {
          i++;
        }
      } else if (c == '\n') {
        b.append("\r\n");
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  /** ASCII without NUL and with no line over 998 characters: can go as 7bit without encoding. */
  static boolean isSevenBitSafe(String s) {
    int lineLen = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c > 127 || c == 0) {
        return false;
      }
      if (c == '\n') {
        lineLen = 0;
      } else if (++lineLen > 998) {
        return false;
      }
    }
    return true;
  }

  /** An unsynchronised byte sink. */
  private static final class Out extends OutputStream {
    private byte[] buf;
    private int len;

    Out(int capacity) {
      buf = new byte[capacity];
    }

    void header(String name, String value) {
      line(name + ": " + value);
    }

    void line(String s) {
      int n = s.length();
      ensure(n + 2);
      for (int i = 0; i < n; i++) {
        char c = s.charAt(i);
        if (c >= 128) {
          // header values are ASCII after RFC 2047 encoding; keep any stray character intact anyway
          len -= i;
          byte[] b = s.getBytes(StandardCharsets.UTF_8);
          write(b, 0, b.length);
          ensure(2);
          break;
        }
        buf[len++] = (byte) c;
      }
      buf[len++] = '\r';
      buf[len++] = '\n';
    }

    @Override
    public void write(int b) {
      ensure(1);
      buf[len++] = (byte) b;
    }

    @Override
    public void write(byte[] b) {
      write(b, 0, b.length);
    }

    @Override
    public void write(byte[] b, int off, int n) {
      ensure(n);
      System.arraycopy(b, off, buf, len, n);
      len += n;
    }

    @Override
    public void close() {}

    private void ensure(int extra) {
      if (len + extra > buf.length) {
        byte[] nb = new byte[Math.max(buf.length * 2, len + extra)];
        System.arraycopy(buf, 0, nb, 0, len);
        buf = nb;
      }
    }

    boolean endsWithCrlf() {
      return len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n';
    }

    byte[] toByteArray() {
      byte[] r = new byte[len];
      System.arraycopy(buf, 0, r, 0, len);
      return r;
    }
  }
}

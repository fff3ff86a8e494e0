package io.mailgate.message;

import jakarta.mail.internet.MimeUtility;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;

/**
 * Writes one recipient's RFC 5322 message: headers, then a text, html or multipart/alternative body, into one
 * byte array. Every line ends in CRLF (templates and values are normalised when rendered) and no line is longer
 * than 998 octets: plain ASCII bodies go out as 7bit, anything else as quoted-printable. Dot-stuffing is left to
 * SMTP, which is told whether any line starts with '.'.
 */
public final class MimeComposer {

  private static final DateTimeFormatter DATE =
      DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.US);
  private static final SecureRandom RANDOM = new SecureRandom();
  /** Room left after the message, so a transport can append its terminator without copying. */
  public static final int TAIL_ROOM = 8;

  private final Campaign campaign;
  private final String boundary;
  /** The boundaries of multipart/mixed (attachments) and multipart/related (inline parts with the html). */
  private final String mixedBoundary;
  private final String relatedBoundary;
  /** Parts' headers of the job's attachments, made once; their bodies are the attachments' shared encodings. */
  private final byte[][] attachmentHeads;
  private final byte[] fixedHeaders;
  private final boolean fixedHeadersDot;
  /** A shared message's To and Cc fields (its header lists), the same for every recipient. */
  private final byte[] sharedLists;
  private volatile String dateSecond = "";
  private volatile String dateHeader = "";

  public MimeComposer(Campaign campaign) {
    this.campaign = campaign;
    byte[] r = new byte[12];
    RANDOM.nextBytes(r);
    String hex = HexFormat.of().formatHex(r);
    this.boundary = "=_mg_" + hex;
    // "=_" never occurs in base64 or quoted-printable text, and no boundary is the prefix of another
    this.mixedBoundary = "=_mg_m_" + hex;
    this.relatedBoundary = "=_mg_r_" + hex;
    java.util.List<Attachment> files = campaign.attachments();
    this.attachmentHeads = new byte[files.size()][];
    for (int i = 0; i < files.size(); i++) {
      attachmentHeads[i] = attachmentHead(files.get(i)).getBytes(StandardCharsets.US_ASCII);
    }
    StringBuilder h = new StringBuilder();
    h.append("From: ").append(MimeUtility.fold(6, campaign.from().toHeader())).append("\r\n");
    if (campaign.replyTo() != null) {
      h.append("Reply-To: ").append(MimeUtility.fold(10, campaign.replyTo().toHeader())).append("\r\n");
    }
    h.append("MIME-Version: 1.0\r\n");
    for (Map.Entry<String, String> e : campaign.headers().entrySet()) {
      h.append(e.getKey()).append(": ").append(HeaderValues.unstructured(e.getKey(), e.getValue())).append("\r\n");
    }
    String fixed = h.toString();
    // UTF-8 only where an address has a UTF-8 local part (RFC 6532); everything else is ASCII
    this.fixedHeaders = fixed.getBytes(StandardCharsets.UTF_8);
    this.fixedHeadersDot = fixed.startsWith(".") || fixed.contains("\n.");
    StringBuilder lists = new StringBuilder();
    list(lists, "To", campaign.to());
    list(lists, "Cc", campaign.cc());
    this.sharedLists = lists.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** {@code To: Ann <a@x.example>, b@y.example} folded between addresses; nothing for an empty list. */
  private static void list(StringBuilder h, String name, java.util.List<Mailbox> boxes) {
    if (boxes.isEmpty()) {
      return;
    }
    h.append(name).append(": ");
    int col = name.length() + 2;
    for (int i = 0; i < boxes.size(); i++) {
      String b = boxes.get(i).toHeader() + (i + 1 < boxes.size() ? "," : "");
      if (i > 0) {
        if (col + 1 + b.length() > 78) {
          h.append("\r\n ");
          col = 1;
        } else {
          h.append(' ');
          col++;
        }
      }
      h.append(b);
      col += b.length();
    }
    h.append("\r\n");
  }

  /** The whole message for one recipient, CRLF line endings, not dot-stuffed. */
  public ComposedMessage compose(int seq, EmailAddress to, Map<String, Object> vars) {
    return compose(seq, to, vars, null);
  }

  /**
   * The one message of a shared job, dated {@code date} (when the job was accepted), so that it is the same whenever
   * it is composed (a later chunk, a retry), apart from a DKIM signature's time.
   */
  public ComposedMessage composeShared(java.time.OffsetDateTime date) {
    return compose(0, null, Map.of(), date.atZoneSameInstant(ZoneOffset.UTC).format(DATE));
  }

  private ComposedMessage compose(int seq, EmailAddress to, Map<String, Object> vars, String fixedDate) {
    String subject = campaign.renderSubject(vars);
    String text = campaign.text() == null ? null : normalizeLineBreaks(campaign.text().render(vars));
    String html = campaign.html() == null ? null : normalizeLineBreaks(campaign.html().render(vars));
    Out out = new Out(2048 + (text == null ? 0 : text.length() * 12 / 10) + (html == null ? 0 : html.length() * 12 / 10));
    out.ascii("Date: ").ascii(fixedDate != null ? fixedDate : date()).crlf();
    out.bytes(fixedHeaders, fixedHeaders.length);
    out.dotAtLineStart = fixedHeadersDot;
    if (campaign.shape() == Campaign.Shape.SHARED) {
      out.bytes(sharedLists, sharedLists.length);
    } else {
      out.ascii("To: ").address(to).crlf();
    }
    out.ascii("Subject: ").ascii(HeaderValues.unstructured("Subject", subject)).crlf();
    out.ascii("Message-ID: ").ascii(campaign.messageId(seq)).crlf();
    for (Map.Entry<String, String> e : campaign.recipientHeaders(seq).entrySet()) {
      out.ascii(e.getKey()).ascii(": ").ascii(foldList(e.getKey(), e.getValue())).crlf();
    }
    java.util.List<Attachment> files = campaign.attachments();
    if (files.isEmpty()) {
      body(out, text, html, false);
      return new ComposedMessage(out.buf, out.len, out.dotAtLineStart);
    }
    // inline parts go with the html (multipart/related); without html they are files like the others
    boolean related = html != null && files.stream().anyMatch(Attachment::inline);
    boolean mixed = files.stream().anyMatch(a -> !a.inline() || html == null);
    long size = 0;
    for (Attachment a : files) {
      size += a.mimeBase64().length + 512L;
    }
    out.ensure((int) Math.min(Integer.MAX_VALUE - 64, size));
    if (mixed) {
      out.ascii("Content-Type: multipart/mixed; boundary=\"").ascii(mixedBoundary).ascii("\"").crlf();
      out.crlf();
      out.ascii("--").ascii(mixedBoundary).crlf();
    }
    body(out, text, html, related);
    if (mixed) {
      for (int i = 0; i < files.size(); i++) {
        if (!files.get(i).inline() || html == null) {
          out.ascii("--").ascii(mixedBoundary).crlf();
          attachment(out, i);
        }
      }
      out.ascii("--").ascii(mixedBoundary).ascii("--").crlf();
    }
    return new ComposedMessage(out.buf, out.len, out.dotAtLineStart);
  }

  /** The text, html or multipart/alternative body; with {@code related}, the html with the inline parts. */
  private void body(Out out, String text, String html, boolean related) {
    if (text != null && html != null) {
      out.ascii("Content-Type: multipart/alternative; boundary=\"").ascii(boundary).ascii("\"").crlf();
      out.crlf();
      out.ascii("--").ascii(boundary).crlf();
      part(out, "text/plain", text);
      out.ascii("--").ascii(boundary).crlf();
      html(out, html, related);
      out.ascii("--").ascii(boundary).ascii("--").crlf();
    } else if (html != null) {
      html(out, html, related);
    } else {
      part(out, "text/plain", text == null ? "" : text);
    }
  }

  private void html(Out out, String html, boolean related) {
    if (!related) {
      part(out, "text/html", html);
      return;
    }
    out.ascii("Content-Type: multipart/related; type=\"text/html\"; boundary=\"").ascii(relatedBoundary).ascii("\"").crlf();
    out.crlf();
    out.ascii("--").ascii(relatedBoundary).crlf();
    part(out, "text/html", html);
    java.util.List<Attachment> files = campaign.attachments();
    for (int i = 0; i < files.size(); i++) {
      if (files.get(i).inline()) {
        out.ascii("--").ascii(relatedBoundary).crlf();
        attachment(out, i);
      }
    }
    out.ascii("--").ascii(relatedBoundary).ascii("--").crlf();
  }

  /** The {@code i}-th attachment's part: its headers, then its base64 lines (encoded once for the job). */
  private void attachment(Out out, int i) {
    byte[] head = attachmentHeads[i];
    out.bytes(head, head.length);
    byte[] body = campaign.attachments().get(i).mimeBase64();
    out.bytes(body, body.length);
  }

  /**
   * An attachment's part headers and the blank line: Content-Type with {@code name}, base64, Content-Disposition
   * with {@code filename} (an inline part: {@code inline} and its Content-ID). A name of plain printable ASCII is a
   * quoted string; any other is written as RFC 2231 parameters ({@code filename*0*=UTF-8''...}) in lines of at most
   * 78 characters.
   */
  static String attachmentHead(Attachment a) {
    StringBuilder h = new StringBuilder(256);
    h.append("Content-Type: ").append(a.contentType()).append(";\r\n");
    parameter(h, "name", a.filename());
    h.append("\r\nContent-Transfer-Encoding: base64\r\n");
    h.append("Content-Disposition: ").append(a.inline() ? "inline" : "attachment").append(";\r\n");
    parameter(h, "filename", a.filename());
    h.append("\r\n");
    if (a.inline()) {
      h.append("Content-ID: <").append(a.contentId()).append(">\r\n");
    }
    return h.append("\r\n").toString();
  }

  /**
   * {@code name="value"} on a folded line, or its RFC 2231 continuations, each on a line of its own of at most 78
   * characters.
   */
  private static void parameter(StringBuilder h, String name, String value) {
    if (HeaderValues.isPlainAscii(value) && value.length() <= 900) {
      h.append(' ').append(name).append("=\"").append(value.replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
      return;
    }
    StringBuilder enc = new StringBuilder();
    for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c > 32 && c < 127 && "*'%()<>@,;:\\\"/[]?=".indexOf(c) < 0) {
        enc.append((char) c);
      } else {
        enc.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
      }
    }
    int n = 0;
    int at = 0;
    while (at < enc.length()) {
      // " name*N*=" (and "UTF-8''" first) and the ';' after it: every line within 78 characters
      int room = 78 - 1 - name.length() - ("*" + n + "*=").length() - (n == 0 ? 7 : 0) - 1;
      int end = Math.min(enc.length(), at + Math.max(12, room));
      // never split a %XX
      if (end < enc.length() && enc.charAt(end - 1) == '%') {
        end -= 1;
      } else if (end < enc.length() && end >= 2 && enc.charAt(end - 2) == '%') {
        end -= 2;
      }
      if (n > 0) {
        h.append(";\r\n");
      }
      h.append(' ').append(name).append('*').append(n).append("*=").append(n == 0 ? "UTF-8''" : "").append(enc, at, end);
      at = end;
      n++;
    }
  }

  /** A list of {@code <uri>} (List-Unsubscribe) folded between its items when the line would pass 78 characters. */
  static String foldList(String name, String value) {
    return name.length() + 2 + value.length() <= 78 ? value : value.replace(", <", ",\r\n <");
  }

  private String date() {
    // formatting costs more than the rest of the headers; the Date changes once a second
    long now = System.currentTimeMillis() / 1000;
    String key = Long.toString(now);
    if (!key.equals(dateSecond)) {
      dateHeader = ZonedDateTime.now(ZoneOffset.UTC).format(DATE);
      dateSecond = key;
    }
    return dateHeader;
  }

  private static void part(Out out, String type, String body) {
    boolean sevenBit = isSevenBitSafe(body);
    out.ascii("Content-Type: ").ascii(type).ascii("; charset=UTF-8").crlf();
    out.ascii("Content-Transfer-Encoding: ").ascii(sevenBit ? "7bit" : "quoted-printable").crlf();
    out.crlf();
    if (sevenBit) {
      if (body.startsWith(".") || body.contains("\n.")) {
        out.dotAtLineStart = true;
      }
      out.ascii(body);
    } else {
      byte[] utf8 = body.getBytes(StandardCharsets.UTF_8);
      out.ensure(QuotedPrintable.maxEncodedLength(utf8.length));
      out.len = QuotedPrintable.encode(utf8, utf8.length, out.buf, out.len);
    }
    if (!out.endsWithCrlf()) {
      out.crlf();
    }
  }

  /** Bare CR, bare LF and CRLF all become CRLF: no bare line ending can reach the wire (SMTP smuggling). */
  public static String normalizeLineBreaks(String s) {
    int cr = s.indexOf('\r');
    int lf = s.indexOf('\n');
    if (cr < 0 && lf < 0) {
      return s;
    }
    int n = s.length();
    boolean clean = true;
    for (int i = Math.min(cr < 0 ? n : cr, lf < 0 ? n : lf); i < n; i++) {
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
    int from = 0;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c == '\r' || c == '\n') {
        b.append(s, from, i).append("\r\n");
        if (c == '\r' && i + 1 < n && s.charAt(i + 1) == '\n') {
          i++;
        }
        from = i + 1;
      }
    }
    return b.append(s, from, n).toString();
  }

  /** ASCII without NUL and with no line over 998 characters: can go as 7bit without encoding. */
  static boolean isSevenBitSafe(String s) {
    int lineLen = 0;
    for (int i = 0, n = s.length(); i < n; i++) {
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

  /** An unsynchronised byte sink with room for a transport's terminator at the end. */
  private static final class Out {
    byte[] buf;
    int len;
    boolean dotAtLineStart;

    Out(int capacity) {
      buf = new byte[capacity + TAIL_ROOM];
    }

    @SuppressWarnings("deprecation") // the fastest copy of a string known to be ASCII
    Out ascii(String s) {
      int n = s.length();
      ensure(n);
      // header values are ASCII after RFC 2047 encoding and 7bit bodies are ASCII by the check above
      s.getBytes(0, n, buf, len);
      len += n;
      return this;
    }

    /** An address in its header form: ASCII (an IDN domain as A-labels), or UTF-8 for a UTF-8 local part. */
    Out address(EmailAddress a) {
      String h = a.headerForm();
      if (a.utf8Local()) {
        byte[] b = h.getBytes(StandardCharsets.UTF_8);
        bytes(b, b.length);
        return this;
      }
      return ascii(h);
    }

    Out crlf() {
      ensure(2);
      buf[len++] = '\r';
      buf[len++] = '\n';
      return this;
    }

    void bytes(byte[] b, int n) {
      ensure(n);
      System.arraycopy(b, 0, buf, len, n);
      len += n;
    }

    void ensure(int extra) {
      if (len + extra + TAIL_ROOM > buf.length) {
        byte[] nb = new byte[Math.max(buf.length * 2, len + extra + TAIL_ROOM)];
        System.arraycopy(buf, 0, nb, 0, len);
        buf = nb;
      }
    }

    boolean endsWithCrlf() {
      return len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n';
    }
  }
}

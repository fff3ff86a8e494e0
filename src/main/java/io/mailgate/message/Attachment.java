package io.mailgate.message;

import io.mailgate.error.InvalidInputException;
import java.util.Base64;
import java.util.Locale;

/**
 * A file sent with a job's messages: its name (one path segment, no control characters), its media type
 * ({@code type/subtype}, parameters allowed), whether it is shown inline ({@code contentId} then names it, referenced
 * from the html as {@code cid:<contentId>}), and its bytes. Stored with the job ({@code job_attachments}, its bytes in
 * parts in {@code job_attachment_parts}) and loaded whole for dispatch.
 *
 * <p>Its encodings are made once per loaded job and shared by every recipient's message: {@link #mimeBase64()} (76
 * characters a line, CRLF, as the MIME part's body) and {@link #base64()} (one line, for providers' JSON). Each is
 * made on first use and kept while the job is cached ({@code MAILGATE_DISPATCH_JOB_CACHE_MIME_BYTES}).
 */
public final class Attachment {

  private static final Base64.Encoder MIME = Base64.getMimeEncoder(76, new byte[] {'\r', '\n'});

  private final String filename;
  private final String contentType;
  private final String contentId;
  private final byte[] data;
  private volatile byte[] mimeBase64;
  private volatile String base64;

  /** @param contentId the Content-ID of an inline part (without angle brackets), null for an attachment */
  public Attachment(String filename, String contentType, String contentId, byte[] data) {
    this.filename = filename;
    this.contentType = contentType;
    this.contentId = contentId;
    this.data = data;
  }

  public String filename() {
    return filename;
  }

  public String contentType() {
    return contentType;
  }

  /** The media type without parameters ({@code image/png}). */
  public String mediaType() {
    int semi = contentType.indexOf(';');
    return semi < 0 ? contentType : contentType.substring(0, semi).trim();
  }

  public boolean inline() {
    return contentId != null;
  }

  public String contentId() {
    return contentId;
  }

  public byte[] data() {
    return data;
  }

  /** The bytes as a MIME part's base64 body: lines of 76 characters, each ending in CRLF. */
  public byte[] mimeBase64() {
    byte[] b = mimeBase64;
    if (b == null) {
      synchronized (this) {
        b = mimeBase64;
        if (b == null) {
          byte[] lines = MIME.encode(data);
          b = new byte[lines.length + (lines.length == 0 ? 0 : 2)];
          System.arraycopy(lines, 0, b, 0, lines.length);
          if (lines.length > 0) {
            b[b.length - 2] = '\r';
            b[b.length - 1] = '\n';
          }
          mimeBase64 = b;
        }
      }
    }
    return b;
  }

  /** The bytes as one line of base64, as providers' JSON APIs take them. */
  public String base64() {
    String s = base64;
    if (s == null) {
      synchronized (this) {
        s = base64;
        if (s == null) {
          s = Base64.getEncoder().encodeToString(data);
          base64 = s;
        }
      }
    }
    return s;
  }

  /** What a loaded attachment may hold once both its encodings exist (for the dispatcher's cache bound). */
  public long weight() {
    long encoded = (data.length + 2L) / 3 * 4;
    return data.length + encoded + encoded * 78 / 76 + 64;
  }

  // --- validation, shared by the Mailgun form and the JSON job API

  /**
   * A file name as given, made safe for a MIME header: the last segment of a path ({@code C:\dir\a.pdf} is
   * {@code a.pdf}), at most {@code maxChars} characters, no control characters (CR, LF, NUL...).
   *
   * @param field names the field in the error
   */
  public static String filename(String given, int maxChars, String field) {
    if (given == null || given.isBlank()) {
      throw new InvalidInputException("invalid_attachment", field + " is required (the attachment's file name)", field);
    }
    for (int i = 0; i < given.length(); i++) {
      char c = given.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        throw new InvalidInputException("invalid_attachment", field + " must not contain CR, LF or other control"
            + " characters", field);
      }
    }
    String name = given.substring(Math.max(given.lastIndexOf('/'), given.lastIndexOf('\\')) + 1).trim();
    if (name.isEmpty() || name.equals(".") || name.equals("..")) {
      throw new InvalidInputException("invalid_attachment", field + " must name a file, not a folder", field);
    }
    if (name.codePointCount(0, name.length()) > maxChars) {
      throw new InvalidInputException("invalid_attachment", field + " is longer than " + maxChars
          + " characters (MAILGATE_MAX_ATTACHMENT_NAME_CHARS)", field);
    }
    return name;
  }

  /**
   * A media type, {@code type/subtype} in RFC 2045's token syntax, optionally with a {@code charset} parameter
   * (token); lower-cased. Null or blank: {@code application/octet-stream}.
   */
  public static String contentType(String given, String charset, String field) {
    if (given == null || given.isBlank()) {
      return "application/octet-stream";
    }
    String t = given.trim().toLowerCase(Locale.ROOT);
    int semi = t.indexOf(';');
    String params = semi < 0 ? null : t.substring(semi + 1).trim();
    t = semi < 0 ? t : t.substring(0, semi).trim();
    int slash = t.indexOf('/');
    if (slash <= 0 || slash == t.length() - 1 || !token(t.substring(0, slash)) || !token(t.substring(slash + 1))) {
      throw new InvalidInputException("invalid_attachment", field + " must be a media type such as image/png", field);
    }
    if (t.startsWith("multipart/") || t.equals("message/rfc822") || t.startsWith("message/")) {
      // a part of these types is a container whose boundaries and encoding we would have to trust
      throw new InvalidInputException("invalid_attachment", field + ": " + t + " is not an attachment type (send the"
          + " file as application/octet-stream)", field);
    }
    if (charset == null && params != null && params.startsWith("charset=")) {
      charset = params.substring("charset=".length()).replace("\"", "").trim();
    }
    if (charset != null && !charset.isBlank() && t.startsWith("text/")) {
      if (!token(charset.trim())) {
        throw new InvalidInputException("invalid_attachment", field + ": the charset is not a valid token", field);
      }
      return t + "; charset=" + charset.trim().toLowerCase(Locale.ROOT);
    }
    return t;
  }

  /**
   * A Content-ID (without angle brackets), as {@code cid:} references it: 1 to 250 printable ASCII characters
   * without spaces or {@code <>()[]\,;:"}.
   */
  public static String contentId(String given, String field) {
    boolean ok = given != null && !given.isEmpty() && given.length() <= 250;
    for (int i = 0; ok && i < given.length(); i++) {
      char c = given.charAt(i);
      ok = c > 32 && c < 127 && "<>()[]\\,;:\"".indexOf(c) < 0;
    }
    if (!ok) {
      throw new InvalidInputException("invalid_attachment", field + " must be 1 to 250 printable ASCII characters"
          + " without spaces or <>()[]\\,;:\" to be a Content-ID (the html refers to it as cid:...)", field);
    }
    return given;
  }

  /** RFC 2045's token: printable ASCII without spaces and tspecials. */
  static boolean token(String s) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c <= 32 || c >= 127 || "()<>@,;:\\\"/[]?=".indexOf(c) >= 0) {
        return false;
      }
    }
    return true;
  }
}

package io.mailgate.message.dkim;

import java.io.ByteArrayOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;

/**
 * RFC 6376 3.4.2 and 3.4.4: the "relaxed" header and body canonicalizations, on the bytes of a CRLF-only message.
 * A bare CR or LF is refused: the gateway never composes one, and the signature must cover the bytes sent.
 */
final class RelaxedCanonicalizer {
  private RelaxedCanonicalizer() {}

  /** One header field of the top-level header section: its lowercase name and raw bytes {@code [start, end)}, CRLF included. */
  record Field(String name, int start, int colon, int end) {}

  /** The header section's fields and where the body starts (after the empty line). */
  record Header(List<Field> fields, int bodyStart) {}

  static Header parse(byte[] d, int n) {
    List<Field> fields = new ArrayList<>();
    int i = 0;
    while (i < n) {
      if (d[i] == '\r' && i + 1 < n && d[i + 1] == '\n') {
        return new Header(fields, i + 2);
      }
      int start = i;
      int colon = -1;
      int end = n;
      for (int j = i; j < n; j++) {
        byte b = d[j];
        if (b == ':' && colon < 0) {
          colon = j;
        } else if (b == '\r') {
          if (j + 1 >= n || d[j + 1] != '\n') {
            throw new IllegalArgumentException("bare CR in the header section");
          }
          int next = j + 2;
          if (next < n && (d[next] == ' ' || d[next] == '\t')) {
            j++; // a folded continuation: the field goes on
            continue;
          }
          end = next;
          break;
        } else if (b == '\n') {
          throw new IllegalArgumentException("bare LF in the header section");
        }
      }
      if (colon < 0) {
        throw new IllegalArgumentException("a header line without ':'");
      }
      int nameEnd = colon;
      while (nameEnd > start && isWsp(d[nameEnd - 1])) {
        nameEnd--;
      }
      StringBuilder name = new StringBuilder(nameEnd - start);
      for (int k = start; k < nameEnd; k++) {
        char c = (char) (d[k] & 0xff);
        name.append(c >= 'A' && c <= 'Z' ? (char) (c + 32) : c);
      }
      fields.add(new Field(name.toString(), start, colon, end));
      i = end;
    }
    return new Header(fields, n);
  }

  /**
   * A field, relaxed: lowercase name, ':' without surrounding whitespace, the value unfolded with every run of
   * whitespace made one space and none at either end, then CRLF (unless {@code crlf} is false: the signature's own field).
   */
  static void header(byte[] d, Field f, ByteArrayOutputStream out, boolean crlf) {
    for (int k = 0; k < f.name().length(); k++) {
      out.write(f.name().charAt(k));
    }
    out.write(':');
    boolean pendingSpace = false;
    boolean started = false;
    for (int k = f.colon() + 1; k < f.end(); k++) {
      byte b = d[k];
      if (b == '\r' || b == '\n') {
        continue;
      }
      if (isWsp(b)) {
        pendingSpace = started;
        continue;
      }
      if (pendingSpace) {
        out.write(' ');
        pendingSpace = false;
      }
      out.write(b);
      started = true;
    }
    if (crlf) {
      out.write('\r');
      out.write('\n');
    }
  }

  /**
   * The body, relaxed, fed to {@code digest}: whitespace at line ends removed, runs of whitespace made one space,
   * empty lines at the end removed, and a non-empty body ending in CRLF.
   */
  static void body(byte[] d, int from, int n, MessageDigest digest) {
    byte[] buf = new byte[8192];
    int o = 0;
    int emptyLines = 0;
    int i = from;
    while (i < n) {
      boolean pendingSpace = false;
      boolean content = false;
      int j = i;
      for (; j < n; j++) {
        byte b = d[j];
        if (b == '\r') {
          if (j + 1 >= n || d[j + 1] != '\n') {
            throw new IllegalArgumentException("bare CR in the body");
          }
          break;
        }
        if (b == '\n') {
          throw new IllegalArgumentException("bare LF in the body");
        }
        if (isWsp(b)) {
          pendingSpace = true;
          continue;
        }
        if (!content) {
          content = true;
          for (; emptyLines > 0; emptyLines--) {
            if (o + 2 > buf.length) {
              digest.update(buf, 0, o);
              o = 0;
            }
            buf[o++] = '\r';
            buf[o++] = '\n';
          }
        }
        if (o + 2 > buf.length) {
          digest.update(buf, 0, o);
          o = 0;
        }
        if (pendingSpace) {
          buf[o++] = ' ';
          pendingSpace = false;
        }
        buf[o++] = b;
      }
      if (content) {
        if (o + 2 > buf.length) {
          digest.update(buf, 0, o);
          o = 0;
        }
        buf[o++] = '\r';
        buf[o++] = '\n';
      } else {
        emptyLines++;
      }
      i = j + 2; // past the CRLF (or past the end for a last line without one)
    }
    digest.update(buf, 0, o);
  }

  private static boolean isWsp(byte b) {
    return b == ' ' || b == '\t';
  }
}

package io.mailgate.backend.smtp;

import io.mailgate.message.ComposedMessage;
import io.mailgate.message.MimeComposer;
import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;

/**
 * The DATA section as it goes on the wire, in one buffer: every line ending CRLF (no bare CR or LF can reach the
 * server, so no {@code <LF>.<CR><LF>} smuggling), lines starting with '.' dot-stuffed (RFC 5321 4.5.2), then the
 * terminating {@code .CRLF}.
 */
public final class SmtpData {
  private SmtpData() {}

  /**
   * A composed message is CRLF-only by construction and knows whether a line starts with '.': in the common case
   * the terminator goes into its spare room and the array is sent as is, without a copy or a scan.
   */
  public static Buffer encode(ComposedMessage m) {
    byte[] d = m.data();
    int n = m.length();
    if (!m.dotAtLineStart() && d.length - n >= 5) {
      int o = n;
      if (n > 0 && !(n >= 2 && d[n - 2] == '\r' && d[n - 1] == '\n')) {
        d[o++] = '\r';
        d[o++] = '\n';
      }
      d[o++] = '.';
      d[o++] = '\r';
      d[o++] = '\n';
      return BufferInternal.buffer(Unpooled.wrappedBuffer(d, 0, o));
    }
    return encode(d, n);
  }

  /** Any bytes: line endings normalised, dots stuffed, terminator appended. */
  public static Buffer encode(byte[] msg, int n) {
    int extra = 5;
    for (int i = 0; i < n; i++) {
      byte b = msg[i];
      if (b == '.' && (i == 0 || msg[i - 1] == '\n' || msg[i - 1] == '\r')) {
        extra++;
      } else if (b == '\n' && (i == 0 || msg[i - 1] != '\r')) {
        extra++;
      } else if (b == '\r' && (i + 1 >= n || msg[i + 1] != '\n')) {
        extra++;
      }
    }
    byte[] out = new byte[n + extra + MimeComposer.TAIL_ROOM];
    int o = 0;
    boolean lineStart = true;
    for (int i = 0; i < n; i++) {
      byte b = msg[i];
      if (b == '\r' || b == '\n') {
        out[o++] = '\r';
        out[o++] = '\n';
        if (b == '\r' && i + 1 < n && msg[i + 1] == '\n') {
          i++;
        }
        lineStart = true;
        continue;
      }
      if (lineStart && b == '.') {
        out[o++] = '.';
      }
      out[o++] = b;
      lineStart = false;
    }
    if (!lineStart) {
      out[o++] = '\r';
      out[o++] = '\n';
    }
    out[o++] = '.';
    out[o++] = '\r';
    out[o++] = '\n';
    return BufferInternal.buffer(Unpooled.wrappedBuffer(out, 0, o));
  }
}

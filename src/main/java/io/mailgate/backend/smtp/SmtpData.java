package io.mailgate.backend.smtp;

import io.vertx.core.buffer.Buffer;

/**
 * The DATA section as it goes on the wire, in one buffer: every line ending made CRLF (no bare CR or LF can
 * reach the server, so no {@code <LF>.<CR><LF>} smuggling), lines starting with '.' dot-stuffed (RFC 5321
 * 4.5.2), then the terminating {@code .CRLF}.
 */
public final class SmtpData {
  private SmtpData() {}

  public static Buffer encode(byte[] msg) {
    int n = msg.length;
    int extra = 5;
    for (int i = 0; i < n; i++) {
      byte b = msg[i];
      if (b == '.' && (i == 0 || msg[i - 1] == '\n')) {
        extra++;
      } else if (b == '\n' && (i == 0 || msg[i - 1] != '\r')) {
        extra++;
      } else if (b == '\r' && (i + 1 >= n || msg[i + 1] != '\n')) {
        extra++;
      }
    }
    byte[] out = new byte[n + extra];
    int o = 0;
    boolean lineStart = true;
    for (int i = 0; i < n; i++) {
      byte b = msg[i];
      if (b == '\r') {
        out[o++] = '\r';
        out[o++] = '\n';
        if (i + 1 < n && msg[i + 1] == '\n') {
          i++;
        }
        lineStart = true;
        continue;
      }
      if (b == '\n') {
        out[o++] = '\r';
        out[o++] = '\n';
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
    return Buffer.buffer().appendBytes(out, 0, o);
  }
}

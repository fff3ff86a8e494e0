package io.mailgate.job;

import io.netty.buffer.ByteBuf;
import io.vertx.core.Handler;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;

/**
 * A line-oriented body (NDJSON, CSV) that fails with {@link TooLong} as soon as one line (the bytes since the last
 * '\n') passes the limit. It counts bytes as they arrive, so unlike {@code RecordParser.maxRecordSize} it does not
 * mistake complete lines that the parser holds while it is paused for one long line. In skipping mode (a CSV import
 * reports every bad line, not just the first) it instead reports the long line's number and drops its bytes past
 * the limit, keeping its '\n': the reader downstream sees that line cut short, at the same line number.
 */
public final class LineLimitedStream implements ReadStream<Buffer> {

  /** Line {@code line} (1-based) is longer than the limit. */
  public static final class TooLong extends RuntimeException {
    public final long line;

    TooLong(long line) {
      super("line " + line + " is too long", null, false, false);
      this.line = line;
    }
  }

  private final ReadStream<Buffer> in;
  private final int max;
  private final java.util.function.LongConsumer onTooLong;
  private long lines;
  private long partial;
  private boolean failed;
  private boolean skipping;
  private Handler<Throwable> exceptionHandler;

  /** Fails the stream at the first line longer than {@code max} bytes. */
  public LineLimitedStream(ReadStream<Buffer> in, int max) {
    this(in, max, null);
  }

  /**
   * With {@code onTooLong}: tells it the 1-based number of each line longer than {@code max} bytes (before that line
   * reaches the handler) and passes at most {@code max} bytes of it on; the stream does not fail.
   */
  public LineLimitedStream(ReadStream<Buffer> in, int max, java.util.function.LongConsumer onTooLong) {
    this.in = in;
    this.max = max;
    this.onTooLong = onTooLong;
  }

  @Override
  public ReadStream<Buffer> handler(Handler<Buffer> handler) {
    if (handler == null) {
      in.handler(null);
      return this;
    }
    in.handler(buf -> {
      if (failed) {
        return;
      }
      if (onTooLong != null) {
        handler.handle(skipLongLines(buf));
        return;
      }
      // Netty's indexOf scans several bytes per step; this runs over every byte of a million-line body
      ByteBuf bytes = ((BufferInternal) buf).getByteBuf();
      int at = bytes.readerIndex();
      int end = bytes.writerIndex();
      while (at < end) {
        int nl = bytes.indexOf(at, end, (byte) '\n');
        partial += (nl < 0 ? end : nl) - at;
        if (partial > max) {
          failed = true;
          in.pause();
          Handler<Throwable> h = exceptionHandler;
          if (h != null) {
            h.handle(new TooLong(lines + 1));
          }
          return;
        }
        if (nl < 0) {
          break;
        }
        lines++;
        partial = 0;
        at = nl + 1;
      }
      handler.handle(buf);
    });
    return this;
  }

  /** The buffer without the bytes of over-long lines past their first {@code max}; usually the buffer itself. */
  private Buffer skipLongLines(Buffer buf) {
    ByteBuf bytes = ((BufferInternal) buf).getByteBuf();
    int start = bytes.readerIndex();
    int end = bytes.writerIndex();
    // Buffer positions are the ByteBuf's own indices (a request chunk starts at 0)
    Buffer out = null; // only built when something is dropped
    int keepFrom = start;
    int at = start;
    while (at < end) {
      int nl = bytes.indexOf(at, end, (byte) '\n');
      int lineEnd = nl < 0 ? end : nl;
      if (skipping) {
        if (nl < 0) {
          keepFrom = end;
          break;
        }
        skipping = false;
        keepFrom = nl; // the '\n' goes on
      } else {
        partial += lineEnd - at;
        if (partial > max) {
          long over = partial - max; // the bytes of this line past the limit that are in this buffer
          int cut = (int) (lineEnd - Math.min(over, lineEnd - at));
          out = out == null ? Buffer.buffer() : out;
          out.appendBuffer(buf, keepFrom, cut - keepFrom);
          onTooLong.accept(lines + 1);
          skipping = nl < 0;
          keepFrom = nl < 0 ? end : nl;
        }
      }
      if (nl < 0) {
        break;
      }
      lines++;
      partial = 0;
      at = nl + 1;
    }
    if (out == null) {
      return keepFrom == start ? buf : buf.getBuffer(keepFrom, end);
    }
    if (keepFrom < end) {
      out.appendBuffer(buf, keepFrom, end - keepFrom);
    }
    return out;
  }

  @Override
  public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
    exceptionHandler = handler;
    in.exceptionHandler(handler);
    return this;
  }

  @Override
  public ReadStream<Buffer> pause() {
    in.pause();
    return this;
  }

  @Override
  public ReadStream<Buffer> resume() {
    in.resume();
    return this;
  }

  @Override
  public ReadStream<Buffer> fetch(long amount) {
    in.fetch(amount);
    return this;
  }

  @Override
  public ReadStream<Buffer> endHandler(Handler<Void> endHandler) {
    in.endHandler(endHandler);
    return this;
  }
}

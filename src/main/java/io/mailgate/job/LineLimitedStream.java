package io.mailgate.job;

import io.netty.buffer.ByteBuf;
import io.vertx.core.Handler;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;

/**
 * An NDJSON body that fails with {@link TooLong} as soon as one line (the bytes since the last '\n') passes the
 * limit. It counts bytes as they arrive, so unlike {@code RecordParser.maxRecordSize} it does not mistake complete
 * lines that the parser holds while it is paused for one long line.
 */
final class LineLimitedStream implements ReadStream<Buffer> {

  /** Line {@code line} (1-based) is longer than the limit. */
  static final class TooLong extends RuntimeException {
    final long line;

    TooLong(long line) {
      super("line " + line + " is too long", null, false, false);
      this.line = line;
    }
  }

  private final ReadStream<Buffer> in;
  private final int max;
  private long lines;
  private long partial;
  private boolean failed;
  private Handler<Throwable> exceptionHandler;

  LineLimitedStream(ReadStream<Buffer> in, int max) {
    this.in = in;
    this.max = max;
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

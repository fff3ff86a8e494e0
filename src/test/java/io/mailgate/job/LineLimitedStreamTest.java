package io.mailgate.job;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LineLimitedStreamTest {

  /** Hands the given chunks to the handler, in order, when started. */
  static final class Chunks implements ReadStream<Buffer> {
    private Handler<Buffer> handler;

    void send(String... chunks) {
      for (String c : chunks) {
        handler.handle(Buffer.buffer(c));
      }
    }

    @Override
    public ReadStream<Buffer> handler(Handler<Buffer> h) {
      handler = h;
      return this;
    }

    @Override
    public ReadStream<Buffer> exceptionHandler(Handler<Throwable> h) {
      return this;
    }

    @Override
    public ReadStream<Buffer> pause() {
      return this;
    }

    @Override
    public ReadStream<Buffer> resume() {
      return this;
    }

    @Override
    public ReadStream<Buffer> fetch(long amount) {
      return this;
    }

    @Override
    public ReadStream<Buffer> endHandler(Handler<Void> h) {
      return this;
    }
  }

  @Test
  void skippingModeCutsLongLinesToTheLimitKeepsTheirLineEndAndNamesThem() {
    Chunks in = new Chunks();
    List<Long> tooLong = new ArrayList<>();
    StringBuilder out = new StringBuilder();
    new LineLimitedStream(in, 5, tooLong::add).handler(b -> out.append(b.toString()));
    // line 2 is long within one chunk, line 4 across three chunks, line 5 is exactly the limit
    in.send("ok\n0123456789\nfine\nabc", "defgh", "ijk\n12345\nlast");
    assertEquals("ok\n01234\nfine\nabcde\n12345\nlast", out.toString());
    assertEquals(List.of(2L, 4L), tooLong);
  }

  @Test
  void withoutSkippingTheFirstLongLineFailsTheStream() {
    Chunks in = new Chunks();
    List<Throwable> failures = new ArrayList<>();
    StringBuilder out = new StringBuilder();
    LineLimitedStream s = new LineLimitedStream(in, 5);
    s.exceptionHandler(failures::add);
    s.handler(b -> out.append(b.toString()));
    in.send("ok\n", "0123456789\n", "more\n");
    assertEquals("ok\n", out.toString());
    assertEquals(2L, ((LineLimitedStream.TooLong) failures.get(0)).line);
  }
}

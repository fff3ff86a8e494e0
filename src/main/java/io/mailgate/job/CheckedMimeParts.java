package io.mailgate.job;

import io.mailgate.message.MimeMessage;
import io.mailgate.store.BlobParts;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;

/**
 * A MIME message's parts as stored: read from {@code source} a piece at a time, each piece checked by a
 * {@link MimeMessage.Checker} on a worker (bare LFs made CRLF, which may lengthen it) and the result cut again into
 * parts of {@code partBytes}. Once the last part was given, {@link #checked()} has the message's header facts; a
 * message that cannot be sent as is fails the part where that shows. Holds about three parts at most. Used from one
 * context, one part at a time.
 */
final class CheckedMimeParts implements BlobParts {

  private final Vertx vertx;
  private final BlobParts source;
  private final int partBytes;
  private final MimeMessage.Checker checker;
  private Buffer pending = Buffer.buffer();
  private MimeMessage.Checked checked;

  CheckedMimeParts(Vertx vertx, BlobParts source, int partBytes, int maxHeaderBytes) {
    this.vertx = vertx;
    this.source = source;
    this.partBytes = partBytes;
    this.checker = new MimeMessage.Checker(maxHeaderBytes);
  }

  @Override
  public Future<Buffer> next() {
    if (pending.length() >= partBytes || checked != null) {
      return Future.succeededFuture(take());
    }
    return source.next().compose(in -> {
      if (in.length() == 0) {
        return vertx.executeBlocking(checker::finish, false).map(c -> checked = c);
      }
      return vertx.executeBlocking(() -> {
        byte[] b = in.getBytes();
        Buffer out = Buffer.buffer(b.length + 64);
        checker.feed(b, 0, b.length, out::appendBytes);
        return out;
      }, false).map(out -> pending.appendBuffer(out));
    }).compose(x -> next());
  }

  private Buffer take() {
    int n = Math.min(partBytes, pending.length());
    Buffer part = pending.getBuffer(0, n);
    pending = pending.getBuffer(n, pending.length());
    return part;
  }

  /** The message's header facts, once its last part was given (null before). */
  MimeMessage.Checked checked() {
    return checked;
  }

  @Override
  public Future<Void> close() {
    pending = Buffer.buffer();
    return source.close();
  }
}

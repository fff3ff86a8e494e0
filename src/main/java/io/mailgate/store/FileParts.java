package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;

/**
 * A file read back in parts of {@code partBytes} (an upload's temporary file), with Vert.x's {@link AsyncFile}: each
 * {@link #next()} is one positioned read, made when the part before it was taken, so a part is all that is held.
 * Opened at the first part. Used from one context (the request's).
 */
public final class FileParts implements BlobParts {

  private final Vertx vertx;
  private final String path;
  private final int partBytes;
  private Future<AsyncFile> file;
  private long position;
  private boolean ended;

  public FileParts(Vertx vertx, String path, int partBytes) {
    this.vertx = vertx;
    this.path = path;
    this.partBytes = partBytes;
  }

  @Override
  public Future<Buffer> next() {
    if (ended) {
      return Future.succeededFuture(Buffer.buffer());
    }
    if (file == null) {
      file = vertx.fileSystem().open(path, new OpenOptions().setRead(true).setWrite(false).setCreate(false));
    }
    // a read fills the buffer unless the file ends first
    return file.compose(f -> f.read(Buffer.buffer(partBytes), 0, position, partBytes)).map(b -> {
      position += b.length();
      ended = b.length() < partBytes;
      return b;
    });
  }

  @Override
  public Future<Void> close() {
    ended = true;
    return file == null ? Future.succeededFuture() : file.compose(AsyncFile::close).otherwiseEmpty();
  }
}

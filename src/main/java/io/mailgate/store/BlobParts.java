package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;

/**
 * The bytes of a job's file or MIME message as intake writes them ({@code job_attachment_parts},
 * {@code job_message_parts}): a part at a time, in order, each asked for once the one before was taken, so what is
 * held is a part or two, never the whole.
 */
public interface BlobParts {

  /** The next part (not empty, at most the part size it was made with), or an empty buffer after the last. */
  Future<Buffer> next();

  /** Lets go of what it reads from (an open file); called once, whatever the outcome. */
  default Future<Void> close() {
    return Future.succeededFuture();
  }

  /** Bytes already in memory (the job API's base64 attachments, within their own limit), in parts of {@code partBytes}. */
  static BlobParts of(byte[] data, int partBytes) {
    Buffer all = Buffer.buffer(data);
    int[] at = {0};
    return () -> {
      int from = at[0];
      int to = Math.min(data.length, from + partBytes);
      at[0] = to;
      return Future.succeededFuture(all.slice(from, to));
    };
  }
}

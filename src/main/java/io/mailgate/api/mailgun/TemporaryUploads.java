package io.mailgate.api.mailgun;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerFileUpload;
import java.util.ArrayList;
import java.util.List;

/**
 * The temporary files of one request's file parts, each readable by this process only (a file is the tenant's mail)
 * and written by its upload's own pipe, with backpressure. They live until the request is done with, stored or not:
 * then {@link #close} stops the uploads still streaming (a request cut off or refused half-way: their rest may never
 * come, and nothing else would end their pipes) and deletes every file, one whose creation was still under way
 * included. Used from the request's context.
 */
final class TemporaryUploads {

  private final Vertx vertx;
  private final String prefix;
  private final String suffix;
  private final List<String> paths = new ArrayList<>();
  private final List<HttpServerFileUpload> streaming = new ArrayList<>();
  private boolean closed;

  TemporaryUploads(Vertx vertx, String prefix, String suffix) {
    this.vertx = vertx;
    this.prefix = prefix;
    this.suffix = suffix;
  }

  /** Streams {@code upload} to a temporary file of its own. @return the file, once the upload is in it whole */
  Future<String> stream(HttpServerFileUpload upload) {
    if (closed) {
      drop(upload);
      return Future.failedFuture("the request is done with");
    }
    upload.pause(); // until its file exists
    return vertx.fileSystem().createTempFile(prefix, suffix, "rw-------").compose(path -> {
      paths.add(path);
      if (closed) {
        drop(upload);
        return vertx.fileSystem().delete(path).transform(ar -> Future.failedFuture("the request is done with"));
      }
      streaming.add(upload);
      return upload.streamToFileSystem(path).map(path);
    });
  }

  /** Reads {@code upload} to its end and drops its bytes (a part refused by name, or after the request was done). */
  static void drop(HttpServerFileUpload upload) {
    upload.exceptionHandler(e -> { });
    upload.handler(b -> { });
    upload.resume();
  }

  /** Stops the uploads still streaming and deletes every file; any upload after this is dropped. */
  Future<Void> close() {
    if (closed) {
      return Future.succeededFuture();
    }
    closed = true;
    for (HttpServerFileUpload u : streaming) {
      try {
        u.cancelStreamToFileSystem();
      } catch (IllegalStateException e) {
        // not streaming
      }
    }
    List<Future<Void>> deleted = new ArrayList<>();
    for (String path : paths) {
      // a cancelled upload's pipe may have deleted it already
      deleted.add(vertx.fileSystem().delete(path).otherwiseEmpty());
    }
    return Future.all(deleted).mapEmpty();
  }
}

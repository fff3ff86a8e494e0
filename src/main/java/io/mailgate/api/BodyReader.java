package io.mailgate.api;

import io.mailgate.error.PayloadTooLargeException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;

/** Reads a whole body up to a limit: refused from its Content-Length before a byte is read, or as soon as it passes the limit. */
final class BodyReader {
  private BodyReader() {}

  static Future<Buffer> read(HttpServerRequest req, long limit) {
    String cl = req.getHeader("Content-Length");
    if (cl != null) {
      try {
        if (Long.parseLong(cl.trim()) > limit) {
          return Future.failedFuture(tooLarge(limit));
        }
      } catch (NumberFormatException e) {
        // the HTTP codec rejects a malformed Content-Length before we get here
      }
    }
    Promise<Buffer> p = Promise.promise();
    Buffer body = Buffer.buffer((int) Math.min(limit, cl == null ? 4096 : Math.max(0, Long.parseLong(cl.trim()))));
    req.handler(chunk -> {
      if (body.length() + chunk.length() > limit) {
        req.pause();
        p.tryFail(tooLarge(limit));
      } else {
        body.appendBuffer(chunk);
      }
    });
    req.exceptionHandler(p::tryFail);
    req.endHandler(v -> p.tryComplete(body));
    req.resume();
    return p.future();
  }

  private static PayloadTooLargeException tooLarge(long limit) {
    return new PayloadTooLargeException("body is larger than " + limit + " bytes; send large jobs as application/x-ndjson");
  }
}

package io.mailgate.api;

import io.mailgate.error.ConflictException;
import io.mailgate.error.InvalidInputException;
import io.mailgate.error.MailgateException;
import io.mailgate.error.NotFoundException;
import io.mailgate.error.OverloadedException;
import io.mailgate.error.PayloadTooLargeException;
import io.mailgate.error.UnprocessableException;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.HttpException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where failures become HTTP answers: status from the exception type, body
 * {@code {"error":{"code","message","field"?,"line"?}}} (and {@code "lines","invalidLines"} beside it for a body with
 * invalid lines). Unexpected failures answer 500 without details and are
 * logged. A request whose body was not read to the end gets its connection closed after the answer
 * ({@link #answer}, which the Mailgun-compatible routes use with their own body shape).
 */
public final class FailureHandler implements Handler<RoutingContext> {

  private static final Logger LOG = LoggerFactory.getLogger(FailureHandler.class);

  @Override
  public void handle(RoutingContext ctx) {
    Throwable f = ctx.failure();
    int status;
    JsonObject error = new JsonObject();
    JsonObject body = new JsonObject().put("error", error);
    if (f instanceof MailgateException m) {
      status = statusOf(m);
      error.put("code", m.code()).put("message", m.getMessage());
      if (m instanceof InvalidInputException in) {
        if (in.field() != null) {
          error.put("field", in.field());
        }
        if (in.line() != null) {
          error.put("line", in.line());
        }
      }
      if (m instanceof io.mailgate.error.InvalidLinesException il) {
        // beside the error: the invalid lines listed (up to a bound) and how many there were in all
        io.vertx.core.json.JsonArray lines = new io.vertx.core.json.JsonArray();
        for (var p : il.lines()) {
          JsonObject l = new JsonObject().put("line", p.line());
          if (p.column() != null) {
            l.put("column", p.column());
          }
          lines.add(l.put("message", p.message()));
        }
        body.put("lines", lines).put("invalidLines", il.total());
      }
      if (m instanceof OverloadedException o) {
        ctx.response().putHeader("Retry-After", Integer.toString(o.retryAfterSeconds()));
      }
    } else if (f instanceof ApiException a) {
      status = a.status;
      error.put("code", a.code).put("message", a.getMessage());
    } else if (f instanceof HttpException h) {
      status = h.getStatusCode();
      error.put("code", codeOf(status)).put("message", h.getPayload() != null ? h.getPayload() : messageOf(status));
    } else if (io.mailgate.store.SqlErrors.isUnavailable(f)) {
      status = 503;
      error.put("code", "unavailable").put("message", "the database cannot be reached; retry later");
      ctx.response().putHeader("Retry-After", "5");
      LOG.atWarn().addKeyValue("path", loggable(ctx.request().path())).addKeyValue("error", String.valueOf(f.getMessage()))
          .log("dependency unavailable");
    } else if (f == null && ctx.statusCode() > 0) {
      status = ctx.statusCode();
      error.put("code", codeOf(status)).put("message", messageOf(status));
    } else {
      status = 500;
      error.put("code", "internal").put("message", "internal error");
      LOG.atError().addKeyValue("method", ctx.request().method()).addKeyValue("path", loggable(ctx.request().path()))
          .setCause(f).log("request failed");
    }
    answer(ctx, status, "application/json", body.encode());
  }

  /**
   * Writes an error answer. A request whose body was not read to its end gets its connection closed after the answer
   * (HTTP/1.1), or its stream reset (HTTP/2), so the rest of the body is not taken for a next request.
   */
  public static void answer(RoutingContext ctx, int status, String contentType, String body) {
    HttpServerResponse resp = ctx.response();
    if (resp.ended()) {
      return;
    }
    HttpServerRequest req = ctx.request();
    // a request with a body not read to its end: the client may still be sending it
    boolean unread = !req.isEnded() && hasBody(req);
    // HTTP/2 multiplexes requests on one connection and forbids a Connection header: end only this stream
    boolean http2 = req.version() == HttpVersion.HTTP_2;
    if (unread && !http2) {
      resp.putHeader("Connection", "close");
    }
    resp.setStatusCode(status)
        .putHeader("Content-Type", contentType)
        .end(body)
        .onComplete(ar -> {
          if (unread) {
            if (http2) {
              resp.reset(0); // RST_STREAM NO_ERROR after the answer: stop sending the body (RFC 9113, 8.1)
            } else {
              lingeringClose(req);
            }
          }
        });
  }

  /** How long, and how many more body bytes, a connection is read and discarded after an early answer. */
  static final long LINGER_MS = 2000;
  static final long LINGER_BYTES = 8L * 1024 * 1024;

  /**
   * Closes the connection once the client has stopped sending, or after {@link #LINGER_MS} or {@link #LINGER_BYTES}:
   * closed at once, with the rest of the body still arriving, the kernel answers the unread data with a reset, which
   * can destroy the answer before the client reads it (seen as "connection reset" instead of the 503).
   */
  private static void lingeringClose(HttpServerRequest req) {
    var conn = req.connection();
    long[] seen = {0};
    boolean[] closed = {false};
    Runnable close = () -> {
      if (!closed[0]) {
        closed[0] = true;
        conn.close();
      }
    };
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.currentContext() == null ? null : io.vertx.core.Vertx.currentContext().owner();
    if (vertx == null || req.isEnded()) {
      close.run();
      return;
    }
    long timer = vertx.setTimer(LINGER_MS, id -> close.run());
    try {
      req.handler(b -> {
        seen[0] += b.length();
        if (seen[0] > LINGER_BYTES) {
          vertx.cancelTimer(timer);
          close.run();
        }
      });
      req.endHandler(v -> {
        vertx.cancelTimer(timer);
        close.run();
      });
      req.exceptionHandler(e -> {
        vertx.cancelTimer(timer);
        close.run();
      });
      req.resume();
    } catch (IllegalStateException e) {
      // the request is already over
      vertx.cancelTimer(timer);
      close.run();
    }
  }

  private static boolean hasBody(HttpServerRequest req) {
    String cl = req.getHeader("Content-Length");
    return cl != null ? !cl.trim().equals("0") : req.getHeader("Transfer-Encoding") != null || req.version() == HttpVersion.HTTP_2;
  }

  /** The HTTP status of a domain failure. */
  public static int statusOf(MailgateException m) {
    if (m instanceof InvalidInputException) {
      return 400;
    }
    if (m instanceof io.mailgate.error.NotAuthenticatedException) {
      return 401;
    }
    if (m instanceof io.mailgate.error.ForbiddenException) {
      return 403;
    }
    if (m instanceof NotFoundException) {
      return 404;
    }
    if (m instanceof ConflictException) {
      return 409;
    }
    if (m instanceof PayloadTooLargeException) {
      return 413;
    }
    if (m instanceof UnprocessableException) {
      return 422;
    }
    if (m instanceof OverloadedException) {
      return 503;
    }
    if (m instanceof io.mailgate.error.RequestTimeoutException) {
      return 408;
    }
    return 500;
  }

  private static String codeOf(int status) {
    return switch (status) {
      case 400 -> "bad_request";
      case 401 -> "unauthorized";
      case 403 -> "forbidden";
      case 404 -> "not_found";
      case 405 -> "method_not_allowed";
      case 413 -> "payload_too_large";
      case 415 -> "unsupported_media_type";
      default -> status >= 500 ? "internal" : "error";
    };
  }

  private static String messageOf(int status) {
    return switch (status) {
      case 404 -> "no such resource";
      case 405 -> "method not allowed";
      case 413 -> "request body too large";
      default -> "request failed";
    };
  }

  /** A path as it may be logged: the token of an unsubscribe link (it unsubscribes whoever holds it) left out. */
  static String loggable(String path) {
    return path != null && path.startsWith("/u/") ? "/u/{token}" : path;
  }
}

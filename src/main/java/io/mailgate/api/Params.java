package io.mailgate.api;

import io.mailgate.error.InvalidInputException;
import io.mailgate.error.NotFoundException;
import io.mailgate.store.Ids;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.UUID;

/** Reads and checks path and query parameters and JSON bodies. */
final class Params {
  private Params() {}

  /** A path id; one that is not a UUID answers 404 like an unknown one. */
  static UUID pathId(RoutingContext ctx, String name, String what) {
    UUID id = Ids.parseOrNull(ctx.pathParam(name));
    if (id == null) {
      throw new NotFoundException(what);
    }
    return id;
  }

  static int limit(RoutingContext ctx, int max) {
    return limit(ctx, Math.min(100, max), max);
  }

  /** The {@code limit} parameter, 1 to {@code max}; {@code dflt} when absent. */
  static int limit(RoutingContext ctx, int dflt, int max) {
    String v = ctx.request().getParam("limit");
    if (v == null) {
      return dflt;
    }
    try {
      int n = Integer.parseInt(v);
      if (n >= 1 && n <= max) {
        return n;
      }
    } catch (NumberFormatException e) {
      // fall through
    }
    throw new InvalidInputException("invalid_parameter", "limit must be an integer from 1 to " + max, "limit");
  }

  static UUID afterId(RoutingContext ctx) {
    String v = ctx.request().getParam("after");
    if (v == null || v.isEmpty()) {
      return null;
    }
    UUID id = Ids.parseOrNull(v);
    if (id == null) {
      throw new InvalidInputException("invalid_parameter", "after must be an id from a previous page's next", "after");
    }
    return id;
  }

  static int afterSeq(RoutingContext ctx) {
    String v = ctx.request().getParam("after");
    if (v == null || v.isEmpty()) {
      return -1;
    }
    try {
      int n = Integer.parseInt(v);
      if (n >= -1) {
        return n;
      }
    } catch (NumberFormatException e) {
      // fall through
    }
    throw new InvalidInputException("invalid_parameter", "after must be a recipient seq from a previous page's next", "after");
  }

  static JsonObject jsonBody(RoutingContext ctx) {
    if (ctx.body() == null || ctx.body().buffer() == null || ctx.body().length() == 0) {
      throw new InvalidInputException("invalid_json", "a JSON object body is required", null);
    }
    try {
      return new JsonObject(ctx.body().buffer());
    } catch (DecodeException | ClassCastException e) {
      throw new InvalidInputException("invalid_json", "body is not a JSON object", null);
    }
  }

  static String string(JsonObject body, String field) {
    Object v = body.getValue(field);
    if (v != null && !(v instanceof String)) {
      throw new InvalidInputException("invalid_field", field + " must be a string", field);
    }
    return (String) v;
  }

  /** Runs a handler body, turning anything it throws into a failed future. */
  static <T> Future<T> attempt(java.util.function.Supplier<Future<T>> f) {
    try {
      return f.get();
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }
}

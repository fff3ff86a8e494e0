package io.mailgate.api;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.function.Function;

/** Handlers written as functions from the request to a future JSON answer; failures go to the failure handler. */
final class Responses {
  private Responses() {}

  static Handler<RoutingContext> json(int status, Function<RoutingContext, Future<JsonObject>> body) {
    return ctx -> Params.attempt(() -> body.apply(ctx)).onComplete(ar -> {
      if (ar.failed()) {
        ctx.fail(ar.cause());
      } else if (!ctx.response().ended()) {
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(ar.result().encode());
      }
    });
  }

  /**
   * The same for an answer already encoded (a large one, encoded on a worker so that the event loop only writes it).
   */
  static Handler<RoutingContext> encodedJson(int status, Function<RoutingContext, Future<Buffer>> body) {
    return ctx -> Params.attempt(() -> body.apply(ctx)).onComplete(ar -> {
      if (ar.failed()) {
        ctx.fail(ar.cause());
      } else if (!ctx.response().ended()) {
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(ar.result());
      }
    });
  }

  /** 204 once the future succeeds. */
  static Handler<RoutingContext> noContent(Function<RoutingContext, Future<Void>> action) {
    return ctx -> Params.attempt(() -> action.apply(ctx)).onComplete(ar -> {
      if (ar.failed()) {
        ctx.fail(ar.cause());
      } else if (!ctx.response().ended()) {
        ctx.response().setStatusCode(204).end();
      }
    });
  }
}

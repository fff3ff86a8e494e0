package io.mailgate.api.mailgun;

import io.mailgate.api.FailureHandler;
import io.mailgate.error.MailgateException;
import io.mailgate.error.OverloadedException;
import io.mailgate.store.SqlErrors;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.HttpException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Failures of the Mailgun-compatible routes in Mailgun's shape: {@code {"message": "..."}} with the statuses its
 * clients know (400, 401 with the plain body {@code Forbidden}, 404, 413, 429, 5xx). Domain failures get the status
 * our own API gives them, except that Mailgun has no 409 or 422 (both answer 400) and says "slow down" with 429.
 */
final class MailgunFailureHandler implements Handler<RoutingContext> {

  private static final Logger LOG = LoggerFactory.getLogger(MailgunFailureHandler.class);

  @Override
  public void handle(RoutingContext ctx) {
    Throwable f = ctx.failure();
    int status;
    String message;
    if (f instanceof MailgunAnswer a) {
      if (a.status == 401) {
        FailureHandler.answer(ctx, 401, "text/plain; charset=utf-8", a.getMessage());
        return;
      }
      status = a.status;
      message = a.getMessage();
    } else if (f instanceof MailgateException m) {
      status = switch (FailureHandler.statusOf(m)) {
        case 409, 422 -> 400;
        case 503 -> 429; // admission control: Mailgun's "too many requests", with Retry-After
        default -> FailureHandler.statusOf(m);
      };
      message = m.getMessage();
      if (m instanceof OverloadedException o) {
        ctx.response().putHeader("Retry-After", Integer.toString(o.retryAfterSeconds()));
      }
    } else if (f instanceof HttpException h) {
      status = h.getStatusCode();
      message = h.getPayload() != null ? h.getPayload() : "Request failed";
    } else if (SqlErrors.isUnavailable(f)) {
      status = 503;
      message = "Service unavailable; retry later";
      ctx.response().putHeader("Retry-After", "5");
      LOG.atWarn().addKeyValue("path", ctx.request().path()).addKeyValue("error", String.valueOf(f.getMessage()))
          .log("dependency unavailable");
    } else if (f == null && ctx.statusCode() > 0) {
      status = ctx.statusCode();
      message = status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" : status == 413 ? "Request too large" : "Request failed";
    } else {
      status = 500;
      message = "Internal error";
      LOG.atError().addKeyValue("method", ctx.request().method()).addKeyValue("path", ctx.request().path())
          .setCause(f).log("request failed");
    }
    FailureHandler.answer(ctx, status, "application/json", new JsonObject().put("message", message).encode());
  }
}

package io.mailgate.api;

import io.mailgate.tenant.AdminService;
import io.mailgate.tenant.ApiKeys;
import io.mailgate.tenant.Tenant;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;

/**
 * Bearer authentication. Operator routes take the admin token; tenant routes take a tenant API key and put the
 * tenant in the context, so every tenant handler is scoped by it. The request is paused while the key is looked
 * up, so no body byte is lost or read before the caller is known.
 */
final class Auth {

  static final String TENANT = "mailgate.tenant";

  private final AdminService admin;
  private final String adminToken;

  Auth(AdminService admin, String adminToken) {
    this.admin = admin;
    this.adminToken = adminToken;
  }

  static Tenant tenant(RoutingContext ctx) {
    return ctx.get(TENANT);
  }

  Handler<RoutingContext> operator() {
    return ctx -> {
      String token = bearer(ctx);
      if (token != null && ApiKeys.constantTimeEquals(token, adminToken)) {
        continueIfExpected(ctx);
        ctx.next();
        return;
      }
      pause(ctx);
      admin.authenticate(token).onComplete(ar -> {
        if (ar.succeeded() && ar.result().isPresent()) {
          ctx.fail(ApiException.forbidden("a tenant API key cannot use the operator API"));
        } else {
          ctx.fail(ApiException.unauthorized());
        }
      });
    };
  }

  Handler<RoutingContext> tenant() {
    return ctx -> {
      String token = bearer(ctx);
      if (token == null) {
        ctx.fail(ApiException.unauthorized());
        return;
      }
      if (ApiKeys.constantTimeEquals(token, adminToken)) {
        ctx.fail(ApiException.forbidden("the operator token is not a tenant API key"));
        return;
      }
      pause(ctx);
      admin.authenticate(token).onComplete(ar -> {
        if (ar.failed()) {
          ctx.fail(ar.cause());
        } else if (ar.result().isEmpty()) {
          ctx.fail(ApiException.unauthorized());
        } else {
          ctx.put(TENANT, ar.result().get());
          continueIfExpected(ctx);
          ctx.next();
        }
      });
    };
  }

  /** {@code Expect: 100-continue} is answered only once the caller is known, so strangers never upload a body. */
  private static void continueIfExpected(RoutingContext ctx) {
    String expect = ctx.request().getHeader("Expect");
    if (expect != null && expect.equalsIgnoreCase("100-continue") && !ctx.request().isEnded()) {
      ctx.response().writeContinue();
    }
  }

  private static void pause(RoutingContext ctx) {
    if (!ctx.request().isEnded()) {
      ctx.request().pause();
    }
  }

  private static String bearer(RoutingContext ctx) {
    String h = ctx.request().getHeader("Authorization");
    if (h == null || h.length() < 8 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String t = h.substring(7).trim();
    return t.isEmpty() ? null : t;
  }
}

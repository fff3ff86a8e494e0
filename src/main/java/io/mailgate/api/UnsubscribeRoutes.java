package io.mailgate.api;

import io.mailgate.error.NotFoundException;
import io.mailgate.message.ListUnsubscribe;
import io.mailgate.unsubscribe.UnsubscribeService;
import io.mailgate.unsubscribe.UnsubscribeTokens;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.Optional;

/**
 * {@code /u/{token}}, the public one-click unsubscribe links (RFC 8058). {@code GET} shows a confirmation page and
 * changes nothing (link scanners and previews follow GETs); {@code POST} with the body
 * {@code List-Unsubscribe=One-Click} (what mailbox providers send, and what the page's button sends) unsubscribes.
 * A token that is not ours answers 404 before anything is read. Pages are static (nothing of the request is echoed),
 * load nothing from elsewhere, and carry a CSP that allows no script.
 */
final class UnsubscribeRoutes {
  private UnsubscribeRoutes() {}

  /** The largest body taken: the one-click body is 26 bytes; a multipart form of it a few hundred. */
  static final long MAX_BODY = 4096;

  static final String CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none';"
      + " base-uri 'none'";

  static void mount(Router router, UnsubscribeService service, ClientRateLimit limit) {
    router.route("/u/*").handler(limit);
    router.post("/u/:token").handler(BodyHandler.create(false).setBodyLimit(MAX_BODY).setDeleteUploadedFilesOnEnd(true));
    router.get("/u/:token").handler(ctx -> {
      if (target(ctx, service).isEmpty()) {
        page(ctx, 404, "Link not valid", "<p>This unsubscribe link is not valid. It may have been copied incompletely.</p>");
        return;
      }
      page(ctx, 200, "Unsubscribe", """
          <p>Do you want to stop receiving these emails?</p>
          <form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">\
          <button type="submit">Unsubscribe</button></form>""");
    });
    router.post("/u/:token").handler(ctx -> {
      Optional<UnsubscribeTokens.Target> t = target(ctx, service);
      if (t.isEmpty()) {
        page(ctx, 404, "Link not valid", "<p>This unsubscribe link is not valid. It may have been copied incompletely.</p>");
        return;
      }
      if (!oneClick(ctx)) {
        page(ctx, 400, "Not unsubscribed", "<p>The request did not say <code>" + ListUnsubscribe.ONE_CLICK
            + "</code>; nothing was changed.</p>");
        return;
      }
      service.unsubscribe(t.get()).onComplete(ar -> {
        if (ar.succeeded()) {
          page(ctx, 200, "Unsubscribed", "<p>You are unsubscribed. You will not receive these emails any more.</p>");
        } else if (ar.cause() instanceof NotFoundException) {
          page(ctx, 404, "Link not valid", "<p>This link no longer names a subscription.</p>");
        } else {
          ctx.fail(ar.cause());
        }
      });
    });
  }

  private static Optional<UnsubscribeTokens.Target> target(RoutingContext ctx, UnsubscribeService service) {
    return service.verify(ctx.pathParam("token"));
  }

  /** RFC 8058 3.1: the POST body is {@code List-Unsubscribe=One-Click}, form-encoded (or multipart, as some send it). */
  private static boolean oneClick(RoutingContext ctx) {
    String v = ctx.request().getFormAttribute("List-Unsubscribe");
    if (v != null) {
      return v.equals("One-Click");
    }
    return ctx.body() != null && ctx.body().length() > 0 && ctx.body().asString().trim().equals(ListUnsubscribe.ONE_CLICK);
  }

  private static void page(RoutingContext ctx, int status, String title, String body) {
    HttpServerResponse r = ctx.response();
    if (r.ended()) {
      return;
    }
    r.setStatusCode(status)
        .putHeader("Content-Type", "text/html; charset=utf-8")
        .putHeader("Content-Security-Policy", CSP)
        .putHeader("X-Content-Type-Options", "nosniff")
        .putHeader("X-Frame-Options", "DENY")
        // the token is in the URL: never sent on as a referrer, never kept in a cache
        .putHeader("Referrer-Policy", "no-referrer")
        .putHeader("Cache-Control", "no-store")
        .end("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\">"
            + "<title>" + escape(title) + "</title><style>body{font-family:sans-serif;max-width:32em;margin:4em auto;padding:0 1em}"
            + "button{font-size:1em;padding:.5em 1.5em}</style></head><body><h1>" + escape(title) + "</h1>" + body
            + "</body></html>");
  }

  static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;").replace("'", "&#39;");
  }
}

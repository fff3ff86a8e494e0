package io.mailgate.api;

import io.mailgate.error.MailgateException;
import io.mailgate.error.NotAuthenticatedException;
import io.mailgate.stats.GatewayMetrics;
import io.mailgate.webhook.in.ProviderHooks;
import io.mailgate.webhook.in.ProviderHookService;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

/**
 * {@code POST /hooks/{provider}/{backendId}}: the providers' delivery webhooks (Mailgun, SendGrid, Postmark, SES through
 * SNS), public like the unsubscribe links. The body is read up to {@code MAILGATE_PROVIDER_HOOK_MAX_BODY} (413 beyond); the
 * backend's hook verifies the call (401 without valid proof, 403 stale, replayed or not allowed, 404 for a backend
 * that is not of that provider or has no webhook settings); 200 once the events are durable.
 */
final class ProviderHookRoutes {
  private ProviderHookRoutes() {}

  static void mount(Router router, ProviderHookService hooks, long maxBody, GatewayMetrics metrics) {
    router.post("/hooks/:provider/:backendId").handler(BodyHandler.create(false).setBodyLimit(maxBody));
    router.post("/hooks/:provider/:backendId").handler(ctx -> receive(ctx, hooks, metrics));
  }

  private static void receive(RoutingContext ctx, ProviderHookService hooks, GatewayMetrics metrics) {
    String provider = ctx.pathParam("provider");
    String label = ProviderHooks.PROVIDERS.contains(provider) ? provider : "unknown";
    Buffer body = ctx.body() == null || ctx.body().buffer() == null ? Buffer.buffer() : ctx.body().buffer();
    Params.attempt(() -> hooks.receive(provider, ctx.pathParam("backendId"), ctx.request().headers(), body))
        .onComplete(ar -> {
          if (ar.failed()) {
            Throwable f = ar.cause();
            metrics.webhookCall(label, f instanceof MailgateException m ? FailureHandler.statusOf(m) : 500);
            if (f instanceof NotAuthenticatedException && provider.equals("postmark")) {
              ctx.response().putHeader("WWW-Authenticate", "Basic realm=\"mailgate webhooks\"");
            }
            ctx.fail(f);
            return;
          }
          metrics.webhookCall(label, 200);
          ProviderHookService.Received r = ar.result();
          JsonObject answer = new JsonObject().put("events", r.events()).put("ignored", r.ignored())
              .put("unknownRecipients", r.unknownRecipients());
          if (r.note() != null) {
            answer.put("note", r.note());
          }
          ctx.response().setStatusCode(200).putHeader("Content-Type", "application/json").end(answer.encode());
        });
  }
}

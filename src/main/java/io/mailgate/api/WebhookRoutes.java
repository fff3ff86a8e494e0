package io.mailgate.api;

import io.mailgate.error.InvalidInputException;
import io.mailgate.store.WebhookStore.DeliveryRecord;
import io.mailgate.store.WebhookStore.WebhookRecord;
import io.mailgate.webhook.out.WebhookService;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * {@code /v1/webhooks}: the tenant's webhooks (native ones and those made through the Mailgun API), the calls made to
 * each, and the signing key. Scoped to the key's tenant: another tenant's webhook answers 404 like a missing one.
 */
final class WebhookRoutes {
  private WebhookRoutes() {}

  private static final Set<String> FIELDS = Set.of("url", "events", "format");
  private static final Set<String> STATES = Set.of("pending", "delivered", "failed");

  static void mount(Router router, Auth auth, WebhookService webhooks, int maxPage, long maxBody) {
    router.route("/v1/webhooks*").handler(auth.tenant());
    router.route("/v1/webhooks*").handler(BodyHandler.create(false).setBodyLimit(maxBody));

    // the key routes before /v1/webhooks/:id, which would take "signing-key" for an id
    router.get("/v1/webhooks/signing-key").handler(Responses.json(200, ctx -> {
      EventRoutes.onlyParams(ctx, Set.of());
      ctx.response().putHeader("Cache-Control", "no-store");
      return webhooks.signingKey(tenant(ctx)).map(k -> new JsonObject().put("signingKey", k));
    }));
    router.post("/v1/webhooks/signing-key/rotate").handler(Responses.json(200, ctx -> {
      EventRoutes.onlyParams(ctx, Set.of());
      ctx.response().putHeader("Cache-Control", "no-store");
      return webhooks.rotateSigningKey(tenant(ctx)).map(k -> new JsonObject().put("signingKey", k));
    }));

    router.get("/v1/webhooks").handler(Responses.json(200, ctx -> {
      EventRoutes.onlyParams(ctx, Set.of());
      return webhooks.list(tenant(ctx)).map(list -> {
        JsonArray items = new JsonArray();
        list.forEach(w -> items.add(view(w)));
        return new JsonObject().put("items", items);
      });
    }));
    router.post("/v1/webhooks").handler(Responses.json(201, ctx -> {
      EventRoutes.onlyParams(ctx, Set.of());
      JsonObject body = body(ctx);
      String url = Params.string(body, "url");
      if (url == null) {
        throw new InvalidInputException("missing_field", "url is required", "url");
      }
      List<String> events = events(body);
      if (events == null) {
        throw new InvalidInputException("missing_field", "events is required", "events");
      }
      return webhooks.create(tenant(ctx), url, events, Params.string(body, "format")).map(w -> {
        ctx.response().putHeader("Location", "/v1/webhooks/" + w.id());
        return view(w);
      });
    }));
    router.get("/v1/webhooks/:id").handler(Responses.json(200, ctx -> {
      EventRoutes.onlyParams(ctx, Set.of());
      return webhooks.get(tenant(ctx), Params.pathId(ctx, "id", "webhook")).map(WebhookRoutes::view);
    }));
    router.put("/v1/webhooks/:id").handler(Responses.json(200, ctx -> {
      EventRoutes.onlyParams(ctx, Set.of());
      UUID id = Params.pathId(ctx, "id", "webhook");
      JsonObject body = body(ctx);
      return webhooks.update(tenant(ctx), id, Params.string(body, "url"), events(body), Params.string(body, "format"))
          .map(WebhookRoutes::view);
    }));
    router.delete("/v1/webhooks/:id").handler(Responses.noContent(ctx -> {
      EventRoutes.onlyParams(ctx, Set.of());
      return webhooks.delete(tenant(ctx), Params.pathId(ctx, "id", "webhook"));
    }));
    router.get("/v1/webhooks/:id/deliveries").handler(Responses.json(200, ctx -> {
      EventRoutes.onlyParams(ctx, Set.of("state", "limit", "after"));
      UUID id = Params.pathId(ctx, "id", "webhook");
      String state = ctx.request().getParam("state");
      if (state != null && !STATES.contains(state)) {
        throw new InvalidInputException("invalid_parameter", "state must be one of " + STATES, "state");
      }
      int limit = Params.limit(ctx, maxPage);
      Long after = afterCursor(ctx.request().getParam("after"));
      return webhooks.deliveries(tenant(ctx), id, state, after, limit).map(list -> {
        JsonArray items = new JsonArray();
        list.forEach(d -> items.add(delivery(d)));
        return Views.page(items, list.size() == limit ? Long.toString(list.get(list.size() - 1).id()) : null);
      });
    }));
  }

  private static UUID tenant(RoutingContext ctx) {
    return Auth.tenant(ctx).id();
  }

  private static JsonObject body(RoutingContext ctx) {
    JsonObject body = Params.jsonBody(ctx);
    for (String f : body.fieldNames()) {
      if (!FIELDS.contains(f)) {
        throw new InvalidInputException("unknown_field", "unknown field '" + io.mailgate.message.EmailAddress.printable(f)
            + "'; known: " + new java.util.TreeSet<>(FIELDS), f);
      }
    }
    return body;
  }

  private static List<String> events(JsonObject body) {
    Object v = body.getValue("events");
    if (v == null) {
      return null;
    }
    if (!(v instanceof JsonArray a)) {
      throw new InvalidInputException("invalid_field", "events must be an array of event types", "events");
    }
    List<String> out = new ArrayList<>();
    for (Object o : a) {
      if (!(o instanceof String s)) {
        throw new InvalidInputException("invalid_field", "events must be an array of event types", "events");
      }
      out.add(s);
    }
    return out;
  }

  private static Long afterCursor(String v) {
    if (v == null || v.isEmpty()) {
      return null;
    }
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new InvalidInputException("invalid_parameter", "after must be a previous page's next", "after");
    }
  }

  static JsonObject view(WebhookRecord w) {
    return new JsonObject()
        .put("id", w.id().toString())
        .put("url", w.url())
        .put("events", new JsonArray(w.names()))
        .put("format", w.format())
        .put("domain", w.domain())
        .put("createdAt", w.createdAt().toInstant().toString())
        .put("updatedAt", w.updatedAt().toInstant().toString());
  }

  static JsonObject delivery(DeliveryRecord d) {
    return new JsonObject()
        .put("id", Long.toString(d.id()))
        .put("event", Long.toString(d.eventId()))
        .put("recipient", d.email())
        .put("state", d.state())
        .put("attempts", d.attempts())
        .put("lastCode", d.lastCode())
        .put("lastError", d.lastError())
        .put("lastAttemptAt", d.lastAttemptAt() == null ? null : d.lastAttemptAt().toInstant().toString())
        .put("nextAttemptAt", d.nextAttemptAt() == null ? null : d.nextAttemptAt().toInstant().toString())
        .put("createdAt", d.createdAt().toInstant().toString())
        .put("finishedAt", d.finishedAt() == null ? null : d.finishedAt().toInstant().toString());
  }
}

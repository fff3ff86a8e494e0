package io.mailgate.api.mailgun;

import io.mailgate.error.InvalidInputException;
import io.mailgate.store.WebhookStore.WebhookRecord;
import io.mailgate.tenant.DkimService;
import io.mailgate.webhook.out.WebhookEvents;
import io.mailgate.webhook.out.WebhookService;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * {@code /v3/domains/{domain}/webhooks}: Mailgun's webhooks of a domain, by Mailgun's webhook ids ({@code delivered},
 * {@code permanent_fail}, ...), at most three URLs each. Each URL is one of our webhooks, in Mailgun's payload format,
 * called for the events of mail sent from that domain ({@link WebhookEvents} maps the ids to our event types).
 */
final class WebhooksRoutes {
  private WebhooksRoutes() {}

  /** Mailgun's form here is small: an id and three URLs. */
  private static final long MAX_BODY_BYTES = 16 * 1024;
  private static final Set<String> FORM_FIELDS = Set.of("id", "url");

  static void mount(Router router, DkimService domains, WebhookService webhooks) {
    String base = "/v3/domains/:domain/webhooks";
    router.route(base + "*").handler(BodyHandler.create(false).setBodyLimit(MAX_BODY_BYTES));
    router.get(base).handler(ctx -> MailgunRoutes.json(ctx, () -> withDomain(ctx, domains, d -> {
      noQueryParameters(ctx);
      return webhooks.domainHooks(tenant(ctx), d, null).map(all -> {
        Map<String, List<String>> byId = new LinkedHashMap<>();
        for (WebhookRecord w : all) {
          byId.computeIfAbsent(w.names().get(0), k -> new ArrayList<>()).add(w.url());
        }
        JsonObject hooks = new JsonObject();
        WebhookEvents.MAILGUN_IDS.stream().filter(byId::containsKey).forEach(id -> hooks.put(id, urls(byId.get(id))));
        return new JsonObject().put("webhooks", hooks);
      });
    })));
    router.post(base).handler(ctx -> MailgunRoutes.json(ctx, () -> withDomain(ctx, domains, d -> {
      Map<String, List<String>> form = form(ctx);
      List<String> ids = form.getOrDefault("id", List.of());
      if (ids.size() != 1) {
        throw new InvalidInputException("invalid_parameter", ids.isEmpty() ? "id parameter is missing"
            : "id parameter must be given once", "id");
      }
      return webhooks.createDomainHooks(tenant(ctx), d, ids.get(0), form.getOrDefault("url", List.of()))
          .map(list -> new JsonObject().put("message", "Webhook has been created").put("webhook", urls(list)));
    })));
    router.get(base + "/:id").handler(ctx -> MailgunRoutes.json(ctx, () -> withDomain(ctx, domains, d -> {
      noQueryParameters(ctx);
      String id = WebhookService.mailgunId(ctx.pathParam("id"));
      return webhooks.domainHooks(tenant(ctx), d, id).map(list -> {
        if (list.isEmpty()) {
          throw new MailgunAnswer(404, "Webhook not found");
        }
        return new JsonObject().put("webhook", urls(list.stream().map(WebhookRecord::url).toList()));
      });
    })));
    router.put(base + "/:id").handler(ctx -> MailgunRoutes.json(ctx, () -> withDomain(ctx, domains, d -> {
      Map<String, List<String>> form = form(ctx);
      if (form.containsKey("id")) {
        throw new InvalidInputException("invalid_parameter", "the webhook id is given by the path", "id");
      }
      return notFoundAsMailgun(webhooks.replaceDomainHooks(tenant(ctx), d, ctx.pathParam("id"), form.getOrDefault("url", List.of())))
          .map(list -> new JsonObject().put("message", "Webhook has been updated").put("webhook", urls(list)));
    })));
    router.delete(base + "/:id").handler(ctx -> MailgunRoutes.json(ctx, () -> withDomain(ctx, domains, d -> {
      noQueryParameters(ctx);
      return notFoundAsMailgun(webhooks.deleteDomainHooks(tenant(ctx), d, ctx.pathParam("id")))
          .map(list -> new JsonObject().put("message", "Webhook has been deleted").put("webhook", urls(list)));
    })));
  }

  private static UUID tenant(RoutingContext ctx) {
    return MailgunAuth.tenant(ctx).id();
  }

  private static <T> Future<T> withDomain(RoutingContext ctx, DkimService domains, java.util.function.Function<String, Future<T>> then) {
    return MailgunRoutes.ownDomain(domains, MailgunAuth.tenant(ctx), ctx.pathParam("domain")).compose(d -> {
      try {
        return then.apply(d);
      } catch (RuntimeException e) {
        return Future.failedFuture(e);
      }
    });
  }

  private static <T> Future<T> notFoundAsMailgun(Future<T> f) {
    return f.recover(e -> Future.failedFuture(e instanceof io.mailgate.error.NotFoundException
        ? new MailgunAnswer(404, "Webhook not found") : e));
  }

  /** The form's fields (the body, or the query string of a call without one); others are refused by name. */
  private static Map<String, List<String>> form(RoutingContext ctx) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    var attrs = ctx.request().formAttributes();
    var source = attrs.isEmpty() ? ctx.queryParams() : attrs;
    List<String> unknown = new ArrayList<>();
    for (String name : source.names()) {
      if (FORM_FIELDS.contains(name)) {
        out.put(name, source.getAll(name));
      } else {
        unknown.add(io.mailgate.message.EmailAddress.printable(name));
      }
    }
    if (!unknown.isEmpty()) {
      throw new InvalidInputException("invalid_parameter", "Parameter not supported: " + String.join(", ", unknown), null);
    }
    return out;
  }

  /** These routes take no query parameters (the path's own parameters are not among them). */
  private static void noQueryParameters(RoutingContext ctx) {
    List<String> names = ctx.queryParams().names().stream().sorted().map(io.mailgate.message.EmailAddress::printable).toList();
    if (!names.isEmpty()) {
      throw new InvalidInputException("invalid_parameter", "Parameter not supported: " + String.join(", ", names), null);
    }
  }

  private static JsonObject urls(List<String> urls) {
    return new JsonObject().put("urls", new JsonArray(urls));
  }
}

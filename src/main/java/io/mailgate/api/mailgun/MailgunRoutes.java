package io.mailgate.api.mailgun;

import io.mailgate.error.InvalidInputException;
import io.mailgate.job.JobIntake;
import io.mailgate.tenant.AdminService;
import io.mailgate.tenant.DkimService;
import io.mailgate.tenant.Tenant;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The Mailgun-compatible API under {@code /v3} and {@code /v4}, so that a client of Mailgun's HTTP API (its official
 * libraries included) works unchanged with the gateway's base URL: Mailgun's authentication ({@link MailgunAuth}),
 * its error shape ({@link MailgunFailureHandler}), and one file per endpoint group, each translating to and from our
 * own services. Nothing of Mailgun's shapes reaches the domain packages.
 */
public final class MailgunRoutes {
  private MailgunRoutes() {}

  /** Mounts the routes; call before the router's own failure handler is added, so these paths get Mailgun's. */
  public static void mount(Router router, AdminService admin, DkimService domains, JobIntake intake,
                           io.mailgate.webhook.out.WebhookService webhooks) {
    MailgunFailureHandler failures = new MailgunFailureHandler();
    MailgunAuth auth = new MailgunAuth(admin);
    List<String> roots = List.of("/v3/*", "/v4/*");
    for (String root : roots) {
      router.route(root).handler(auth).failureHandler(failures);
    }
    MessagesRoutes.mount(router, domains, intake);
    WebhooksRoutes.mount(router, domains, webhooks);
    DomainsRoutes.mount(router, domains);
    for (String root : roots) {
      router.route(root).handler(ctx -> ctx.fail(MailgunAnswer.notFound()));
    }
  }

  /**
   * The HTTP server's form limits for {@code POST /v3/{domain}/messages} (only requests that ask for form decoding
   * use them): a field as large as the whole body may be, and a field count that leaves room for 1,000 {@code to}.
   */
  public static HttpServerOptions withFormLimits(HttpServerOptions options) {
    return options.setMaxFormAttributeSize((int) MessagesRoutes.MAX_BODY_BYTES).setMaxFormFields(MessagesRoutes.MAX_FORM_FIELDS);
  }

  /** The path's domain when it is one of the tenant's; a missing one and another tenant's answer alike (404). */
  static Future<String> ownDomain(DkimService domains, Tenant tenant, String domain) {
    String wanted = domain.toLowerCase(Locale.ROOT);
    return domains.ownedDomains(tenant.id()).compose(owned -> owned.stream().anyMatch(d -> d.domain().equals(wanted))
        ? Future.succeededFuture(wanted)
        : Future.<String>failedFuture(MailgunAnswer.domainNotFound(domain)));
  }

  /** 200 with the JSON once the future succeeds; a failure goes to {@link MailgunFailureHandler}. */
  static void json(RoutingContext ctx, Supplier<Future<JsonObject>> answer) {
    Future<JsonObject> f;
    try {
      f = answer.get();
    } catch (RuntimeException e) {
      f = Future.failedFuture(e);
    }
    f.onComplete(ar -> {
      if (ar.failed()) {
        ctx.fail(ar.cause());
      } else if (!ctx.response().ended()) {
        ctx.response().setStatusCode(200).putHeader("Content-Type", "application/json").end(ar.result().encode());
      }
    });
  }

  /** Refuses, by name, query parameters the route does not honour. */
  static void knownQueryParameters(RoutingContext ctx, Set<String> known) {
    List<String> unknown = ctx.request().params().names().stream().filter(n -> !known.contains(n)).sorted().toList();
    if (!unknown.isEmpty()) {
      throw new InvalidInputException("invalid_parameter", (unknown.size() == 1 ? "Parameter not supported: "
          : "Parameters not supported: ") + String.join(", ", unknown.stream().map(io.mailgate.message.EmailAddress::printable).toList()), null);
    }
  }

  /** {@code Expect: 100-continue} is answered only once the caller and its domain are known. */
  static void continueIfExpected(HttpServerRequest req) {
    String expect = req.getHeader("Expect");
    if (expect != null && expect.equalsIgnoreCase("100-continue") && !req.isEnded()) {
      req.response().writeContinue();
    }
  }
}

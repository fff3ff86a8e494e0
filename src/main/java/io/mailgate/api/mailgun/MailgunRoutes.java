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
  public static void mount(Router router, AdminService admin, DkimService domains, JobIntake intake, Reads reads,
                           io.mailgate.webhook.out.WebhookService webhooks) {
    MailgunFailureHandler failures = new MailgunFailureHandler();
    MailgunAuth auth = new MailgunAuth(admin);
    // /v1/analytics is Mailgun's metrics API; our own /v1 has no such path
    List<String> roots = List.of("/v3/*", "/v4/*", "/v1/analytics/*");
    for (String root : roots) {
      router.route(root).handler(auth).failureHandler(failures);
    }
    MessagesRoutes.mount(router, domains, intake);
    WebhooksRoutes.mount(router, domains, webhooks);
    DomainsRoutes.mount(router, domains);
    EventsRoutes.mount(router, domains, reads.events());
    SuppressionsRoutes.mount(router, domains, reads.suppressions(), reads.csv(), reads.maxTagChars());
    StatsRoutes.mount(router, domains, reads.stats());
    MetricsRoutes.mount(router, reads.stats());
    for (String root : roots) {
      router.route(root).handler(ctx -> ctx.fail(MailgunAnswer.notFound()));
    }
  }

  /** What the read side (events, suppressions, statistics) translates to. */
  public record Reads(io.mailgate.store.EventStore events, io.mailgate.store.SuppressionStore suppressions,
                      io.mailgate.suppression.SuppressionCsv csv, io.mailgate.store.StatsStore stats, int maxTagChars) {}

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
    List<String> unknown = ctx.queryParams().names().stream().filter(n -> !known.contains(n)).sorted().toList();
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

  /** An integer query parameter from {@code min} to {@code max}, {@code dflt} when absent. */
  static int intParameter(RoutingContext ctx, String name, int dflt, int min, int max) {
    String v = ctx.request().getParam(name);
    if (v == null) {
      return dflt;
    }
    try {
      int n = Integer.parseInt(v.trim());
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new InvalidInputException("invalid_parameter", name + " must be an integer from " + min + " to " + max, name);
  }

  private static final java.time.format.DateTimeFormatter RFC_2822_UTC =
      java.time.format.DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'UTC'", Locale.ENGLISH);

  /**
   * {@code Wed, 02 Dec 2026 20:40:00 UTC}: Mailgun's form of a time (the day in two digits, which every pattern of its
   * clients reads).
   */
  static String rfc2822(java.time.OffsetDateTime t) {
    return t == null ? null : RFC_2822_UTC.format(t.atZoneSameInstant(java.time.ZoneOffset.UTC));
  }

  /**
   * A time as Mailgun takes one: seconds since the epoch (with a fraction), an RFC 2822 date ({@code GMT}, {@code UTC}
   * or an offset), or ISO-8601 with an offset; null when absent.
   */
  static java.time.OffsetDateTime time(String v, String name) {
    if (v == null || v.isBlank()) {
      return null;
    }
    String s = v.trim();
    try {
      if (s.matches("\\d{1,12}(\\.\\d{1,9})?")) {
        java.math.BigDecimal secs = new java.math.BigDecimal(s);
        long whole = secs.longValue();
        long nanos = secs.subtract(java.math.BigDecimal.valueOf(whole)).movePointRight(9).longValue();
        return java.time.Instant.ofEpochSecond(whole, nanos).atOffset(java.time.ZoneOffset.UTC);
      }
      if (Character.isDigit(s.charAt(0))) {
        return java.time.OffsetDateTime.parse(s);
      }
      return java.time.OffsetDateTime.parse(s.replaceFirst(" (UTC|UT|Z)$", " GMT"), java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME);
    } catch (java.time.format.DateTimeParseException | ArithmeticException e) {
      throw new InvalidInputException("invalid_parameter", name + " must be seconds since the epoch or an RFC 2822 date", name);
    }
  }

  /** The scheme and authority the caller used, for the absolute URLs of paging. */
  static String baseUrl(RoutingContext ctx) {
    HttpServerRequest req = ctx.request();
    String authority = req.authority() == null ? "localhost" : req.authority().toString();
    return req.scheme() + "://" + authority;
  }

  /** The media type of a Content-Type, lower case, without parameters; "" when absent. */
  static String mediaType(String contentType) {
    if (contentType == null) {
      return "";
    }
    int semi = contentType.indexOf(';');
    return (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
  }

  /** The Content-Length, or -1 when the body is chunked or of unknown length. */
  static long declaredLength(HttpServerRequest req) {
    String cl = req.getHeader("Content-Length");
    try {
      return cl == null ? -1 : Long.parseLong(cl.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static io.mailgate.error.PayloadTooLargeException tooLarge(long max) {
    return new io.mailgate.error.PayloadTooLargeException("Request is larger than " + max + " bytes");
  }

  /** The whole (small) body of a request the authentication paused, at most {@code max} bytes (413 beyond). */
  static Future<io.vertx.core.buffer.Buffer> readBody(HttpServerRequest req, long max) {
    if (declaredLength(req) > max) {
      return Future.failedFuture(tooLarge(max));
    }
    if (req.isEnded()) {
      return Future.succeededFuture(io.vertx.core.buffer.Buffer.buffer());
    }
    io.vertx.core.Promise<io.vertx.core.buffer.Buffer> p = io.vertx.core.Promise.promise();
    io.vertx.core.buffer.Buffer body = io.vertx.core.buffer.Buffer.buffer();
    req.handler(b -> {
      if (body.length() + b.length() > max) {
        req.pause();
        p.tryFail(tooLarge(max));
      } else {
        body.appendBuffer(b);
      }
    });
    req.exceptionHandler(p::tryFail);
    req.endHandler(v -> p.tryComplete(body));
    req.resume();
    return p.future();
  }

  /**
   * The fields of a (small) form body, {@code multipart/form-data} or {@code application/x-www-form-urlencoded}, of a
   * request the authentication paused: at most {@code max} bytes (413 beyond); a file part is refused by its name.
   */
  static Future<io.vertx.core.MultiMap> readForm(HttpServerRequest req, long max) {
    if (declaredLength(req) > max) {
      return Future.failedFuture(tooLarge(max));
    }
    if (req.isEnded()) {
      return Future.succeededFuture(io.vertx.core.MultiMap.caseInsensitiveMultiMap());
    }
    io.vertx.core.Promise<io.vertx.core.MultiMap> p = io.vertx.core.Promise.promise();
    long[] seen = {0};
    req.setExpectMultipart(true);
    req.uploadHandler(upload -> {
      upload.handler(b -> {});
      upload.exceptionHandler(e -> {});
      p.tryFail(new InvalidInputException("invalid_parameter", "Parameter not supported: "
          + io.mailgate.message.EmailAddress.printable(upload.name()) + " (a file)", upload.name()));
    });
    req.handler(b -> {
      seen[0] += b.length();
      if (seen[0] > max) {
        req.pause();
        p.tryFail(tooLarge(max));
      }
    });
    req.exceptionHandler(p::tryFail);
    req.endHandler(v -> p.tryComplete(req.formAttributes()));
    req.resume();
    return p.future();
  }
}

package io.mailgate.api;

import io.mailgate.api.mailgun.MailgunRoutes;
import io.mailgate.config.GatewayConfig;
import io.mailgate.job.JobIntake;
import io.mailgate.job.JobService;
import io.mailgate.stats.GatewayMetrics;
import io.mailgate.store.DatabaseHealth;
import io.mailgate.tenant.AdminService;
import io.mailgate.unsubscribe.UnsubscribeService;
import io.mailgate.unsubscribe.UnsubscribeTokens;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import io.vertx.sqlclient.Pool;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP API. Several instances share the port, one per event loop. With MAILGATE_PUBLIC_PORT, a second listener
 * serves only what must face the internet (the {@code /u/} unsubscribe links and the providers' {@code /hooks/}) and answers 404 to everything else; the
 * main port serves those routes too, so a gateway without a public listener works the same.
 */
public final class HttpVerticle extends VerticleBase {

  private final GatewayConfig config;
  private final Pool pool;
  private final AdminService admin;
  private final String adminToken;
  private final JobIntake intake;
  private final JobService jobs;
  private final GatewayMetrics metrics;
  private final DatabaseHealth databaseHealth;
  private final UnsubscribeTokens unsubscribe;
  private final io.mailgate.webhook.in.ProviderHooks providerHooks;
  /** The statistics' reads: a few connections of their own, with MAILGATE_STATS_QUERY_TIMEOUT. */
  private final io.mailgate.store.StatsStore stats;
  /** Shared by the event loops: requests per client address on the unsubscribe links. */
  private final ClientRateLimit publicRate;
  private HttpServer server;
  private HttpServer publicServer;

  public HttpVerticle(GatewayConfig config, Pool pool, io.mailgate.store.StatsStore stats, AdminService admin, String adminToken, JobIntake intake,
                      JobService jobs, GatewayMetrics metrics, DatabaseHealth databaseHealth, UnsubscribeTokens unsubscribe,
                      io.mailgate.webhook.in.ProviderHooks providerHooks, ClientRateLimit publicRate) {
    this.publicRate = publicRate;
    this.unsubscribe = unsubscribe;
    this.providerHooks = providerHooks;
    this.stats = stats;
    this.databaseHealth = databaseHealth;
    this.config = config;
    this.pool = pool;
    this.admin = admin;
    this.adminToken = adminToken;
    this.intake = intake;
    this.jobs = jobs;
    this.metrics = metrics;
  }

  @Override
  public Future<?> start() {
    Router router = Router.router(vertx);
    Auth auth = new Auth(admin, adminToken);
    int maxPage = config.limits().maxPageSize();

    router.get("/health").handler(this::health);
    router.get("/metrics").handler(ctx -> ctx.response()
        .putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        .end(metrics.scrape()));

    AdminRoutes.mount(router, auth, admin, maxPage, config.limits().maxAdminBodyBytes());
    io.mailgate.tenant.DkimService dkim = new io.mailgate.tenant.DkimService(vertx, new io.mailgate.store.DkimStore(pool), admin.secrets(),
        config.limits().authCacheTtl());
    DkimRoutes.mount(router, dkim);
    JobRoutes.mount(router, auth, intake, jobs, maxPage, config.limits().maxJsonBodyBytes());
    io.mailgate.store.EventStore eventStore = new io.mailgate.store.EventStore(pool, new io.mailgate.store.EventSql(config.events()));
    io.mailgate.events.EventService eventService = new io.mailgate.events.EventService(eventStore);
    UnsubscribeService unsubscribes = new UnsubscribeService(unsubscribe, eventStore, eventService);
    UnsubscribeRoutes.mount(router, unsubscribes, publicRate);
    // one per event loop, so that its grouped writes are this loop's
    io.mailgate.webhook.in.ProviderHookService providerHookService = new io.mailgate.webhook.in.ProviderHookService(providerHooks,
        new io.mailgate.store.BackendStore(pool), admin.secrets(), new io.mailgate.store.ProviderHookStore(pool), eventService,
        metrics, config.limits().authCacheTtl().toMillis());
    long maxHookBody = config.webhooksIn().maxBodyBytes();
    ProviderHookRoutes.mount(router, providerHookService, maxHookBody, metrics);
    io.mailgate.store.SuppressionStore suppressions = new io.mailgate.store.SuppressionStore(pool);
    io.mailgate.suppression.SuppressionCsv csv = new io.mailgate.suppression.SuppressionCsv(vertx, suppressions,
        config.suppressionCsv(), config.limits().ingestBatchRows(), config.limits().ingestBatchesInFlight(),
        config.limits().ingestTimeout(), config.limits().maxTagChars(), intake.admission());
    EventRoutes.mount(router, auth, eventStore, eventService, suppressions, csv, jobs,
        maxPage, config.limits().maxAdminBodyBytes());
    StatsRoutes.mount(router, auth, stats, new io.mailgate.store.TenantStore(pool), config.events().thresholds());
    StatsRoutes.mountBackends(router, stats, metrics);

    var hooks = config.webhooks();
    io.mailgate.webhook.out.WebhookService webhooks = new io.mailgate.webhook.out.WebhookService(vertx,
        new io.mailgate.store.WebhookStore(pool), admin.secrets(),
        new io.mailgate.webhook.out.UrlPolicy(hooks.allowHttp(), hooks.allowPrivate()), hooks.maxPerTenant());
    WebhookRoutes.mount(router, auth, webhooks, maxPage, config.limits().maxJsonBodyBytes() > 64 * 1024 ? 64 * 1024
        : config.limits().maxJsonBodyBytes());

    MailgunRoutes.mount(router, admin, dkim, intake, new MailgunRoutes.Reads(eventStore, suppressions, csv,
        stats, config.limits().maxTagChars()), webhooks);

    FailureHandler failures = new FailureHandler();
    router.route().failureHandler(failures);
    router.errorHandler(404, failures);
    router.errorHandler(405, failures);

    Future<?> publicListening = Future.succeededFuture();
    if (config.publicEndpoints().port().isPresent()) {
      // nothing but the public routes: no API, no /v1/admin, no /metrics or /health
      Router publicRouter = Router.router(vertx);
      UnsubscribeRoutes.mount(publicRouter, unsubscribes, publicRate);
      ProviderHookRoutes.mount(publicRouter, providerHookService, maxHookBody, metrics);
      publicRouter.route().failureHandler(failures);
      publicRouter.errorHandler(404, failures);
      publicRouter.errorHandler(405, failures);
      HttpServerOptions publicOptions = new HttpServerOptions()
          .setHost(config.publicEndpoints().host())
          .setPort(config.publicEndpoints().port().get())
          .setMaxHeaderSize(8 * 1024)
          .setMaxInitialLineLength(2048)
          .setIdleTimeout(30)
          .setIdleTimeoutUnit(TimeUnit.SECONDS)
          .setDecompressionSupported(false);
      publicListening = vertx.createHttpServer(publicOptions).requestHandler(publicRouter).listen().onSuccess(s -> publicServer = s);
    }

    HttpServerOptions options = MailgunRoutes.withFormLimits(new HttpServerOptions())
        .setHost(config.http().host())
        .setPort(config.http().port())
        .setMaxHeaderSize(16 * 1024)
        .setMaxInitialLineLength(4096)
        .setIdleTimeout(120)
        .setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setCompressionSupported(true)
        .setDecompressionSupported(false);
    return publicListening.compose(x -> vertx.createHttpServer(options).requestHandler(router).listen().onSuccess(s -> server = s));
  }

  /** 200 when the database answers; 503 with the reason when it does not (or is known to be restarting). */
  private void health(io.vertx.ext.web.RoutingContext ctx) {
    String down = databaseHealth.downReason();
    Future<?> probe = down != null
        ? Future.failedFuture(down)
        : pool.query("SELECT 1").execute().timeout(2, TimeUnit.SECONDS);
    probe.onComplete(ar -> {
      io.vertx.core.json.JsonObject body = new io.vertx.core.json.JsonObject();
      if (ar.succeeded()) {
        body.put("status", "ok");
      } else {
        body.put("status", "unavailable").put("database", "down");
        if (down != null) {
          body.put("reason", down);
        }
        ctx.response().putHeader("Retry-After", "5");
      }
      ctx.response().setStatusCode(ar.succeeded() ? 200 : 503).putHeader("Content-Type", "application/json").end(body.encode());
    });
  }

  public int actualPort() {
    return server == null ? -1 : server.actualPort();
  }

  public int actualPublicPort() {
    return publicServer == null ? -1 : publicServer.actualPort();
  }
}

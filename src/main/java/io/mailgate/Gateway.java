package io.mailgate;

import io.mailgate.api.HttpVerticle;
import io.mailgate.backend.BackendTypes;
import io.mailgate.config.GatewayConfig;
import io.mailgate.dispatch.Dispatcher;
import io.mailgate.dispatch.RetryPolicy;
import io.mailgate.job.JobIntake;
import io.mailgate.job.JobService;
import io.mailgate.stats.GatewayMetrics;
import io.mailgate.stats.StatsRefresher;
import io.mailgate.store.BackendStore;
import io.mailgate.store.ClaimStore;
import io.mailgate.store.DatabaseHealth;
import io.mailgate.store.DbTarget;
import io.mailgate.store.DispatchStore;
import io.mailgate.store.EventSql;
import io.mailgate.store.DkimStore;
import io.mailgate.store.JobStore;
import io.mailgate.store.TenantStore;
import io.mailgate.tenant.AdminService;
import io.mailgate.tenant.DkimSignerLookup;
import io.mailgate.tenant.SecretBox;
import io.mailgate.unsubscribe.UnsubscribeTokens;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.ThreadingModel;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One gateway process: the database pool, the HTTP API and the dispatcher, wired from a {@link GatewayConfig}.
 * The database must exist and be migrated. {@link Main} starts one; tests start several against one database.
 */
public final class Gateway {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Gateway.class);

  private final Vertx vertx;
  private final Pool pool;
  private final List<HttpVerticle> http;
  private final AdminService admin;
  private final List<String> httpDeployments;
  private final List<String> workDeployments;
  private final DatabaseHealth databaseHealth;
  private JobIntake intake;
  private String nodeId;

  private Gateway(Vertx vertx, Pool pool, List<HttpVerticle> http, AdminService admin, List<String> httpDeployments,
                  List<String> workDeployments, DatabaseHealth databaseHealth) {
    this.databaseHealth = databaseHealth;
    this.vertx = vertx;
    this.pool = pool;
    this.http = http;
    this.admin = admin;
    this.httpDeployments = httpDeployments;
    this.workDeployments = workDeployments;
  }

  public static Future<Gateway> start(GatewayConfig config, DbTarget db, String adminToken, SecretBox secrets) {
    // a host name lookup can block: resolve the default EHLO name here, on the caller's thread, not on an event loop
    LOG.atDebug().addKeyValue("heloName", io.mailgate.backend.smtp.SmtpSettings.LocalHost.NAME).log("default EHLO name");
    Vertx vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
    Pool pool = PgBuilder.pool()
        .with(new PoolOptions().setMaxSize(config.dbPoolSize()).setMaxWaitQueueSize(config.dbWaitQueue()).setName("mailgate"))
        .connectingTo(db.connectOptions())
        .using(vertx)
        .build();
    // the statistics' reads have connections of their own, few and with a statement timeout: an operator's month of
    // every tenant by hour cannot take the connections that intake and dispatch write with
    PgConnectOptions statsOptions = db.connectOptions();
    java.util.Map<String, String> statsProperties = new java.util.HashMap<>(statsOptions.getProperties());
    statsProperties.put("statement_timeout", Long.toString(config.events().statsQueryTimeout().toMillis()));
    Pool statsPool = PgBuilder.pool()
        .with(new PoolOptions().setMaxSize(config.events().statsPoolSize()).setMaxWaitQueueSize(config.dbWaitQueue())
            .setName("mailgate-stats"))
        // with the client's default bound on kept statements (2,048 characters), unlike the other pools: the
        // statistics' long statements, built per query shape over ranges from an hour to months, stay planned for
        // the range at hand at each execution, as they were measured (BENCHMARKS.md)
        .connectingTo(statsOptions.setProperties(statsProperties)
            .setPreparedStatementCacheSqlLimit(io.vertx.sqlclient.SqlConnectOptions.DEFAULT_PREPARED_STATEMENT_CACHE_SQL_LIMIT))
        .using(vertx)
        .build();
    GatewayMetrics metrics = new GatewayMetrics(config.events().maxTenantSeries());
    DatabaseHealth databaseHealth = new DatabaseHealth();
    BackendTypes types = BackendTypes.standard();
    BackendStore backends = new BackendStore(pool);
    var publicEndpoints = config.publicEndpoints();
    // the key of unsubscribe tokens: its own setting, else derived from MAILGATE_SECRET_KEY (the same on every process)
    UnsubscribeTokens unsubscribe = new UnsubscribeTokens(
        publicEndpoints.unsubscribeKey().orElseGet(() -> secrets.derive(UnsubscribeTokens.KEY_PURPOSE)),
        publicEndpoints.url().orElse(null));
    AdminService admin = new AdminService(new TenantStore(pool), backends, types, secrets, config.limits().authCacheTtl(),
        config.events().thresholds())
        .unsubscribeAvailable(unsubscribe.linksAvailable());
    EventSql eventSql = new EventSql(config.events());
    JobStore jobStore = new JobStore(pool, config.nodeId(), eventSql, config.limits().blobChunkBytes());
    DispatchStore dispatchStore = new DispatchStore(pool, eventSql);

    AtomicReference<Dispatcher> dispatcher = new AtomicReference<>();
    JobIntake intake = new JobIntake(vertx, jobStore, config.limits(), config.intake(), config.dispatch().chunkSize(),
        unsubscribe.linksAvailable(), accepted -> {
      metrics.jobAccepted();
      Dispatcher d = dispatcher.get();
      if (d != null) {
        d.accepted(accepted.tenantId(), accepted.jobId(), accepted.priority(), accepted.chunks());
      }
    });
    intake.oneMessageRoutes(admin::checkOneMessageRoute);
    JobService jobs = new JobService(jobStore);

    List<HttpVerticle> verticles = new ArrayList<>();
    List<String> httpIds = new ArrayList<>();
    List<String> workIds = new ArrayList<>();
    // today's event partition exists before the first event is written
    Future<?> deployed = vertx.deployVerticle(new io.mailgate.events.EventPartitions(pool, config.events().retention(),
            config.events().partitionsAhead(), config.events().maintenanceInterval()))
        .onSuccess(workIds::add);
    if (config.dispatch().enabled()) {
      Dispatcher d = new Dispatcher(dispatchStore, new ClaimStore(pool, eventSql), db.connectOptions(), backends, secrets, types,
          config.dispatch(), new RetryPolicy(config.retry()), metrics, config.nodeId(),
          new DkimSignerLookup(new DkimStore(pool), secrets), unsubscribe,
          new io.mailgate.events.EventService(new io.mailgate.store.EventStore(pool, eventSql)));
      dispatcher.set(d);
      // sending cannot keep up: new small jobs wait (then 503) rather than pile up unsent
      double share = config.intake().tenantShare();
      intake.admission().holdWhileDispatchIsFull(tenant -> d.hasRoom(tenant, share));
      d.onRoom(intake.admission()::roomMayHaveCome);
      deployed = deployed.compose(x -> vertx.deployVerticle(d).onSuccess(workIds::add));
    }
    deployed = deployed.compose(x -> vertx.deployVerticle(new io.mailgate.events.ReputationGuard(pool, config.events().thresholds(),
            config.events().reputationCheckInterval(), metrics))
        .onSuccess(workIds::add));
    deployed = deployed.compose(x -> vertx.deployVerticle(new io.mailgate.stats.StatsFolding(new io.mailgate.store.StatsStore(pool),
            config.events().maintenanceInterval()))
        .onSuccess(workIds::add));
    deployed = deployed.compose(x -> vertx.deployVerticle(new StatsRefresher(pool, metrics, config.dispatch().statsInterval()))
        .onSuccess(workIds::add));
    if (config.webhooks().enabled()) {
      var hooks = config.webhooks();
      // the sender's statements on connections of their own, so that a burst of calls (or a slow endpoint's
      // retries) cannot take the connections intake and dispatch write with
      PgConnectOptions hookOptions = db.connectOptions();
      Pool hookPool = PgBuilder.pool()
          .with(new PoolOptions().setMaxSize(hooks.dbConnections()).setMaxWaitQueueSize(config.dbWaitQueue())
              .setName("mailgate-webhooks"))
          .connectingTo(hookOptions)
          .using(vertx)
          .build();
      deployed = deployed.compose(x -> vertx.deployVerticle(new io.mailgate.webhook.out.WebhookSender(
              new io.mailgate.store.WebhookOutboxStore(hookPool), secrets,
              new io.mailgate.webhook.out.UrlPolicy(hooks.allowHttp(), hooks.allowPrivate()), hooks))
          .onSuccess(workIds::add));
    }
    // what the event loops share of the provider webhooks: the replay cache and the SNS certificates
    io.mailgate.webhook.in.ProviderHooks providerHooks = new io.mailgate.webhook.in.ProviderHooks(vertx, config.webhooksIn());
    io.mailgate.api.ClientRateLimit publicRate = new io.mailgate.api.ClientRateLimit(publicEndpoints.ratePerClient(),
        publicEndpoints.rateBurst(), publicEndpoints.rateClients());
    // one statistics cache for the event loops: a slice read on one serves them all
    io.mailgate.store.StatsCache statsCache = config.events().statsCacheBytes() == 0 ? null
        : new io.mailgate.store.StatsCache(config.events().statsCacheBytes());
    if (statsCache != null) {
      metrics.statsCache(statsCache);
    }
    io.mailgate.store.StatsStore stats = new io.mailgate.store.StatsStore(statsPool, statsCache,
        config.events().statsCacheCheckInterval());
    for (int i = 0; i < config.http().instances(); i++) {
      HttpVerticle v = new HttpVerticle(config, pool, stats, admin, adminToken, intake, jobs, metrics, databaseHealth,
          unsubscribe, providerHooks, publicRate);
      verticles.add(v);
      deployed = deployed.compose(x -> vertx.deployVerticle(v, new DeploymentOptions().setThreadingModel(ThreadingModel.EVENT_LOOP))
          .onSuccess(httpIds::add));
    }
    Gateway g = new Gateway(vertx, pool, verticles, admin, httpIds, workIds, databaseHealth);
    g.intake = intake;
    g.nodeId = config.nodeId();
    // on failure the caller closes the Vert.x instance (closing it here would complete this future on a dead loop)
    return deployed.map(x -> g);
  }

  public int httpPort() {
    return http.get(0).actualPort();
  }

  /** The port of the public listener (MAILGATE_PUBLIC_PORT), or -1 when the main port serves the public routes. */
  public int publicPort() {
    return http.get(0).actualPublicPort();
  }

  public Vertx vertx() {
    return vertx;
  }

  public Pool pool() {
    return pool;
  }

  public AdminService admin() {
    return admin;
  }

  public JobIntake intake() {
    return intake;
  }

  public String nodeId() {
    return nodeId;
  }

  /** The database is known to be away (the embedded server is being restarted): {@code /health} says so. */
  public void databaseDown(String why) {
    databaseHealth.down(why);
  }

  public void databaseUp() {
    databaseHealth.up();
  }

  /**
   * Graceful, in order: the HTTP servers stop taking requests, the dispatcher finishes or releases its chunks
   * (it still needs the database), then the pool and the event loops close.
   */
  public Future<Void> stop() {
    return undeploy(httpDeployments)
        .compose(v -> undeploy(workDeployments))
        .transform(ar -> vertx.close());
  }

  private Future<Void> undeploy(List<String> ids) {
    List<Future<Void>> all = new ArrayList<>();
    ids.forEach(id -> all.add(vertx.undeploy(id)));
    return Future.join(all).mapEmpty();
  }

  /** Blocks until {@link #stop()} finishes, for shutdown hooks and tests (never on an event loop). */
  public void stopAndWait(long timeoutSeconds) throws Exception {
    if (io.vertx.core.Context.isOnEventLoopThread()) {
      throw new IllegalStateException("stopAndWait blocks: call stop() from an event loop");
    }
    stop().toCompletionStage().toCompletableFuture().get(timeoutSeconds, TimeUnit.SECONDS);
  }
}

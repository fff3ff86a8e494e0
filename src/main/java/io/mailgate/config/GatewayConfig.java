package io.mailgate.config;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Every setting of the gateway, parsed once from the environment and handed to constructors.
 * README's "Configuration" table lists the variables; the defaults live here and only here.
 */
public record GatewayConfig(
    Path dataDir,
    Optional<String> dbUrl,
    int dbPoolSize,
    int dbWaitQueue,
    Optional<String> adminToken,
    Optional<String> secretKey,
    String nodeId,
    Demo demo,
    EmbeddedDbConfig embeddedDb,
    HttpConfig http,
    LimitsConfig limits,
    IntakeConfig intake,
    DispatchConfig dispatch,
    RetryConfig retry,
    EventsConfig events,
    SuppressionCsvConfig suppressionCsv,
    PublicConfig publicEndpoints,
    WebhookConfig webhooks,
    WebhooksInConfig webhooksIn) {

  public GatewayConfig {
    if (publicEndpoints.port().isPresent() && publicEndpoints.port().get() != 0 && publicEndpoints.port().get() == http.port()) {
      throw new ConfigException("MAILGATE_PUBLIC_PORT must differ from MAILGATE_HTTP_PORT (leave it unset to serve the"
          + " public routes on the main port), got " + http.port() + " for both");
    }
  }

  /** Whether a first start creates the demo tenant: {@code auto} only on the embedded database (the quick start). */
  public enum Demo { AUTO, ON, OFF }

  /**
   * The embedded PostgreSQL (used when MAILGATE_DB_URL is unset): its port (0: a free one, kept while the process
   * runs), its checkpoint settings (they bound crash recovery), and how the gateway restarts it if it dies.
   */
  public record EmbeddedDbConfig(int port, Duration checkpointTimeout, String maxWalSize, Duration startTimeout,
                                 Duration restartDelay, int restartAttempts, Map<String, String> extraSettings) {
    public io.mailgate.store.embedded.EmbeddedDatabase.Options options() {
      return new io.mailgate.store.embedded.EmbeddedDatabase.Options(true, port, checkpointTimeout, maxWalSize, startTimeout,
          extraSettings);
    }
  }

  /** HTTP server. */
  public record HttpConfig(String host, int port, int instances) {}

  /**
   * What faces the internet: the base URL recipients reach the gateway's public routes ({@code /u/...}) at (none:
   * one-click unsubscribe is unavailable), an optional listener of their own ({@code port}; none: the main port
   * serves them), the key of unsubscribe tokens when not derived from MAILGATE_SECRET_KEY (its raw bytes), and the
   * requests per second (and burst) each client address may make on the unsubscribe links, over at most
   * {@code rateClients} addresses at once.
   */
  public record PublicConfig(Optional<String> url, String host, Optional<Integer> port, Optional<byte[]> unsubscribeKey,
                             double ratePerClient, int rateBurst, int rateClients) {
    @Override
    public String toString() {
      return "PublicConfig[url=" + url + ", host=" + host + ", port=" + port + ", unsubscribeKey="
          + (unsubscribeKey.isPresent() ? "(set)" : "(derived)") + ", ratePerClient=" + ratePerClient + "]";
    }
  }

  /** Request limits: each bad or oversized request is refused with a clear error before it is stored. */
  public record LimitsConfig(
      long maxJsonBodyBytes,
      long maxAdminBodyBytes,
      int maxNdjsonLineBytes,
      int maxRecipientsPerJob,
      int maxTemplateBytes,
      int maxSubjectChars,
      int maxHeaders,
      int maxHeaderValueChars,
      int maxTags,
      int maxTagChars,
      int maxVarsPerRecipient,
      int maxVarListItems,
      int maxVarDepth,
      int maxSectionDepth,
      int maxIdempotencyKeyChars,
      int ingestBatchRows,
      int ingestBatchesInFlight,
      Duration ingestTimeout,
      int maxPageSize,
      Duration authCacheTtl,
      Duration maxSendAhead,
      int maxSharedRecipients,
      long maxMimeMessageBytes,
      int maxAttachments,
      long maxJsonAttachmentBytes,
      int maxAttachmentNameChars,
      int blobChunkBytes,
      int maxMimeHeaderBytes) {}

  /**
   * Admission and group commit of submissions: bytes of bodies in flight, streams (NDJSON uploads, each holding a
   * transaction open), the wait queue and its timeout, each tenant's share of them; small JSON jobs are written in
   * groups of up to {@code groupMaxJobs} jobs and {@code groupMaxRecipients} recipients by {@code groupWriters}
   * statements at once per event loop; jobs of at most {@code smallJobRecipients} recipients default to high priority.
   */
  public record IntakeConfig(long maxBytes, int maxStreams, int queueSize, Duration queueTimeout, double tenantShare,
                             int groupMaxJobs, int groupMaxRecipients, int groupWriters, int smallJobRecipients) {}

  /** Dispatch: chunking, leases, the process-wide bound on work in memory, batched state writes. */
  public record DispatchConfig(
      boolean enabled,
      int chunkSize,
      Duration leaseTime,
      int maxChunksInFlight,
      int chunksPerBackend,
      Duration pollInterval,
      Duration controlPollInterval,
      Duration stateFlushInterval,
      int stateFlushBatch,
      Duration shutdownGrace,
      Duration statsInterval,
      int signingThreads,
      int circuitFailures,
      Duration circuitOpenTime,
      int claimCandidates,
      int jobCache,
      int markAhead,
      int maxPriorityChunks,
      int priorityChunksPerBackend,
      int releaseFlushBatch,
      Duration releaseFlushInterval,
      Duration expirySweepInterval,
      Duration priorityClaimDelay,
      int handoffQueue,
      int priorityClaimers,
      int maxBacklog,
      Duration backlogCheckInterval,
      long jobCacheMimeBytes) {}

  /**
   * Events, suppressions and statistics: how long events are kept (whole daily partitions are dropped after it),
   * how many days of partitions are made ahead and how often that is checked, the recipient domains the statistics
   * keep apart (the rest count as 'other'), how many soft bounces of an address within a window suppress it, the
 * reputation thresholds and how often they are checked, and how many tenants at risk get a metrics series of their own.
   */
  public record EventsConfig(Duration retention, int partitionsAhead, Duration maintenanceInterval,
                             java.util.List<String> statsRecipientDomains, int softBounceLimit, Duration softBounceWindow,
                             io.mailgate.events.Reputation.Thresholds thresholds, Duration reputationCheckInterval,
                             int maxTenantSeries, int statsPoolSize, Duration statsQueryTimeout,
                             long statsCacheBytes, Duration statsCacheCheckInterval) {}

  /**
   * CSV import and export of suppressions: the longest line, the largest body and the most lines of an import, how
   * many invalid lines an answer lists (all are counted), and the rows an export's cursor fetches at a time. Imports
   * write in batches of {@code LimitsConfig.ingestBatchRows} and are admitted as streams, like NDJSON jobs.
   */
  public record SuppressionCsvConfig(int maxLineBytes, long maxBodyBytes, long maxLines, int maxErrors, int exportFetchRows) {}

  /**
   * Provider webhooks in ({@code /hooks/{provider}/{backendId}}): the largest body and the most events one call may
   * carry; how far a signed timestamp (Mailgun, SendGrid) may be from now; how many Mailgun tokens the replay cache
   * keeps (full: calls answer 503 until tokens age out); SNS signing certificates kept, the largest one fetched and
   * how long a fetch (certificate or subscription confirmation) may take; the most events one grouped write takes, and
   * how many grouped writes each event loop runs at once; how many backends' hooks and jobs' tenants each event loop
   * remembers (for {@code LimitsConfig.authCacheTtl}, so a busy webhook costs one statement per grouped write).
   */
  public record WebhooksInConfig(long maxBodyBytes, int maxEvents, Duration maxAge, int replayCacheSize, int certCacheSize,
                                 int maxCertBytes, Duration fetchTimeout, int groupMaxEvents, int groupWriters,
                                 int lookupCacheSize) {}

  /** The largest mailbox providers: statistics keep these recipient domains apart by default. */
  public static final String DEFAULT_STATS_DOMAINS = "gmail.com,googlemail.com,yahoo.com,yahoo.co.uk,yahoo.fr,yahoo.de,"
      + "ymail.com,aol.com,outlook.com,hotmail.com,hotmail.co.uk,hotmail.fr,live.com,msn.com,icloud.com,me.com,mac.com,"
      + "gmx.de,gmx.net,gmx.at,web.de,t-online.de,freenet.de,orange.fr,wanadoo.fr,free.fr,laposte.net,sfr.fr,libero.it,"
      + "virgilio.it,seznam.cz,wp.pl,o2.pl,onet.pl,proton.me,protonmail.com,yandex.ru,mail.ru,comcast.net,att.net";

  /**
   * Tenant webhooks out: whether this process sends them, the calls in flight (in all and per webhook), the claim
   * batch and poll interval, the connect and whole-call timeouts, the lease of a claimed call (longer than the
   * timeout), the retry schedule (exponential from {@code retryBaseDelay} to {@code retryMaxDelay}, until
   * {@code maxAttempts} or {@code maxAge}), how long finished calls stay visible, the most webhooks per tenant, and
   * the SSRF switches (plain http; private, loopback and link-local addresses).
   */
  public record WebhookConfig(boolean enabled, int concurrency, int perWebhook, int batch, Duration pollInterval,
                              Duration connectTimeout, Duration timeout, Duration lease, Duration retryBaseDelay,
                              Duration retryMaxDelay, int maxAttempts, Duration maxAge, Duration retention,
                              int maxPerTenant, boolean allowHttp, boolean allowPrivate, int dbConnections,
                              Duration slowClaim) {
    public WebhookConfig {
      if (lease.compareTo(timeout.plus(connectTimeout)) <= 0) {
        throw new ConfigException("MAILGATE_WEBHOOK_LEASE_TIME must be longer than MAILGATE_WEBHOOK_TIMEOUT plus"
            + " MAILGATE_WEBHOOK_CONNECT_TIMEOUT, got " + lease);
      }
    }
  }

  /** Retry schedule for temporary failures: exponential backoff with jitter, bounded by attempts and age. */
  public record RetryConfig(Duration baseDelay, Duration maxDelay, int maxAttempts, Duration maxAge, double jitter) {}

  public static GatewayConfig fromEnvironment() {
    return from(System.getenv());
  }

  public static GatewayConfig from(Map<String, String> env) {
    Settings s = new Settings(env);
    int cores = Runtime.getRuntime().availableProcessors();
    return new GatewayConfig(
        Paths.get(s.string("MAILGATE_DATA_DIR", "./data")).toAbsolutePath().normalize(),
        Optional.ofNullable(s.string("MAILGATE_DB_URL", null)),
        s.integer("MAILGATE_DB_POOL_SIZE", 16, 2, 500),
        s.integer("MAILGATE_DB_WAIT_QUEUE", 10_000, 1, 1_000_000),
        Optional.ofNullable(s.string("MAILGATE_ADMIN_TOKEN", null)),
        Optional.ofNullable(s.string("MAILGATE_SECRET_KEY", null)),
        s.string("MAILGATE_NODE_ID", NodeIds.generate()),
        demo(s.string("MAILGATE_DEMO", "auto")),
        new EmbeddedDbConfig(
            s.integer("MAILGATE_EMBEDDED_DB_PORT", 0, 0, 65535),
            s.duration("MAILGATE_EMBEDDED_DB_CHECKPOINT_TIMEOUT", Duration.ofSeconds(60)),
            walSize(s.bytes("MAILGATE_EMBEDDED_DB_MAX_WAL_SIZE", 1024L * 1024 * 1024)),
            s.duration("MAILGATE_EMBEDDED_DB_START_TIMEOUT", Duration.ofMinutes(10)),
            s.duration("MAILGATE_EMBEDDED_DB_RESTART_DELAY", Duration.ofSeconds(1)),
            s.integer("MAILGATE_EMBEDDED_DB_RESTART_ATTEMPTS", 5, 1, 1000),
            serverSettings(s.string("MAILGATE_EMBEDDED_DB_SETTINGS", ""))),
        new HttpConfig(
            s.string("MAILGATE_HTTP_HOST", "0.0.0.0"),
            s.integer("MAILGATE_HTTP_PORT", 8080, 0, 65535),
            s.integer("MAILGATE_HTTP_INSTANCES", cores, 1, 64)),
        new LimitsConfig(
            s.bytes("MAILGATE_MAX_JSON_BODY", 16L * 1024 * 1024),
            s.bytes("MAILGATE_MAX_ADMIN_BODY", 256 * 1024),
            (int) s.bytes("MAILGATE_MAX_NDJSON_LINE", 64 * 1024, Integer.MAX_VALUE),
            s.integer("MAILGATE_MAX_RECIPIENTS", 10_000_000, 1, Integer.MAX_VALUE - 1),
            (int) s.bytes("MAILGATE_MAX_TEMPLATE_BYTES", 1024 * 1024, Integer.MAX_VALUE),
            s.integer("MAILGATE_MAX_SUBJECT_CHARS", 998, 1, 10_000),
            s.integer("MAILGATE_MAX_HEADERS", 50, 0, 1000),
            s.integer("MAILGATE_MAX_HEADER_VALUE_CHARS", 998, 1, 10_000),
            s.integer("MAILGATE_MAX_TAGS", 10, 0, 1000),
            s.integer("MAILGATE_MAX_TAG_CHARS", 128, 1, 1000),
            s.integer("MAILGATE_MAX_VARS", 100, 0, 10_000),
            s.integer("MAILGATE_MAX_VAR_LIST_ITEMS", 100, 0, 100_000),
            s.integer("MAILGATE_MAX_VAR_DEPTH", 4, 1, 32),
            s.integer("MAILGATE_MAX_SECTION_DEPTH", 3, 0, 32),
            s.integer("MAILGATE_MAX_IDEMPOTENCY_KEY_CHARS", 255, 1, 10_000),
            s.integer("MAILGATE_INGEST_BATCH_ROWS", 5000, 1, 100_000),
            s.integer("MAILGATE_INGEST_BATCHES_IN_FLIGHT", 2, 1, 64),
            s.duration("MAILGATE_INGEST_TIMEOUT", Duration.ofMinutes(15)),
            s.integer("MAILGATE_MAX_PAGE_SIZE", 1000, 1, 100_000),
            s.duration("MAILGATE_AUTH_CACHE_TTL", Duration.ofSeconds(10)),
            s.duration("MAILGATE_MAX_SEND_AHEAD", Duration.ofDays(7)),
            s.integer("MAILGATE_MAX_SHARED_RECIPIENTS", 1000, 1, 100_000),
            s.bytes("MAILGATE_MAX_MIME_MESSAGE", 25L * 1024 * 1024, Integer.MAX_VALUE - 16),
            s.integer("MAILGATE_MAX_ATTACHMENTS", 100, 0, 10_000),
            s.bytes("MAILGATE_MAX_JSON_ATTACHMENT_BYTES", 10L * 1024 * 1024, Integer.MAX_VALUE - 16),
            s.integer("MAILGATE_MAX_ATTACHMENT_NAME_CHARS", 255, 1, 900),
            blobChunk(s.bytes("MAILGATE_BLOB_CHUNK_BYTES", 256 * 1024)),
            (int) s.bytes("MAILGATE_MAX_MIME_HEADER_BYTES", 1024 * 1024, Integer.MAX_VALUE - 16)),
        new IntakeConfig(
            s.bytes("MAILGATE_INGEST_MAX_BYTES", 64L * 1024 * 1024),
            s.integer("MAILGATE_INGEST_MAX_STREAMS", 4, 1, 1000),
            s.integer("MAILGATE_INGEST_QUEUE", 2000, 1, 1_000_000),
            s.duration("MAILGATE_INGEST_QUEUE_TIMEOUT", Duration.ofSeconds(5)),
            s.fraction("MAILGATE_INGEST_TENANT_SHARE", 0.5),
            s.integer("MAILGATE_INGEST_GROUP_MAX_JOBS", 200, 1, 10_000),
            s.integer("MAILGATE_INGEST_GROUP_MAX_RECIPIENTS", 1000, 1, 100_000),
            s.integer("MAILGATE_INGEST_GROUP_WRITERS", 2, 1, 64),
            s.integer("MAILGATE_SMALL_JOB_RECIPIENTS", 10, 0, 1_000_000)),
        new DispatchConfig(
            s.bool("MAILGATE_DISPATCH_ENABLED", true),
            s.integer("MAILGATE_CHUNK_SIZE", 500, 1, 100_000),
            s.duration("MAILGATE_LEASE_TIME", Duration.ofSeconds(60)),
            s.integer("MAILGATE_DISPATCH_MAX_CHUNKS", 8, 1, 10_000),
            s.integer("MAILGATE_DISPATCH_CHUNKS_PER_BACKEND", 2, 1, 1000),
            s.duration("MAILGATE_DISPATCH_POLL_INTERVAL", Duration.ofMillis(250)),
            s.duration("MAILGATE_CONTROL_POLL_INTERVAL", Duration.ofMillis(500)),
            s.duration("MAILGATE_STATE_FLUSH_INTERVAL", Duration.ofMillis(100)),
            s.integer("MAILGATE_STATE_FLUSH_BATCH", 500, 1, 100_000),
            s.duration("MAILGATE_SHUTDOWN_GRACE", Duration.ofSeconds(30)),
            s.duration("MAILGATE_STATS_INTERVAL", Duration.ofSeconds(5)),
            s.integer("MAILGATE_SIGNING_THREADS", cores, 1, 256),
            s.integer("MAILGATE_CIRCUIT_FAILURES", 5, 1, 10_000),
            s.duration("MAILGATE_CIRCUIT_OPEN_TIME", Duration.ofSeconds(30)),
            s.integer("MAILGATE_CLAIM_CANDIDATES", 200, 1, 100_000),
            s.integer("MAILGATE_DISPATCH_JOB_CACHE", 64, 1, 100_000),
            s.integer("MAILGATE_DISPATCH_MARK_AHEAD", 128, 1, 100_000),
            s.integer("MAILGATE_DISPATCH_MAX_PRIORITY_CHUNKS", 512, 1, 100_000),
            s.integer("MAILGATE_DISPATCH_PRIORITY_CHUNKS_PER_BACKEND", 256, 1, 100_000),
            s.integer("MAILGATE_RELEASE_FLUSH_BATCH", 200, 1, 100_000),
            s.duration("MAILGATE_RELEASE_FLUSH_INTERVAL", Duration.ofMillis(20)),
            s.duration("MAILGATE_EXPIRY_SWEEP_INTERVAL", Duration.ofSeconds(1)),
            s.duration("MAILGATE_DISPATCH_PRIORITY_CLAIM_DELAY", Duration.ofMillis(25)),
            s.integer("MAILGATE_DISPATCH_HANDOFF_QUEUE", 10_000, 0, 1_000_000),
            s.integer("MAILGATE_DISPATCH_PRIORITY_CLAIMERS", 1, 1, 16),
            s.integer("MAILGATE_INGEST_MAX_BACKLOG", 5000, 1, 1_000_000),
            s.duration("MAILGATE_INGEST_BACKLOG_CHECK_INTERVAL", Duration.ofMillis(200)),
            s.bytes("MAILGATE_DISPATCH_JOB_CACHE_MIME_BYTES", 200L * 1024 * 1024)),
        new RetryConfig(
            s.duration("MAILGATE_RETRY_BASE_DELAY", Duration.ofMinutes(1)),
            s.duration("MAILGATE_RETRY_MAX_DELAY", Duration.ofHours(1)),
            s.integer("MAILGATE_RETRY_MAX_ATTEMPTS", 10, 1, 1000),
            s.duration("MAILGATE_RETRY_MAX_AGE", Duration.ofHours(8)),
            0.5),
        new EventsConfig(
            s.duration("MAILGATE_EVENT_RETENTION", Duration.ofDays(30)),
            s.integer("MAILGATE_EVENT_PARTITIONS_AHEAD", 3, 1, 60),
            s.duration("MAILGATE_EVENT_MAINTENANCE_INTERVAL", Duration.ofHours(1)),
            domains(s.string("MAILGATE_STATS_RECIPIENT_DOMAINS", DEFAULT_STATS_DOMAINS)),
            s.integer("MAILGATE_SOFT_BOUNCE_LIMIT", 5, 1, 1000),
            s.duration("MAILGATE_SOFT_BOUNCE_WINDOW", Duration.ofDays(7)),
            new io.mailgate.events.Reputation.Thresholds(
                s.fraction("MAILGATE_REPUTATION_COMPLAINT_WARNING", 0.001),
                s.fraction("MAILGATE_REPUTATION_COMPLAINT_CRITICAL", 0.003),
                s.fraction("MAILGATE_REPUTATION_BOUNCE_WARNING", 0.05),
                s.fraction("MAILGATE_REPUTATION_BOUNCE_CRITICAL", 0.10),
                s.integer("MAILGATE_REPUTATION_MIN_VOLUME", 500, 1, Integer.MAX_VALUE)),
            s.duration("MAILGATE_REPUTATION_CHECK_INTERVAL", Duration.ofMinutes(1)),
            s.integer("MAILGATE_METRICS_MAX_TENANT_SERIES", 50, 0, 10_000),
            s.integer("MAILGATE_STATS_POOL_SIZE", 4, 1, 1000),
            s.duration("MAILGATE_STATS_QUERY_TIMEOUT", Duration.ofSeconds(10)),
            s.bytes("MAILGATE_STATS_CACHE_BYTES", 32L * 1024 * 1024),
            s.duration("MAILGATE_STATS_CACHE_CHECK_INTERVAL", Duration.ofSeconds(1))),
        new SuppressionCsvConfig(
            (int) s.bytes("MAILGATE_SUPPRESSION_IMPORT_MAX_LINE", 4 * 1024, 1024 * 1024),
            s.bytes("MAILGATE_SUPPRESSION_IMPORT_MAX_BODY", 1024L * 1024 * 1024),
            s.integer("MAILGATE_SUPPRESSION_IMPORT_MAX_LINES", 10_000_000, 1, Integer.MAX_VALUE - 1),
            s.integer("MAILGATE_SUPPRESSION_IMPORT_MAX_ERRORS", 100, 1, 100_000),
            s.integer("MAILGATE_SUPPRESSION_EXPORT_FETCH", 1000, 1, 100_000)),
        new PublicConfig(
            Optional.ofNullable(s.string("MAILGATE_PUBLIC_URL", null)).map(GatewayConfig::publicUrl),
            s.string("MAILGATE_PUBLIC_HOST", "0.0.0.0"),
            Optional.ofNullable(s.string("MAILGATE_PUBLIC_PORT", null)).map(x -> s.integer("MAILGATE_PUBLIC_PORT", 0, 0, 65535)),
            Optional.ofNullable(s.string("MAILGATE_UNSUBSCRIBE_KEY", null)).map(GatewayConfig::unsubscribeKey),
            s.integer("MAILGATE_PUBLIC_RATE_PER_MINUTE", 300, 0, 60_000_000) / 60.0,
            s.integer("MAILGATE_PUBLIC_RATE_BURST", 20, 1, 1_000_000),
            s.integer("MAILGATE_PUBLIC_RATE_CLIENTS", 100_000, 1, 10_000_000)),
        new WebhookConfig(
            s.bool("MAILGATE_WEBHOOK_SENDER_ENABLED", true),
            s.integer("MAILGATE_WEBHOOK_CONCURRENCY", 256, 1, 10_000),
            s.integer("MAILGATE_WEBHOOK_PER_WEBHOOK", 96, 1, 10_000),
            s.integer("MAILGATE_WEBHOOK_BATCH", 200, 1, 10_000),
            s.duration("MAILGATE_WEBHOOK_POLL_INTERVAL", Duration.ofMillis(250)),
            s.duration("MAILGATE_WEBHOOK_CONNECT_TIMEOUT", Duration.ofSeconds(5)),
            s.duration("MAILGATE_WEBHOOK_TIMEOUT", Duration.ofSeconds(10)),
            s.duration("MAILGATE_WEBHOOK_LEASE_TIME", Duration.ofSeconds(60)),
            s.duration("MAILGATE_WEBHOOK_RETRY_BASE_DELAY", Duration.ofSeconds(30)),
            s.duration("MAILGATE_WEBHOOK_RETRY_MAX_DELAY", Duration.ofHours(1)),
            s.integer("MAILGATE_WEBHOOK_MAX_ATTEMPTS", 20, 1, 1000),
            s.duration("MAILGATE_WEBHOOK_MAX_AGE", Duration.ofHours(8)),
            s.duration("MAILGATE_WEBHOOK_RETENTION", Duration.ofDays(7)),
            s.integer("MAILGATE_WEBHOOK_MAX_PER_TENANT", 100, 1, 10_000),
            s.bool("MAILGATE_WEBHOOK_ALLOW_HTTP", false),
            s.bool("MAILGATE_WEBHOOK_ALLOW_PRIVATE", false),
            s.integer("MAILGATE_WEBHOOK_DB_CONNECTIONS", 2, 1, 64),
            s.duration("MAILGATE_WEBHOOK_SLOW_CLAIM", Duration.ofMillis(50))),
        new WebhooksInConfig(
            s.bytes("MAILGATE_PROVIDER_HOOK_MAX_BODY", 8L * 1024 * 1024, 256L * 1024 * 1024),
            s.integer("MAILGATE_PROVIDER_HOOK_MAX_EVENTS", 5000, 1, io.mailgate.events.EventService.MAX_BATCH),
            s.duration("MAILGATE_PROVIDER_HOOK_MAX_AGE", Duration.ofMinutes(5)),
            s.integer("MAILGATE_PROVIDER_HOOK_REPLAY_CACHE", 500_000, 1, 50_000_000),
            s.integer("MAILGATE_PROVIDER_HOOK_CERT_CACHE", 100, 1, 100_000),
            (int) s.bytes("MAILGATE_PROVIDER_HOOK_CERT_MAX_BYTES", 64 * 1024, 1024 * 1024),
            s.duration("MAILGATE_PROVIDER_HOOK_FETCH_TIMEOUT", Duration.ofSeconds(10)),
            s.integer("MAILGATE_PROVIDER_HOOK_GROUP_MAX_EVENTS", 5000, 1, io.mailgate.events.EventService.MAX_BATCH),
            s.integer("MAILGATE_PROVIDER_HOOK_GROUP_WRITERS", 2, 1, 64),
            s.integer("MAILGATE_PROVIDER_HOOK_LOOKUP_CACHE", 100_000, 0, 10_000_000)));
  }

  public GatewayConfig withHttp(HttpConfig http) {
    return new GatewayConfig(dataDir, dbUrl, dbPoolSize, dbWaitQueue, adminToken, secretKey, nodeId, demo, embeddedDb, http,
        limits, intake, dispatch, retry, events, suppressionCsv, publicEndpoints, webhooks, webhooksIn);
  }

  public GatewayConfig withPublicEndpoints(PublicConfig p) {
    return new GatewayConfig(dataDir, dbUrl, dbPoolSize, dbWaitQueue, adminToken, secretKey, nodeId, demo, embeddedDb, http,
        limits, intake, dispatch, retry, events, suppressionCsv, p, webhooks, webhooksIn);
  }

  /**
   * The base of the links in List-Unsubscribe: RFC 8058 requires https; plain http only to a loopback host (a local
   * test or a proxy on the same machine), named literally: no name is resolved here. Returned without a trailing '/'.
   */
  static String publicUrl(String v) {
    java.net.URI u;
    try {
      u = new java.net.URI(v.trim());
    } catch (java.net.URISyntaxException e) {
      throw new ConfigException("MAILGATE_PUBLIC_URL must be a URL such as https://mail.example.com, got '" + v + "'");
    }
    String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(java.util.Locale.ROOT);
    String host = u.getHost();
    if (!u.isAbsolute() || host == null || u.getRawQuery() != null || u.getRawFragment() != null || u.getRawUserInfo() != null
        || !(scheme.equals("https") || scheme.equals("http"))) {
      throw new ConfigException("MAILGATE_PUBLIC_URL must be an https URL with a host and no user, query or fragment"
          + " (such as https://mail.example.com), got '" + v + "'");
    }
    if (scheme.equals("http") && !loopback(host)) {
      throw new ConfigException("MAILGATE_PUBLIC_URL must use https (RFC 8058 one-click unsubscribe requires it); plain"
          + " http is allowed only to a loopback host (localhost, 127.0.0.0/8, ::1), got '" + v + "'");
    }
    String base = u.toString();
    while (base.endsWith("/")) {
      base = base.substring(0, base.length() - 1);
    }
    return base;
  }

  /** localhost, 127.0.0.0/8 or ::1, written as such (an IPv6 host comes in brackets from URI). */
  static boolean loopback(String host) {
    String h = host.toLowerCase(java.util.Locale.ROOT);
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    if (h.equals("localhost") || h.endsWith(".localhost") || h.equals("::1") || h.equals("0:0:0:0:0:0:0:1")) {
      return true;
    }
    String[] parts = h.split("\\.", -1);
    if (parts.length != 4 || !parts[0].equals("127")) {
      return false;
    }
    for (String p : parts) {
      if (!p.matches("\\d{1,3}") || Integer.parseInt(p) > 255) {
        return false;
      }
    }
    return true;
  }

  private static byte[] unsubscribeKey(String v) {
    byte[] k;
    try {
      k = java.util.Base64.getDecoder().decode(v.trim());
    } catch (IllegalArgumentException e) {
      throw new ConfigException("MAILGATE_UNSUBSCRIBE_KEY must be base64 of at least 32 random bytes");
    }
    if (k.length < 32) {
      throw new ConfigException("MAILGATE_UNSUBSCRIBE_KEY must be base64 of at least 32 random bytes, got " + k.length + " bytes");
    }
    return k;
  }

  private static java.util.List<String> domains(String v) {
    java.util.List<String> out = new java.util.ArrayList<>();
    for (String d : v.split(",")) {
      String t = d.trim().toLowerCase(java.util.Locale.ROOT);
      if (t.isEmpty()) {
        continue;
      }
      // an IDN (U-labels or A-labels) in the form recipient domains are stored in: lower-case U-labels
      String canonical = io.mailgate.message.EmailAddress.normalize("x@" + t);
      String ascii = canonical == null ? null : new io.mailgate.message.EmailAddress(canonical).toAscii().domain();
      if (ascii == null || !ascii.matches("[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+") || ascii.length() > 253) {
        throw new ConfigException("MAILGATE_STATS_RECIPIENT_DOMAINS must be domain names separated by commas, got '" + d.trim() + "'");
      }
      out.add(canonical.substring(2));
    }
    if (out.size() > 1000) {
      throw new ConfigException("MAILGATE_STATS_RECIPIENT_DOMAINS keeps at most 1000 domains apart, got " + out.size());
    }
    return java.util.List.copyOf(out);
  }

  private static Demo demo(String v) {
    return switch (v.toLowerCase(java.util.Locale.ROOT)) {
      case "auto" -> Demo.AUTO;
      case "true", "yes", "1", "on" -> Demo.ON;
      case "false", "no", "0", "off" -> Demo.OFF;
      default -> throw new ConfigException("MAILGATE_DEMO must be auto, true or false, got '" + v + "'");
    };
  }

  /**
   * More settings for the embedded server, {@code name=value} separated by commas (e.g.
   * {@code shared_buffers=512MB,work_mem=16MB}). Names and values are checked here, since they reach a command line.
   */
  private static Map<String, String> serverSettings(String v) {
    Map<String, String> out = new java.util.LinkedHashMap<>();
    if (v.isBlank()) {
      return out;
    }
    for (String part : v.split(",")) {
      String[] kv = part.trim().split("=", 2);
      if (kv.length != 2 || !kv[0].matches("[a-z_.]{1,63}") || !kv[1].matches("[A-Za-z0-9_.:\\-]{1,100}")) {
        throw new ConfigException("MAILGATE_EMBEDDED_DB_SETTINGS must be name=value pairs separated by commas"
            + " (letters, digits, '_', '.', ':', '-'), got '" + part.trim() + "'");
      }
      out.put(kv[0], kv[1]);
    }
    return out;
  }

  /** PostgreSQL takes max_wal_size in MB (at least 2 WAL segments of 16 MB). */
  /** A stored part's size: at least 1 kB (a part is a row), at most 16 MB (a part is held whole, twice at most). */
  private static int blobChunk(long bytes) {
    if (bytes < 1024 || bytes > 16L * 1024 * 1024) {
      throw new ConfigException("MAILGATE_BLOB_CHUNK_BYTES must be between 1kb and 16mb, got " + bytes);
    }
    return (int) bytes;
  }

  private static String walSize(long bytes) {
    long mb = bytes / (1024 * 1024);
    if (mb < 32) {
      throw new ConfigException("MAILGATE_EMBEDDED_DB_MAX_WAL_SIZE must be at least 32mb");
    }
    return mb + "MB";
  }
}

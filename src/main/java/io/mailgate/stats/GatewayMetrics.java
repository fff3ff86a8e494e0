package io.mailgate.stats;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gateway's metrics, in Prometheus form at {@code GET /metrics}: the open work (jobs and recipients not yet final,
 * by state, and the queue depth) and today's events by type, read from the database every
 * {@code MAILGATE_STATS_INTERVAL}; per backend the send latency and the outcomes; the tenants at risk by reputation.
 * Label values are bounded: states, event types and severities are fixed sets, backends are the configured ones, and
 * at most {@code maxTenantSeries} tenants (the most at risk, warning or critical only) get a series of their own.
 * Thread-safe.
 */
public final class GatewayMetrics {

  /** The states of jobs with work left (final ones are counted by their events). */
  public static final String[] JOB_STATES = {"queued", "running", "paused"};
  /** The states of recipients not yet final (final ones: {@code mailgate_events_today}). */
  public static final String[] RECIPIENT_STATES = {"queued", "sending", "deferred"};

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Map<String, AtomicLong> jobs = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> recipients = new ConcurrentHashMap<>();
  private final AtomicLong readyChunks = new AtomicLong();
  private final AtomicLong chunksInFlight = new AtomicLong();
  private final Map<String, Timer> sendTimers = new ConcurrentHashMap<>();
  private final Map<String, Counter> outcomes = new ConcurrentHashMap<>();
  private final Map<String, Counter> webhookEvents = new ConcurrentHashMap<>();
  private final Counter accepted;
  private final Counter takeovers;
  private final AtomicLong tenantsHeld = new AtomicLong();
  private final Counter reputationHolds;
  private final Map<String, AtomicLong> eventsToday = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> tenantsByStatus = new ConcurrentHashMap<>();
  private final io.micrometer.core.instrument.MultiGauge tenantStatus;
  private final int maxTenantSeries;

  public GatewayMetrics() {
    this(50);
  }

  /** {@code maxTenantSeries}: how many tenants at most get their own reputation series. */
  public GatewayMetrics(int maxTenantSeries) {
    this.maxTenantSeries = maxTenantSeries;
    for (String s : JOB_STATES) {
      AtomicLong v = new AtomicLong();
      jobs.put(s, v);
      Gauge.builder("mailgate_jobs", v, AtomicLong::get).tag("state", s).description("Jobs with work left, by state")
          .register(registry);
    }
    for (String s : RECIPIENT_STATES) {
      AtomicLong v = new AtomicLong();
      recipients.put(s, v);
      Gauge.builder("mailgate_recipients", v, AtomicLong::get).tag("state", s)
          .description("Recipients not yet in a final state, by state").register(registry);
    }
    for (String type : io.mailgate.store.EventStore.TYPES) {
      for (String severity : severities(type)) {
        AtomicLong v = new AtomicLong();
        eventsToday.put(type + "\0" + severity, v);
        Gauge.builder("mailgate_events_today", v, AtomicLong::get).tag("type", type).tag("severity", severity)
            .description("Events of the current UTC day across the gateway (all processes), by type and severity")
            .register(registry);
      }
    }
    for (String status : new String[] {"ok", "warning", "critical"}) {
      AtomicLong v = new AtomicLong();
      tenantsByStatus.put(status, v);
      Gauge.builder("mailgate_tenants_reputation", v, AtomicLong::get).tag("status", status)
          .description("Tenants not held, by the worst status of their last 24 hours (at the last reputation check)")
          .register(registry);
    }
    tenantStatus = io.micrometer.core.instrument.MultiGauge.builder("mailgate_tenant_reputation_status")
        .description("Reputation status of the tenants most at risk (1 warning, 2 critical), at most "
            + "MAILGATE_METRICS_MAX_TENANT_SERIES of them")
        .register(registry);
    Gauge.builder("mailgate_queue_ready_chunks", readyChunks, AtomicLong::get)
        .description("Chunks due for dispatch now (queue depth)").register(registry);
    Gauge.builder("mailgate_dispatch_chunks_in_flight", chunksInFlight, AtomicLong::get)
        .description("Chunks this process is sending").register(registry);
    Gauge.builder("mailgate_tenants_held", tenantsHeld, AtomicLong::get)
        .description("Tenants whose sending is held (reputation), until an operator resumes them").register(registry);
    reputationHolds = Counter.builder("mailgate_reputation_holds_total")
        .description("Tenants held by this process because a reputation rate reached its critical level").register(registry);
    accepted = Counter.builder("mailgate_jobs_accepted_total").description("Jobs accepted by this process").register(registry);
    takeovers = Counter.builder("mailgate_dispatch_takeovers_total")
        .description("Chunks this process took over after another dispatcher's lease expired").register(registry);
  }

  /** The statistics cache's reads by what it held of their closed part, and its estimated size. */
  public void statsCache(io.mailgate.store.StatsCache cache) {
    io.micrometer.core.instrument.FunctionCounter.builder("mailgate_stats_cache_reads_total", cache, io.mailgate.store.StatsCache::covered)
        .tag("result", "hit").description("Statistics reads by what the cache held of their closed part").register(registry);
    io.micrometer.core.instrument.FunctionCounter.builder("mailgate_stats_cache_reads_total", cache, io.mailgate.store.StatsCache::grown)
        .tag("result", "grown").description("Statistics reads by what the cache held of their closed part").register(registry);
    io.micrometer.core.instrument.FunctionCounter.builder("mailgate_stats_cache_reads_total", cache, io.mailgate.store.StatsCache::missed)
        .tag("result", "miss").description("Statistics reads by what the cache held of their closed part").register(registry);
    Gauge.builder("mailgate_stats_cache_bytes", cache, io.mailgate.store.StatsCache::estimatedBytes)
        .description("The statistics cache's estimated size").register(registry);
  }

  public void jobsByState(Map<String, Long> counts) {
    jobs.forEach((k, v) -> v.set(counts.getOrDefault(k, 0L)));
  }

  public void recipientsByState(Map<String, Long> counts) {
    recipients.forEach((k, v) -> v.set(counts.getOrDefault(k, 0L)));
  }

  /** The severities an event type is counted with ("none" where it has none). */
  static List<String> severities(String type) {
    return switch (type) {
      case "failed", "bounced" -> List.of("hard", "soft", "none");
      case "suppressed" -> List.of("hard_bounce", "complaint", "unsubscribe", "manual", "none");
      default -> List.of("none");
    };
  }

  /** Today's counts by event type and severity ({@code ""}: none), as read from the daily counters. */
  public void eventsToday(Map<String, Map<String, Long>> counts) {
    eventsToday.forEach((k, v) -> {
      int cut = k.indexOf('\0');
      Map<String, Long> bySeverity = counts.getOrDefault(k.substring(0, cut), Map.of());
      String severity = k.substring(cut + 1);
      v.set(bySeverity.getOrDefault(severity.equals("none") ? "" : severity, 0L));
    });
  }

  /** A tenant's reputation at the last check: its name and worst status, and how far past its thresholds. */
  public record TenantReputation(String tenant, io.mailgate.events.Reputation.Status status, double risk) {}

  /** The last reputation check's verdicts for the tenants not held. */
  public void tenantReputations(List<TenantReputation> all) {
    Map<String, Long> counts = new java.util.HashMap<>();
    for (TenantReputation t : all) {
      counts.merge(t.status().json(), 1L, Long::sum);
    }
    tenantsByStatus.forEach((k, v) -> v.set(counts.getOrDefault(k, 0L)));
    List<io.micrometer.core.instrument.MultiGauge.Row<?>> rows = all.stream()
        .filter(t -> t.status() != io.mailgate.events.Reputation.Status.OK)
        .sorted((a, b) -> Double.compare(b.risk(), a.risk()))
        .limit(maxTenantSeries)
        .<io.micrometer.core.instrument.MultiGauge.Row<?>>map(t -> io.micrometer.core.instrument.MultiGauge.Row.of(
            io.micrometer.core.instrument.Tags.of("tenant", t.tenant()), t.status().ordinal()))
        .toList();
    tenantStatus.register(rows, true);
  }

  public void readyChunks(long n) {
    readyChunks.set(n);
  }

  public void chunksInFlight(long n) {
    chunksInFlight.set(n);
  }

  public void tenantsHeld(long n) {
    tenantsHeld.set(n);
  }

  public void reputationHold() {
    reputationHolds.increment();
  }

  public void takeover() {
    takeovers.increment();
  }

  public void jobAccepted() {
    accepted.increment();
  }

  /**
   * Provider webhook events by provider and outcome: {@code received} (recorded or found to be duplicates),
   * {@code ignored} (kinds the event log does not keep), {@code unknown_recipient} (naming no recipient of a tenant
   * routed to the backend, or one not found: logged, answered 200).
   */
  public void webhookEvents(String provider, String outcome, long n) {
    if (n > 0) {
      webhookEvents.computeIfAbsent(provider + "\0" + outcome, k -> Counter.builder("mailgate_webhook_events_total")
              .tag("provider", provider).tag("outcome", outcome)
              .description("Provider webhook events by provider and outcome").register(registry))
          .increment(n);
    }
  }

  /**
   * Webhook events of a job that is the tenant's but has no such recipient: recorded for the tenant alone (the event
   * log's {@code unmatched}), counted across providers (their writes are grouped).
   */
  public void webhookUnmatched(long n) {
    if (n > 0) {
      webhookEvents.computeIfAbsent("\0unmatched", k -> Counter.builder("mailgate_webhook_unmatched_total")
          .description("Webhook events recorded for the tenant alone: the job had no such recipient").register(registry))
          .increment(n);
    }
  }

  /** Webhook calls answered, by provider and HTTP status. */
  public void webhookCall(String provider, int status) {
    webhookEvents.computeIfAbsent(provider + "\0status\0" + status, k -> Counter.builder("mailgate_webhook_calls_total")
            .tag("provider", provider).tag("status", Integer.toString(status))
            .description("Provider webhook calls by provider and HTTP status").register(registry))
        .increment();
  }

  /** One send's outcome ({@code sent}, {@code deferred}, {@code failed}) and latency, per backend. */
  public void send(String backend, String outcome, long nanos) {
    sendTimers.computeIfAbsent(backend, b -> Timer.builder("mailgate_backend_send_seconds")
            .tag("backend", b).description("Backend send latency").publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(60))
            .register(registry))
        .record(nanos, TimeUnit.NANOSECONDS);
    outcomes.computeIfAbsent(backend + "\0" + outcome, k -> Counter.builder("mailgate_backend_sends_total")
            .tag("backend", backend).tag("outcome", outcome).description("Sends by backend and outcome")
            .register(registry))
        .increment();
  }

  /** What this process saw of one backend since it started: sends by outcome, and latency percentiles (ms). */
  public record BackendFigures(String backend, Map<String, Long> outcomes, long sends, double p50Millis, double p90Millis,
                               double p99Millis, double maxMillis) {}

  /**
   * Per backend this process has sent through: its outcomes and send latency. The percentiles are the upper bounds of
   * the histogram's buckets (the same buckets {@code mailgate_backend_send_seconds} exports), so an estimate from above.
   */
  public List<BackendFigures> backendFigures() {
    List<BackendFigures> out = new java.util.ArrayList<>();
    sendTimers.forEach((backend, timer) -> {
      var snap = timer.takeSnapshot();
      Map<String, Long> byOutcome = new java.util.TreeMap<>();
      outcomes.forEach((k, c) -> {
        int cut = k.indexOf('\0');
        if (k.substring(0, cut).equals(backend)) {
          byOutcome.put(k.substring(cut + 1), (long) c.count());
        }
      });
      out.add(new BackendFigures(backend, byOutcome, snap.count(), percentile(snap, 0.50), percentile(snap, 0.90),
          percentile(snap, 0.99), snap.max(TimeUnit.MILLISECONDS)));
    });
    out.sort(java.util.Comparator.comparing(BackendFigures::backend));
    return out;
  }

  private static double percentile(io.micrometer.core.instrument.distribution.HistogramSnapshot snap, double q) {
    long total = snap.count();
    if (total == 0) {
      return 0;
    }
    for (var b : snap.histogramCounts()) {
      if (b.count() >= q * total) {
        return Math.min(b.bucket(TimeUnit.MILLISECONDS), snap.max(TimeUnit.MILLISECONDS));
      }
    }
    return snap.max(TimeUnit.MILLISECONDS);
  }

  public String scrape() {
    return registry.scrape();
  }
}

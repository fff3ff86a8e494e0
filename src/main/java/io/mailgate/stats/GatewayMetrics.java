package io.mailgate.stats;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The gateway's metrics, in Prometheus form at {@code GET /metrics}: jobs and recipients by state and the queue
 * depth (read from the database every {@code MAILGATE_STATS_INTERVAL}), and per backend the send latency and the
 * outcomes. Thread-safe.
 */
public final class GatewayMetrics {

  public static final String[] JOB_STATES = {"queued", "running", "paused", "completed", "cancelled"};
  public static final String[] RECIPIENT_STATES = {"queued", "sending", "sent", "deferred", "failed", "cancelled", "expired",
      "suppressed"};

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Map<String, AtomicLong> jobs = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> recipients = new ConcurrentHashMap<>();
  private final AtomicLong readyChunks = new AtomicLong();
  private final AtomicLong chunksInFlight = new AtomicLong();
  private final Map<String, Timer> sendTimers = new ConcurrentHashMap<>();
  private final Map<String, Counter> outcomes = new ConcurrentHashMap<>();
  private final Counter accepted;
  private final Counter takeovers;
  private final AtomicLong tenantsHeld = new AtomicLong();
  private final Counter reputationHolds;

  public GatewayMetrics() {
    for (String s : JOB_STATES) {
      AtomicLong v = new AtomicLong();
      jobs.put(s, v);
      Gauge.builder("mailgate_jobs", v, AtomicLong::get).tag("state", s).description("Jobs by state").register(registry);
    }
    for (String s : RECIPIENT_STATES) {
      AtomicLong v = new AtomicLong();
      recipients.put(s, v);
      Gauge.builder("mailgate_recipients", v, AtomicLong::get).tag("state", s)
          .description("Recipients of jobs not yet final, and of all jobs for final states").register(registry);
    }
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

  public void jobsByState(Map<String, Long> counts) {
    jobs.forEach((k, v) -> v.set(counts.getOrDefault(k, 0L)));
  }

  public void recipientsByState(Map<String, Long> counts) {
    recipients.forEach((k, v) -> v.set(counts.getOrDefault(k, 0L)));
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

  public String scrape() {
    return registry.scrape();
  }
}

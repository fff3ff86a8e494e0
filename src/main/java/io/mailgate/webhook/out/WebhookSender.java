package io.mailgate.webhook.out;

import io.mailgate.config.GatewayConfig.WebhookConfig;
import io.mailgate.store.WebhookOutboxStore;
import io.mailgate.store.WebhookOutboxStore.Due;
import io.mailgate.store.WebhookOutboxStore.Outcome;
import io.mailgate.tenant.SecretBox;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.ext.web.codec.BodyCodec;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the webhook outbox: claims due calls in batches (SKIP LOCKED, so several gateway processes share the work),
 * POSTs each to the address its URL resolves to once checked again ({@link UrlPolicy}), and records the outcomes in
 * batches. A 2xx delivers; 406 fails for good (Mailgun's documented "do not retry"); anything else, a redirect, a
 * timeout or a refused address is retried with exponential backoff until MAILGATE_WEBHOOK_MAX_ATTEMPTS or
 * MAILGATE_WEBHOOK_MAX_AGE, then {@code failed}. Calls in flight are bounded in all and per webhook, so a slow or
 * failing endpoint holds at most its own share; the dispatcher never waits on any of this (it only writes rows).
 */
public final class WebhookSender extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(WebhookSender.class);
  private static final int MAX_ERROR_CHARS = 500;
  private static final int FLUSH_BATCH = 200;
  private static final long FLUSH_DELAY_MS = 20;
  private static final int PRUNE_BATCH = 5000;
  /** Fresh statistics of the outbox ({@link WebhookOutboxStore#analyze}), asked for by slow claims, at most this often. */
  private static final long ANALYZE_EVERY_MS = 5_000;

  private final WebhookOutboxStore store;
  private final SecretBox secrets;
  private final UrlPolicy urls;
  private final WebhookConfig config;
  private final Map<UUID, Integer> inFlightPerWebhook = new HashMap<>();
  private final List<Outcome> finished = new ArrayList<>();
  private WebClient client;
  private int inFlight;
  private boolean claiming;
  /** The last claim stopped at a bound (its room or a webhook's slots): more calls are due as soon as slots free. */
  private boolean moreDue;
  private long lastAnalyze = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(ANALYZE_EVERY_MS);
  private boolean analyzing;
  private boolean flushing;
  private boolean flushScheduled;
  private boolean stopping;
  private long pollTimer = -1;
  private long pruneTimer = -1;
  private Promise<Void> drained;

  public WebhookSender(WebhookOutboxStore store, SecretBox secrets, UrlPolicy urls, WebhookConfig config) {
    this.store = store;
    this.secrets = secrets;
    this.urls = urls;
    this.config = config;
  }

  @Override
  public Future<?> start() {
    client = WebClient.create(vertx, new WebClientOptions()
            .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, config.connectTimeout().toMillis()))
            .setIdleTimeout((int) Math.max(1, config.timeout().toSeconds()))
            .setKeepAlive(true)
            .setFollowRedirects(false)
            .setForceSni(true)
            .setUserAgent("mailgate-webhooks"),
        new PoolOptions().setHttp1MaxSize(config.perWebhook()));
    pollTimer = vertx.setPeriodic(config.pollInterval().toMillis(), id -> pump());
    pruneTimer = vertx.setPeriodic(Math.max(60_000, config.retention().toMillis() / 100), id -> prune());
    pump();
    return Future.succeededFuture();
  }

  /** Stops claiming, lets the calls in flight finish (each bounded by the timeouts) and records them. */
  @Override
  public Future<?> stop() {
    stopping = true;
    vertx.cancelTimer(pollTimer);
    vertx.cancelTimer(pruneTimer);
    drained = Promise.promise();
    if (inFlight == 0 && !claiming) {
      drained.tryComplete();
    }
    long bound = config.timeout().plus(config.connectTimeout()).toMillis() + 1000;
    return drained.future().timeout(bound, TimeUnit.MILLISECONDS).recover(e -> Future.succeededFuture())
        .compose(x -> flushNow()).recover(e -> Future.succeededFuture()).eventually(() -> { client.close(); return Future.succeededFuture(); });
  }

  /** Claims as many due calls as there is room for, and again at once while claims come back full. */
  private void pump() {
    if (stopping || claiming || inFlight >= config.concurrency()) {
      return;
    }
    int room = Math.min(config.batch(), config.concurrency() - inFlight);
    Map<UUID, Integer> free = new HashMap<>();
    inFlightPerWebhook.forEach((w, n) -> free.put(w, Math.max(0, config.perWebhook() - n)));
    claiming = true;
    long started = System.nanoTime();
    store.claim(room, free, config.perWebhook(), config.lease().toMillis() / 1000.0).onComplete(ar -> {
      claiming = false;
      analyzeIfSlow(started);
      if (ar.failed()) {
        LOG.atWarn().addKeyValue("error", ar.cause().toString()).log("webhook claim failed; retried at the next poll");
        checkDrained();
        return;
      }
      List<Due> due = ar.result();
      moreDue = due.size() == room || atSlotBound(due, free);
      due.forEach(this::call);
      checkDrained();
      if (due.size() == room) {
        pump();
      }
    });
  }

  /** A slow claim: the outbox's statistics are likely those of a much smaller table; refreshed in the background. */
  private void analyzeIfSlow(long started) {
    long now = System.nanoTime();
    if (analyzing || now - started < config.slowClaim().toNanos()
        || now - lastAnalyze < TimeUnit.MILLISECONDS.toNanos(ANALYZE_EVERY_MS)) {
      return;
    }
    analyzing = true;
    lastAnalyze = now;
    store.analyze().onComplete(ar -> {
      analyzing = false;
      if (ar.failed()) {
        LOG.atWarn().addKeyValue("error", ar.cause().toString()).log("analysing the webhook outbox failed");
      } else {
        LOG.atDebug().log("the webhook outbox's claims were slow: its statistics were refreshed");
      }
    });
  }

  /** Whether some webhook got as many calls as it had slots: it has more waiting, most likely. */
  private boolean atSlotBound(List<Due> due, Map<UUID, Integer> free) {
    Map<UUID, Integer> got = new HashMap<>();
    due.forEach(d -> got.merge(d.webhookId(), 1, Integer::sum));
    for (Map.Entry<UUID, Integer> e : got.entrySet()) {
      if (e.getValue() >= free.getOrDefault(e.getKey(), config.perWebhook())) {
        return true;
      }
    }
    return false;
  }

  private void call(Due d) {
    inFlight++;
    inFlightPerWebhook.merge(d.webhookId(), 1, Integer::sum);
    attempt(d).recover(e -> Future.succeededFuture(retryOrFail(d, null, shorten(String.valueOf(e.getMessage())))))
        .onComplete(ar -> {
          inFlight--;
          inFlightPerWebhook.computeIfPresent(d.webhookId(), (k, n) -> n <= 1 ? null : n - 1);
          finished.add(ar.result());
          scheduleFlush();
          checkDrained();
          if (moreDue) {
            // a slot came free and calls are waiting for it: claim now, not at the next poll (a claim in progress
            // makes this a no-op; the calls ending meanwhile share the next one)
            pump();
          }
        });
  }

  /** One call: the URL checked again and resolved, the payload signed now, the answer's status. */
  private Future<Outcome> attempt(Due d) {
    if (!d.event().found()) {
      return Future.succeededFuture(new Outcome(d.id(), "failed", null, null, "the event is no longer kept"));
    }
    if (d.sealedKey() == null) {
      return Future.succeededFuture(new Outcome(d.id(), "failed", null, null, "the tenant has no signing key"));
    }
    UrlPolicy.Target target;
    try {
      target = urls.parse(d.url(), "url");
    } catch (RuntimeException e) {
      return Future.succeededFuture(retryOrFail(d, null, shorten(e.getMessage())));
    }
    return urls.resolve(vertx, target, "url").compose(resolved -> {
      WebhookPayloads.Call c = WebhookPayloads.build(d, secrets.open(d.sealedKey()), System.currentTimeMillis() / 1000);
      RequestOptions options = new RequestOptions()
          .setMethod(HttpMethod.POST)
          .setServer(SocketAddress.inetSocketAddress(target.port(), resolved.address().getHostAddress()))
          .setHost(target.host())
          .setPort(target.port())
          .setSsl(target.https())
          .setURI(target.pathAndQuery())
          .setFollowRedirects(false);
      HttpRequest<Void> req = client.request(HttpMethod.POST, options).as(BodyCodec.none())
          .idleTimeout(config.timeout().toMillis());
      c.headers().forEach(req::putHeader);
      return req.sendBuffer(c.body())
          .timeout(config.timeout().plus(config.connectTimeout()).toMillis(), TimeUnit.MILLISECONDS)
          .map(r -> {
            int s = r.statusCode();
            if (s / 100 == 2) {
              return new Outcome(d.id(), "delivered", null, s, null);
            }
            if (s == 406) {
              return new Outcome(d.id(), "failed", null, s, "HTTP 406: the endpoint asked not to be retried");
            }
            return retryOrFail(d, s, s / 100 == 3 ? "HTTP " + s + " (redirects are not followed)" : "HTTP " + s);
          });
    }, e -> Future.succeededFuture(retryOrFail(d, null, shorten(String.valueOf(e.getMessage())))));
  }

  /** Pending again after the backoff of its attempt, or failed when attempts or age are used up. */
  private Outcome retryOrFail(Due d, Integer code, String error) {
    long base = config.retryBaseDelay().toMillis();
    long delay = Math.min(config.retryMaxDelay().toMillis(), base << Math.min(30, Math.max(0, d.attempts() - 1)));
    delay = (long) (delay * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble()));
    OffsetDateTime next = OffsetDateTime.now(ZoneOffset.UTC).plusNanos(delay * 1_000_000);
    boolean tooOld = d.createdAt() != null && next.isAfter(d.createdAt().plus(config.maxAge()));
    if (d.attempts() >= config.maxAttempts() || tooOld) {
      return new Outcome(d.id(), "failed", null, code, error);
    }
    return new Outcome(d.id(), "pending", next, code, error);
  }

  private void scheduleFlush() {
    if (finished.size() >= FLUSH_BATCH || stopping) {
      flushNow();
    } else if (!flushScheduled) {
      flushScheduled = true;
      vertx.setTimer(FLUSH_DELAY_MS, id -> {
        flushScheduled = false;
        flushNow();
      });
    }
  }

  /** Writes the outcomes gathered so far; a failed write keeps them for the next flush (the leases still hold). */
  private Future<Void> flushNow() {
    if (flushing || finished.isEmpty()) {
      return Future.succeededFuture();
    }
    List<Outcome> batch = new ArrayList<>(finished);
    finished.clear();
    flushing = true;
    return store.finish(batch).onComplete(ar -> {
      flushing = false;
      if (ar.failed()) {
        LOG.atWarn().addKeyValue("error", ar.cause().toString()).log("recording webhook outcomes failed; retried");
        finished.addAll(0, batch);
        scheduleFlush();
      } else {
        if (!finished.isEmpty()) {
          scheduleFlush();
        }
        // an outcome may unblock the next call of the same recipient: look again without waiting for the poll
        pump();
      }
    });
  }

  private void checkDrained() {
    if (drained != null && inFlight == 0 && !claiming) {
      drained.tryComplete();
    }
  }

  private void prune() {
    store.prune(config.retention().toMillis() / 1000.0, PRUNE_BATCH).onFailure(e ->
        LOG.atWarn().addKeyValue("error", e.toString()).log("pruning finished webhook calls failed"));
  }

  private static String shorten(String s) {
    if (s == null) {
      return null;
    }
    return s.length() <= MAX_ERROR_CHARS ? s : s.substring(0, MAX_ERROR_CHARS);
  }
}

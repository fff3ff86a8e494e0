package io.mailgate.api;

import io.mailgate.error.OverloadedException;
import io.vertx.core.Handler;
import io.vertx.core.net.SocketAddress;
import io.vertx.ext.web.RoutingContext;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Requests per second per client address on the public unsubscribe links, a token bucket each: the links face the
 * internet, and a script (or a scanner gone wrong) must not take the gateway's database writes. Shared by the event
 * loops (one instance per process); at most {@code maxClients} buckets are kept (idle ones are dropped first), and
 * while that many clients are active, new ones are refused. Over its rate a client gets 429 with Retry-After.
 * The address is the TCP peer's: behind a reverse proxy every request is the proxy's, so size the rate for it.
 */
public final class ClientRateLimit implements Handler<RoutingContext> {

  private static final class Bucket {
    double tokens;
    long last;

    Bucket(double tokens, long now) {
      this.tokens = tokens;
      this.last = now;
    }
  }

  private final double perNano;
  private final double burst;
  private final int maxClients;
  private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

  /** @param perSecond 0 or less: no limit */
  public ClientRateLimit(double perSecond, int burst, int maxClients) {
    this.perNano = perSecond / 1e9;
    this.burst = Math.max(1, burst);
    this.maxClients = maxClients;
  }

  @Override
  public void handle(RoutingContext ctx) {
    if (perNano <= 0) {
      ctx.next();
      return;
    }
    SocketAddress peer = ctx.request().remoteAddress();
    String client = peer == null ? "" : peer.hostAddress();
    long now = System.nanoTime();
    if (buckets.size() >= maxClients && !buckets.containsKey(client)) {
      // a full bucket is one nobody used for long enough to refill it: forget those first
      buckets.entrySet().removeIf(e -> refilled(e.getValue(), now) >= burst);
      if (buckets.size() >= maxClients) {
        ctx.fail(new OverloadedException("too many clients at once on the public links; try again shortly", 1));
        return;
      }
    }
    Bucket b = buckets.computeIfAbsent(client, k -> new Bucket(burst, now));
    boolean allowed;
    synchronized (b) {
      b.tokens = refilled(b, now);
      b.last = now;
      allowed = b.tokens >= 1;
      if (allowed) {
        b.tokens -= 1;
      }
    }
    if (allowed) {
      ctx.next();
    } else {
      ctx.response().putHeader("Retry-After", "1");
      ctx.response().putHeader("Content-Type", "text/plain; charset=utf-8");
      ctx.response().setStatusCode(429).end("Too many requests; try again in a second.\n");
    }
  }

  private double refilled(Bucket b, long now) {
    return Math.min(burst, b.tokens + (now - b.last) * perNano);
  }

  int clients() {
    return buckets.size();
  }
}

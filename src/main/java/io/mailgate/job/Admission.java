package io.mailgate.job;

import io.mailgate.error.OverloadedException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.UUID;

/**
 * Admission control for intake, by cost rather than by count: what submissions hold in memory (request bytes) and
 * the streams that hold an open transaction each (NDJSON uploads of any size). A submission that does not fit waits
 * in a bounded queue, first come first served, for at most {@code queueTimeout}; only when the queue is full, or the
 * wait runs out, is it refused (503 with Retry-After). Each tenant may hold at most {@code tenantShare} of the bytes,
 * the streams and the queue, so one tenant's burst cannot take all of it. Shared by the event loops: its state is
 * guarded by this object's monitor, and a waiter is admitted on its own context.
 */
public final class Admission {

  /** The bounds, each a named setting (see GatewayConfig.LimitsConfig). */
  public record Bounds(long maxBytes, int maxStreams, int queueSize, long queueTimeoutMillis, double tenantShare) {}

  /** What an admitted submission holds until it is released (exactly once). */
  public final class Ticket {
    private final UUID tenant;
    private final long bytes;
    private final boolean stream;
    private boolean released;

    private Ticket(UUID tenant, long bytes, boolean stream) {
      this.tenant = tenant;
      this.bytes = bytes;
      this.stream = stream;
    }

    public void release() {
      synchronized (Admission.this) {
        if (released) {
          return;
        }
        released = true;
        usedBytes -= bytes;
        Usage u = tenants.get(tenant);
        u.bytes -= bytes;
        if (stream) {
          usedStreams--;
          u.streams--;
        }
        if (u.idle()) {
          tenants.remove(tenant);
        }
      }
      admitWaiters();
    }
  }

  private static final class Usage {
    long bytes;
    int streams;
    int queued;

    boolean idle() {
      return bytes == 0 && streams == 0 && queued == 0;
    }
  }

  private final class Waiter {
    final UUID tenant;
    final long bytes;
    final boolean stream;
    final Context context;
    final Promise<Ticket> promise = Promise.promise();
    long timer = -1;

    Waiter(UUID tenant, long bytes, boolean stream, Context context) {
      this.tenant = tenant;
      this.bytes = bytes;
      this.stream = stream;
      this.context = context;
    }
  }

  private final Vertx vertx;
  private final Bounds bounds;
  private final long tenantBytes;
  private final int tenantStreams;
  private final int tenantQueue;
  private final Map<UUID, Usage> tenants = new HashMap<>();
  private final ArrayDeque<Waiter> queue = new ArrayDeque<>();
  private long usedBytes;
  private int usedStreams;
  private volatile java.util.function.Predicate<UUID> dispatchHasRoom = tenant -> true;

  public Admission(Vertx vertx, Bounds bounds) {
    this.vertx = vertx;
    this.bounds = bounds;
    this.tenantBytes = Math.max(1, (long) (bounds.maxBytes() * bounds.tenantShare()));
    this.tenantStreams = Math.max(1, (int) Math.floor(bounds.maxStreams() * bounds.tenantShare()));
    this.tenantQueue = Math.max(1, (int) Math.floor(bounds.queueSize() * bounds.tenantShare()));
  }

  /**
   * Admits a submission of {@code bytes} (its Content-Length, or the largest body allowed when unknown) for
   * {@code tenant}; {@code stream} for an upload that keeps a transaction open while it streams.
   */
  public Future<Ticket> admit(UUID tenant, long bytes, boolean stream) {
    long cost = Math.min(Math.max(bytes, 1), bounds.maxBytes());
    Waiter w;
    synchronized (this) {
      if (queue.isEmpty() && fits(tenant, cost, stream)) {
        return Future.succeededFuture(take(tenant, cost, stream));
      }
      Usage u = tenants.computeIfAbsent(tenant, t -> new Usage());
      if (queue.size() >= bounds.queueSize() || u.queued >= tenantQueue) {
        if (u.idle()) {
          tenants.remove(tenant);
        }
        String why = queue.size() >= bounds.queueSize() ? "the intake queue is full (" + bounds.queueSize() + " waiting)"
            : "this tenant has " + u.queued + " submissions waiting, its share of the intake queue";
        return Future.failedFuture(new OverloadedException(why + "; retry shortly", 1));
      }
      Context ctx = Vertx.currentContext();
      w = new Waiter(tenant, cost, stream, ctx != null ? ctx : vertx.getOrCreateContext());
      u.queued++;
      queue.add(w);
    }
    w.context.runOnContext(v -> {
      synchronized (this) {
        if (!queue.contains(w)) {
          return; // admitted already
        }
        w.timer = vertx.setTimer(bounds.queueTimeoutMillis(), id -> expire(w));
      }
    });
    admitWaiters();
    return w.promise.future();
  }

  /**
   * Whole JSON jobs of a tenant are also held back while {@code hasRoom} says no for it (as many small jobs are
   * waiting to be sent as may), so the backlog of accepted but unsent mail stays bounded when sending cannot keep up;
   * call {@link #roomMayHaveCome()} when it may say yes again. NDJSON streams (campaigns) are not held by it.
   */
  public void holdWhileDispatchIsFull(java.util.function.Predicate<UUID> hasRoom) {
    this.dispatchHasRoom = hasRoom;
  }

  /** Thread-safe. */
  public void roomMayHaveCome() {
    admitWaiters();
  }

  /** Bytes and streams in use now, for metrics. */
  public synchronized long usedBytes() {
    return usedBytes;
  }

  public synchronized int streams() {
    return usedStreams;
  }

  public synchronized int waiting() {
    return queue.size();
  }

  /**
   * Room for this submission now: within the bytes bound (a submission alone is always admitted, so a large one
   * never starves) and the tenant's share of it (a tenant's first submission always fits its share), and for a
   * stream within the stream bound and the tenant's share of it.
   */
  private boolean fits(UUID tenant, long cost, boolean stream) {
    if (!stream && !dispatchHasRoom.test(tenant)) {
      return false;
    }
    Usage u = tenants.get(tenant);
    long tb = u == null ? 0 : u.bytes;
    int ts = u == null ? 0 : u.streams;
    boolean bytesFit = usedBytes == 0 || usedBytes + cost <= bounds.maxBytes() && (tb == 0 || tb + cost <= tenantBytes);
    return bytesFit && (!stream || usedStreams < bounds.maxStreams() && ts < tenantStreams);
  }

  private Ticket take(UUID tenant, long cost, boolean stream) {
    Usage u = tenants.computeIfAbsent(tenant, t -> new Usage());
    usedBytes += cost;
    u.bytes += cost;
    if (stream) {
      usedStreams++;
      u.streams++;
    }
    return new Ticket(tenant, cost, stream);
  }

  /** Admits, in queue order, every waiter that fits now (a tenant at its share does not hold up the others). */
  private void admitWaiters() {
    synchronized (this) {
      Iterator<Waiter> it = queue.iterator();
      while (it.hasNext()) {
        Waiter w = it.next();
        if (fits(w.tenant, w.bytes, w.stream)) {
          it.remove();
          tenants.get(w.tenant).queued--;
          Ticket t = take(w.tenant, w.bytes, w.stream);
          w.context.runOnContext(v -> {
            if (w.timer >= 0) {
              vertx.cancelTimer(w.timer);
            }
            if (!w.promise.tryComplete(t)) {
              t.release();
            }
          });
        }
      }
    }
  }

  private void expire(Waiter w) {
    synchronized (this) {
      if (!queue.remove(w)) {
        return;
      }
      Usage u = tenants.get(w.tenant);
      u.queued--;
      if (u.idle()) {
        tenants.remove(w.tenant);
      }
    }
    w.promise.tryFail(new OverloadedException("no room for this submission within "
        + bounds.queueTimeoutMillis() + " ms; retry shortly", 1));
  }
}

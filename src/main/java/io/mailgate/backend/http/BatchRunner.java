package io.mailgate.backend.http;

import io.mailgate.backend.Delivery;
import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.Outcome;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;

/**
 * Sends one delivery as provider API calls: consecutive recipients in batches of at most {@code maxPerCall}
 * (never the same address twice in one call: providers key per-recipient data by address), waiting for
 * {@code delivery.ready(n)} and then the backend's {@link CallGate} before each call. A call's outcome is every
 * recipient's outcome: the provider accepted all of them or none.
 *
 * <p>After a call answered with our credentials refused (401/403) or 429, the rest of the delivery is not sent:
 * its recipients get the same outcome without a call (the next delivery tries again). Runs on one event loop.
 */
public final class BatchRunner {

  private final Delivery delivery;
  private final CallGate gate;
  private final int maxPerCall;
  private final Function<List<OutboundRecipient>, Future<Outcome>> call;
  private final List<OutboundRecipient> all;
  private final Promise<Void> done = Promise.promise();
  private int next;
  private int inFlight;
  private boolean waiting;
  private boolean pumping;
  private int pending;
  private boolean readied;
  private Outcome halt;

  private BatchRunner(Delivery delivery, CallGate gate, int maxPerCall,
                      Function<List<OutboundRecipient>, Future<Outcome>> call) {
    this.delivery = delivery;
    this.gate = gate;
    this.maxPerCall = Math.max(1, maxPerCall);
    this.call = call;
    this.all = delivery.recipients();
  }

  /**
   * @param call makes one API call for the batch and maps its answer to an outcome (a failed future counts as the
   *     backend's fault)
   * @return completes when every recipient started is reported
   */
  public static Future<Void> run(Delivery delivery, CallGate gate, int maxPerCall,
                                 Function<List<OutboundRecipient>, Future<Outcome>> call) {
    BatchRunner r = new BatchRunner(delivery, gate, maxPerCall, call);
    r.pump();
    return r.done.future();
  }

  private void pump() {
    if (pumping) {
      return; // a call completed synchronously inside the loop below, which goes round again
    }
    pumping = true;
    try {
      while (!waiting && next < all.size() && !delivery.stopped()) {
        if (pending == 0) {
          pending = nextBatchSize();
          readied = false;
        }
        if (!readied) {
          // the dispatcher's backpressure, once per call (it may also take tenant rate tokens for n messages)
          Future<Void> ready = delivery.ready(pending);
          if (!ready.isComplete()) {
            waiting = true;
            ready.onComplete(ar -> {
              waiting = false;
              readied = true;
              pump();
            });
            return;
          }
          readied = true;
        }
        if (halt != null) {
          start(false);
          continue;
        }
        Future<Void> admitted = gate.acquire(pending);
        if (!admitted.isComplete()) {
          waiting = true;
          admitted.onComplete(ar -> {
            waiting = false;
            start(true);
            pump();
          });
          return;
        }
        start(true);
      }
    } finally {
      pumping = false;
    }
    if (inFlight == 0 && !waiting && (next >= all.size() || delivery.stopped())) {
      done.tryComplete();
    }
  }

  /** Starts the pending batch: one call, or no call when the delivery stopped or a 401/403/429 halted it. */
  private void start(boolean holdsGate) {
    int n = pending;
    pending = 0;
    if (delivery.stopped()) {
      if (holdsGate) {
        gate.release();
      }
      return; // its recipients stay unreported: the dispatcher puts them back
    }
    List<OutboundRecipient> batch = all.subList(next, next + n);
    next += n;
    Outcome skip = halt != null ? halt : gate.throttledNow();
    if (skip != null) {
      if (holdsGate) {
        gate.release();
      }
      batch.forEach(r -> delivery.report(r, skip, 0));
      return;
    }
    inFlight++;
    long started = System.nanoTime();
    Future<Outcome> f;
    try {
      f = call.apply(batch);
    } catch (RuntimeException e) {
      f = Future.failedFuture(e);
    }
    f.onComplete(ar -> {
      Outcome o = ar.succeeded() ? ar.result() : new Outcome.Temporary(null, describe(ar.cause()), Outcome.Fault.BACKEND);
      if (o instanceof Outcome.Temporary t) {
        if (t.fault() == Outcome.Fault.THROTTLED) {
          gate.throttled(t);
        }
        if (halt == null && (t.fault() == Outcome.Fault.CREDENTIALS || t.fault() == Outcome.Fault.THROTTLED)) {
          halt = t;
        }
      }
      long latency = System.nanoTime() - started;
      batch.forEach(r -> delivery.report(r, o, latency));
      inFlight--;
      gate.release();
      pump();
    });
  }

  /** The batch starting at {@code next}: up to {@code maxPerCall} recipients, ending before a repeated address. */
  private int nextBatchSize() {
    int end = Math.min(all.size(), next + maxPerCall);
    if (end - next == 1) {
      return 1;
    }
    Set<String> seen = new HashSet<>();
    for (int i = next; i < end; i++) {
      if (!seen.add(all.get(i).email().value().toLowerCase(Locale.ROOT))) {
        return i - next;
      }
    }
    return end - next;
  }

  private static String describe(Throwable t) {
    String m = t.getMessage();
    return t.getClass().getSimpleName() + (m == null ? "" : ": " + HttpOutcomes.shorten(m));
  }
}

package io.mailgate.backend.http;

import io.mailgate.backend.Delivery;
import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.Outcome;
import io.mailgate.backend.RateLimiter;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Sends a delivery in provider calls of at most {@code batchSize} recipients, in order. Before each call it takes a
 * call slot of the backend (which bounds the calls in flight across all its deliveries), waits for the dispatcher
 * ({@link Delivery#ready(int)} with the call's size) and for as many tokens of the rate limiter, and starts nothing
 * once the delivery is stopped (recipients taken but not sent stay unreported: the dispatcher puts them back). Every recipient of a call is reported, with the call's time. Runs on one event loop.
 */
public final class BatchLoop {

  /** One provider call: one outcome per recipient, in order. A failed future defers the whole call. */
  public interface Call {
    Future<List<Outcome>> send(List<OutboundRecipient> batch);
  }

  /** The calls a backend instance may have in flight, shared by its deliveries. */
  public static final class Slots {
    private final int max;
    private final ArrayDeque<Promise<Void>> waiting = new ArrayDeque<>();
    private int used;

    public Slots(int max) {
      this.max = Math.max(1, max);
    }

    Future<Void> acquire() {
      if (used < max) {
        used++;
        return Future.succeededFuture();
      }
      Promise<Void> p = Promise.promise();
      waiting.add(p);
      return p.future();
    }

    void release() {
      Promise<Void> next = waiting.poll();
      if (next != null) {
        next.complete(); // the slot passes on as it is
      } else {
        used--;
      }
    }
  }

  private final Delivery delivery;
  private final Context context;
  private final Slots slots;
  private final RateLimiter rate;
  private final int batchSize;
  private final Call call;
  private final List<OutboundRecipient> recipients;
  private int next;

  private BatchLoop(Delivery delivery, Context context, Slots slots, RateLimiter rate, int batchSize, Call call) {
    this.delivery = delivery;
    this.context = context;
    this.slots = slots;
    this.rate = rate;
    this.batchSize = Math.max(1, batchSize);
    this.call = call;
    this.recipients = delivery.recipients();
  }

  /** Sends with up to {@code lanes} calls of this delivery in flight; completes when every started call is reported. */
  public static Future<Void> run(Delivery delivery, Context context, Slots slots, RateLimiter rate, int batchSize, int lanes,
                          Call call) {
    BatchLoop loop = new BatchLoop(delivery, context, slots, rate, batchSize, call);
    int batches = (loop.recipients.size() + loop.batchSize - 1) / loop.batchSize;
    int n = Math.max(1, Math.min(lanes, batches));
    List<Future<Void>> all = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Promise<Void> lane = Promise.promise();
      loop.step(lane);
      all.add(lane.future());
    }
    return Future.join(all).mapEmpty();
  }

  private boolean over() {
    return delivery.stopped() || next >= recipients.size();
  }

  private void step(Promise<Void> lane) {
    if (over()) {
      lane.tryComplete();
      return;
    }
    int end = Math.min(recipients.size(), next + batchSize);
    List<OutboundRecipient> batch = List.copyOf(recipients.subList(next, end));
    next = end;
    boolean[] taken = {false};
    // the tenant's share (its rate, the dispatcher's unwritten outcomes) first, the backend's call slot after:
    // a slow tenant must not hold the slots every other tenant of this backend needs
    delivery.ready(batch.size())
        .compose(r -> delivery.stopped() ? Future.<Void>succeededFuture() : slots.acquire().map(x -> {
          taken[0] = true;
          return null;
        }))
        .compose(r -> delivery.stopped() ? Future.<Void>succeededFuture() : tokens(batch.size()))
        .onComplete(t -> {
          if (delivery.stopped()) {
            // not started: left unreported, the dispatcher puts these recipients back
            if (taken[0]) {
              slots.release();
            }
            lane.tryComplete();
            return;
          }
          send(batch, lane);
        });
  }

  private void send(List<OutboundRecipient> batch, Promise<Void> lane) {
    long start = System.nanoTime();
    Future<List<Outcome>> f;
    try {
      f = call.send(batch);
    } catch (RuntimeException e) {
      f = Future.failedFuture(e);
    }
    f.onComplete(ar -> {
      long took = System.nanoTime() - start;
      slots.release();
      List<Outcome> outcomes = ar.succeeded() ? ar.result() : List.of();
      // one instance for the whole call: the dispatcher counts a failed call once, not once per recipient
      Outcome failed = new Outcome.Temporary(null, "call failed: " + describe(ar.cause()), Outcome.Fault.BACKEND);
      for (int i = 0; i < batch.size(); i++) {
        Outcome o = i < outcomes.size() && outcomes.get(i) != null ? outcomes.get(i) : failed;
        delivery.report(batch.get(i), o, took);
      }
      // the next call starts from the event loop, not from inside this callback: no recursion across calls
      context.runOnContext(v -> step(lane));
    });
  }

  private Future<Void> tokens(int n) {
    return rate.acquire(n);
  }

  private static String describe(Throwable t) {
    if (t == null) {
      return "no result";
    }
    return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
  }
}

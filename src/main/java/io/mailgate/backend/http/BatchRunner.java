package io.mailgate.backend.http;

import io.mailgate.backend.Delivery;
import io.mailgate.backend.OutboundRecipient;
import io.mailgate.backend.Outcome;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Sends one delivery as provider calls: consecutive recipients in batches of at most the job's
 * {@code recipientsPerCall} (with {@code distinctAddresses}, never the same address twice in one call), in list
 * order. Before each call it waits for {@code delivery.ready(n)} with the call's size (the dispatcher's unwritten
 * outcomes, the tenant's rate) and then for the backend's {@link CallGate} (a call slot, then the backend's rate):
 * the tenant's share first, so a slow tenant does not hold the slots every other tenant of the backend needs. One
 * batch at most waits per delivery, so nothing queues without a bound.
 *
 * <p>Every recipient of a call is reported, with the call's time. Once the delivery is stopped nothing more starts
 * (recipients taken but not sent stay unreported: the dispatcher puts them back). After a call refused as a whole
 * for our credentials (401/403) or with 429, the rest of the delivery is not sent: its recipients get the same
 * outcome without a call (the next delivery tries again); while a 429's Retry-After runs, no delivery of the
 * backend calls. Runs on one event loop.
 */
public final class BatchRunner {

  private final Delivery delivery;
  private final CallGate gate;
  private final int maxPerCall;
  private final boolean distinctAddresses;
  /** Null, or the name of a provider that takes ASCII addresses only (see {@link Provider#asciiAddressesOnly()}). */
  private final String asciiOnly;
  private final Provider.Call call;
  private final List<OutboundRecipient> all;
  private final Promise<Void> done = Promise.promise();
  private int next;
  private int inFlight;
  private boolean waiting;
  private boolean pumping;
  /** Recipients of the next call, from {@code next} on; 0 while the next batch is not chosen. */
  private int pending;
  /** The dispatcher granted {@code ready(pending)}: asking again would take a second share. */
  private boolean readied;
  /** A call refused as a whole for our credentials or throttling: the outcome of the rest of the delivery. */
  private Outcome halt;

  private BatchRunner(Delivery delivery, CallGate gate, Provider.Job job, boolean distinctAddresses, String asciiOnly) {
    this.delivery = delivery;
    this.gate = gate;
    this.asciiOnly = asciiOnly;
    this.maxPerCall = Math.max(1, job.recipientsPerCall());
    this.distinctAddresses = distinctAddresses;
    this.call = job.call();
    this.all = delivery.recipients();
  }

  /** @return completes when every recipient started is reported */
  public static Future<Void> run(Delivery delivery, CallGate gate, Provider.Job job, boolean distinctAddresses) {
    return run(delivery, gate, job, distinctAddresses, null);
  }

  /**
   * With {@code asciiOnly} (a provider's name), each call carries its recipients' addresses in ASCII (IDN domains as
   * A-labels); one with a UTF-8 local part fails for good without being sent.
   */
  public static Future<Void> run(Delivery delivery, CallGate gate, Provider.Job job, boolean distinctAddresses,
      String asciiOnly) {
    BatchRunner r = new BatchRunner(delivery, gate, job, distinctAddresses, asciiOnly);
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

  /** Starts the pending batch: one call, or no call when the delivery stopped, was halted or Retry-After runs. */
  private void start(boolean holdsGate) {
    int n = pending;
    pending = 0;
    if (delivery.stopped()) {
      if (holdsGate) {
        gate.release();
      }
      return; // its recipients stay unreported: the dispatcher puts them back
    }
    List<OutboundRecipient> batch = List.copyOf(all.subList(next, next + n));
    next += n;
    Outcome skip = halt != null ? halt : gate.throttledNow();
    if (skip != null) {
      if (holdsGate) {
        gate.release();
      }
      batch.forEach(r -> delivery.report(r, skip, 0));
      return;
    }
    List<OutboundRecipient> reported = batch;
    List<OutboundRecipient> sent = batch;
    if (asciiOnly != null && batch.stream().anyMatch(r -> !r.email().isAscii())) {
      reported = new java.util.ArrayList<>(batch.size());
      sent = new java.util.ArrayList<>(batch.size());
      for (OutboundRecipient r : batch) {
        if (r.email().utf8Local()) {
          delivery.report(r, io.mailgate.backend.Utf8Addresses.refusal("the address has a UTF-8 local part",
              asciiOnly + " takes ASCII addresses only"), 0);
        } else {
          reported.add(r);
          sent.add(new OutboundRecipient(r.seq(), r.email().toAscii(), r.vars(), r.attempt()));
        }
      }
      if (sent.isEmpty()) {
        gate.release();
        return;
      }
    }
    List<OutboundRecipient> callBatch = List.copyOf(sent);
    List<OutboundRecipient> reportTo = reported;
    inFlight++;
    long started = System.nanoTime();
    Future<Provider.Answer> f;
    try {
      f = call.send(callBatch);
    } catch (RuntimeException e) {
      f = Future.failedFuture(e);
    }
    f.onComplete(ar -> {
      long latency = System.nanoTime() - started;
      Provider.Answer answer = ar.succeeded() && ar.result() != null ? ar.result() : Provider.Answer.forCall(
          new Outcome.Temporary(null, "call failed: " + describe(ar.cause()), Outcome.Fault.BACKEND));
      if (answer.whole() instanceof Outcome.Temporary t) {
        if (t.fault() == Outcome.Fault.THROTTLED) {
          gate.throttled(t);
        }
        if (halt == null && (t.fault() == Outcome.Fault.CREDENTIALS || t.fault() == Outcome.Fault.THROTTLED)) {
          halt = t;
        }
      }
      // one instance for the recipients an answer leaves out: the dispatcher counts a failed call once
      Outcome missing = null;
      for (int i = 0; i < reportTo.size(); i++) {
        Outcome o = answer.of(i);
        if (o == null) {
          if (missing == null) {
            missing = new Outcome.Temporary(null, "call failed: no result for this recipient", Outcome.Fault.BACKEND);
          }
          o = missing;
        }
        delivery.report(reportTo.get(i), o, latency);
      }
      inFlight--;
      gate.release();
      pump();
    });
  }

  /** The batch starting at {@code next}: up to {@code maxPerCall} recipients, ending before a repeated address. */
  private int nextBatchSize() {
    int end = Math.min(all.size(), next + maxPerCall);
    if (!distinctAddresses || end - next == 1) {
      return end - next;
    }
    Set<String> seen = new HashSet<>();
    for (int i = next; i < end; i++) {
      if (!seen.add(io.mailgate.message.EmailAddress.asciiLower(all.get(i).email().value()))) {
        return i - next;
      }
    }
    return end - next;
  }

  private static String describe(Throwable t) {
    if (t == null) {
      return "no result";
    }
    String m = t.getMessage();
    return t.getClass().getSimpleName() + (m == null ? "" : ": " + HttpOutcomes.shorten(m));
  }
}

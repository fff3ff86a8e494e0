package io.mailgate.backend;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.Iterator;
import java.util.function.Function;

/**
 * Sends a delivery one message per recipient with at most {@code window} sends in flight: the next send starts
 * only when one finishes. Used by backends that have no batch call (SMTP, files). Runs on one event loop.
 */
public final class PerRecipientSender {

  private final Delivery delivery;
  private final int window;
  private final Function<OutboundRecipient, Future<Outcome>> send;
  private final Iterator<OutboundRecipient> next;
  private final Promise<Void> done = Promise.promise();
  private int inFlight;
  private boolean filling;
  private boolean waiting;
  /** ready() already granted the next send: asking again would take a second permit (and livelock with two chunks). */
  private boolean granted;

  private PerRecipientSender(Delivery delivery, int window, Function<OutboundRecipient, Future<Outcome>> send) {
    this.delivery = delivery;
    this.window = Math.max(1, window);
    this.send = send;
    this.next = delivery.recipients().iterator();
  }

  public static Future<Void> run(Delivery delivery, int window, Function<OutboundRecipient, Future<Outcome>> send) {
    PerRecipientSender s = new PerRecipientSender(delivery, window, send);
    s.fill();
    return s.done.future();
  }

  private void fill() {
    if (filling) {
      return; // a send completed synchronously inside the loop below, which goes round again
    }
    filling = true;
    try {
      loop();
    } finally {
      filling = false;
    }
    if (inFlight == 0 && !waiting && (!next.hasNext() || delivery.stopped())) {
      done.tryComplete();
    }
  }

  private void loop() {
    while (!waiting && inFlight < window && next.hasNext() && !delivery.stopped()) {
      if (!granted) {
        Future<Void> ready = delivery.ready();
        if (!ready.isComplete()) {
          // unwritten outcomes at their bound, or the tenant's rate: start nothing until the dispatcher says so
          waiting = true;
          ready.onComplete(ar -> {
            waiting = false;
            granted = true;
            fill();
          });
          return;
        }
      }
      granted = false;
      OutboundRecipient r = next.next();
      inFlight++;
      long start = System.nanoTime();
      Future<Outcome> f;
      try {
        f = send.apply(r);
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      f.onComplete(ar -> {
        inFlight--;
        delivery.report(r, ar.succeeded() ? ar.result()
                : ar.cause() instanceof io.mailgate.message.RenderException re ? new Outcome.Permanent(null, re.getMessage())
                : new Outcome.Temporary(null, describe(ar.cause()), Outcome.Fault.BACKEND),
            System.nanoTime() - start);
        fill();
      });
    }
  }

  private static String describe(Throwable t) {
    String m = t.getMessage();
    return t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }
}

package io.mailgate.dispatch;

import io.mailgate.store.DispatchStore;
import io.mailgate.store.DispatchStore.Update;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes recipients' outcomes in batches: one statement per {@code batchSize} outcomes or per {@code interval},
 * whichever comes first, one statement at a time. A crash loses at most the outcomes of the last window, whose
 * recipients are then sent again: this window, with the sends in flight, is the duplicate bound.
 * Each add returns the future of the batch it lands in. Used from the dispatcher's event loop.
 */
final class StateWriter {

  private static final Logger LOG = LoggerFactory.getLogger(StateWriter.class);
  private static final long RETRY_MS = 1000;

  private final Vertx vertx;
  private final DispatchStore store;
  private final int batchSize;
  private final long intervalMs;
  private List<Update> pending = new ArrayList<>();
  private Promise<Void> pendingDone = Promise.promise();
  private Promise<Void> room;
  private boolean writing;
  private boolean urgentPending;
  private long timer = -1;

  StateWriter(Vertx vertx, DispatchStore store, int batchSize, long intervalMs) {
    this.vertx = vertx;
    this.store = store;
    this.batchSize = batchSize;
    this.intervalMs = intervalMs;
  }

  Future<Void> add(Update u) {
    return add(u, false);
  }

  /**
   * {@code urgent} (the priority lane): written at once when no write is in progress, else right after it, not
   * after the interval; under load the outcomes arriving meanwhile still share one statement.
   */
  Future<Void> add(Update u, boolean urgent) {
    pending.add(u);
    urgentPending |= urgent;
    Future<Void> f = pendingDone.future();
    if (pending.size() >= batchSize || urgent && !writing) {
      flush();
    } else if (timer < 0) {
      timer = vertx.setTimer(intervalMs, id -> {
        timer = -1;
        flush();
      });
    }
    return f;
  }

  /** SQLSTATE class 22 (data exception): the statement would fail the same way every time. */
  private static boolean isDataError(Throwable t) {
    return t instanceof io.vertx.pgclient.PgException pg && pg.getSqlState() != null && pg.getSqlState().startsWith("22");
  }

  /**
   * Completes once fewer than {@code batchSize} outcomes wait to be written. With one batch being written and at
   * most one waiting, the outcomes a crash can lose stay below {@code 2 × batchSize} plus the sends in flight.
   */
  Future<Void> ready() {
    if (pending.size() < batchSize) {
      return Future.succeededFuture();
    }
    if (room == null) {
      room = Promise.promise();
    }
    return room.future();
  }

  /** Writes what is buffered now (at shutdown, or when a window ends). */
  Future<Void> flush() {
    if (pending.isEmpty()) {
      return Future.succeededFuture();
    }
    if (writing) {
      // the next write starts as soon as this one ends
      return pendingDone.future();
    }
    if (timer >= 0) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
    List<Update> batch = pending;
    Promise<Void> done = pendingDone;
    urgentPending = false;
    pending = new ArrayList<>();
    pendingDone = Promise.promise();
    writing = true;
    if (room != null) {
      Promise<Void> r = room;
      room = null;
      r.complete();
    }
    write(batch, done);
    return done.future();
  }

  private void write(List<Update> batch, Promise<Void> done) {
    store.apply(batch).onComplete(ar -> {
      if (ar.failed() && isDataError(ar.cause())) {
        // a value the database refuses would fail forever and stop every later batch: keep the states, drop the texts
        LOG.atError().addKeyValue("outcomes", batch.size()).addKeyValue("error", ar.cause().getMessage())
            .log("recipient outcomes refused by the database; writing them without their messages");
        write(batch.stream().map(Update::withoutTexts).toList(), done);
        return;
      }
      if (ar.failed()) {
        // keep them: the recipients stay 'sending' until written; retry until the database answers
        LOG.atWarn().addKeyValue("outcomes", batch.size()).addKeyValue("error", ar.cause().getMessage())
            .log("writing recipient states failed; retrying");
        vertx.setTimer(RETRY_MS, id -> write(batch, done));
        return;
      }
      writing = false;
      done.complete();
      if (pending.size() >= batchSize || urgentPending) {
        flush();
      } else if (!pending.isEmpty() && timer < 0) {
        timer = vertx.setTimer(intervalMs, id -> {
          timer = -1;
          flush();
        });
      }
    });
  }
}

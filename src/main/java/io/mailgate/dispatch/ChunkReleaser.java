package io.mailgate.dispatch;

import io.mailgate.store.DispatchStore;
import io.mailgate.store.DispatchStore.ChunkRef;
import io.mailgate.store.DispatchStore.Finished;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Releases chunks in batches: the chunks whose runs ended within {@code intervalMs} (or {@code batchSize} of them)
 * are released, and their jobs completed, in one statement, one statement at a time. Many small jobs ending at once
 * cost one round trip, not two each. Used from the dispatcher's event loop.
 */
final class ChunkReleaser {

  private record Pending(ChunkRef chunk, Promise<Optional<Finished>> done) {}

  private final Vertx vertx;
  private final DispatchStore store;
  private final String owner;
  private final int batchSize;
  private final long intervalMs;
  private List<Pending> pending = new ArrayList<>();
  private boolean writing;
  private boolean urgentPending;
  private long timer = -1;

  ChunkReleaser(Vertx vertx, DispatchStore store, String owner, int batchSize, long intervalMs) {
    this.vertx = vertx;
    this.store = store;
    this.owner = owner;
    this.batchSize = Math.max(1, batchSize);
    this.intervalMs = Math.max(0, intervalMs);
  }

  /** @return what releasing did, or empty when the lease had passed to another dispatcher */
  Future<Optional<Finished>> release(ChunkRef chunk) {
    return release(chunk, false);
  }

  /**
   * {@code urgent} (the priority lane): released at once when no release is in progress, else right after it; the
   * chunks ending meanwhile share that statement.
   */
  Future<Optional<Finished>> release(ChunkRef chunk, boolean urgent) {
    Promise<Optional<Finished>> p = Promise.promise();
    pending.add(new Pending(chunk, p));
    urgentPending |= urgent;
    if (pending.size() >= batchSize || intervalMs == 0 || urgent && !writing) {
      flush();
    } else if (timer < 0) {
      timer = vertx.setTimer(intervalMs, id -> {
        timer = -1;
        flush();
      });
    }
    return p.future();
  }

  private void flush() {
    if (writing || pending.isEmpty()) {
      return;
    }
    if (timer >= 0) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
    List<Pending> batch = pending;
    pending = new ArrayList<>();
    urgentPending = false;
    writing = true;
    store.finish(batch.stream().map(Pending::chunk).toList(), owner).onComplete(ar -> {
      writing = false;
      if (ar.failed()) {
        batch.forEach(p -> p.done().fail(ar.cause()));
      } else {
        Map<ChunkRef, Finished> byChunk = new HashMap<>();
        ar.result().forEach(f -> byChunk.put(f.chunk(), f));
        batch.forEach(p -> p.done().complete(Optional.ofNullable(byChunk.get(p.chunk()))));
      }
      if (!pending.isEmpty()) {
        if (pending.size() >= batchSize || urgentPending) {
          flush();
        } else if (timer < 0) {
          timer = vertx.setTimer(Math.max(1, intervalMs), id -> {
            timer = -1;
            flush();
          });
        }
      }
    });
  }
}

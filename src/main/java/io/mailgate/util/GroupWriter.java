package io.mailgate.util;

import io.mailgate.store.SqlErrors;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.ToIntFunction;

/**
 * Group commit: items submitted while a write is under way wait for the next one, and each write takes every waiting
 * item (up to {@code maxItems} items and {@code maxWeight} in weight; a single heavier item goes alone) in one
 * statement, so one commit and one WAL flush serve them all. An idle process writes an item at once; under load the
 * groups grow by themselves, without a timer. At most {@code writers} writes run at once. Each item is answered only
 * after the commit that contains it. A group the database refuses (other than by being unavailable) is written again
 * item by item, so one item's trouble is its own. One instance per event loop, used from that loop only.
 *
 * @param <T> what is submitted
 * @param <R> each item's answer
 */
public final class GroupWriter<T, R> {

  private record Pending<T, R>(T item, Promise<R> done) {}

  private final int maxItems;
  private final int maxWeight;
  private final int writers;
  private final ToIntFunction<T> weight;
  private final Function<List<T>, Future<List<R>>> write;
  private final ArrayDeque<Pending<T, R>> queue = new ArrayDeque<>();
  private int writing;

  /** @param write writes the items in one statement; its answers are in the items' order */
  public GroupWriter(int maxItems, int maxWeight, int writers, ToIntFunction<T> weight,
                     Function<List<T>, Future<List<R>>> write) {
    this.maxItems = Math.max(1, maxItems);
    this.maxWeight = Math.max(1, maxWeight);
    this.writers = Math.max(1, writers);
    this.weight = weight;
    this.write = write;
  }

  /** Completes with the item's answer once the write that holds it is committed. */
  public Future<R> submit(T item) {
    Promise<R> p = Promise.promise();
    queue.add(new Pending<>(item, p));
    pump();
    return p.future();
  }

  private void pump() {
    while (writing < writers && !queue.isEmpty()) {
      List<Pending<T, R>> group = new ArrayList<>();
      int w = 0;
      while (!queue.isEmpty() && group.size() < maxItems
          && (group.isEmpty() || w + weight.applyAsInt(queue.peek().item()) <= maxWeight)) {
        Pending<T, R> p = queue.poll();
        w += weight.applyAsInt(p.item());
        group.add(p);
      }
      writing++;
      write(group).onComplete(ar -> {
        writing--;
        pump();
      });
    }
  }

  private Future<Void> write(List<Pending<T, R>> group) {
    return write.apply(group.stream().map(Pending::item).toList()).transform(ar -> {
      if (ar.succeeded()) {
        List<R> answers = ar.result();
        for (int i = 0; i < group.size(); i++) {
          group.get(i).done().complete(answers.get(i));
        }
        return Future.succeededFuture();
      }
      if (group.size() == 1 || SqlErrors.isUnavailable(ar.cause())) {
        group.forEach(p -> p.done().fail(ar.cause()));
        return Future.succeededFuture();
      }
      List<Future<Void>> each = new ArrayList<>();
      for (Pending<T, R> p : group) {
        each.add(write(List.of(p)));
      }
      return Future.join(each).mapEmpty();
    });
  }
}

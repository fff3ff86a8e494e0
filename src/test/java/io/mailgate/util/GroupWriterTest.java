package io.mailgate.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Group commit: what waits during a write goes in the next one, within its bounds; a refused group is retried alone. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class GroupWriterTest {

  @Test
  void itemsSubmittedDuringAWriteGoTogetherInTheNextWithinTheWeightBound() {
    List<List<String>> writes = new ArrayList<>();
    List<Promise<Void>> pending = new ArrayList<>();
    GroupWriter<String, Integer> w = new GroupWriter<>(10, 5, 1, String::length, items -> {
      writes.add(items);
      Promise<Void> p = Promise.promise();
      pending.add(p);
      return p.future().map(v -> items.stream().map(String::length).toList());
    });
    Future<Integer> first = w.submit("a");
    Future<Integer> b = w.submit("bb");
    Future<Integer> c = w.submit("ccc");
    Future<Integer> d = w.submit("dddddd"); // heavier than the bound: goes alone
    assertEquals(List.of(List.of("a")), writes, "an idle writer writes at once");
    pending.get(0).complete();
    assertEquals(1, first.result());
    assertEquals(List.of("bb", "ccc"), writes.get(1), "the waiting ones together, up to a weight of 5");
    assertTrue(!b.isComplete(), "answered only after its own commit");
    pending.get(1).complete();
    assertEquals(2, b.result());
    assertEquals(3, c.result());
    assertEquals(List.of("dddddd"), writes.get(2));
    pending.get(2).complete();
    assertEquals(6, d.result());
  }

  @Test
  void aGroupTheDatabaseRefusesIsWrittenAgainItemByItemSoOnlyTheBadItemFails() {
    List<List<String>> writes = new ArrayList<>();
    Promise<Void> firstWrite = Promise.promise();
    GroupWriter<String, String> w = new GroupWriter<>(10, 100, 1, x -> 1, items -> {
      writes.add(items);
      if (writes.size() == 1) {
        return firstWrite.future().map(v -> items);
      }
      return items.contains("bad") ? Future.failedFuture(new IllegalStateException("refused")) : Future.succeededFuture(items);
    });
    Future<String> blocker = w.submit("first");
    Future<String> good = w.submit("good");
    Future<String> bad = w.submit("bad");
    firstWrite.complete();
    assertEquals("first", blocker.result());
    assertEquals(List.of("good", "bad"), writes.get(1));
    assertEquals("good", good.result());
    assertTrue(bad.failed());
    assertEquals("refused", bad.cause().getMessage());
  }
}

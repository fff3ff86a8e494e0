package io.mailgate.dispatch;

import io.mailgate.store.DispatchStore.ChunkRef;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The small jobs this process just accepted, waiting for its priority lane, which leases them by id instead of
 * searching the queue for them. Tenants take turns (one chunk of each, then the next of each...), so one tenant's
 * burst does not hold up another's mail. Bounded: past {@code capacity} a chunk is not remembered here, and the
 * lane's search of the queue finds it instead (nothing depends on this memory). Used from the dispatcher's loop.
 */
final class Handoff {

  private final int capacity;
  private final Map<UUID, ArrayDeque<ChunkRef>> byTenant = new LinkedHashMap<>();
  private int size;
  private boolean overflowed;

  Handoff(int capacity) {
    this.capacity = capacity;
  }

  void add(UUID tenant, ChunkRef chunk) {
    if (size >= capacity) {
      overflowed = true;
      return;
    }
    byTenant.computeIfAbsent(tenant, t -> new ArrayDeque<>()).add(chunk);
    size++;
  }

  boolean isEmpty() {
    return size == 0;
  }

  /** Whether chunks were left out since the last call (the queue must then be searched). */
  boolean takeOverflowed() {
    boolean o = overflowed;
    overflowed = false;
    return o;
  }

  /** Up to {@code n} chunks, tenants taking turns. */
  List<ChunkRef> take(int n) {
    List<ChunkRef> out = new ArrayList<>(Math.min(n, size));
    while (out.size() < n && size > 0) {
      Iterator<Map.Entry<UUID, ArrayDeque<ChunkRef>>> it = byTenant.entrySet().iterator();
      while (it.hasNext() && out.size() < n) {
        ArrayDeque<ChunkRef> q = it.next().getValue();
        out.add(q.poll());
        size--;
        if (q.isEmpty()) {
          it.remove();
        }
      }
    }
    return out;
  }
}

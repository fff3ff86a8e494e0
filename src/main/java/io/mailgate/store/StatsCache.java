package io.mailgate.store;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.mailgate.store.StatsStore.GroupBy;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * The closed part of statistics answers, kept in this process. Counters of the hours before the summaries' mark (and
 * of the days before the mark's day) change only when the folding pass adds late writers' rows to them, and that pass
 * bumps {@code stats_summarized.generation} in the transaction that does it: a slice read at one generation holds
 * while the generation is the same, in every gateway process. An answer is then the cached slice of its range's
 * closed part and a read of the open part (the hour or two since the mark; for days, the mark's day), so a dashboard
 * polling a month by hour reads one or two hours of counters per poll instead of the month.
 *
 * <p>A slice is kept per tenant (null: the operators' view), grouping, base resolution (hours; days for day and month
 * resolution, months are summed from days), event filter and single group; it covers one range and grows by what a
 * request asks for before or after it (at its end as the mark moves). Bounded by {@code maxBytes}
 * ({@code MAILGATE_STATS_CACHE_BYTES}) by the slices' estimated size (least recently used go first); a slice over a
 * quarter of the bound is not kept.
 */
public final class StatsCache {

  static final int BYTES_PER_SLICE = 256;

  record Key(UUID tenant, GroupBy by, boolean daily, List<String> events, String onlyGroup) {}

  /** Counters of [{@code from}, {@code to}) at a base resolution, in time order, read at {@code generation}. */
  record Slice(long generation, Instant from, Instant to, CountColumns counts) {

    /** {@code before} (the counters of [newFrom, from)), this slice, and {@code after} (those of [to, newTo)). */
    Slice spliced(CountColumns before, CountColumns after, Instant newFrom, Instant newTo) {
      return new Slice(generation, newFrom, newTo, new CountColumns(before.size() + counts.size() + after.size())
          .append(before, 0, before.size()).append(counts, 0, counts.size()).append(after, 0, after.size()));
    }

    boolean covers(Instant begin, Instant end) {
      return !begin.isBefore(from) && !end.isAfter(to);
    }

    int weight() {
      return (int) Math.min(Integer.MAX_VALUE, BYTES_PER_SLICE + counts.bytes());
    }
  }

  /** Reads whose closed part the cache held, grew (read the rest), or did not hold (read it all). */
  final java.util.concurrent.atomic.LongAdder covered = new java.util.concurrent.atomic.LongAdder();
  final java.util.concurrent.atomic.LongAdder grown = new java.util.concurrent.atomic.LongAdder();
  final java.util.concurrent.atomic.LongAdder missed = new java.util.concurrent.atomic.LongAdder();

  public long covered() {
    return covered.sum();
  }

  public long grown() {
    return grown.sum();
  }

  public long missed() {
    return missed.sum();
  }

  private final Cache<Key, Slice> slices;
  private final long maxSliceBytes;

  /** @param maxBytes the slices' estimated size at most; 0 keeps none */
  public StatsCache(long maxBytes) {
    this.maxSliceBytes = maxBytes / 4;
    this.slices = Caffeine.newBuilder().maximumWeight(maxBytes).weigher((Key k, Slice s) -> s.weight()).build();
  }

  /** The slice kept for {@code key} if it was read at {@code generation}. */
  Slice get(Key key, long generation) {
    Slice s = slices.getIfPresent(key);
    if (s != null && s.generation != generation) {
      slices.asMap().remove(key, s);
      return null;
    }
    return s;
  }

  void put(Key key, Slice slice) {
    if (slice.weight() <= maxSliceBytes) {
      slices.asMap().merge(key, slice, (old, fresh) -> fresh.generation >= old.generation ? fresh : old);
    }
  }

  /** The slices' estimated size now (for tests and the metrics). */
  public long estimatedBytes() {
    return slices.policy().eviction().map(e -> e.weightedSize().orElse(0L)).orElse(0L);
  }
}

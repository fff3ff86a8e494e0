package io.mailgate.store;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.mailgate.store.StatsStore.Count;
import io.mailgate.store.StatsStore.GroupBy;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
 * resolution, months are summed from days), event filter and single group; it covers one range, grows at its end as
 * the mark moves, and is read again whole when a request reaches before it. Bounded by {@code maxBytes}
 * ({@code MAILGATE_STATS_CACHE_BYTES}) by the slices' estimated size (least recently used go first); a slice over a
 * quarter of the bound is not kept.
 */
public final class StatsCache {

  /** What one counter costs in a slice: two longs and three references (their strings are shared within it). */
  static final int BYTES_PER_COUNT = 8 + 8 + 3 * 4;
  static final int BYTES_PER_SLICE = 256;

  record Key(UUID tenant, GroupBy by, boolean daily, List<String> events, String onlyGroup) {}

  /** Counters of [{@code from}, {@code to}) at a base resolution, in time order, read at {@code generation}. */
  static final class Slice {
    final long generation;
    final Instant from;
    final Instant to;
    final int size;
    final long[] time;
    final String[] group;
    final String[] event;
    final String[] severity;
    final long[] n;

    private Slice(long generation, Instant from, Instant to, int size, long[] time, String[] group, String[] event,
                  String[] severity, long[] n) {
      this.generation = generation;
      this.from = from;
      this.to = to;
      this.size = size;
      this.time = time;
      this.group = group;
      this.event = event;
      this.severity = severity;
      this.n = n;
    }

    /** The counts of {@code rows} (in time order, as a read orders them) as a slice of [from, to). */
    static Slice of(long generation, Instant from, Instant to, List<Count> rows) {
      return new Slice(generation, from, to, 0, new long[0], new String[0], new String[0], new String[0], new long[0])
          .extended(to, rows);
    }

    /** This slice and the counts of [this.to, to) after it. */
    Slice extended(Instant newTo, List<Count> rows) {
      int total = size + rows.size();
      long[] t = Arrays.copyOf(time, total);
      String[] g = Arrays.copyOf(group, total);
      String[] e = Arrays.copyOf(event, total);
      String[] s = Arrays.copyOf(severity, total);
      long[] c = Arrays.copyOf(n, total);
      // a read decodes every string anew: one instance per distinct value keeps a slice at BYTES_PER_COUNT
      Map<String, String> shared = new HashMap<>();
      for (int i = 0; i < size; i++) {
        share(shared, g[i]);
        share(shared, e[i]);
        share(shared, s[i]);
      }
      int i = size;
      for (Count r : rows) {
        t[i] = r.time().toEpochSecond();
        g[i] = share(shared, r.group());
        e[i] = share(shared, r.event());
        s[i] = share(shared, r.severity());
        c[i] = r.n();
        i++;
      }
      return new Slice(generation, from, newTo, total, t, g, e, s, c);
    }

    private static String share(Map<String, String> shared, String v) {
      return v == null ? null : shared.computeIfAbsent(v, x -> x);
    }

    boolean covers(Instant begin, Instant end) {
      return !begin.isBefore(from) && !end.isAfter(to);
    }

    /** The counts of [begin, end). */
    List<Count> between(Instant begin, Instant end) {
      int lo = lowerBound(begin.getEpochSecond());
      int hi = lowerBound(end.getEpochSecond());
      Count[] out = new Count[hi - lo];
      for (int i = lo; i < hi; i++) {
        out[i - lo] = new Count(OffsetDateTime.ofInstant(Instant.ofEpochSecond(time[i]), ZoneOffset.UTC), group[i],
            event[i], severity[i], n[i]);
      }
      return Arrays.asList(out);
    }

    private int lowerBound(long t) {
      int lo = 0;
      int hi = size;
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        if (time[mid] < t) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      return lo;
    }

    int weight() {
      return (int) Math.min(Integer.MAX_VALUE, BYTES_PER_SLICE + (long) size * BYTES_PER_COUNT);
    }
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

package io.mailgate.store;

import io.mailgate.store.StatsStore.Count;
import io.vertx.sqlclient.Row;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.BinaryOperator;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collector;

/**
 * Counters of a statistics read, a column each, in time order: about 28 bytes a counter, each distinct string once.
 * A read collects its rows straight into one ({@link #COLLECTOR}), so a week by hour and recipient domain (~50,000
 * counters) costs ~1.5 MB, not a row set, a list of records and a JSON tree of it (~50 MB, measured: 32 such answers
 * at once took a 256 MB gateway to OutOfMemoryError). Immutable once collected.
 */
public final class CountColumns {

  static final int BYTES_PER_COUNT = 8 + 8 + 3 * 4;

  private int size;
  private long[] time;
  private String[] group;
  private String[] event;
  private String[] severity;
  private long[] n;
  private final Map<String, String> shared = new HashMap<>();

  CountColumns(int capacity) {
    time = new long[capacity];
    group = new String[capacity];
    event = new String[capacity];
    severity = new String[capacity];
    n = new long[capacity];
  }

  public static final CountColumns EMPTY = new CountColumns(0);

  /** Rows {@code (t, g, event, severity, n)} into columns, as the database returns them. */
  static final Collector<Row, CountColumns, CountColumns> COLLECTOR = Collector.of(
      (Supplier<CountColumns>) () -> new CountColumns(256),
      (BiConsumer<CountColumns, Row>) (c, r) -> c.add(r.getOffsetDateTime(0).toEpochSecond(), r.getString(1),
          r.getString(2), r.getString(3), r.getLong(4)),
      (BinaryOperator<CountColumns>) (a, b) -> a.append(b, 0, b.size),
      Function.identity());

  public int size() {
    return size;
  }

  /** Epoch seconds of the bucket's start. */
  public long time(int i) {
    return time[i];
  }

  /** The group, null when not grouped. */
  public String group(int i) {
    return group[i];
  }

  public String event(int i) {
    return event[i];
  }

  public String severity(int i) {
    return severity[i];
  }

  public long n(int i) {
    return n[i];
  }

  void add(long t, String g, String e, String s, long count) {
    if (size == time.length) {
      int cap = Math.max(16, size * 2);
      time = Arrays.copyOf(time, cap);
      group = Arrays.copyOf(group, cap);
      event = Arrays.copyOf(event, cap);
      severity = Arrays.copyOf(severity, cap);
      n = Arrays.copyOf(n, cap);
    }
    time[size] = t;
    group[size] = share(g);
    event[size] = share(e);
    severity[size] = share(s);
    n[size] = count;
    size++;
  }

  private String share(String v) {
    return v == null ? null : shared.computeIfAbsent(v, x -> x);
  }

  /** Adds {@code other}'s counters [from, to) after this one's. @return this */
  CountColumns append(CountColumns other, int from, int to) {
    for (int i = from; i < to; i++) {
      add(other.time[i], other.group[i], other.event[i], other.severity[i], other.n[i]);
    }
    return this;
  }

  /** The index of the first counter at or after epoch second {@code t} (the columns are in time order). */
  int lowerBound(long t) {
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

  /** The counters of [begin, end), a copy. */
  CountColumns between(Instant begin, Instant end) {
    int lo = lowerBound(begin.getEpochSecond());
    int hi = lowerBound(end.getEpochSecond());
    return new CountColumns(hi - lo).append(this, lo, hi);
  }

  /** What the columns take, estimated. */
  long bytes() {
    return (long) time.length * BYTES_PER_COUNT;
  }

  /** As records (for callers that sum a few buckets). */
  public List<Count> toList() {
    List<Count> out = new ArrayList<>(size);
    for (int i = 0; i < size; i++) {
      out.add(new Count(OffsetDateTime.ofInstant(Instant.ofEpochSecond(time[i]), ZoneOffset.UTC), group[i], event[i],
          severity[i], n[i]));
    }
    return out;
  }
}

package io.mailgate.webhook.in;

import io.mailgate.error.OverloadedException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * The signed tokens seen within the timestamp window (Mailgun's signature covers its timestamp and token, not the
 * body, so a captured signature could carry other events). A token seen again with the same body is the provider
 * retrying a delivery (recorded once by its event id); with another body it is a replay. Tokens are kept by the
 * minute of their timestamp and dropped whole once that minute is past the window: a stale token is refused by
 * the window anyway. Bounded: when {@code maxTokens} tokens are within the window, new calls answer 503 (the provider
 * retries later) rather than forget a token that could still be replayed. Thread-safe; shared by the event loops
 * of a process (another process has its own, see README).
 */
final class ReplayCache {

  enum Seen { NEW, SAME_BODY, OTHER_BODY }

  private final int maxTokens;
  private final long windowMillis;
  private final TreeMap<Long, Map<Long, Long>> byMinute = new TreeMap<>();
  private int size;

  ReplayCache(int maxTokens, long windowMillis) {
    this.maxTokens = maxTokens;
    this.windowMillis = windowMillis;
  }

  /** Remembers {@code token} (a hash of it) with the body's hash; the caller has checked the timestamp's window. */
  synchronized Seen remember(long timestampMillis, long token, long body, long nowMillis) {
    expire(nowMillis);
    long minute = Math.floorDiv(timestampMillis, 60_000L);
    Map<Long, Long> bucket = byMinute.get(minute);
    Long known = bucket == null ? null : bucket.get(token);
    if (known != null) {
      return known == body ? Seen.SAME_BODY : Seen.OTHER_BODY;
    }
    if (size >= maxTokens) {
      throw new OverloadedException("too many webhook calls within the timestamp window (MAILGATE_PROVIDER_HOOK_REPLAY_CACHE);"
          + " retry later", 10);
    }
    byMinute.computeIfAbsent(minute, m -> new HashMap<>()).put(token, body);
    size++;
    return Seen.NEW;
  }

  synchronized int size() {
    return size;
  }

  private void expire(long nowMillis) {
    Iterator<Map.Entry<Long, Map<Long, Long>>> it = byMinute.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<Long, Map<Long, Long>> e = it.next();
      // every timestamp of the minute is older than now - window: the window refuses them all
      if ((e.getKey() + 1) * 60_000L + windowMillis >= nowMillis) {
        return;
      }
      size -= e.getValue().size();
      it.remove();
    }
  }
}

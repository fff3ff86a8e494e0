package io.mailgate.webhook.in;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mailgate.error.OverloadedException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 10, unit = TimeUnit.SECONDS)
class ReplayCacheTest {

  static final long WINDOW = 300_000;
  static final long NOW = 1_800_000_000_000L;

  @Test
  void aTokenSeenAgainIsTheSameCallWithTheSameBodyAndAReplayWithAnother() {
    ReplayCache c = new ReplayCache(10, WINDOW);
    assertEquals(ReplayCache.Seen.NEW, c.remember(NOW, 1, 100, NOW));
    assertEquals(ReplayCache.Seen.SAME_BODY, c.remember(NOW, 1, 100, NOW + 1000));
    assertEquals(ReplayCache.Seen.OTHER_BODY, c.remember(NOW, 1, 200, NOW + 1000));
    assertEquals(ReplayCache.Seen.NEW, c.remember(NOW, 2, 200, NOW + 1000));
  }

  @Test
  void whenFullOfTokensStillInTheWindowNewCallsAreRefusedNotForgotten() {
    ReplayCache c = new ReplayCache(2, WINDOW);
    c.remember(NOW, 1, 1, NOW);
    c.remember(NOW, 2, 1, NOW);
    assertThrows(OverloadedException.class, () -> c.remember(NOW, 3, 1, NOW));
    assertEquals(ReplayCache.Seen.OTHER_BODY, c.remember(NOW, 1, 9, NOW));
  }

  @Test
  void tokensPastTheWindowMakeRoom() {
    ReplayCache c = new ReplayCache(2, WINDOW);
    c.remember(NOW, 1, 1, NOW);
    c.remember(NOW, 2, 1, NOW);
    long later = NOW + WINDOW + 120_000;
    assertEquals(ReplayCache.Seen.NEW, c.remember(later, 3, 1, later));
    assertEquals(1, c.size());
  }
}

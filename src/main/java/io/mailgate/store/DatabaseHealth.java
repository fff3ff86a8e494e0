package io.mailgate.store;

import java.util.concurrent.atomic.AtomicReference;

/**
 * What the process knows about its database beyond a probe: the embedded server's supervisor marks it down while it
 * restarts the server, so {@code /health} says why at once instead of waiting for a query to time out. Thread-safe.
 */
public final class DatabaseHealth {

  private final AtomicReference<String> down = new AtomicReference<>();

  public void down(String why) {
    down.set(why);
  }

  public void up() {
    down.set(null);
  }

  /** Why the database is known to be down, or null. */
  public String downReason() {
    return down.get();
  }
}

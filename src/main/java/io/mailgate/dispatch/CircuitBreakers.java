package io.mailgate.dispatch;

import io.mailgate.backend.Outcome;
import io.mailgate.store.BackendStore;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One circuit per backend, in this dispatcher. {@code failures} consecutive backend faults (or one refusal of our
 * credentials) open it: no new chunk goes to the backend, the tenant's fallback takes them if residency allows,
 * and chunks already running on it stop and give their unsent recipients back. After {@code openTime} one chunk
 * goes to the backend as a probe (half-open): a message accepted closes the circuit, a backend fault opens it again.
 * What a dispatcher sees is written to {@code backends.health} for operators. Used from one event loop.
 */
final class CircuitBreakers {

  private static final Logger LOG = LoggerFactory.getLogger(CircuitBreakers.class);

  enum State { CLOSED, OPEN, HALF_OPEN }

  private static final class Circuit {
    State state = State.CLOSED;
    int failures;
    long openUntil;
    boolean probing;
    Outcome last;
  }

  private final int threshold;
  private final Duration openTime;
  private final BackendStore store;
  private final Consumer<UUID> onOpen;
  private final Map<UUID, Circuit> circuits = new HashMap<>();

  CircuitBreakers(int threshold, Duration openTime, BackendStore store, Consumer<UUID> onOpen) {
    this.threshold = threshold;
    this.openTime = openTime;
    this.store = store;
    this.onOpen = onOpen;
  }

  /** Backends no new chunk may go to now: open, or half-open with its probe under way. */
  Set<UUID> unavailable() {
    Set<UUID> out = new HashSet<>();
    long now = System.nanoTime();
    circuits.forEach((id, c) -> {
      if (c.state == State.OPEN && now - c.openUntil < 0 || c.state == State.HALF_OPEN && c.probing) {
        out.add(id);
      }
    });
    return out;
  }

  /** A chunk starts on the backend: if its circuit waits for a probe, this chunk is the probe. */
  void chunkStarted(UUID backend) {
    Circuit c = circuits.get(backend);
    if (c != null && c.state == State.OPEN && System.nanoTime() - c.openUntil >= 0) {
      c.state = State.HALF_OPEN;
      c.probing = true;
      LOG.atInfo().addKeyValue("backendId", backend).log("circuit half-open: probing the backend with one chunk");
    }
  }

  /** The probe chunk ended without a verdict (nothing was sent): let another chunk probe. */
  void chunkEnded(UUID backend) {
    Circuit c = circuits.get(backend);
    if (c != null && c.state == State.HALF_OPEN) {
      c.probing = false;
    }
  }

  /** Feeds one outcome: accepted or refused by the backend itself means it works; its own faults count against it. */
  void observe(UUID backend, String backendName, Outcome outcome) {
    Circuit seen = circuits.computeIfAbsent(backend, id -> new Circuit());
    if (seen.last == outcome) {
      return; // batch backends report one outcome instance for every recipient of a call: one call, one observation
    }
    seen.last = outcome;
    if (outcome instanceof Outcome.Temporary t) {
      if (t.fault() == Outcome.Fault.BACKEND) {
        failure(backend, backendName, false, t.message());
      } else if (t.fault() == Outcome.Fault.CREDENTIALS) {
        failure(backend, backendName, true, t.message());
      }
      return;
    }
    // Sent, or a permanent refusal of one recipient: the backend answered
    Circuit c = seen;
    c.failures = 0;
    if (c.state != State.CLOSED) {
      c.state = State.CLOSED;
      c.probing = false;
      LOG.atInfo().addKeyValue("backend", backendName).log("circuit closed: the backend works again");
      store.setHealth(backend, "healthy", null);
    }
  }

  private void failure(UUID backend, String backendName, boolean credentials, String reason) {
    Circuit c = circuits.get(backend);
    c.failures++;
    boolean open = credentials || c.state == State.HALF_OPEN || c.failures >= threshold;
    if (!open || c.state == State.OPEN) {
      return;
    }
    c.state = State.OPEN;
    c.probing = false;
    c.openUntil = System.nanoTime() + openTime.toNanos();
    String health = credentials ? "unhealthy" : "open";
    LOG.atWarn().addKeyValue("backend", backendName).addKeyValue("health", health).addKeyValue("failures", c.failures)
        .addKeyValue("reason", reason).log("circuit opened: new chunks go to the fallback, if any, for " + openTime.toSeconds() + "s");
    store.setHealth(backend, health, reason);
    onOpen.accept(backend);
  }
}

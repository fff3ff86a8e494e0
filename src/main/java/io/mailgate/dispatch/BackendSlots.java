package io.mailgate.dispatch;

import io.mailgate.backend.BackendSpec;
import io.mailgate.backend.BackendTypes;
import io.mailgate.backend.MailBackend;
import io.mailgate.store.BackendRecord;
import io.mailgate.store.BackendStore;
import io.mailgate.tenant.SecretBox;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This dispatcher's backend instances, one per backend and settings version, with the chunks each is running in
 * each lane. A backend with {@code MAILGATE_DISPATCH_CHUNKS_PER_BACKEND} campaign chunks running is full for the
 * campaign lane (two let the next chunk start while the last sends of one finish); the priority lane has its own
 * room per backend, so transactional mail never waits for a campaign's slots. When settings change, the old instance
 * finishes its chunks and is closed. Used from one event loop.
 */
final class BackendSlots {

  private static final Logger LOG = LoggerFactory.getLogger(BackendSlots.class);
  private static final long RELOAD_FAILED_AFTER_MS = 10_000;

  /** One backend instance and its running chunks. */
  static final class Slot {
    final UUID id;
    final int version;
    final long createdAt = System.currentTimeMillis();
    Future<MailBackend> backend;
    String name;
    int active;
    int activePriority;
    boolean retired;

    Slot(UUID id, int version) {
      this.id = id;
      this.version = version;
      this.name = id.toString();
    }
  }

  private final Vertx vertx;
  private final BackendStore store;
  private final SecretBox secrets;
  private final BackendTypes types;
  private final Map<UUID, Slot> slots = new HashMap<>();
  private final List<Slot> retired = new ArrayList<>();
  private final int chunksPerBackend;

  BackendSlots(Vertx vertx, BackendStore store, SecretBox secrets, BackendTypes types, int chunksPerBackend) {
    this.vertx = vertx;
    this.chunksPerBackend = chunksPerBackend;
    this.store = store;
    this.secrets = secrets;
    this.types = types;
  }

  Slot acquire(UUID id, int version, boolean priority) {
    Slot s = slots.get(id);
    boolean stale = s != null && (s.version < version
        || s.backend.failed() && System.currentTimeMillis() - s.createdAt > RELOAD_FAILED_AFTER_MS);
    if (s == null || stale) {
      if (s != null) {
        retire(s);
      }
      s = new Slot(id, version);
      s.backend = load(s);
      slots.put(id, s);
    }
    if (priority) {
      s.activePriority++;
    } else {
      s.active++;
    }
    return s;
  }

  void release(Slot s, boolean priority) {
    if (priority) {
      s.activePriority--;
    } else {
      s.active--;
    }
    if (s.retired && s.active + s.activePriority == 0) {
      retired.remove(s);
      closeQuietly(s);
    }
  }

  /**
   * Room of the priority lane per backend, for the backends that have less than {@code perBackend} (a backend
   * still being set up, or failing to be, gets one chunk, which reports why).
   */
  Map<UUID, Integer> priorityRoom(int perBackend) {
    Map<UUID, Integer> out = new HashMap<>();
    slots.forEach((id, s) -> {
      int limit = s.backend.succeeded() ? perBackend : 1;
      if (s.activePriority > 0 || limit < perBackend) {
        out.put(id, Math.max(0, limit - s.activePriority));
      }
    });
    return out;
  }

  /** Backends that may take no further chunk of the campaign lane now. */
  Set<UUID> full() {
    Set<UUID> out = new HashSet<>();
    slots.forEach((id, s) -> {
      // a backend still being set up (or failing to) gets one chunk, which reports why
      int limit = s.backend.succeeded() ? chunksPerBackend : 1;
      if (s.active >= limit) {
        out.add(id);
      }
    });
    return out;
  }

  Future<Void> closeAll() {
    List<Future<Void>> closing = new ArrayList<>();
    slots.values().forEach(s -> closing.add(closeQuietly(s)));
    retired.forEach(s -> closing.add(closeQuietly(s)));
    slots.clear();
    retired.clear();
    return Future.join(closing).mapEmpty();
  }

  private void retire(Slot s) {
    s.retired = true;
    if (s.active + s.activePriority == 0) {
      closeQuietly(s);
    } else {
      retired.add(s);
    }
  }

  private Future<Void> closeQuietly(Slot s) {
    return s.backend.compose(MailBackend::close).otherwiseEmpty().mapEmpty();
  }

  private Future<MailBackend> load(Slot slot) {
    UUID id = slot.id;
    return store.get(id).map(opt -> {
      BackendRecord r = opt.orElseThrow(() -> new IllegalStateException("backend " + id + " does not exist"));
      slot.name = r.name();
      if (r.version() != slot.version) {
        // changed since the claim checked its region: never send with settings nobody checked; the next claim will
        throw new IllegalStateException("backend '" + r.name() + "' changed since this chunk was claimed; retrying");
      }
      JsonObject settings = r.settings().copy();
      if (r.sealedSecrets() != null) {
        settings.mergeIn(new JsonObject(io.vertx.core.buffer.Buffer.buffer(secrets.open(r.sealedSecrets()))));
      }
      BackendSpec spec = new BackendSpec(r.id(), r.name(), r.type(), r.region(), settings, r.version());
      MailBackend b = types.get(r.type()).create(vertx, spec);
      LOG.atInfo().addKeyValue("backend", r.name()).addKeyValue("type", r.type()).addKeyValue("version", r.version())
          .log("backend ready");
      return b;
    }).onFailure(e -> LOG.atError().addKeyValue("backendId", id).addKeyValue("error", e.getMessage())
        .log("backend cannot be set up; its chunks are deferred"));
  }
}

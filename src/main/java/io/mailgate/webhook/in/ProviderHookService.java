package io.mailgate.webhook.in;

import io.mailgate.error.NotFoundException;
import io.mailgate.events.EventService;
import io.mailgate.message.EmailAddress;
import io.mailgate.stats.GatewayMetrics;
import io.mailgate.store.BackendRecord;
import io.mailgate.store.BackendStore;
import io.mailgate.store.EventStore.Incoming;
import io.mailgate.store.ProviderHookStore;
import io.mailgate.tenant.SecretBox;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A provider's webhook call, from the backend it names to the event log: the backend's hook verifies the call and maps
 * its events; each event goes to the tenant of the job it names, if that tenant is routed to this backend; the events
 * are recorded through {@link EventService} (grouped with concurrent calls) before the call is answered. Events whose
 * recipient cannot be found are logged and counted, never refused (a provider would retry them for days). A backend's
 * hook and a job's tenant are remembered for {@code ttlMillis} (at most {@code MAILGATE_PROVIDER_HOOK_LOOKUP_CACHE} of each;
 * full, it starts again empty), so a busy webhook costs one grouped write per call, not three statements: a changed
 * webhook setting or route takes effect within that time. One instance per event loop, used from that loop only.
 */
public final class ProviderHookService {

  private static final Logger LOG = LoggerFactory.getLogger(ProviderHookService.class);

  /** What a call came to: events handed to the event log, provider events not kept, events of unknown recipients. */
  public record Received(int events, int ignored, int unknownRecipients, String note) {}

  private final ProviderHooks hooks;
  private final BackendStore backends;
  private final SecretBox secrets;
  private final ProviderHookStore store;
  private final EventGroups groups;
  private final GatewayMetrics metrics;
  private final long ttlNanos;
  private final int maxCached;
  private final java.util.HashMap<UUID, Cached<Hook>> hookCache = new java.util.HashMap<>();
  private final java.util.HashMap<String, Cached<UUID>> tenantCache = new java.util.HashMap<>();

  private record Hook(String type, ProviderHook hook) {}

  private record Cached<T>(T value, long until) {}

  public ProviderHookService(ProviderHooks hooks, BackendStore backends, SecretBox secrets, ProviderHookStore store,
                        EventService events, GatewayMetrics metrics, long ttlMillis) {
    this.ttlNanos = ttlMillis * 1_000_000;
    this.maxCached = hooks.config().lookupCacheSize();
    this.hooks = hooks;
    this.backends = backends;
    this.secrets = secrets;
    this.store = store;
    this.metrics = metrics;
    this.groups = new EventGroups(events, hooks.config().groupMaxEvents(), hooks.config().groupWriters(),
        r -> metrics.webhookUnmatched(r.unmatched()));
  }

  public Future<Received> receive(String provider, String backendIdText, MultiMap headers, Buffer body) {
    if (!ProviderHooks.PROVIDERS.contains(provider)) {
      return Future.failedFuture(new NotFoundException("webhook"));
    }
    UUID backendId;
    try {
      backendId = backendIdText.length() == 36 ? UUID.fromString(backendIdText) : null;
    } catch (IllegalArgumentException e) {
      backendId = null;
    }
    if (backendId == null) {
      return Future.failedFuture(new NotFoundException("webhook"));
    }
    UUID backend = backendId;
    long now = System.currentTimeMillis();
    return hook(backend).compose(h -> {
      // another type's backend answers like a missing one
      if (!h.type().equals(provider)) {
        return Future.failedFuture(new NotFoundException("webhook"));
      }
      return h.hook().receive(new HookRequest(headers, body, now));
    }).compose(call -> record(provider, backend, call));
  }

  private Future<Hook> hook(UUID backend) {
    Hook known = cached(hookCache, backend);
    if (known != null) {
      return Future.succeededFuture(known);
    }
    return backends.get(backend).map(found -> {
      BackendRecord r = found.filter(b -> ProviderHooks.PROVIDERS.contains(b.type()))
          .orElseThrow(() -> new NotFoundException("webhook"));
      JsonObject settings = r.settings().copy();
      if (r.sealedSecrets() != null) {
        settings.mergeIn(new JsonObject(Buffer.buffer(secrets.open(r.sealedSecrets()))));
      }
      Hook h = new Hook(r.type(), hooks.forBackend(r.type(), settings));
      remember(hookCache, backend, h);
      return h;
    });
  }

  private <K, V> V cached(java.util.Map<K, Cached<V>> cache, K key) {
    Cached<V> c = cache.get(key);
    if (c == null) {
      return null;
    }
    if (System.nanoTime() - c.until() > 0) {
      cache.remove(key);
      return null;
    }
    return c.value();
  }

  private <K, V> void remember(java.util.Map<K, Cached<V>> cache, K key, V value) {
    if (ttlNanos <= 0 || maxCached == 0) {
      return;
    }
    if (cache.size() >= maxCached) {
      cache.clear();
    }
    cache.put(key, new Cached<>(value, System.nanoTime() + ttlNanos));
  }

  /** The tenants of the jobs (those routed to the backend), from the cache where known. */
  private Future<java.util.Map<UUID, UUID>> tenants(UUID backend, List<UUID> jobs) {
    java.util.Map<UUID, UUID> out = new java.util.HashMap<>();
    List<UUID> unknown = new ArrayList<>();
    for (UUID j : jobs) {
      UUID t = cached(tenantCache, backend + "/" + j);
      if (t != null) {
        out.put(j, t);
      } else {
        unknown.add(j);
      }
    }
    if (unknown.isEmpty()) {
      return Future.succeededFuture(out);
    }
    return store.tenantsOfJobs(backend, unknown).map(found -> {
      found.forEach((j, t) -> remember(tenantCache, backend + "/" + j, t));
      out.putAll(found);
      return out;
    });
  }

  private Future<Received> record(String provider, UUID backend, HookCall call) {
    List<ProviderEvent> usable = new ArrayList<>(call.events().size());
    int ignored = call.ignored();
    for (ProviderEvent e : call.events()) {
      if (e.email() == null || EmailAddress.problem(e.email()) != null) {
        ignored++; // no address the event log could hold: nothing to record it against
      } else {
        usable.add(e);
      }
    }
    int ignoredTotal = ignored;
    List<UUID> jobs = usable.stream().map(ProviderEvent::jobId).filter(java.util.Objects::nonNull).distinct().toList();
    return tenants(backend, jobs).compose(tenants -> {
      List<Incoming> in = new ArrayList<>(usable.size());
      int unknown = 0;
      for (ProviderEvent e : usable) {
        UUID tenant = e.jobId() == null ? null : tenants.get(e.jobId());
        if (tenant == null) {
          unknown++;
          continue;
        }
        in.add(new Incoming(tenant, e.jobId(), e.seq(), EmailAddress.normalize(e.email()), e.type(), e.severity(), e.code(), e.message(),
            e.messageId(), backend, "webhook:" + provider, e.eventId() == null ? null : backend + "/" + e.eventId()));
      }
      int unknownTotal = unknown;
      metrics.webhookEvents(provider, "ignored", ignoredTotal);
      metrics.webhookEvents(provider, "unknown_recipient", unknownTotal);
      if (unknownTotal > 0) {
        LOG.atWarn().addKeyValue("provider", provider).addKeyValue("backendId", backend).addKeyValue("events", unknownTotal)
            .log("webhook events name no recipient of a tenant routed to this backend; answered 200, not recorded");
      }
      return groups.record(in).map(v -> {
        metrics.webhookEvents(provider, "received", in.size());
        return new Received(in.size(), ignoredTotal, unknownTotal, call.note());
      });
    });
  }
}

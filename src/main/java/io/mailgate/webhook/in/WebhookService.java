package io.mailgate.webhook.in;

import io.mailgate.error.NotFoundException;
import io.mailgate.events.EventService;
import io.mailgate.message.EmailAddress;
import io.mailgate.stats.GatewayMetrics;
import io.mailgate.store.BackendRecord;
import io.mailgate.store.BackendStore;
import io.mailgate.store.EventStore.Incoming;
import io.mailgate.store.WebhookStore;
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
 * recipient cannot be found are logged and counted, never refused (a provider would retry them for days). One
 * instance per event loop.
 */
public final class WebhookService {

  private static final Logger LOG = LoggerFactory.getLogger(WebhookService.class);

  /** What a call came to: events handed to the event log, provider events not kept, events of unknown recipients. */
  public record Received(int events, int ignored, int unknownRecipients, String note) {}

  private final ProviderHooks hooks;
  private final BackendStore backends;
  private final SecretBox secrets;
  private final WebhookStore store;
  private final EventGroups groups;
  private final GatewayMetrics metrics;

  public WebhookService(ProviderHooks hooks, BackendStore backends, SecretBox secrets, WebhookStore store,
                        EventService events, GatewayMetrics metrics) {
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
    return backends.get(backend).compose(found -> {
      // another type's backend answers like a missing one
      BackendRecord r = found.filter(b -> b.type().equals(provider)).orElseThrow(() -> new NotFoundException("webhook"));
      JsonObject settings = r.settings().copy();
      if (r.sealedSecrets() != null) {
        settings.mergeIn(new JsonObject(Buffer.buffer(secrets.open(r.sealedSecrets()))));
      }
      return hooks.forBackend(provider, settings).receive(new HookRequest(headers, body, now));
    }).compose(call -> record(provider, backend, call));
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
    return store.tenantsOfJobs(backend, jobs).compose(tenants -> {
      List<Incoming> in = new ArrayList<>(usable.size());
      int unknown = 0;
      for (ProviderEvent e : usable) {
        UUID tenant = e.jobId() == null ? null : tenants.get(e.jobId());
        if (tenant == null) {
          unknown++;
          continue;
        }
        in.add(new Incoming(tenant, e.jobId(), e.seq(), e.email(), e.type(), e.severity(), e.code(), e.message(),
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

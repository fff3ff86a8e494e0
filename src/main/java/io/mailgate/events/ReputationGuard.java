package io.mailgate.events;

import io.mailgate.events.Reputation.Figures;
import io.mailgate.events.Reputation.Thresholds;
import io.mailgate.stats.GatewayMetrics;
import io.mailgate.store.TenantStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Auto-pause, like Amazon SES's "sending paused": every {@code interval} it judges each tenant's last 24 hours (the
 * hourly counters; after an operator's resume only the hours since) overall and per sender domain; a tenant with a
 * critical rate (against its own thresholds where an operator set them, else the global ones) is held with reason
 * {@code reputation}. A held tenant's chunks are not claimed; nothing of it is
 * failed, expired or lost, and the hold never lifts by itself: an operator resumes it
 * ({@code POST /v1/admin/tenants/{id}/resume}).
 */
public final class ReputationGuard extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(ReputationGuard.class);

  // the last 24 hours of every tenant not held, per sender domain (from the summaries, the open hours from the
  // counters), and after its last resume only
  private static final String WINDOW = "SELECT s.tenant_id, s.g, s.event, s.severity, sum(s.n)::bigint AS n, t.name FROM ("
      + io.mailgate.store.StatsStore.source('s', false, null, "$1::timestamptz", "$2::timestamptz") + ") s"
      + " JOIN tenants t ON t.id = s.tenant_id"
      + " WHERE t.hold_reason IS NULL AND (t.resumed_at IS NULL OR s.t > date_trunc('hour', t.resumed_at, 'UTC'))"
      + " GROUP BY 1, 2, 3, 4, 6";

  private final Pool pool;
  private final TenantStore tenants;
  private final Thresholds thresholds;
  private final Duration interval;
  private final GatewayMetrics metrics;
  private long timer = -1;

  public ReputationGuard(Pool pool, Thresholds thresholds, Duration interval, GatewayMetrics metrics) {
    this.pool = pool;
    this.tenants = new TenantStore(pool);
    this.thresholds = thresholds;
    this.interval = interval;
    this.metrics = metrics;
  }

  @Override
  public Future<?> start() {
    timer = vertx.setPeriodic(interval.toMillis(), id -> check());
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    return Future.succeededFuture();
  }

  /** One pass; the tenants it held. */
  public Future<Integer> check() {
    OffsetDateTime since = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.HOURS).minusHours(23);
    Future<Map<UUID, io.vertx.core.json.JsonObject>> own = tenants.thresholdOverrides();
    return own.compose(o -> pool.preparedQuery(WINDOW).execute(Tuple.of(since, since.plusHours(25)))).compose(rows -> {
      Map<UUID, Map<String, Figures>> byTenant = new HashMap<>();
      Map<UUID, String> names = new HashMap<>();
      for (Row r : rows) {
        names.put(r.getUUID(0), r.getString(5));
        var w = new io.mailgate.store.StatsStore.Window(r.getUUID(0), r.getString(1), r.getString(2), r.getString(3), r.getLong(4));
        Map<String, Figures> domains = byTenant.computeIfAbsent(w.tenantId(), x -> new HashMap<>());
        domains.computeIfAbsent(w.senderDomain(), x -> new Figures()).add(w);
        domains.computeIfAbsent(null, x -> new Figures()).add(w); // null: the tenant overall
      }
      Future<Integer> held = Future.succeededFuture(0);
      java.util.List<GatewayMetrics.TenantReputation> verdicts = new java.util.ArrayList<>();
      for (var e : byTenant.entrySet()) {
        Thresholds t = thresholds.with(own.result().get(e.getKey()));
        Reputation.Status worst = Reputation.Status.OK;
        double risk = 0;
        for (Figures f : e.getValue().values()) {
          worst = worst.worst(f.status(t));
          risk = Math.max(risk, f.risk(t));
        }
        verdicts.add(new GatewayMetrics.TenantReputation(names.get(e.getKey()), worst, risk));
        String why = critical(e.getValue(), t);
        if (why != null) {
          UUID tenant = e.getKey();
          held = held.compose(n -> tenants.hold(tenant, "reputation", why).map(now -> {
            if (now) {
              metrics.reputationHold();
              LOG.atWarn().addKeyValue("tenant", tenant).addKeyValue("reason", why)
                  .log("tenant held: a reputation rate reached its critical level; an operator must resume it");
            }
            return now ? n + 1 : n;
          }));
        }
      }
      metrics.tenantReputations(verdicts);
      return held;
    }).compose(n -> tenants.held().map(h -> {
      metrics.tenantsHeld(h);
      return n;
    })).onFailure(e -> LOG.atWarn().addKeyValue("error", e.getMessage()).log("reputation check failed; trying again later"));
  }

  /** Why the figures are critical (overall, or of which sender domain), or null. */
  private static String critical(Map<String, Figures> domains, Thresholds thresholds) {
    for (var d : domains.entrySet()) {
      Figures f = d.getValue();
      if (f.status(thresholds) == Reputation.Status.CRITICAL) {
        return (d.getKey() == null ? "overall" : "sender domain " + (d.getKey().isEmpty() ? "(none)" : d.getKey()))
            + String.format(java.util.Locale.ROOT, ": complaint rate %.3f%%, bounce rate %.3f%% of %d messages in the last 24 h"
                + " (critical at %.3f%% and %.3f%%)", 100 * f.complaintRate(), 100 * f.bounceRate(), f.attempted(),
                100 * thresholds.complaintCritical(), 100 * thresholds.bounceCritical());
      }
    }
    return null;
  }
}

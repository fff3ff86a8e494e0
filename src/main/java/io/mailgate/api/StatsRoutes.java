package io.mailgate.api;

import io.mailgate.error.InvalidInputException;
import io.mailgate.events.Reputation;
import io.mailgate.events.Reputation.Figures;
import io.mailgate.events.Reputation.Thresholds;
import io.mailgate.store.EventStore;
import io.mailgate.store.StatsStore;
import io.mailgate.store.StatsStore.Count;
import io.mailgate.store.StatsStore.GroupBy;
import io.mailgate.store.StatsStore.Resolution;
import io.mailgate.store.StatsStore.Window;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Volume and reputation statistics from the rollups: {@code GET /v1/stats} and {@code GET /v1/reputation} for a
 * tenant, {@code GET /v1/admin/stats} and {@code GET /v1/admin/reputation} across tenants (the latter ranked by risk).
 */
final class StatsRoutes {
  private StatsRoutes() {}

  /** The widest range one call may ask for, per resolution (bounds the rows a call reads). */
  static final Duration MAX_HOURS = Duration.ofDays(31);
  /**
   * By hour and recipient domain or tag, a busy tenant's month is ~100,000 counters (a 10 MB answer, ~0.5 s of
   * database time on 30 days of 100 tenants): a week by hour, longer ranges by day.
   */
  static final Duration MAX_HOURS_BY_DOMAIN_OR_TAG = Duration.ofDays(7);
  static final Duration MAX_DAYS = Duration.ofDays(400);
  static final Duration MAX_MONTHS = Duration.ofDays(3 * 366);

  private static final Map<String, GroupBy> TENANT_GROUPS = Map.of("backend", GroupBy.BACKEND,
      "senderDomain", GroupBy.SENDER_DOMAIN, "recipientDomain", GroupBy.RECIPIENT_DOMAIN, "tag", GroupBy.TAG);

  static void mount(Router router, Auth auth, StatsStore stats, io.mailgate.store.TenantStore tenantStore, Thresholds thresholds) {
    router.route("/v1/stats*").handler(auth.tenant());
    router.route("/v1/reputation*").handler(auth.tenant());

    router.get("/v1/stats").handler(Responses.encodedJson(200, ctx -> stats(ctx, stats, Auth.tenant(ctx).id(), TENANT_GROUPS)));
    router.get("/v1/admin/stats").handler(Responses.encodedJson(200, ctx -> {
      Map<String, GroupBy> groups = new LinkedHashMap<>(TENANT_GROUPS);
      groups.put("tenant", GroupBy.TENANT);
      return stats(ctx, stats, null, groups);
    }));
    router.get("/v1/reputation").handler(Responses.json(200, ctx -> {
      EventRoutes.onlyParams(ctx, Set.of());
      Thresholds mine = thresholds.with(Auth.tenant(ctx).reputationThresholds());
      return reputation(stats, Auth.tenant(ctx).id(), mine).map(byTenant ->
          reputationJson(byTenant.getOrDefault(Auth.tenant(ctx).id(), new TreeMap<>()), mine));
    }));
    router.get("/v1/admin/reputation").handler(Responses.json(200, ctx -> {
      EventRoutes.onlyParams(ctx, Set.of());
      Future<Map<UUID, JsonObject>> own = tenantStore.thresholdOverrides();
      return own.compose(o -> reputation(stats, null, thresholds)).map(byTenant -> {
        List<JsonObject> tenants = new ArrayList<>();
        byTenant.forEach((tenant, domains) -> {
          Thresholds t = thresholds.with(own.result().get(tenant));
          JsonObject o = reputationJson(domains, t).put("tenant", tenant.toString());
          Figures[] overall = overall(domains);
          double risk = 0;
          for (Figures f : overall) {
            risk = Math.max(risk, f.risk(t));
          }
          tenants.add(o.put("risk", Math.round(risk * 1000) / 1000.0));
        });
        tenants.sort((a, b) -> Double.compare(b.getDouble("risk"), a.getDouble("risk")));
        return new JsonObject().put("tenants", new JsonArray(new ArrayList<>(tenants))).put("thresholds", thresholds(thresholds));
      });
    }));
  }

  private static Future<Buffer> stats(RoutingContext ctx, StatsStore stats, UUID tenant, Map<String, GroupBy> groups) {
    EventRoutes.onlyParams(ctx, Set.of("begin", "end", "resolution", "groupBy", "event", "limit"));
    var req = ctx.request();
    String resName = req.getParam("resolution") == null ? "day" : req.getParam("resolution");
    Resolution res = switch (resName) {
      case "hour" -> Resolution.HOUR;
      case "day" -> Resolution.DAY;
      case "month" -> Resolution.MONTH;
      default -> throw new InvalidInputException("invalid_parameter", "resolution must be hour, day or month", "resolution");
    };
    String groupName = req.getParam("groupBy");
    GroupBy by = groupName == null ? GroupBy.NONE : groups.get(groupName);
    if (by == null) {
      throw new InvalidInputException("invalid_parameter", "groupBy must be one of " + groups.keySet(), "groupBy");
    }
    int limit = Params.limit(ctx, DEFAULT_GROUPS, MAX_GROUPS);
    List<String> events = new ArrayList<>();
    for (String v : req.params().getAll("event")) {
      for (String e : v.split(",")) {
        if (!EventStore.TYPES.contains(e.trim())) {
          throw new InvalidInputException("invalid_parameter", "event must be one of " + EventStore.TYPES, "event");
        }
        events.add(e.trim());
      }
    }
    ChronoUnit unit = res == Resolution.HOUR ? ChronoUnit.HOURS : ChronoUnit.DAYS;
    OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC);
    OffsetDateTime end = EventRoutes.time(req.getParam("end"), "end");
    end = end == null ? now.truncatedTo(unit).plus(1, unit) : ceil(end.withOffsetSameInstant(ZoneOffset.UTC), unit);
    OffsetDateTime begin = EventRoutes.time(req.getParam("begin"), "begin");
    Duration span = res == Resolution.HOUR ? Duration.ofDays(1) : res == Resolution.DAY ? Duration.ofDays(7) : Duration.ofDays(365);
    begin = begin == null ? end.minus(span) : begin.withOffsetSameInstant(ZoneOffset.UTC).truncatedTo(unit);
    if (res == Resolution.MONTH) {
      begin = begin.withDayOfMonth(1);
    }
    if (!begin.isBefore(end)) {
      throw new InvalidInputException("invalid_parameter", "begin must be before end", "begin");
    }
    // across tenants, sender domains and tenants are as many groups as a tenant's recipient domains, or more: a month
    // by hour of 100 tenants' 300 sender domains was ~240,000 counters and 2.4-5.5 s of one of the few statistics
    // connections (StatsBench)
    boolean wide = by == GroupBy.RECIPIENT_DOMAIN || by == GroupBy.TAG
        || (tenant == null && (by == GroupBy.SENDER_DOMAIN || by == GroupBy.TENANT));
    Duration max = res == Resolution.HOUR ? (wide ? MAX_HOURS_BY_DOMAIN_OR_TAG : MAX_HOURS)
        : res == Resolution.DAY ? MAX_DAYS : MAX_MONTHS;
    // begin is rounded down and end up to the resolution: "the last 7 days" spans 7 days and part of an hour
    if (Duration.between(begin, end).compareTo(max.plus(1, unit)) > 0) {
      throw new InvalidInputException("invalid_parameter", "at most " + max.toDays() + " days per call at this resolution",
          "begin");
    }
    OffsetDateTime b = begin;
    OffsetDateTime e = end;
    // a week by hour and recipient domain is ~50,000 counters, a 0.5 MB answer: shaped and encoded on a worker, not
    // an event loop
    return stats.columns(tenant, begin, end, res, by, events, null)
        .compose(counts -> ctx.vertx().executeBlocking(() -> series(counts, b, e, resName, groupName, limit), false));
  }

  /**
   * How many groups an answer lists, at most ({@code limit}): the ones with the most events; the others are summed
   * into {@code rest}. A dashboard draws the top few; a week by hour of all 41 recipient domains is a 0.7 MB answer.
   */
  static final int DEFAULT_GROUPS = 10;
  static final int MAX_GROUPS = 1000;

  private static OffsetDateTime ceil(OffsetDateTime t, ChronoUnit unit) {
    OffsetDateTime f = t.truncatedTo(unit);
    return f.equals(t) ? f : f.plus(1, unit);
  }

  private static final com.fasterxml.jackson.core.JsonFactory JSON = new com.fasterxml.jackson.core.JsonFactory();

  /**
   * The answer, written straight from the columns: the {@code limit} groups with the most events (ties by name), most
   * first, each a point per bucket and its totals; the other groups summed into {@code rest} (with their number); the
   * totals of all. No JSON tree: a week by hour and recipient domain is ~27,000 counters.
   */
  static Buffer series(io.mailgate.store.CountColumns c, OffsetDateTime begin, OffsetDateTime end, String res,
                       String groupBy, int limit) throws java.io.IOException {
    Map<String, Integer> ids = new java.util.HashMap<>();
    List<String> names = new ArrayList<>();
    List<long[]> volume = new ArrayList<>();
    int[] groupOf = new int[c.size()];
    for (int i = 0; i < c.size(); i++) {
      String name = c.group(i) == null ? "" : c.group(i);
      Integer id = ids.get(name);
      if (id == null) {
        id = names.size();
        ids.put(name, id);
        names.add(name);
        volume.add(new long[1]);
      }
      groupOf[i] = id;
      volume.get(id)[0] += c.n(i);
    }
    Integer[] ranked = new Integer[names.size()];
    for (int g = 0; g < ranked.length; g++) {
      ranked[g] = g;
    }
    java.util.Arrays.sort(ranked, (x, y) -> volume.get(x)[0] != volume.get(y)[0]
        ? Long.compare(volume.get(y)[0], volume.get(x)[0]) : names.get(x).compareTo(names.get(y)));
    int shown = Math.min(limit, ranked.length);
    // a rank per group, the rest sharing rank `shown`; a stable counting sort keeps each rank's counters in time order
    int[] rankOf = new int[ranked.length];
    for (int r = 0; r < ranked.length; r++) {
      rankOf[ranked[r]] = Math.min(r, shown);
    }
    int[] start = new int[shown + 2];
    for (int i = 0; i < c.size(); i++) {
      start[rankOf[groupOf[i]] + 1]++;
    }
    for (int r = 0; r <= shown; r++) {
      start[r + 1] += start[r];
    }
    int[] order = new int[c.size()];
    int[] next = start.clone();
    for (int i = 0; i < c.size(); i++) {
      order[next[rankOf[groupOf[i]]]++] = i;
    }
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(Math.max(256, c.size() * 24));
    try (com.fasterxml.jackson.core.JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("begin", begin.toInstant().toString());
      g.writeStringField("end", end.toInstant().toString());
      g.writeStringField("resolution", res);
      g.writeStringField("groupBy", groupBy);
      g.writeArrayFieldStart("items");
      Tally totals = new Tally();
      for (int r = 0; r < shown; r++) {
        g.writeStartObject();
        writePoints(g, c, order, start[r], start[r + 1], totals);
        if (groupBy != null) {
          g.writeStringField("group", names.get(ranked[r]));
        }
        g.writeEndObject();
      }
      g.writeEndArray();
      if (ranked.length > shown) {
        // the rest's counters come group by group: sorted by time again (stable: equal times keep their order)
        int from = start[shown];
        int to = start[shown + 1];
        Integer[] rest = new Integer[to - from];
        for (int k = from; k < to; k++) {
          rest[k - from] = order[k];
        }
        java.util.Arrays.sort(rest, (x, y) -> Long.compare(c.time(x), c.time(y)));
        for (int k = from; k < to; k++) {
          order[k] = rest[k - from];
        }
        g.writeObjectFieldStart("rest");
        g.writeNumberField("groups", ranked.length - shown);
        writePoints(g, c, order, from, to, totals);
        g.writeEndObject();
      }
      g.writeFieldName("totals");
      totals.write(g);
      g.writeEndObject();
    }
    return Buffer.buffer(out.toByteArray());
  }

  /** The points of counters {@code order[from..to)} (in time order), a point per bucket, and their totals. */
  private static void writePoints(com.fasterxml.jackson.core.JsonGenerator g, io.mailgate.store.CountColumns c, int[] order,
                                  int from, int to, Tally totals) throws java.io.IOException {
    Tally groupTotals = new Tally();
    g.writeArrayFieldStart("points");
    int k = from;
    while (k < to) {
      long t = c.time(order[k]);
      Tally point = new Tally();
      for (; k < to && c.time(order[k]) == t; k++) {
        int i = order[k];
        point.add(c.event(i), c.severity(i), c.n(i));
        groupTotals.add(c.event(i), c.severity(i), c.n(i));
        totals.add(c.event(i), c.severity(i), c.n(i));
      }
      g.writeStartObject();
      g.writeStringField("time", java.time.Instant.ofEpochSecond(t).toString());
      g.writeFieldName("counts");
      point.write(g);
      g.writeEndObject();
    }
    g.writeEndArray();
    g.writeFieldName("totals");
    groupTotals.write(g);
  }

  /** Counts by event, in the order first seen; bounced and failed also by severity ("bounced.hard"). */
  private static final class Tally {
    private final Map<String, long[]> counts = new LinkedHashMap<>();

    void add(String event, String severity, long n) {
      counts.computeIfAbsent(event, x -> new long[1])[0] += n;
      if ((event.equals("bounced") || event.equals("failed")) && !severity.isEmpty()) {
        counts.computeIfAbsent(event + "." + severity, x -> new long[1])[0] += n;
      }
    }

    void write(com.fasterxml.jackson.core.JsonGenerator g) throws java.io.IOException {
      g.writeStartObject();
      for (Map.Entry<String, long[]> e : counts.entrySet()) {
        g.writeNumberField(e.getKey(), e.getValue()[0]);
      }
      g.writeEndObject();
    }
  }

  /** Counts by event; bounced and failed also by severity ("bounced.hard"). */
  private static void add(JsonObject o, Count c) {
    o.put(c.event(), o.getLong(c.event(), 0L) + c.n());
    if ((c.event().equals("bounced") || c.event().equals("failed")) && !c.severity().isEmpty()) {
      String k = c.event() + "." + c.severity();
      o.put(k, o.getLong(k, 0L) + c.n());
    }
  }

  static final String[] WINDOWS = {"24h", "7d", "30d"};

  /** Per tenant, per sender domain: the figures of the 24 h, 7 d and 30 d windows. */
  private static Future<Map<UUID, Map<String, Figures[]>>> reputation(StatsStore stats, UUID tenant, Thresholds t) {
    OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC);
    // 24 h from the hourly counters; 7 and 30 days from one pass over the daily ones
    Future<List<Window>> day = stats.window(tenant, now.truncatedTo(ChronoUnit.HOURS).minusHours(23));
    Future<List<Window[]>> longer = stats.weekAndMonth(tenant, StatsStore.firstDay(7), StatsStore.firstDay(30));
    return Future.all(day, longer).map(v -> {
      Map<UUID, Map<String, Figures[]>> out = new TreeMap<>();
      for (Window w : day.result()) {
        figures(out, w)[0].add(w);
      }
      for (Window[] ws : longer.result()) {
        Figures[] fs = figures(out, ws[1]);
        fs[1].add(ws[0]);
        fs[2].add(ws[1]);
      }
      return out;
    });
  }

  private static Figures[] figures(Map<UUID, Map<String, Figures[]>> out, Window w) {
    return out.computeIfAbsent(w.tenantId(), x -> new TreeMap<>())
        .computeIfAbsent(w.senderDomain(), x -> new Figures[] {new Figures(), new Figures(), new Figures()});
  }

  private static Figures[] overall(Map<String, Figures[]> domains) {
    Figures[] all = {new Figures(), new Figures(), new Figures()};
    domains.values().forEach(fs -> {
      for (int i = 0; i < 3; i++) {
        all[i].merge(fs[i]);
      }
    });
    return all;
  }

  private static JsonObject reputationJson(Map<String, Figures[]> domains, Thresholds t) {
    Figures[] all = overall(domains);
    JsonObject overall = windows(all, t);
    JsonArray byDomain = new JsonArray();
    domains.forEach((d, fs) -> byDomain.add(windows(fs, t).put("senderDomain", d.isEmpty() ? null : d)));
    return new JsonObject().put("status", overall.getString("status")).put("overall", overall).put("senderDomains", byDomain)
        .put("thresholds", thresholds(t));
  }

  /** The three windows, and the worst status among them. */
  private static JsonObject windows(Figures[] fs, Thresholds t) {
    JsonObject o = new JsonObject();
    Reputation.Status worst = Reputation.Status.OK;
    for (int i = 0; i < WINDOWS.length; i++) {
      o.put(WINDOWS[i], fs[i].json(t));
      worst = worst.worst(fs[i].status(t));
    }
    return o.put("status", worst.json());
  }

  private static JsonObject thresholds(Thresholds t) {
    return t.json();
  }

  /**
   * {@code GET /v1/admin/stats/backends?window=1h|24h}: per backend, what the counters hold for the window across all
   * gateway processes (sent, deferred, failed; the deferral and failure rates of the attempts), and what this process
   * measured since it started (send latency percentiles, outcomes).
   */
  static void mountBackends(Router router, StatsStore stats, io.mailgate.stats.GatewayMetrics metrics) {
    router.get("/v1/admin/stats/backends").handler(Responses.json(200, ctx -> {
      EventRoutes.onlyParams(ctx, Set.of("window"));
      String window = ctx.queryParams().get("window") == null ? "24h" : ctx.queryParams().get("window");
      int hours = switch (window) {
        case "1h" -> 1;
        case "24h" -> 24;
        default -> throw new InvalidInputException("invalid_parameter", "window must be 1h or 24h", "window");
      };
      OffsetDateTime end = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.HOURS).plusHours(1);
      return stats.counts(null, end.minusHours(hours), end, Resolution.HOUR, GroupBy.BACKEND,
          List.of("sent", "deferred", "failed")).map(counts -> {
            Map<String, JsonObject> byBackend = new TreeMap<>();
            for (Count c : counts) {
              add(byBackend.computeIfAbsent(c.group(), g -> new JsonObject()), c);
            }
            Map<String, io.mailgate.stats.GatewayMetrics.BackendFigures> local = new TreeMap<>();
            metrics.backendFigures().forEach(f -> local.put(f.backend(), f));
            Set<String> names = new java.util.TreeSet<>(byBackend.keySet());
            names.addAll(local.keySet());
            names.remove("none");
            JsonArray items = new JsonArray();
            for (String name : names) {
              JsonObject c = byBackend.getOrDefault(name, new JsonObject());
              long sent = c.getLong("sent", 0L);
              long deferred = c.getLong("deferred", 0L);
              long failed = c.getLong("failed", 0L);
              long attempts = Math.max(sent + deferred + failed, 1);
              JsonObject item = new JsonObject().put("backend", name)
                  .put("window", new JsonObject().put("sent", sent).put("deferred", deferred).put("failed", failed)
                      .put("deferralRate", Math.round(deferred * 1_000_000.0 / attempts) / 1_000_000.0)
                      .put("failureRate", Math.round(failed * 1_000_000.0 / attempts) / 1_000_000.0));
              var f = local.get(name);
              if (f != null) {
                item.put("thisProcess", new JsonObject().put("sends", f.sends()).put("outcomes", new JsonObject(new LinkedHashMap<>(f.outcomes())))
                    .put("latencyMillis", new JsonObject().put("p50", f.p50Millis()).put("p90", f.p90Millis())
                        .put("p99", f.p99Millis()).put("max", f.maxMillis())));
              }
              items.add(item);
            }
            return new JsonObject().put("window", window).put("backends", items);
          });
    }));
  }
}

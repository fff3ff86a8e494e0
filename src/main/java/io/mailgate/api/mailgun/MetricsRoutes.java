package io.mailgate.api.mailgun;

import io.mailgate.api.mailgun.StatsRoutes.Range;
import io.mailgate.api.mailgun.StatsRoutes.Tally;
import io.mailgate.error.InvalidInputException;
import io.mailgate.message.EmailAddress;
import io.mailgate.store.StatsStore;
import io.mailgate.store.StatsStore.Count;
import io.mailgate.store.StatsStore.GroupBy;
import io.mailgate.store.StatsStore.Resolution;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * {@code POST /v1/analytics/metrics}, Mailgun's successor of the stats API: the tenant's counts and rates from the
 * rollups, by time (hour, day, month), sending domain or tag, filtered by domain or tag. The metrics are those our
 * counters hold ({@link #METRICS}); any other is refused by name, as are dimensions and filters we do not keep.
 */
final class MetricsRoutes {
  private MetricsRoutes() {}

  static final long MAX_BODY_BYTES = 64 * 1024;
  static final int DEFAULT_ITEMS = 1500;
  static final int MAX_ITEMS = 10_000;

  private static final Set<String> FIELDS = Set.of("start", "end", "resolution", "duration", "dimensions", "metrics",
      "filter", "include_subaccounts", "include_aggregates", "pagination");
  private static final Set<String> DIMENSIONS = Set.of("time", "domain", "tag");

  /** The metrics and how each follows from a bucket's counts (see {@link Tally}). */
  static final Map<String, Function<Tally, Object>> METRICS;

  static {
    Map<String, Function<Tally, Object>> m = new LinkedHashMap<>();
    m.put("accepted_count", Tally::accepted);
    m.put("accepted_outgoing_count", Tally::accepted);
    m.put("accepted_incoming_count", t -> 0L);
    m.put("processed_count", Tally::accepted);
    m.put("sent_count", MetricsRoutes::sentCount);
    m.put("delivered_count", Tally::sent);
    m.put("stored_count", t -> 0L);
    m.put("opened_count", t -> t.get("opened"));
    m.put("clicked_count", t -> t.get("clicked"));
    m.put("unsubscribed_count", t -> t.get("unsubscribed"));
    m.put("complained_count", t -> t.get("complained"));
    m.put("failed_count", t -> t.permanent() + t.temporary());
    m.put("permanent_failed_count", Tally::permanent);
    m.put("temporary_failed_count", Tally::temporary);
    m.put("permanent_failed_old_count", t -> t.get("expired"));
    m.put("bounced_count", t -> t.hardBounces() + t.softBounces());
    m.put("hard_bounces_count", Tally::hardBounces);
    m.put("soft_bounces_count", Tally::softBounces);
    m.put("delayed_bounce_count", t -> t.get("bounced.hard"));
    m.put("suppressed_bounces_count", Tally::suppressedBounce);
    m.put("suppressed_unsubscribed_count", t -> t.get("suppressed.unsubscribe"));
    m.put("suppressed_complaints_count", t -> t.get("suppressed.complaint"));
    m.put("delivered_rate", t -> rate(t.sent(), sentCount(t)));
    m.put("bounce_rate", t -> rate(t.hardBounces() + t.softBounces(), sentCount(t)));
    m.put("complained_rate", t -> rate(t.get("complained"), t.sent()));
    m.put("unsubscribed_rate", t -> rate(t.get("unsubscribed"), t.sent()));
    m.put("opened_rate", t -> rate(t.get("opened"), t.sent()));
    m.put("clicked_rate", t -> rate(t.get("clicked"), t.sent()));
    m.put("fail_rate", t -> rate(t.permanent() + t.temporary(), t.accepted()));
    m.put("permanent_fail_rate", t -> rate(t.permanent(), t.accepted()));
    m.put("temporary_fail_rate", t -> rate(t.temporary(), t.accepted()));
    METRICS = java.util.Collections.unmodifiableMap(m);
  }

  private static long sentCount(Tally t) {
    return t.sent() + t.get("failed");
  }

  /** Mailgun's rates: a fraction as a string of four decimals. */
  private static String rate(long part, long whole) {
    return String.format(Locale.ROOT, "%.4f", whole == 0 ? 0.0 : (double) part / whole);
  }

  private static final DateTimeFormatter RFC_2822_NUMERIC = DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss Z",
      Locale.ENGLISH);

  static void mount(Router router, StatsStore stats) {
    router.post("/v1/analytics/metrics").handler(ctx -> MailgunRoutes.json(ctx, () -> {
      MailgunRoutes.knownQueryParameters(ctx, Set.of());
      return MailgunRoutes.readBody(ctx.request(), MAX_BODY_BYTES).compose(body -> {
        JsonObject req;
        try {
          req = body.length() == 0 ? new JsonObject() : new JsonObject(body);
        } catch (DecodeException | ClassCastException e) {
          throw new InvalidInputException("invalid_json", "The body must be a JSON object", null);
        }
        return metrics(ctx, stats, req);
      });
    }));
  }

  private static Future<JsonObject> metrics(RoutingContext ctx, StatsStore stats, JsonObject req) {
    List<String> unknown = req.fieldNames().stream().filter(f -> !FIELDS.contains(f)).sorted().toList();
    if (!unknown.isEmpty()) {
      throw new InvalidInputException("invalid_parameter", "Parameter not supported: "
          + String.join(", ", unknown.stream().map(EmailAddress::printable).toList()), unknown.get(0));
    }
    Resolution res = StatsRoutes.resolution(string(req, "resolution"));
    Range range = StatsRoutes.range(MailgunRoutes.time(string(req, "start"), "start"),
        MailgunRoutes.time(string(req, "end"), "end"), string(req, "duration"), res, "start");
    List<String> dimensions = strings(req, "dimensions");
    for (String d : dimensions) {
      if (!DIMENSIONS.contains(d)) {
        throw new InvalidInputException("invalid_parameter", "dimension not supported: " + EmailAddress.printable(d)
            + "; supported: time, domain, tag", "dimensions");
      }
    }
    List<String> metrics = strings(req, "metrics");
    List<String> unknownMetrics = metrics.stream().filter(m -> !METRICS.containsKey(m)).toList();
    if (!unknownMetrics.isEmpty()) {
      throw new InvalidInputException("invalid_parameter", "metric" + (unknownMetrics.size() > 1 ? "s" : "")
          + " not supported: " + String.join(", ", unknownMetrics.stream().map(EmailAddress::printable).toList()), "metrics");
    }
    if (metrics.isEmpty()) {
      throw new InvalidInputException("invalid_parameter", "metrics parameter is missing", "metrics");
    }
    // a filter: {"AND": [{"attribute": "domain"|"tag", "comparator": "=", "values": [{"value": ...}]}]}
    Map<String, Set<String>> filter = filter(req.getValue("filter"));
    boolean byDomain = dimensions.contains("domain") || filter.containsKey("domain");
    boolean byTag = dimensions.contains("tag") || filter.containsKey("tag");
    if (byDomain && byTag) {
      throw new InvalidInputException("invalid_parameter", "domain and tag cannot be combined: the counters keep tags per"
          + " tenant, not per domain", "dimensions");
    }
    Object inc = req.getValue("include_aggregates");
    if (inc != null && !(inc instanceof Boolean) || req.getValue("include_subaccounts") != null
        && !(req.getValue("include_subaccounts") instanceof Boolean)) {
      throw new InvalidInputException("invalid_parameter", "include_aggregates and include_subaccounts must be booleans", null);
    }
    int skip = 0;
    int limit = DEFAULT_ITEMS;
    if (req.getValue("pagination") != null) {
      if (!(req.getValue("pagination") instanceof JsonObject p)
          || !Set.of("sort", "skip", "limit").containsAll(p.fieldNames())
          || p.getValue("skip") != null && !(p.getValue("skip") instanceof Integer)
          || p.getValue("limit") != null && !(p.getValue("limit") instanceof Integer)) {
        throw new InvalidInputException("invalid_parameter", "pagination takes skip and limit (integers) and sort", "pagination");
      }
      skip = Math.max(0, p.getInteger("skip", 0));
      limit = p.getInteger("limit", DEFAULT_ITEMS);
      if (limit < 1 || limit > MAX_ITEMS) {
        throw new InvalidInputException("invalid_parameter", "pagination.limit must be from 1 to " + MAX_ITEMS, "pagination");
      }
    }
    GroupBy by = byDomain ? GroupBy.SENDER_DOMAIN : byTag ? GroupBy.TAG : GroupBy.NONE;
    Set<String> only = byDomain ? filter.get("domain") : byTag ? filter.get("tag") : null;
    boolean byTime = dimensions.contains("time");
    boolean groupDimension = dimensions.contains("domain") || dimensions.contains("tag");
    String groupName = byDomain ? "domain" : "tag";
    int from = skip;
    int max = limit;
    boolean aggregates = Boolean.TRUE.equals(inc);
    return stats.counts(MailgunAuth.tenant(ctx).id(), range.begin(), range.end(), res, by, List.of()).map(counts -> {
      Map<String, Map<OffsetDateTime, Tally>> groups = new TreeMap<>();
      Tally all = new Tally();
      for (Count c : counts) {
        String g = c.group() == null ? "" : c.group();
        if (only != null && !only.contains(g)) {
          continue;
        }
        OffsetDateTime t = byTime ? c.time().withOffsetSameInstant(ZoneOffset.UTC) : range.begin();
        groups.computeIfAbsent(groupDimension ? g : "", x -> new TreeMap<>()).computeIfAbsent(t, x -> new Tally()).add(c);
        all.add(c);
      }
      if (!groupDimension && groups.isEmpty()) {
        groups.put("", new TreeMap<>());
      }
      List<JsonObject> items = new ArrayList<>();
      groups.forEach((g, byT) -> {
        if (byTime) {
          for (OffsetDateTime t : range.buckets()) {
            byT.putIfAbsent(t, new Tally());
          }
        } else if (byT.isEmpty()) {
          byT.put(range.begin(), new Tally());
        }
        byT.forEach((t, tally) -> {
          JsonArray dims = new JsonArray();
          if (byTime) {
            String v = RFC_2822_NUMERIC.format(t);
            dims.add(new JsonObject().put("dimension", "time").put("value", v).put("display_value", v));
          }
          if (groupDimension) {
            dims.add(new JsonObject().put("dimension", groupName).put("value", g).put("display_value", g));
          }
          items.add(new JsonObject().put("dimensions", dims).put("metrics", values(tally, metrics)));
        });
      });
      JsonArray page = new JsonArray();
      items.stream().skip(from).limit(max).forEach(page::add);
      JsonObject out = new JsonObject()
          .put("start", RFC_2822_NUMERIC.format(range.begin()))
          .put("end", RFC_2822_NUMERIC.format(range.end()))
          .put("resolution", StatsRoutes.name(res))
          .put("dimensions", new JsonArray(new ArrayList<>(dimensions)))
          .put("items", page)
          .put("pagination", new JsonObject().put("sort", "").put("skip", from).put("limit", max).put("total", items.size()));
      if (string(req, "duration") != null) {
        out.put("duration", string(req, "duration"));
      }
      if (aggregates) {
        out.put("aggregates", new JsonObject().put("metrics", values(all, metrics)));
      }
      return out;
    });
  }

  private static JsonObject values(Tally t, List<String> metrics) {
    JsonObject o = new JsonObject();
    metrics.forEach(m -> o.put(m, METRICS.get(m).apply(t)));
    return o;
  }

  private static Map<String, Set<String>> filter(Object f) {
    Map<String, Set<String>> out = new LinkedHashMap<>();
    if (f == null) {
      return out;
    }
    if (!(f instanceof JsonObject o) || !o.fieldNames().equals(Set.of("AND")) || !(o.getValue("AND") instanceof JsonArray and)) {
      throw new InvalidInputException("invalid_parameter", "filter must be {\"AND\": [...]}", "filter");
    }
    for (Object x : and) {
      if (!(x instanceof JsonObject c) || !(c.getValue("attribute") instanceof String attr)
          || !(c.getValue("values") instanceof JsonArray values)) {
        throw new InvalidInputException("invalid_parameter", "each filter needs attribute, comparator and values", "filter");
      }
      if (!attr.equals("domain") && !attr.equals("tag")) {
        throw new InvalidInputException("invalid_parameter", "filter attribute not supported: " + EmailAddress.printable(attr)
            + "; supported: domain, tag", "filter");
      }
      if (!"=".equals(c.getValue("comparator"))) {
        throw new InvalidInputException("invalid_parameter", "filter comparator not supported: "
            + EmailAddress.printable(String.valueOf(c.getValue("comparator"))) + "; supported: =", "filter");
      }
      if (out.containsKey(attr)) {
        throw new InvalidInputException("invalid_parameter", "one filter per attribute", "filter");
      }
      Set<String> vs = new LinkedHashSet<>();
      for (Object v : values) {
        if (!(v instanceof JsonObject vo) || !(vo.getValue("value") instanceof String s)) {
          throw new InvalidInputException("invalid_parameter", "filter values are {\"label\", \"value\"}", "filter");
        }
        vs.add(attr.equals("domain") ? s.toLowerCase(Locale.ROOT) : s);
      }
      if (vs.isEmpty() || vs.size() > 100) {
        throw new InvalidInputException("invalid_parameter", "a filter takes 1 to 100 values", "filter");
      }
      out.put(attr, vs);
    }
    return out;
  }

  private static String string(JsonObject o, String k) {
    Object v = o.getValue(k);
    if (v == null) {
      return null;
    }
    if (!(v instanceof String s)) {
      throw new InvalidInputException("invalid_parameter", k + " must be a string", k);
    }
    return s;
  }

  private static List<String> strings(JsonObject o, String k) {
    Object v = o.getValue(k);
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof JsonArray a) || a.size() > 100 || a.stream().anyMatch(x -> !(x instanceof String))) {
      throw new InvalidInputException("invalid_parameter", k + " must be a list of names", k);
    }
    return new ArrayList<>(new LinkedHashSet<>(a.stream().map(x -> (String) x).toList()));
  }
}

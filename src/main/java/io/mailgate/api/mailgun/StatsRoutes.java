package io.mailgate.api.mailgun;

import io.mailgate.error.InvalidInputException;
import io.mailgate.store.StatsStore;
import io.mailgate.store.StatsStore.Count;
import io.mailgate.store.StatsStore.Resolution;
import io.mailgate.tenant.DkimService;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code GET /v3/{domain}/stats/total}: Mailgun's totals per hour, day or month of the mail sent from the domain, from
 * the rollups (never the events); {@code GET /v3/stats/total} the same of all of the tenant's mail. How our counts become Mailgun's is {@link Tally}.
 */
final class StatsRoutes {
  private StatsRoutes() {}

  /** The widest range one call may ask for, per resolution (as the native statistics). */
  static final Duration MAX_HOURS = Duration.ofDays(31);
  static final Duration MAX_DAYS = Duration.ofDays(400);
  static final Duration MAX_MONTHS = Duration.ofDays(3 * 366);

  static final Set<String> EVENTS = Set.of("accepted", "delivered", "failed", "opened", "clicked", "unsubscribed",
      "complained", "stored");
  private static final Pattern DURATION = Pattern.compile("(\\d{1,4})([hdm])");

  static void mount(Router router, DkimService domains, StatsStore stats) {
    router.get("/v3/stats/total").handler(ctx -> MailgunRoutes.json(ctx, () -> total(ctx, null, stats)));
    router.get("/v3/:domain/stats/total").handler(ctx -> MailgunRoutes.json(ctx, () -> total(ctx, domains, stats)));
  }

  /** The domain's totals, or the account's (all of the tenant's mail, as the metrics API) without {@code domains}. */
  private static Future<JsonObject> total(RoutingContext ctx, DkimService domains, StatsStore stats) {
    MailgunRoutes.knownQueryParameters(ctx, Set.of("event", "start", "end", "resolution", "duration"));
    var req = ctx.request();
    Set<String> events = new LinkedHashSet<>();
    for (String v : req.params().getAll("event")) {
      for (String e : v.split(",")) {
        String name = e.trim();
        if (!EVENTS.contains(name)) {
          throw new InvalidInputException("invalid_parameter", "event must be one of " + new java.util.TreeSet<>(EVENTS)
              + ", got '" + io.mailgate.message.EmailAddress.printable(name) + "'", "event");
        }
        events.add(name);
      }
    }
    if (events.isEmpty()) {
      throw new InvalidInputException("invalid_parameter", "event parameter is missing", "event");
    }
    Resolution res = resolution(req.getParam("resolution"));
    Range range = range(MailgunRoutes.time(req.getParam("start"), "start"), MailgunRoutes.time(req.getParam("end"), "end"),
        req.getParam("duration"), res, "start");
    UUID tenant = MailgunAuth.tenant(ctx).id();
    Future<List<Count>> read = domains == null
        ? stats.counts(tenant, range.begin(), range.end(), res, StatsStore.GroupBy.NONE, List.of())
        : MailgunRoutes.ownDomain(domains, MailgunAuth.tenant(ctx), ctx.pathParam("domain"))
            .compose(domain -> stats.counts(tenant, range.begin(), range.end(), res, StatsStore.GroupBy.SENDER_DOMAIN,
                List.of(), domain));
    return read
        .map(counts -> {
          Map<OffsetDateTime, Tally> byTime = new TreeMap<>();
          for (OffsetDateTime t : range.buckets()) {
            byTime.put(t, new Tally());
          }
          for (Count c : counts) {
            byTime.computeIfAbsent(c.time().withOffsetSameInstant(ZoneOffset.UTC), t -> new Tally()).add(c);
          }
          JsonArray out = new JsonArray();
          byTime.forEach((t, tally) -> out.add(tally.stats(events).put("time", MailgunRoutes.rfc2822(t))));
          return new JsonObject()
              .put("description", domains == null ? "the gateway's counters of the account's mail"
                  : "the gateway's counters of the mail sent from the domain")
              .put("start", MailgunRoutes.rfc2822(range.begin()))
              .put("end", MailgunRoutes.rfc2822(range.end()))
              .put("resolution", name(res))
              .put("stats", out);
        });
  }

  static Resolution resolution(String v) {
    return switch (v == null ? "day" : v) {
      case "hour" -> Resolution.HOUR;
      case "day" -> Resolution.DAY;
      case "month" -> Resolution.MONTH;
      default -> throw new InvalidInputException("invalid_parameter", "resolution must be hour, day or month", "resolution");
    };
  }

  static String name(Resolution r) {
    return r.name().toLowerCase(java.util.Locale.ROOT);
  }

  /** [begin, end) on bucket boundaries of the resolution. */
  record Range(OffsetDateTime begin, OffsetDateTime end, Resolution res) {
    List<OffsetDateTime> buckets() {
      List<OffsetDateTime> out = new java.util.ArrayList<>();
      for (OffsetDateTime t = begin; t.isBefore(end); t = res == Resolution.HOUR ? t.plusHours(1)
          : res == Resolution.DAY ? t.plusDays(1) : t.plusMonths(1)) {
        out.add(t);
      }
      return out;
    }
  }

  /**
   * Mailgun's range rules: {@code duration} counts back from {@code end} (default now) and overrides {@code start};
   * without either the last 7 days. Bounds are widened to whole buckets; the span is bounded per resolution.
   */
  static Range range(OffsetDateTime start, OffsetDateTime end, String duration, Resolution res, String startName) {
    OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC);
    OffsetDateTime e = end == null ? now : end.withOffsetSameInstant(ZoneOffset.UTC);
    OffsetDateTime b;
    if (duration != null) {
      Matcher m = DURATION.matcher(duration.trim());
      if (!m.matches() || Integer.parseInt(m.group(1)) == 0) {
        throw new InvalidInputException("invalid_parameter", "duration must be a number of hours, days or months: 24h, 7d, 1m",
            "duration");
      }
      int n = Integer.parseInt(m.group(1));
      b = switch (m.group(2)) {
        case "h" -> e.minusHours(n);
        case "d" -> e.minusDays(n);
        default -> e.minusMonths(n);
      };
    } else {
      b = start == null ? e.minusDays(7) : start.withOffsetSameInstant(ZoneOffset.UTC);
    }
    ChronoUnit unit = res == Resolution.HOUR ? ChronoUnit.HOURS : ChronoUnit.DAYS;
    b = b.truncatedTo(unit);
    OffsetDateTime eb = e.truncatedTo(unit);
    e = eb.equals(e) ? eb : eb.plus(1, unit);
    if (res == Resolution.MONTH) {
      b = b.withDayOfMonth(1);
      OffsetDateTime em = e.withDayOfMonth(1);
      e = em.equals(e) ? em : em.plusMonths(1);
    }
    if (!b.isBefore(e)) {
      throw new InvalidInputException("invalid_parameter", startName + " must be before end", startName);
    }
    Duration max = res == Resolution.HOUR ? MAX_HOURS : res == Resolution.DAY ? MAX_DAYS : MAX_MONTHS;
    if (Duration.between(b, e).compareTo(max.plusDays(31)) > 0) {
      throw new InvalidInputException("invalid_parameter", "at most " + max.toDays() + " days per call at resolution "
          + name(res), startName);
    }
    return new Range(b, e, res);
  }

  /**
   * Our counts of one bucket as Mailgun's figures. A recipient's fate is settled by one of {@code sent},
   * {@code failed}, {@code suppressed}, {@code cancelled}, {@code expired}: those are Mailgun's {@code accepted}.
   * {@code sent} (the next mail server or the provider took the message) is {@code delivered}: a provider's later
   * delivery report confirms the same message and is not counted again. Permanent failures are our failures,
   * suppressions, cancellations, expiries and hard bounces after the send (Mailgun's {@code delayed-bounce});
   * temporary ones our deferrals and soft bounces.
   */
  static final class Tally {
    final Map<String, Long> n = new TreeMap<>();

    void add(Count c) {
      n.merge(c.event(), c.n(), Long::sum);
      n.merge(c.event() + "." + c.severity(), c.n(), Long::sum);
    }

    void add(Tally o) {
      o.n.forEach((k, v) -> n.merge(k, v, Long::sum));
    }

    long get(String k) {
      return n.getOrDefault(k, 0L);
    }

    long sent() {
      return get("sent");
    }

    long accepted() {
      return sent() + get("failed") + get("suppressed") + get("cancelled") + get("expired");
    }

    long hardBounces() {
      return get("failed.hard") + get("bounced.hard");
    }

    long softBounces() {
      return get("failed.soft") + get("bounced.soft");
    }

    long suppressedBounce() {
      return get("suppressed.hard_bounce") + get("suppressed.manual");
    }

    long permanent() {
      return get("failed") + get("suppressed") + get("cancelled") + get("expired") + get("bounced.hard");
    }

    long temporary() {
      return get("deferred") + get("bounced.soft");
    }

    JsonObject stats(Set<String> events) {
      JsonObject o = new JsonObject();
      for (String e : events) {
        switch (e) {
          case "accepted" -> o.put(e, new JsonObject().put("incoming", 0).put("outgoing", accepted()).put("total", accepted()));
          case "delivered" -> o.put(e, new JsonObject().put("smtp", sent()).put("http", 0).put("optimized", 0)
              .put("total", sent()));
          case "failed" -> o.put(e, new JsonObject()
              .put("permanent", new JsonObject()
                  .put("suppress-bounce", suppressedBounce())
                  .put("suppress-unsubscribe", get("suppressed.unsubscribe"))
                  .put("suppress-complaint", get("suppressed.complaint"))
                  .put("bounce", get("failed.hard"))
                  .put("delayed-bounce", get("bounced.hard"))
                  .put("webhook", 0)
                  .put("optimized", 0)
                  .put("total", permanent()))
              .put("temporary", new JsonObject().put("espblock", 0).put("total", temporary())));
          case "stored" -> o.put(e, new JsonObject().put("total", 0));
          default -> o.put(e, new JsonObject().put("total", get(e))); // opened, clicked, unsubscribed, complained
        }
      }
      return o;
    }
  }
}

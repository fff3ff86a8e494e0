package io.mailgate.events;

import io.mailgate.store.StatsStore.Window;
import io.vertx.core.json.JsonObject;
import java.util.Locale;

/**
 * Sender reputation from the counters of a window: volume, bounce, complaint and deferral rates, and a status
 * against thresholds. Defaults follow what the receivers and ESPs enforce: complaints 0.1 % warning and 0.3 %
 * critical (Gmail's and Yahoo's bulk-sender rules), hard bounces 5 % warning and 10 % critical (Amazon SES's review
 * and pause levels); below {@code minVolume} messages sent in the window a rate is not judged.
 */
public final class Reputation {

  public enum Status {
    OK, WARNING, CRITICAL;

    public String json() {
      return name().toLowerCase(Locale.ROOT);
    }

    public Status worst(Status o) {
      return o.ordinal() > ordinal() ? o : this;
    }
  }

  public record Thresholds(double complaintWarning, double complaintCritical, double bounceWarning, double bounceCritical,
                           long minVolume) {

    /** The names a tenant's override may set (each optional; the rest come from the global settings). */
    public static final java.util.List<String> FIELDS = java.util.List.of("complaintRateWarning", "complaintRateCritical",
        "bounceRateWarning", "bounceRateCritical", "minVolume");

    /** These thresholds with a tenant's override on top ({@code null}: none). */
    public Thresholds with(JsonObject override) {
      if (override == null) {
        return this;
      }
      return new Thresholds(override.getDouble("complaintRateWarning", complaintWarning),
          override.getDouble("complaintRateCritical", complaintCritical), override.getDouble("bounceRateWarning", bounceWarning),
          override.getDouble("bounceRateCritical", bounceCritical), override.getLong("minVolume", minVolume));
    }

    public JsonObject json() {
      return new JsonObject().put("complaintRateWarning", complaintWarning).put("complaintRateCritical", complaintCritical)
          .put("bounceRateWarning", bounceWarning).put("bounceRateCritical", bounceCritical).put("minVolume", minVolume);
    }

    /**
     * Checks a tenant's override as given to the admin API: known fields only, rates in (0, 1], whole volumes, and
     * warning levels below critical ones once merged onto these thresholds. @return the override as stored, or
     * {@code null} for none (an empty object or JSON null clears it)
     */
    public JsonObject checkOverride(Object value, String field) {
      if (value == null) {
        return null;
      }
      if (!(value instanceof JsonObject o)) {
        throw new io.mailgate.error.InvalidInputException("invalid_field", field + " must be an object of " + FIELDS + " (or null)", field);
      }
      JsonObject out = new JsonObject();
      for (String k : o.fieldNames()) {
        Object v = o.getValue(k);
        if (!FIELDS.contains(k)) {
          throw new io.mailgate.error.InvalidInputException("unknown_field", "unknown field '" + k + "' in " + field
              + " (known: " + FIELDS + ")", field + "." + k);
        }
        if (v == null) {
          continue;
        }
        if (!(v instanceof Number n)) {
          throw new io.mailgate.error.InvalidInputException("invalid_field", field + "." + k + " must be a number", field + "." + k);
        }
        if (k.equals("minVolume")) {
          if (n.doubleValue() != Math.rint(n.doubleValue()) || n.longValue() < 1 || n.longValue() > 1_000_000_000L) {
            throw new io.mailgate.error.InvalidInputException("invalid_field", field + ".minVolume must be a whole number from 1",
                field + ".minVolume");
          }
          out.put(k, n.longValue());
        } else {
          if (!(n.doubleValue() > 0) || n.doubleValue() > 1) {
            throw new io.mailgate.error.InvalidInputException("invalid_field", field + "." + k
                + " must be a rate above 0 and at most 1 (0.003 is 0.3 %)", field + "." + k);
          }
          out.put(k, n.doubleValue());
        }
      }
      Thresholds t = with(out);
      if (t.complaintWarning() > t.complaintCritical() || t.bounceWarning() > t.bounceCritical()) {
        throw new io.mailgate.error.InvalidInputException("invalid_field", field
            + ": a warning level must not be above its critical level (with the global settings for the fields not given)", field);
      }
      return out.isEmpty() ? null : out;
    }
  }

  /** The sums of one window (one sender domain, one tenant, or everything). */
  public static final class Figures {
    long sent;
    long delivered;
    long hardBounces;
    long softBounces;
    long complaints;
    long deferrals;
    long suppressed;
    long unsubscribes;
    long failed;

    public void add(Window w) {
      switch (w.event()) {
        case "sent" -> sent += w.n();
        case "delivered" -> delivered += w.n();
        case "bounced", "failed" -> {
          if (w.event().equals("failed")) {
            failed += w.n();
          }
          if ("hard".equals(w.severity())) {
            hardBounces += w.n();
          } else if ("soft".equals(w.severity())) {
            softBounces += w.n();
          }
        }
        case "complained" -> complaints += w.n();
        case "deferred" -> deferrals += w.n();
        case "suppressed" -> suppressed += w.n();
        case "unsubscribed" -> unsubscribes += w.n();
        default -> { }
      }
    }

    public void merge(Figures o) {
      sent += o.sent;
      delivered += o.delivered;
      hardBounces += o.hardBounces;
      softBounces += o.softBounces;
      complaints += o.complaints;
      deferrals += o.deferrals;
      suppressed += o.suppressed;
      unsubscribes += o.unsubscribes;
      failed += o.failed;
    }

    /** Messages handed to a backend, accepted or refused for good there: the base of the rates. */
    long attempted() {
      return sent + failed;
    }

    double rate(long n) {
      return n / (double) Math.max(attempted(), 1);
    }

    public Status status(Thresholds t) {
      if (attempted() < t.minVolume()) {
        return Status.OK;
      }
      Status s = Status.OK;
      double complaint = rate(complaints);
      double bounce = rate(hardBounces);
      if (complaint >= t.complaintCritical() || bounce >= t.bounceCritical()) {
        s = Status.CRITICAL;
      } else if (complaint >= t.complaintWarning() || bounce >= t.bounceWarning()) {
        s = Status.WARNING;
      }
      return s;
    }

    public JsonObject json(Thresholds t) {
      return new JsonObject()
          .put("sent", sent)
          .put("failed", failed)
          .put("delivered", delivered)
          .put("hardBounces", hardBounces)
          .put("softBounces", softBounces)
          .put("complaints", complaints)
          .put("deferrals", deferrals)
          .put("suppressed", suppressed)
          .put("unsubscribes", unsubscribes)
          .put("bounceRate", round(rate(hardBounces)))
          .put("softBounceRate", round(rate(softBounces)))
          .put("complaintRate", round(rate(complaints)))
          .put("deferralRate", round(deferrals / (double) Math.max(sent + deferrals, 1)))
          .put("judged", attempted() >= t.minVolume())
          .put("status", status(t).json());
    }

    public long sent() {
      return sent;
    }

    double complaintRate() {
      return rate(complaints);
    }

    double bounceRate() {
      return rate(hardBounces);
    }

    /** How far past its thresholds: for ranking by risk (1.0 = at the critical level of one rate). */
    public double risk(Thresholds t) {
      if (attempted() < t.minVolume()) {
        return 0;
      }
      return Math.max(complaintRate() / t.complaintCritical(), bounceRate() / t.bounceCritical());
    }
  }

  private static double round(double v) {
    return Math.round(v * 1_000_000) / 1_000_000.0;
  }

  private Reputation() {}
}

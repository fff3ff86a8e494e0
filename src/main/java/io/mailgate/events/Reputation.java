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
                           long minVolume) {}

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

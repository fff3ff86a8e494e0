package io.mailgate.webhook.out;

import io.mailgate.error.InvalidInputException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The two vocabularies a webhook's events are named in, and the keys the outbox statement matches events by
 * ({@code io.mailgate.store.EventSql}): an event type ({@code deferred}), {@code type:severity}
 * ({@code bounced:hard}), or {@code sent:<backend type>}.
 *
 * <p>Native webhooks name our own event types. Mailgun's webhook ids map to them as Mailgun would report the same
 * fate: {@code delivered} is a provider's report of delivery, and our {@code sent} through a backend that reports
 * nothing later ({@code smtp}, {@code file}: the receiving server took the message); {@code permanent_fail} is
 * {@code failed}, {@code suppressed}, {@code expired} and a hard bounce; {@code temporary_fail} is {@code deferred}
 * and a soft bounce.
 */
public final class WebhookEvents {
  private WebhookEvents() {}

  /** Our event types, the names of a native webhook's events. */
  public static final List<String> NATIVE = List.of("sent", "deferred", "failed", "suppressed", "cancelled", "expired",
      "delivered", "bounced", "complained", "unsubscribed", "opened", "clicked");

  /** Mailgun's webhook ids and the keys each stands for. */
  public static final Map<String, List<String>> MAILGUN = Map.of(
      "delivered", List.of("delivered", "sent:smtp", "sent:file"),
      "permanent_fail", List.of("failed", "suppressed", "expired", "bounced:hard"),
      "temporary_fail", List.of("deferred", "bounced:soft"),
      "opened", List.of("opened"),
      "clicked", List.of("clicked"),
      "unsubscribed", List.of("unsubscribed"),
      "complained", List.of("complained"));

  /** Mailgun's ids in the order Mailgun lists them. */
  public static final List<String> MAILGUN_IDS = List.of("clicked", "complained", "delivered", "opened",
      "permanent_fail", "temporary_fail", "unsubscribed");

  /** Checks a native webhook's event names (at least one, each known, none twice): returned in our order. */
  public static List<String> nativeNames(List<String> given) {
    if (given.isEmpty()) {
      throw new InvalidInputException("invalid_field", "events must name at least one event type", "events");
    }
    Set<String> out = new LinkedHashSet<>();
    for (String g : given) {
      String n = g == null ? "" : g.toLowerCase(Locale.ROOT);
      if (!NATIVE.contains(n)) {
        throw new InvalidInputException("invalid_event_type", "events: unknown event type '"
            + io.mailgate.message.EmailAddress.printable(String.valueOf(g)) + "'; one of " + NATIVE, "events");
      }
      out.add(n);
    }
    return NATIVE.stream().filter(out::contains).toList();
  }

  /** The match keys of names in one vocabulary. */
  public static List<String> matchKeys(List<String> names, boolean mailgunIds) {
    List<String> keys = new ArrayList<>();
    for (String n : names) {
      if (mailgunIds) {
        keys.addAll(MAILGUN.get(n));
      } else {
        keys.add(n);
      }
    }
    return List.copyOf(new LinkedHashSet<>(keys));
  }

  /**
   * Mailgun's name of what happened, for the {@code event} of Mailgun's event-data: {@code accepted} for a message
   * a provider took (its delivery is reported later), {@code delivered}, {@code failed} (with a severity), or the
   * type itself (opened, clicked, unsubscribed, complained).
   */
  public static String mailgunEvent(String type, String backendType) {
    return switch (type) {
      case "sent" -> "smtp".equals(backendType) || "file".equals(backendType) ? "delivered" : "accepted";
      case "deferred", "failed", "suppressed", "expired", "cancelled", "bounced" -> "failed";
      default -> type;
    };
  }

  /** Mailgun's severity of a failure: {@code temporary} when it is retried or was soft, else {@code permanent}. */
  public static String mailgunSeverity(String type, String severity) {
    return switch (type) {
      case "deferred" -> "temporary";
      case "bounced" -> "soft".equals(severity) ? "temporary" : "permanent";
      case "failed", "suppressed", "expired", "cancelled" -> "permanent";
      default -> null;
    };
  }

  /** Mailgun's reason of a failure. */
  public static String mailgunReason(String type, String severity) {
    return switch (type) {
      case "bounced" -> "bounce";
      case "failed" -> "hard".equals(severity) ? "bounce" : "generic";
      case "deferred" -> "generic";
      case "expired" -> "old";
      case "cancelled" -> "cancelled";
      case "suppressed" -> switch (severity == null ? "" : severity) {
        case "complaint" -> "suppress-complaint";
        case "unsubscribe" -> "suppress-unsubscribe";
        default -> "suppress-bounce";
      };
      default -> null;
    };
  }
}

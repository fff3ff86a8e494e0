package io.mailgate.backend.http;

import io.mailgate.backend.Outcome;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;

/**
 * How a provider's HTTP answer maps to a recipient outcome, the same for every provider: 429 slow down (honour
 * Retry-After, never a permanent failure), 401/403 our credentials (the backend is unhealthy, recipients are
 * deferred), 408 and 5xx the backend's trouble (deferred), other 4xx a request the provider will never accept
 * (failed).
 */
public final class HttpOutcomes {

  private static final int MAX_MESSAGE = 500;

  private HttpOutcomes() {}

  /** The outcome of a non-2xx answer. */
  public static Outcome forFailure(int status, String body, String retryAfterHeader) {
    String msg = "HTTP " + status + (body == null || body.isBlank() ? "" : ": " + shorten(body));
    Duration retryAfter = retryAfter(retryAfterHeader);
    if (status == 429) {
      return new Outcome.Temporary(status, msg, retryAfter, false, Outcome.Fault.THROTTLED);
    }
    if (status == 401 || status == 403) {
      return new Outcome.Temporary(status, msg, null, false, Outcome.Fault.CREDENTIALS);
    }
    if (status == 408 || status >= 500) {
      return new Outcome.Temporary(status, msg, retryAfter, false, Outcome.Fault.BACKEND);
    }
    return new Outcome.Permanent(status, msg);
  }

  /** The call did not get an answer (connection refused, reset, timeout): nothing was accepted. */
  public static Outcome forNetworkError(Throwable e) {
    return new Outcome.Temporary(null, "request failed: " + shorten(String.valueOf(e.getMessage())), Outcome.Fault.BACKEND);
  }

  /** Retry-After as delta-seconds or an HTTP-date; null if absent or unreadable. */
  public static Duration retryAfter(String header) {
    if (header == null || header.isBlank()) {
      return null;
    }
    String h = header.trim();
    try {
      long s = Long.parseLong(h);
      return s < 0 ? null : Duration.ofSeconds(Math.min(s, 86_400));
    } catch (NumberFormatException e) {
      try {
        Duration d = Duration.between(ZonedDateTime.now(), ZonedDateTime.parse(h, DateTimeFormatter.RFC_1123_DATE_TIME));
        return d.isNegative() ? Duration.ZERO : d;
      } catch (DateTimeParseException e2) {
        return null;
      }
    }
  }

  public static String shorten(String s) {
    String one = s.replace('\r', ' ').replace('\n', ' ');
    return one.length() > MAX_MESSAGE ? one.substring(0, MAX_MESSAGE) + "..." : one;
  }
}

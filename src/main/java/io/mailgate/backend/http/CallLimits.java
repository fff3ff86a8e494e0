package io.mailgate.backend.http;

import io.mailgate.backend.SettingsReader;

import java.time.Duration;
import java.util.Set;

/**
 * The bounds every HTTP provider backend has, each a named setting: recipients per API call, calls in flight and
 * messages per second (per backend and dispatcher), and the timeouts of one call.
 *
 * @param maxRecipientsPerCall recipients in one API call (the provider's own limit is the maximum)
 * @param maxConcurrentCalls   API calls in flight at once
 * @param ratePerSecond        messages per second; 0 is unlimited
 * @param connectTimeout       to open a connection to the API
 * @param requestTimeout       to wait for the answer once the request is sent (then: deferred, possible duplicate)
 */
public record CallLimits(int maxRecipientsPerCall, int maxConcurrentCalls, double ratePerSecond, Duration connectTimeout,
                         Duration requestTimeout) {

  public static final Set<String> KEYS = Set.of("maxRecipientsPerCall", "maxConcurrentCalls", "ratePerSecond",
      "connectTimeout", "requestTimeout");

  public static final int DEFAULT_CONCURRENT_CALLS = 4;
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
  public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(60);

  /** @param providerMaxRecipients the provider's documented limit per call: the default and the maximum */
  public static CallLimits parse(SettingsReader r, int providerMaxRecipients) {
    return parse(r, "maxRecipientsPerCall", providerMaxRecipients, 256, 0);
  }

  /**
   * For a provider whose settings name the recipients per call otherwise (Postmark {@code maxMessagesPerCall}, SES
   * {@code maxEntriesPerCall}), or bound the calls in flight or default the rate otherwise.
   *
   * @param perCallKey            the setting of recipients per call
   * @param providerMaxRecipients the provider's documented limit per call: the default and the maximum
   * @param maxConcurrentCalls    the largest {@code maxConcurrentCalls} allowed
   * @param defaultRate           {@code ratePerSecond} when not set
   */
  public static CallLimits parse(SettingsReader r, String perCallKey, int providerMaxRecipients, int maxConcurrentCalls,
                                 double defaultRate) {
    return new CallLimits(
        r.integer(perCallKey, providerMaxRecipients, 1, providerMaxRecipients),
        r.integer("maxConcurrentCalls", DEFAULT_CONCURRENT_CALLS, 1, maxConcurrentCalls),
        r.number("ratePerSecond", defaultRate, 0, 1_000_000),
        r.duration("connectTimeout", DEFAULT_CONNECT_TIMEOUT),
        r.duration("requestTimeout", DEFAULT_REQUEST_TIMEOUT));
  }
}

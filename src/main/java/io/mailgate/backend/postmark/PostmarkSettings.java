package io.mailgate.backend.postmark;

import io.mailgate.backend.SettingsReader;
import io.mailgate.backend.http.CallLimits;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/**
 * Settings of a {@code postmark} backend. README lists each with its default.
 *
 * @param limits messages per call ({@code maxMessagesPerCall}), calls in flight, rate and timeouts
 * @param webhookUser the HTTP Basic user name Postmark's webhooks are configured with (null: no webhooks)
 * @param webhookPassword its password (a secret)
 */
public record PostmarkSettings(String serverToken, String baseUrl, String messageStream, long maxRequestBytes,
                               CallLimits limits, String webhookUser, String webhookPassword) {

  /** Postmark's own limit of messages in one {@code /email/batch} call. */
  static final int BATCH_LIMIT = 500;

  public static final Set<String> SECRETS = Set.of("serverToken", "webhookPassword");
  private static final Set<String> KNOWN = Set.of("serverToken", "baseUrl", "messageStream", "maxMessagesPerCall",
      "maxConcurrentCalls", "ratePerSecond", "maxRequestSize", "connectTimeout", "requestTimeout", "webhookUser",
      "webhookPassword");

  public static PostmarkSettings parse(JsonObject s) {
    SettingsReader r = new SettingsReader(s, "postmark", KNOWN);
    String token = r.string("serverToken", null);
    if (token == null || !token.matches("[\\x21-\\x7e]{1,256}")) {
      throw SettingsReader.invalid("serverToken", "is required: the server's API token (printable ASCII, at most 256 characters)");
    }
    String stream = r.string("messageStream", null);
    if (stream != null && !stream.matches("[A-Za-z0-9_-]{1,100}")) {
      throw SettingsReader.invalid("messageStream", "must be a message stream ID (letters, digits, '-' and '_')");
    }
    String baseUrl = r.baseUrl("baseUrl");
    CallLimits limits = CallLimits.parse(r, "maxMessagesPerCall", BATCH_LIMIT, 256, 0);
    // the credentials Postmark puts in a webhook's URL (https://user:password@host/...): both or neither
    String hookUser = r.string("webhookUser", null);
    String hookPassword = r.secret("webhookPassword", false);
    if (hookUser != null && !hookUser.matches("[\\x21-\\x39\\x3b-\\x7e]{1,256}")) {
      throw SettingsReader.invalid("webhookUser", "must be 1 to 256 printable ASCII characters without spaces or ':'");
    }
    if ((hookUser == null) != (hookPassword == null)) {
      throw SettingsReader.invalid(hookUser == null ? "webhookUser" : "webhookPassword",
          "is required with " + (hookUser == null ? "webhookPassword" : "webhookUser"));
    }
    return new PostmarkSettings(token,
        baseUrl == null ? "https://api.postmarkapp.com" : baseUrl,
        stream,
        r.size("maxRequestSize", 40L * 1024 * 1024, 1024, 50L * 1024 * 1024),
        limits, hookUser, hookPassword);
  }

  @Override
  public String toString() {
    return "PostmarkSettings[baseUrl=" + baseUrl + ", messageStream=" + messageStream + ", " + limits + "]";
  }
}

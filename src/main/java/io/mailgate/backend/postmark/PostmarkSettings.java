package io.mailgate.backend.postmark;

import io.mailgate.backend.SettingsReader;
import io.mailgate.backend.http.CallLimits;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/**
 * Settings of a {@code postmark} backend. README lists each with its default.
 *
 * @param limits messages per call ({@code maxMessagesPerCall}), calls in flight, rate and timeouts
 */
record PostmarkSettings(String serverToken, String baseUrl, String messageStream, long maxRequestBytes,
                        CallLimits limits) {

  /** Postmark's own limit of messages in one {@code /email/batch} call. */
  static final int BATCH_LIMIT = 500;

  static final Set<String> SECRETS = Set.of("serverToken");
  private static final Set<String> KNOWN = Set.of("serverToken", "baseUrl", "messageStream", "maxMessagesPerCall",
      "maxConcurrentCalls", "ratePerSecond", "maxRequestSize", "connectTimeout", "requestTimeout");

  static PostmarkSettings parse(JsonObject s) {
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
    return new PostmarkSettings(token,
        baseUrl == null ? "https://api.postmarkapp.com" : baseUrl,
        stream,
        r.size("maxRequestSize", 40L * 1024 * 1024, 1024, 50L * 1024 * 1024),
        limits);
  }

  @Override
  public String toString() {
    return "PostmarkSettings[baseUrl=" + baseUrl + ", messageStream=" + messageStream + ", " + limits + "]";
  }
}

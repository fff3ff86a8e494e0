package io.mailgate.backend.postmark;

import io.mailgate.config.ConfigException;
import io.mailgate.config.Settings;
import io.mailgate.error.InvalidInputException;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Settings of a {@code postmark} backend. README lists each with its default. */
record PostmarkSettings(
    String serverToken,
    String baseUrl,
    String messageStream,
    int maxMessagesPerCall,
    int maxConcurrentCalls,
    double ratePerSecond,
    long maxRequestBytes,
    Duration connectTimeout,
    Duration requestTimeout) {

  /** Postmark's own limit of messages in one {@code /email/batch} call. */
  static final int BATCH_LIMIT = 500;

  static final Set<String> SECRETS = Set.of("serverToken");
  private static final Set<String> KNOWN = Set.of("serverToken", "baseUrl", "messageStream", "maxMessagesPerCall",
      "maxConcurrentCalls", "ratePerSecond", "maxRequestSize", "connectTimeout", "requestTimeout");

  static PostmarkSettings parse(JsonObject s) {
    for (String k : s.fieldNames()) {
      if (!KNOWN.contains(k)) {
        throw invalid(k, "is not a setting of a postmark backend (known: " + new java.util.TreeSet<>(KNOWN) + ")");
      }
    }
    String token = string(s, "serverToken", null);
    if (token == null || !token.matches("[\\x21-\\x7e]{1,256}")) {
      throw invalid("serverToken", "is required: the server's API token (printable ASCII, at most 256 characters)");
    }
    String stream = string(s, "messageStream", null);
    if (stream != null && !stream.matches("[A-Za-z0-9_-]{1,100}")) {
      throw invalid("messageStream", "must be a message stream ID (letters, digits, '-' and '_')");
    }
    return new PostmarkSettings(token,
        baseUrl(string(s, "baseUrl", "https://api.postmarkapp.com")),
        stream,
        integer(s, "maxMessagesPerCall", BATCH_LIMIT, 1, BATCH_LIMIT),
        integer(s, "maxConcurrentCalls", 4, 1, 256),
        number(s, "ratePerSecond", 0, 0, 1_000_000),
        size(s, "maxRequestSize", 40L * 1024 * 1024, 1024, 50L * 1024 * 1024),
        duration(s, "connectTimeout", Duration.ofSeconds(10)),
        duration(s, "requestTimeout", Duration.ofSeconds(60)));
  }

  /** An absolute http(s) URL without query, fragment or user info; returned without a trailing slash. */
  private static String baseUrl(String v) {
    try {
      URI u = new URI(v);
      String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
      if ((!scheme.equals("https") && !scheme.equals("http")) || u.getHost() == null || u.getRawQuery() != null
          || u.getRawFragment() != null || u.getRawUserInfo() != null) {
        throw invalid("baseUrl", "must be an http or https URL such as https://api.postmarkapp.com");
      }
      if (scheme.equals("http") && !io.mailgate.backend.http.SettingsReader.isLoopbackHost(u.getHost())) {
        throw invalid("baseUrl", "must use https (http is allowed only to 127.0.0.1, [::1] or localhost)");
      }
      return v.endsWith("/") ? v.substring(0, v.length() - 1) : v;
    } catch (URISyntaxException e) {
      throw invalid("baseUrl", "must be an http or https URL such as https://api.postmarkapp.com");
    }
  }

  private static InvalidInputException invalid(String key, String what) {
    return new InvalidInputException("invalid_setting", "settings." + key + " " + what, "settings." + key);
  }

  private static String string(JsonObject s, String key, String def) {
    Object v = s.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof String str)) {
      throw invalid(key, "must be a string");
    }
    if (str.indexOf('\r') >= 0 || str.indexOf('\n') >= 0 || str.indexOf('\0') >= 0) {
      throw invalid(key, "must not contain CR, LF or NUL");
    }
    return str;
  }

  private static int integer(JsonObject s, String key, int def, int min, int max) {
    Object v = s.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || n.doubleValue() < min || n.doubleValue() > max) {
      throw invalid(key, "must be an integer from " + min + " to " + max);
    }
    return n.intValue();
  }

  private static double number(JsonObject s, String key, double def, double min, double max) {
    Object v = s.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.doubleValue() < min || n.doubleValue() > max) {
      throw invalid(key, "must be a number from " + (long) min + " to " + (long) max);
    }
    return n.doubleValue();
  }

  private static long size(JsonObject s, String key, long def, long min, long max) {
    Object v = s.getValue(key);
    if (v == null) {
      return def;
    }
    long n;
    if (v instanceof Number num && num.doubleValue() == Math.rint(num.doubleValue())) {
      n = num.longValue();
    } else if (v instanceof String str) {
      try {
        n = new Settings(Map.of(key, str)).bytes(key, def);
      } catch (ConfigException e) {
        n = -1;
      }
    } else {
      n = -1;
    }
    if (n < min || n > max) {
      throw invalid(key, "must be a size from " + min + " bytes to " + (max >> 20) + "mb, such as 512kb or 40mb");
    }
    return n;
  }

  private static Duration duration(JsonObject s, String key, Duration def) {
    String v = string(s, key, null);
    if (v == null) {
      return def;
    }
    Duration d;
    try {
      d = Settings.parseDuration("settings." + key, v);
    } catch (ConfigException e) {
      throw invalid(key, "must be a duration such as 500ms, 30s or 5m");
    }
    if (d.isZero() || d.compareTo(Duration.ofHours(1)) > 0) {
      throw invalid(key, "must be more than 0 and at most 1h");
    }
    return d;
  }

  @Override
  public String toString() {
    return "PostmarkSettings[baseUrl=" + baseUrl + ", messageStream=" + messageStream + ", maxMessagesPerCall="
        + maxMessagesPerCall + ", maxConcurrentCalls=" + maxConcurrentCalls + "]";
  }
}

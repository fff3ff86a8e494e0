package io.mailgate.backend.ses;

import io.mailgate.config.ConfigException;
import io.mailgate.config.Settings;
import io.mailgate.error.InvalidInputException;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/** Settings of an {@code ses} backend (Amazon SES v2). README lists each with its default. */
record SesSettings(
    String accessKeyId,
    String secretAccessKey,
    String awsRegion,
    String endpoint,
    String configurationSetName,
    int maxEntriesPerCall,
    int maxConcurrentCalls,
    double ratePerSecond,
    Duration connectTimeout,
    Duration requestTimeout) {

  /** SES's own limit of entries in one SendBulkEmail call. */
  static final int BULK_LIMIT = 50;

  static final Set<String> SECRETS = Set.of("secretAccessKey");
  private static final Set<String> KNOWN = Set.of("accessKeyId", "secretAccessKey", "awsRegion", "endpoint",
      "configurationSetName", "maxEntriesPerCall", "maxConcurrentCalls", "ratePerSecond", "connectTimeout",
      "requestTimeout");

  static SesSettings parse(JsonObject s) {
    for (String k : s.fieldNames()) {
      if (!KNOWN.contains(k)) {
        throw invalid(k, "is not a setting of an ses backend (known: " + new TreeSet<>(KNOWN) + ")");
      }
    }
    String keyId = string(s, "accessKeyId", null);
    if (keyId == null || !keyId.matches("[A-Za-z0-9]{16,128}")) {
      throw invalid("accessKeyId", "is required: an AWS access key id (16 to 128 letters and digits)");
    }
    String secret = string(s, "secretAccessKey", null);
    if (secret == null || !secret.matches("[\\x21-\\x7e]{1,256}")) {
      throw invalid("secretAccessKey", "is required: the AWS secret access key (printable ASCII)");
    }
    String region = string(s, "awsRegion", null);
    if (region == null || !region.matches("[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")) {
      throw invalid("awsRegion", "is required: an AWS region such as eu-west-1");
    }
    String configSet = string(s, "configurationSetName", null);
    if (configSet != null && !configSet.matches("[A-Za-z0-9_-]{1,64}")) {
      throw invalid("configurationSetName", "must be 1 to 64 letters, digits, '-' or '_'");
    }
    return new SesSettings(keyId, secret, region,
        endpoint(string(s, "endpoint", null)),
        configSet,
        integer(s, "maxEntriesPerCall", BULK_LIMIT, 1, BULK_LIMIT),
        integer(s, "maxConcurrentCalls", 4, 1, 64),
        number(s, "ratePerSecond", 14, 0, 1_000_000),
        duration(s, "connectTimeout", Duration.ofSeconds(10)),
        duration(s, "requestTimeout", Duration.ofSeconds(60)));
  }

  private static String endpoint(String v) {
    if (v == null) {
      return null;
    }
    try {
      URI u = new URI(v);
      String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
      if ((!scheme.equals("https") && !scheme.equals("http")) || u.getHost() == null || u.getRawQuery() != null
          || u.getRawFragment() != null || u.getRawUserInfo() != null) {
        throw invalid("endpoint", "must be an http or https URL such as https://email.eu-west-1.amazonaws.com");
      }
      if (scheme.equals("http") && !io.mailgate.backend.http.SettingsReader.isLoopbackHost(u.getHost())) {
        throw invalid("endpoint", "must use https (http is allowed only to 127.0.0.1, [::1] or localhost)");
      }
      return v;
    } catch (URISyntaxException e) {
      throw invalid("endpoint", "must be an http or https URL such as https://email.eu-west-1.amazonaws.com");
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
    return "SesSettings[accessKeyId=" + accessKeyId + ", awsRegion=" + awsRegion + ", endpoint=" + endpoint
        + ", maxEntriesPerCall=" + maxEntriesPerCall + ", maxConcurrentCalls=" + maxConcurrentCalls + "]";
  }
}

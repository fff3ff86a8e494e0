package io.mailgate.backend;

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

/**
 * Typed reads of a backend's {@code settings}, with errors naming the field ({@code settings.apiKey}). Unknown keys
 * are refused. Error messages never repeat a value (it may be a secret). Every backend type parses with it.
 */
public final class SettingsReader {

  private final JsonObject settings;
  private final String type;

  public SettingsReader(JsonObject settings, String type, Set<String> known) {
    this.settings = settings;
    this.type = type;
    for (String k : settings.fieldNames()) {
      if (!known.contains(k)) {
        throw invalid(k, "is not a setting of a " + type + " backend (known: " + new TreeSet<>(known) + ")");
      }
    }
  }

  public static InvalidInputException invalid(String key, String what) {
    return new InvalidInputException("invalid_setting", "settings." + key + " " + what, "settings." + key);
  }

  public String string(String key, String def) {
    Object v = settings.getValue(key);
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

  public String required(String key) {
    String v = string(key, null);
    if (v == null || v.isBlank()) {
      throw invalid(key, "is required for a " + type + " backend");
    }
    return v;
  }

  /** A secret such as an API key: printable ASCII without spaces, so it fits an HTTP header as is. */
  public String secret(String key, boolean required) {
    String v = required ? required(key) : string(key, null);
    if (v != null && !v.matches("[\\x21-\\x7e]{1,512}")) {
      throw invalid(key, "must be 1 to 512 printable ASCII characters without spaces");
    }
    return v;
  }

  /** One of {@code allowed} (lower case); {@code def} when absent ({@code null}: required). */
  public String oneOf(String key, String def, Set<String> allowed) {
    String v = string(key, def);
    if (v == null) {
      throw invalid(key, "is required for a " + type + " backend: one of " + new TreeSet<>(allowed));
    }
    String lower = v.toLowerCase(Locale.ROOT);
    if (!allowed.contains(lower)) {
      throw invalid(key, "must be one of " + new TreeSet<>(allowed));
    }
    return lower;
  }

  public int integer(String key, int def, int min, int max) {
    Object v = settings.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || n.doubleValue() < min
        || n.doubleValue() > max) {
      throw invalid(key, "must be an integer from " + min + " to " + max);
    }
    return n.intValue();
  }

  public boolean bool(String key, boolean def) {
    Object v = settings.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Boolean b)) {
      throw invalid(key, "must be true or false");
    }
    return b;
  }

  /** A byte size: a whole number of bytes, or a string such as {@code 512kb} or {@code 40mb}. */
  public long size(String key, long def, long min, long max) {
    Object v = settings.getValue(key);
    if (v == null) {
      return def;
    }
    long n;
    if (v instanceof Number num && num.doubleValue() == Math.rint(num.doubleValue())) {
      n = num.longValue();
    } else if (v instanceof String str) {
      try {
        n = new Settings(java.util.Map.of(key, str)).bytes(key, def);
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

  public double number(String key, double def, double min, double max) {
    Object v = settings.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.doubleValue() < min || n.doubleValue() > max) {
      throw invalid(key, "must be a number from " + (long) min + " to " + (long) max);
    }
    return n.doubleValue();
  }

  public Duration duration(String key, Duration def) {
    String v = string(key, null);
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

  /**
   * An API base URL: {@code https://host[:port][/path]} without query or fragment, trailing '/' removed. Plain
   * {@code http} only to a loopback address (a local simulator or proxy): the API key must not cross a network
   * in clear text.
   */
  public String baseUrl(String key) {
    String v = string(key, null);
    if (v == null) {
      return null;
    }
    URI u;
    try {
      u = new URI(v.trim());
    } catch (URISyntaxException e) {
      throw invalid(key, "must be a URL such as https://api.example.com");
    }
    String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("https") && !scheme.equals("http") || u.getHost() == null || u.getRawQuery() != null
        || u.getRawFragment() != null || u.getRawUserInfo() != null) {
      throw invalid(key, "must be a URL such as https://api.example.com (no user, query or fragment)");
    }
    if (scheme.equals("http") && !loopback(u.getHost())) {
      throw invalid(key, "must use https (http is allowed only to 127.0.0.1, [::1] or localhost)");
    }
    String s = u.toString();
    while (s.endsWith("/")) {
      s = s.substring(0, s.length() - 1);
    }
    return s;
  }

  private static boolean loopback(String host) {
    return isLoopbackHost(host);
  }

  /** A loopback literal (127.x.y.z, [::1]) or localhost: the only hosts a secret may reach over plain http. */
  public static boolean isLoopbackHost(String host) {
    String h = host.toLowerCase(Locale.ROOT);
    return h.equals("localhost") || h.matches("127(\\.\\d{1,3}){3}") || h.equals("[::1]") || h.equals("::1");
  }
}

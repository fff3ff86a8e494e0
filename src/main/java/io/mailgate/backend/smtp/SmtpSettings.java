package io.mailgate.backend.smtp;

import io.mailgate.config.ConfigException;
import io.mailgate.config.Settings;
import io.mailgate.error.InvalidInputException;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;

/** Settings of an {@code smtp} backend: the customer's own mail server. README lists each with its default. */
public record SmtpSettings(
    String host,
    int port,
    Tls tls,
    String username,
    String password,
    boolean trustAll,
    boolean allowPlaintextAuth,
    int maxConnections,
    double ratePerSecond,
    String heloName,
    Duration connectTimeout,
    Duration commandTimeout,
    Duration dataTimeout,
    Duration idleTimeout,
    Duration downBackoff,
    int maxMessagesPerConnection) {

  /** {@code none}: plain; {@code starttls}: if offered; {@code starttls-required}: refuse plain; {@code implicit}: TLS from connect. */
  public enum Tls {
    NONE, STARTTLS, STARTTLS_REQUIRED, IMPLICIT;

    static Tls parse(String s) {
      return switch (s.toLowerCase(Locale.ROOT)) {
        case "none" -> NONE;
        case "starttls" -> STARTTLS;
        case "starttls-required" -> STARTTLS_REQUIRED;
        case "implicit" -> IMPLICIT;
        default -> throw new InvalidInputException("invalid_setting",
            "settings.tls must be one of none, starttls, starttls-required, implicit", "settings.tls");
      };
    }
  }

  public static final Set<String> SECRETS = Set.of("password");
  private static final Set<String> KNOWN = Set.of("host", "port", "tls", "username", "password", "trustAll",
      "allowPlaintextAuth", "maxConnections", "ratePerSecond", "heloName", "connectTimeout", "commandTimeout",
      "dataTimeout", "idleTimeout", "downBackoff", "maxMessagesPerConnection");

  public static SmtpSettings parse(JsonObject s) {
    for (String k : s.fieldNames()) {
      if (!KNOWN.contains(k)) {
        throw invalid(k, "is not a setting of an smtp backend (known: " + KNOWN + ")");
      }
    }
    String host = string(s, "host", null);
    if (host == null || host.isBlank() || !host.matches("[A-Za-z0-9.:\\[\\]-]{1,253}")) {
      throw invalid("host", "must be a host name or IP address");
    }
    Tls tls = Tls.parse(string(s, "tls", "starttls"));
    int port = integer(s, "port", tls == Tls.IMPLICIT ? 465 : 25, 1, 65535);
    String username = string(s, "username", null);
    String password = string(s, "password", null);
    if ((username == null) != (password == null)) {
      throw invalid(username == null ? "username" : "password", "username and password go together");
    }
    String helo = string(s, "heloName", null);
    if (helo == null) {
      helo = LocalHost.NAME;
    }
    if (!helo.matches("[A-Za-z0-9.-]{1,253}")) {
      throw invalid("heloName", "must be a host name");
    }
    return new SmtpSettings(host, port, tls, username, password,
        bool(s, "trustAll", false),
        bool(s, "allowPlaintextAuth", false),
        integer(s, "maxConnections", 10, 1, 1000),
        number(s, "ratePerSecond", 100, 0, 1_000_000),
        helo,
        duration(s, "connectTimeout", Duration.ofSeconds(10)),
        duration(s, "commandTimeout", Duration.ofSeconds(60)),
        duration(s, "dataTimeout", Duration.ofSeconds(120)),
        duration(s, "idleTimeout", Duration.ofSeconds(30)),
        duration(s, "downBackoff", Duration.ofSeconds(5)),
        integer(s, "maxMessagesPerConnection", 1000, 1, 1_000_000));
  }

  /**
   * The default EHLO name: this host's name, looked up once (a name lookup can block, so Gateway.start touches this
   * before any event loop runs).
   */
  public static final class LocalHost {
    public static final String NAME = lookup();

    private LocalHost() {}

    private static String lookup() {
      try {
        String h = java.net.InetAddress.getLocalHost().getCanonicalHostName();
        return h.matches("[A-Za-z0-9.-]{1,253}") ? h : "localhost";
      } catch (Exception e) {
        return "localhost";
      }
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
    if (str.indexOf('\r') >= 0 || str.indexOf('\n') >= 0) {
      throw invalid(key, "must not contain CR or LF");
    }
    return str;
  }

  private static int integer(JsonObject s, String key, int def, int min, int max) {
    Object v = s.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || n.intValue() < min || n.intValue() > max) {
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

  private static boolean bool(JsonObject s, String key, boolean def) {
    Object v = s.getValue(key);
    if (v == null) {
      return def;
    }
    if (!(v instanceof Boolean b)) {
      throw invalid(key, "must be true or false");
    }
    return b;
  }

  private static Duration duration(JsonObject s, String key, Duration def) {
    String v = string(s, key, null);
    if (v == null) {
      return def;
    }
    try {
      return Settings.parseDuration("settings." + key, v);
    } catch (ConfigException e) {
      throw invalid(key, "must be a duration such as 500ms, 30s or 5m");
    }
  }
}

package io.mailgate.backend.smtp;

import io.mailgate.backend.SettingsReader;
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
    int maxMessagesPerConnection,
    int maxRecipientsPerMessage) {

  /** {@code none}: plain; {@code starttls}: if offered; {@code starttls-required}: refuse plain; {@code implicit}: TLS from connect. */
  public enum Tls {
    NONE, STARTTLS, STARTTLS_REQUIRED, IMPLICIT;

    static Tls parse(String s) {
      return switch (s.toLowerCase(Locale.ROOT)) {
        case "none" -> NONE;
        case "starttls" -> STARTTLS;
        case "starttls-required" -> STARTTLS_REQUIRED;
        case "implicit" -> IMPLICIT;
        default -> throw SettingsReader.invalid("tls", "must be one of none, starttls, starttls-required, implicit");
      };
    }
  }

  public static final Set<String> SECRETS = Set.of("password");
  private static final Set<String> KNOWN = Set.of("host", "port", "tls", "username", "password", "trustAll",
      "allowPlaintextAuth", "maxConnections", "ratePerSecond", "heloName", "connectTimeout", "commandTimeout",
      "dataTimeout", "idleTimeout", "downBackoff", "maxMessagesPerConnection", "maxRecipientsPerMessage");

  public static SmtpSettings parse(JsonObject s) {
    SettingsReader r = new SettingsReader(s, "smtp", KNOWN);
    String host = r.string("host", null);
    if (host == null || host.isBlank() || !host.matches("[A-Za-z0-9.:\\[\\]-]{1,253}")) {
      throw SettingsReader.invalid("host", "must be a host name or IP address");
    }
    Tls tls = Tls.parse(r.string("tls", "starttls"));
    int port = r.integer("port", tls == Tls.IMPLICIT ? 465 : 25, 1, 65535);
    String username = r.string("username", null);
    String password = r.string("password", null);
    if ((username == null) != (password == null)) {
      throw SettingsReader.invalid(username == null ? "username" : "password", "username and password go together");
    }
    String helo = r.string("heloName", null);
    if (helo == null) {
      helo = LocalHost.NAME;
    }
    if (!helo.matches("[A-Za-z0-9.-]{1,253}")) {
      throw SettingsReader.invalid("heloName", "must be a host name");
    }
    return new SmtpSettings(host, port, tls, username, password,
        r.bool("trustAll", false),
        r.bool("allowPlaintextAuth", false),
        r.integer("maxConnections", 10, 1, 1000),
        r.number("ratePerSecond", 100, 0, 1_000_000),
        helo,
        r.duration("connectTimeout", Duration.ofSeconds(10)),
        r.duration("commandTimeout", Duration.ofSeconds(60)),
        r.duration("dataTimeout", Duration.ofSeconds(120)),
        r.duration("idleTimeout", Duration.ofSeconds(30)),
        r.duration("downBackoff", Duration.ofSeconds(5)),
        r.integer("maxMessagesPerConnection", 1000, 1, 1_000_000),
        // RFC 5321 4.5.3.1.8: a server must take at least 100 recipients per message
        r.integer("maxRecipientsPerMessage", 100, 1, 1000));
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
}

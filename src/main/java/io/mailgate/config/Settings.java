package io.mailgate.config;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Typed reads of named settings from a string map (the environment), with defaults and clear errors. */
public final class Settings {

  private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)");
  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(b|kb|k|kib|mb|m|mib|gb|g|gib)?");

  private final Map<String, String> values;

  public Settings(Map<String, String> values) {
    this.values = Map.copyOf(values);
  }

  public String string(String name, String defaultValue) {
    String v = values.get(name);
    return v == null || v.isBlank() ? defaultValue : v.trim();
  }

  public int integer(String name, int defaultValue, int min, int max) {
    String v = string(name, null);
    if (v == null) {
      return defaultValue;
    }
    try {
      int i = Integer.parseInt(v);
      if (i < min || i > max) {
        throw new ConfigException(name + " must be between " + min + " and " + max + ", got " + i);
      }
      return i;
    } catch (NumberFormatException e) {
      throw new ConfigException(name + " must be an integer, got '" + v + "'");
    }
  }

  public boolean bool(String name, boolean defaultValue) {
    String v = string(name, null);
    if (v == null) {
      return defaultValue;
    }
    return switch (v.toLowerCase(Locale.ROOT)) {
      case "true", "yes", "1", "on" -> true;
      case "false", "no", "0", "off" -> false;
      default -> throw new ConfigException(name + " must be true or false, got '" + v + "'");
    };
  }

  /** Durations are written with a unit: {@code 250ms}, {@code 30s}, {@code 5m}, {@code 8h}, {@code 5d}. */
  public Duration duration(String name, Duration defaultValue) {
    String v = string(name, null);
    if (v == null) {
      return defaultValue;
    }
    return parseDuration(name, v);
  }

  public static Duration parseDuration(String name, String v) {
    Matcher m = DURATION.matcher(v.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw new ConfigException(name + " must be a duration such as 250ms, 30s, 5m, 8h or 5d, got '" + v + "'");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }

  /** Byte sizes: {@code 1048576}, {@code 64kb}, {@code 16mb}, {@code 1gb}. */
  public long bytes(String name, long defaultValue) {
    String v = string(name, null);
    if (v == null) {
      return defaultValue;
    }
    Matcher m = SIZE.matcher(v.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw new ConfigException(name + " must be a size such as 65536, 64kb or 16mb, got '" + v + "'");
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "b" : m.group(2);
    return switch (unit) {
      case "b" -> n;
      case "kb", "k", "kib" -> n * 1024;
      case "mb", "m", "mib" -> n * 1024 * 1024;
      default -> n * 1024 * 1024 * 1024;
    };
  }
}

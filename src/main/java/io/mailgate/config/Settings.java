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

  /** A share between 0 (exclusive) and 1: {@code 0.5}, or a percentage {@code 50%}. */
  public double fraction(String name, double defaultValue) {
    String v = string(name, null);
    if (v == null) {
      return defaultValue;
    }
    try {
      double d = v.endsWith("%") ? Double.parseDouble(v.substring(0, v.length() - 1).trim()) / 100 : Double.parseDouble(v);
      if (!(d > 0 && d <= 1)) {
        throw new ConfigException(name + " must be more than 0 and at most 1 (or 100%), got '" + v + "'");
      }
      return d;
    } catch (NumberFormatException e) {
      throw new ConfigException(name + " must be a number such as 0.5 or 50%, got '" + v + "'");
    }
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
    try {
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      };
    } catch (NumberFormatException | ArithmeticException e) {
      throw new ConfigException(name + " is too large, got '" + v + "'");
    }
  }

  /** Byte sizes: {@code 1048576}, {@code 64kb}, {@code 16mb}, {@code 1gb}. */
  public long bytes(String name, long defaultValue) {
    return bytes(name, defaultValue, Long.MAX_VALUE);
  }

  /** A size that must fit {@code max}, e.g. {@code Integer.MAX_VALUE} for a setting held in an int. */
  public long bytes(String name, long defaultValue, long max) {
    String v = string(name, null);
    if (v == null) {
      return defaultValue;
    }
    Matcher m = SIZE.matcher(v.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw new ConfigException(name + " must be a size such as 65536, 64kb or 16mb, got '" + v + "'");
    }
    String unit = m.group(2) == null ? "b" : m.group(2);
    long size;
    try {
      long n = Long.parseLong(m.group(1));
      size = switch (unit) {
        case "b" -> n;
        case "kb", "k", "kib" -> Math.multiplyExact(n, 1024L);
        case "mb", "m", "mib" -> Math.multiplyExact(n, 1024L * 1024);
        default -> Math.multiplyExact(n, 1024L * 1024 * 1024);
      };
    } catch (NumberFormatException | ArithmeticException e) {
      throw new ConfigException(name + " is too large, got '" + v + "'");
    }
    if (size > max) {
      throw new ConfigException(name + " must be at most " + max + " bytes, got '" + v + "'");
    }
    return size;
  }
}

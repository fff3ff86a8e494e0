package io.mailgate.tenant;

import io.mailgate.error.InvalidInputException;
import java.util.Locale;
import java.util.regex.Pattern;

/** Residency regions are short lowercase codes: {@code eu}, {@code us}, {@code eu-central}. */
public final class Regions {
  private static final Pattern REGION = Pattern.compile("[a-z]{2,8}(-[a-z0-9]{1,16})?");

  private Regions() {}

  public static String parse(String value, String field) {
    if (value == null || value.isBlank()) {
      throw new InvalidInputException("missing_field", field + " is required", field);
    }
    String r = value.trim().toLowerCase(Locale.ROOT);
    if (!REGION.matcher(r).matches()) {
      throw new InvalidInputException("invalid_region", field + " must be a region code such as eu or us", field);
    }
    return r;
  }
}

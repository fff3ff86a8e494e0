package io.mailgate.job;

import io.mailgate.error.InvalidInputException;
import java.util.Locale;

/**
 * A job's lane in dispatch: {@code high} jobs (transactional mail; small jobs by default) are claimed first and get
 * their own share of every backend, so they never wait behind a campaign; {@code normal} and {@code low} share the
 * campaign lane, normal first. Stored as 2, 1, 0.
 */
public enum Priority {
  LOW(0), NORMAL(1), HIGH(2);

  public final int code;

  Priority(int code) {
    this.code = code;
  }

  public String json() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Priority of(int code) {
    return code >= 2 ? HIGH : code == 1 ? NORMAL : LOW;
  }

  public static Priority parse(String s, String field) {
    for (Priority p : values()) {
      if (p.json().equals(s)) {
        return p;
      }
    }
    throw new InvalidInputException("invalid_field", field + " must be one of high, normal, low", field);
  }
}

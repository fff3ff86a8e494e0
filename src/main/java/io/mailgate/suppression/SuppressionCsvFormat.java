package io.mailgate.suppression;

import io.mailgate.error.InvalidInputException;
import io.mailgate.message.EmailAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * How the columns of a suppression CSV map to a suppression's fields: a header name per field, in any order, and a
 * reason for files whose shape implies it. {@link #MAILGATE} is our own (what the export writes); other shapes (such
 * as Mailgun's bounces {@code address,code,error,created_at}, unsubscribes {@code address,tags,created_at},
 * complaints {@code address,created_at}) are further instances with their own names and a fixed reason.
 * {@code everyTag} is the tag value that means "every job" in that shape (Mailgun's {@code *}), or null.
 */
public record SuppressionCsvFormat(String name, Map<String, Field> columns, String fixedReason, String everyTag) {

  /** The reasons a suppression may have (the schema's CHECK holds the same list). */
  public static final java.util.Set<String> REASONS = java.util.Set.of("hard_bounce", "complaint", "unsubscribe", "manual");

  /** What a column holds. */
  public enum Field { ADDRESS, REASON, TAG, CODE, DETAIL, CREATED_AT }

  /** Our own columns; only {@code address} is required. */
  public static final SuppressionCsvFormat MAILGATE = new SuppressionCsvFormat("mailgate", ordered(
      "address", Field.ADDRESS, "reason", Field.REASON, "tag", Field.TAG, "created_at", Field.CREATED_AT,
      "code", Field.CODE, "detail", Field.DETAIL), null, null);

  /** A shape of the caller's: {@code pairs} are column name, {@link Field}, ... in the order of the header. */
  public static SuppressionCsvFormat of(String name, String fixedReason, String everyTag, Object... pairs) {
    return new SuppressionCsvFormat(name, ordered(pairs), fixedReason, everyTag);
  }

  /** The header of our own CSV, in the order the export writes its columns. */
  public static final List<String> EXPORT_HEADER = List.copyOf(MAILGATE.columns().keySet());

  /**
   * Each column of a header line, by position: names compared without case and surrounding blanks. Unknown,
   * repeated or missing required columns are refused (at line {@code line}), naming them.
   */
  public Field[] header(List<String> names, long line) {
    Field[] out = new Field[names.size()];
    List<String> unknown = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      String n = names.get(i).strip().toLowerCase(Locale.ROOT);
      Field f = columns.get(n);
      if (f == null) {
        unknown.add(EmailAddress.printable(n.isEmpty() ? "(empty)" : n));
        continue;
      }
      for (int j = 0; j < i; j++) {
        if (out[j] == f) {
          throw new InvalidInputException("duplicate_column", "column '" + n + "' appears twice in the header", n, line);
        }
      }
      out[i] = f;
    }
    if (!unknown.isEmpty()) {
      throw new InvalidInputException("unknown_column", "unknown column" + (unknown.size() > 1 ? "s " : " ")
          + String.join(", ", unknown.stream().map(u -> "'" + u + "'").toList()) + " in the header; known: "
          + new TreeSet<>(columns.keySet()), unknown.get(0), line);
    }
    boolean hasAddress = false;
    for (Field f : out) {
      hasAddress |= f == Field.ADDRESS;
    }
    if (!hasAddress) {
      String col = columns.entrySet().stream().filter(e -> e.getValue() == Field.ADDRESS).findFirst().orElseThrow().getKey();
      throw new InvalidInputException("missing_column", "the header has no '" + col + "' column (the first line is the header)",
          col, line);
    }
    return out;
  }

  /** The header name of a field, for messages. */
  public String nameOf(Field f) {
    return columns.entrySet().stream().filter(e -> e.getValue() == f).map(Map.Entry::getKey).findFirst().orElse(f.name());
  }

  private static Map<String, Field> ordered(Object... pairs) {
    Map<String, Field> m = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      m.put((String) pairs[i], (Field) pairs[i + 1]);
    }
    return java.util.Collections.unmodifiableMap(m);
  }
}

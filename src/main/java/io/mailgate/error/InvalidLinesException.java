package io.mailgate.error;

import java.util.List;

/**
 * A line-oriented body (a CSV import) has invalid lines: the first of them with their 1-based line numbers, and how
 * many there were in all (every line is checked). Nothing was stored.
 */
public class InvalidLinesException extends InvalidInputException {

  /** One invalid line: its number, the column at fault (if one is), and why. */
  public record LineProblem(long line, String column, String message) {}

  private final List<LineProblem> lines;
  private final long total;

  public InvalidLinesException(String message, List<LineProblem> lines, long total) {
    super("invalid_lines", message, null, lines.isEmpty() ? null : lines.get(0).line());
    this.lines = List.copyOf(lines);
    this.total = total;
  }

  public List<LineProblem> lines() {
    return lines;
  }

  public long total() {
    return total;
  }
}

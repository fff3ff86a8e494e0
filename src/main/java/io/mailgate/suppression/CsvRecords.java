package io.mailgate.suppression;

import java.util.ArrayList;
import java.util.List;

/**
 * RFC 4180 records assembled from lines (their '\n' already cut, a '\r' before it is part of the line end): fields
 * separated by ',', a field in double quotes may hold ',', '""' (one quote) and line breaks, so one record may span
 * lines. A hand-written scan, one pass per line: it runs over every line of a million-line import, and needs no
 * more than the record at hand. Not thread-safe; one per import.
 */
final class CsvRecords {

  /** The record is not RFC 4180; it is dropped and the next line starts a new one. */
  static final class Malformed extends Exception {
    Malformed(String message) {
      super(message, null, false, false);
    }
  }

  private final int maxRecordChars;
  private final List<String> fields = new ArrayList<>();
  private final StringBuilder field = new StringBuilder();
  private boolean inQuotes;
  private boolean afterQuote;
  private int recordChars;

  CsvRecords(int maxRecordChars) {
    this.maxRecordChars = maxRecordChars;
  }

  /** A quoted field is open: the next line continues the record. */
  boolean inRecord() {
    return inQuotes;
  }

  /** Drops the record in progress. */
  void reset() {
    fields.clear();
    field.setLength(0);
    inQuotes = false;
    afterQuote = false;
    recordChars = 0;
  }

  /**
   * Feeds one line. @return the record's fields once it is complete, {@code null} while a quoted field goes on to
   * the next line
   */
  List<String> line(String line) throws Malformed {
    int n = line.length();
    boolean cr = n > 0 && line.charAt(n - 1) == '\r';
    if (cr) {
      n--;
    }
    recordChars += line.length() + 1;
    if (recordChars > maxRecordChars) {
      reset();
      throw new Malformed("the record is longer than " + maxRecordChars + " characters (is a quote not closed?)");
    }
    boolean fieldStart = !inQuotes && field.length() == 0 && !afterQuote;
    for (int i = 0; i < n; i++) {
      char c = line.charAt(i);
      if (inQuotes) {
        if (c != '"') {
          field.append(c);
        } else if (i + 1 < n && line.charAt(i + 1) == '"') {
          field.append('"');
          i++;
        } else {
          inQuotes = false;
          afterQuote = true;
        }
      } else if (c == ',') {
        fields.add(field.toString());
        field.setLength(0);
        afterQuote = false;
        fieldStart = true;
      } else if (afterQuote) {
        reset();
        throw new Malformed("a character after a closing quote (field " + (fields.size() + 1) + "): only ',' may follow it");
      } else if (c == '"') {
        if (!fieldStart) {
          reset();
          throw new Malformed("a quote inside an unquoted field (field " + (fields.size() + 1) + "): quote the whole field");
        }
        inQuotes = true;
        fieldStart = false;
      } else {
        field.append(c);
        fieldStart = false;
      }
    }
    if (inQuotes) {
      // a line break inside quotes belongs to the field
      field.append(cr ? "\r\n" : "\n");
      return null;
    }
    fields.add(field.toString());
    List<String> out = new ArrayList<>(fields);
    reset();
    return out;
  }

  /** One field for a CSV line: quoted when RFC 4180 needs it, or when it starts like a spreadsheet formula. */
  static void appendField(StringBuilder out, String v) {
    if (v == null || v.isEmpty()) {
      return;
    }
    boolean quote = false;
    char first = v.charAt(0);
    // quoting does not disarm a formula in every spreadsheet, but it keeps the value exact and visibly text
    if (first == '=' || first == '+' || first == '-' || first == '@' || first == ' ' || v.charAt(v.length() - 1) == ' ') {
      quote = true;
    }
    for (int i = 0; i < v.length() && !quote; i++) {
      char c = v.charAt(i);
      quote = c == ',' || c == '"' || c == '\r' || c == '\n';
    }
    if (!quote) {
      out.append(v);
      return;
    }
    out.append('"');
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '"') {
        out.append('"');
      }
      out.append(c);
    }
    out.append('"');
  }
}

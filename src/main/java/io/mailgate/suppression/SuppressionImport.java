package io.mailgate.suppression;

import io.mailgate.config.GatewayConfig.SuppressionCsvConfig;
import io.mailgate.error.InvalidInputException;
import io.mailgate.error.InvalidLinesException;
import io.mailgate.error.InvalidLinesException.LineProblem;
import io.mailgate.error.PayloadTooLargeException;
import io.mailgate.error.RequestTimeoutException;
import io.mailgate.job.LineLimitedStream;
import io.mailgate.message.EmailAddress;
import io.mailgate.store.SuppressionImportTransaction;
import io.mailgate.store.SuppressionStore;
import io.mailgate.suppression.SuppressionCsvFormat.Field;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.parsetools.RecordParser;
import io.vertx.core.streams.ReadStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

/**
 * One CSV import in flight, streamed into one transaction the way an NDJSON job is: lines are checked as they
 * arrive, valid rows fill a batch of {@code batchRows}, full batches are written while the next fills, and the body
 * is paused while {@code batchesInFlight} writes are outstanding, so memory does not grow with the file. At the
 * first invalid line the transaction is rolled back; the rest of the body is still read and checked, so the answer
 * lists the first {@code maxErrors} invalid lines and counts them all. All callbacks run on the request's event loop.
 */
final class SuppressionImport {

  /** What an import needs: the store, its bounds, and the batching and timeout of intake. */
  record Setup(Vertx vertx, SuppressionStore store, SuppressionCsvConfig csv, int batchRows, int batchesInFlight,
               Duration timeout, int maxTagChars) {}

  /** The answer: suppressions new to the list, and the other valid lines (already listed, or repeated in the file). */
  record Result(long imported, long updated) {}

  private static final int MAX_DETAIL_CHARS = 500;

  private final Setup s;
  private final UUID tenantId;
  private final SuppressionCsvFormat format;
  private final String defaultReason;
  private final RecordParser lines;
  private final CsvRecords csv;
  private final ArrayDeque<Long> tooLong = new ArrayDeque<>();
  private final Promise<Result> result = Promise.promise();
  private final List<LineProblem> problems = new ArrayList<>();
  private SuppressionImportTransaction tx;
  private Field[] header;
  private long lineNo;
  private long recordLine;
  private long bytes;
  private long rows;
  private long invalid;
  private long imported;
  private String[] address;
  private String[] tag;
  private String[] reason;
  private Integer[] code;
  private String[] detail;
  private OffsetDateTime[] createdAt;
  private int fill;
  private int inFlight;
  private boolean ended;
  private boolean done;

  SuppressionImport(Setup setup, UUID tenantId, SuppressionCsvFormat format, String defaultReason, ReadStream<Buffer> body) {
    this.s = setup;
    this.tenantId = tenantId;
    this.format = format;
    this.defaultReason = defaultReason;
    this.csv = new CsvRecords(setup.csv().maxLineBytes());
    // an over-long line is one more invalid line, not the end of the import: its number is noted, its bytes past
    // the limit dropped, and the count goes on
    this.lines = RecordParser.newDelimited("\n", new LineLimitedStream(body, setup.csv().maxLineBytes(), tooLong::add));
  }

  Future<Result> run() {
    newBatch();
    // a client that trickles its body would hold a stream slot and a database transaction: bound the whole upload
    long deadline = s.vertx().setTimer(s.timeout().toMillis(), id -> fail(new RequestTimeoutException(
        "the import was not received within " + s.timeout().toSeconds() + " s (MAILGATE_INGEST_TIMEOUT); nothing was stored")));
    result.future().onComplete(ar -> s.vertx().cancelTimer(deadline));
    lines.exceptionHandler(this::fail);
    lines.handler(this::onLine);
    lines.endHandler(v -> {
      ended = true;
      maybeFinish();
    });
    // the request was paused while the caller was authenticated: start reading
    lines.resume();
    return result.future();
  }

  private void onLine(Buffer raw) {
    if (done) {
      return;
    }
    lineNo++;
    bytes += raw.length() + 1;
    if (bytes > s.csv().maxBodyBytes()) {
      fail(new PayloadTooLargeException("the import is larger than " + s.csv().maxBodyBytes()
          + " bytes (MAILGATE_SUPPRESSION_IMPORT_MAX_BODY); nothing was stored"));
      return;
    }
    if (lineNo > s.csv().maxLines() + 1) {
      fail(new PayloadTooLargeException("the import has more than " + s.csv().maxLines()
          + " lines after its header (MAILGATE_SUPPRESSION_IMPORT_MAX_LINES); nothing was stored"));
      return;
    }
    if (!tooLong.isEmpty() && tooLong.peekFirst() == lineNo) {
      tooLong.removeFirst();
      long at = csv.inRecord() ? recordLine : lineNo;
      csv.reset();
      String why = "line " + lineNo + " is longer than " + s.csv().maxLineBytes() + " bytes (MAILGATE_SUPPRESSION_IMPORT_MAX_LINE)";
      if (header == null) {
        fail(new InvalidInputException("line_too_long", why, null, lineNo));
      } else {
        problem(at, null, why);
      }
      return;
    }
    String text = raw.toString(StandardCharsets.UTF_8);
    if (!csv.inRecord()) {
      if (header == null && text.startsWith("\uFEFF")) {
        text = text.substring(1); // a byte order mark, as spreadsheets write them
      }
      if (text.isBlank()) {
        return;
      }
      recordLine = lineNo;
    }
    List<String> fields;
    try {
      fields = csv.line(text);
    } catch (CsvRecords.Malformed e) {
      if (header == null) {
        fail(new InvalidInputException("invalid_csv", "the header: " + e.getMessage(), null, recordLine));
      } else {
        problem(recordLine, null, e.getMessage());
      }
      return;
    }
    if (fields == null) {
      return; // a quoted field goes on
    }
    if (header == null) {
      try {
        header = format.header(fields, recordLine);
      } catch (InvalidInputException e) {
        fail(e);
        return;
      }
      // nothing more is read until the transaction is open
      lines.pause();
      s.store().beginImport(tenantId).onComplete(ar -> {
        if (ar.failed()) {
          fail(ar.cause());
          return;
        }
        tx = ar.result();
        if (done || invalid > 0) {
          tx.rollback();
        } else {
          lines.resume();
        }
        maybeFinish();
      });
      return;
    }
    rows++;
    String problem = row(fields);
    if (problem != null) {
      return;
    }
    if (invalid > 0) {
      return; // nothing more is written: only counting
    }
    fill++;
    if (fill == address.length) {
      writeBatch();
    }
  }

  /** Checks one record and puts it at {@code fill}; @return a non-null value when the line is invalid (reported). */
  private String row(List<String> fields) {
    if (fields.size() != header.length) {
      return problem(recordLine, null, "expected " + header.length + " fields as in the header, got " + fields.size());
    }
    String a = null;
    String r = null;
    String t = "";
    Integer c = null;
    String d = null;
    OffsetDateTime at = null;
    for (int i = 0; i < header.length; i++) {
      String v = fields.get(i).strip();
      Field f = header[i];
      String col = format.nameOf(f);
      if (f != Field.DETAIL && (v.indexOf('\r') >= 0 || v.indexOf('\n') >= 0) || v.indexOf('\0') >= 0) {
        return problem(recordLine, col, col + " contains a line break or NUL");
      }
      if (v.isEmpty()) {
        continue;
      }
      switch (f) {
        case ADDRESS -> {
          String why = EmailAddress.problem(v);
          if (why != null) {
            return problem(recordLine, col, why);
          }
          a = EmailAddress.key(v);
        }
        case REASON -> {
          if (!SuppressionCsvFormat.REASONS.contains(v)) {
            return problem(recordLine, col, col + " must be one of " + new java.util.TreeSet<>(SuppressionCsvFormat.REASONS) + ", got '"
                + EmailAddress.printable(clip(v)) + "'");
          }
          r = v;
        }
        case TAG -> {
          if (v.equals(format.everyTag())) {
            continue;
          }
          if (v.length() > s.maxTagChars() || !v.chars().allMatch(ch -> ch >= 0x20 && ch < 0x7f)) {
            return problem(recordLine, col, col + " must be printable ASCII of 1 to " + s.maxTagChars() + " characters");
          }
          t = v;
        }
        case CODE -> {
          try {
            c = Integer.parseInt(v);
          } catch (NumberFormatException e) {
            c = -1;
          }
          if (c < 0 || c > 999) {
            return problem(recordLine, col, col + " must be a reply code of up to 3 digits, got '" + EmailAddress.printable(clip(v)) + "'");
          }
        }
        case DETAIL -> {
          if (v.length() > MAX_DETAIL_CHARS || v.indexOf('\r') >= 0 || v.indexOf('\n') >= 0) {
            return problem(recordLine, col, col + " must be one line of at most " + MAX_DETAIL_CHARS + " characters");
          }
          d = v;
        }
        case CREATED_AT -> {
          at = time(v);
          if (at == null) {
            return problem(recordLine, col, col + " must be an ISO-8601 time with an offset (2026-12-01T10:15:00Z) or an RFC 2822 date, got '"
                + EmailAddress.printable(clip(v)) + "'");
          }
          if (at.isAfter(OffsetDateTime.now().plusDays(1))) {
            return problem(recordLine, col, col + " is in the future");
          }
        }
        default -> throw new IllegalStateException(f.name());
      }
    }
    if (a == null) {
      return problem(recordLine, format.nameOf(Field.ADDRESS), "address is missing");
    }
    r = format.fixedReason() != null ? format.fixedReason() : r != null ? r : defaultReason;
    if (!t.isEmpty() && !r.equals("unsubscribe")) {
      return problem(recordLine, format.nameOf(Field.TAG), "only an unsubscribe may be limited to a tag (reason is " + r + ")");
    }
    address[fill] = a;
    tag[fill] = t;
    reason[fill] = r;
    code[fill] = c;
    detail[fill] = d;
    createdAt[fill] = at;
    return null;
  }

  /** Notes an invalid line; the first one ends the writing (the transaction rolls back), never the reading. */
  private String problem(long line, String column, String message) {
    invalid++;
    if (problems.size() < s.csv().maxErrors()) {
      problems.add(new LineProblem(line, column, message));
    }
    if (invalid == 1 && tx != null) {
      tx.rollback();
      newBatch();
    }
    return message;
  }

  private void newBatch() {
    int n = s.batchRows();
    address = new String[n];
    tag = new String[n];
    reason = new String[n];
    code = new Integer[n];
    detail = new String[n];
    createdAt = new OffsetDateTime[n];
    fill = 0;
  }

  private void writeBatch() {
    int n = fill;
    Future<Integer> written = tx.write(cut(address, n), cut(tag, n), cut(reason, n), cut(code, n), cut(detail, n),
        cut(createdAt, n));
    newBatch();
    inFlight++;
    if (inFlight >= s.batchesInFlight()) {
      lines.pause();
    }
    written.onComplete(ar -> {
      inFlight--;
      if (ar.failed()) {
        if (invalid == 0) {
          fail(ar.cause());
        }
      } else {
        imported += ar.result();
      }
      if (!done && !ended && inFlight < s.batchesInFlight()) {
        lines.resume();
      }
      maybeFinish();
    });
  }

  private void maybeFinish() {
    if (done || !ended) {
      return;
    }
    if (header == null) {
      fail(new InvalidInputException("missing_header", "the body is empty: the first line must be the header, e.g. "
          + String.join(",", SuppressionCsvFormat.EXPORT_HEADER), null, 1L));
      return;
    }
    if (csv.inRecord()) {
      csv.reset();
      problem(recordLine, null, "a quoted field is not closed by the end of the body");
    }
    if (invalid > 0) {
      done = true;
      result.tryFail(new InvalidLinesException(invalid + " of " + rows + " lines are invalid; nothing was imported",
          problems, invalid));
      return;
    }
    if (tx == null) {
      return; // the transaction is still being opened
    }
    if (fill > 0) {
      writeBatch();
      return;
    }
    if (inFlight > 0) {
      return;
    }
    done = true;
    tx.commit().onSuccess(v -> result.complete(new Result(imported, rows - imported))).onFailure(result::tryFail);
  }

  private void fail(Throwable e) {
    if (done) {
      return;
    }
    done = true;
    lines.pause();
    if (tx != null) {
      tx.rollback();
    }
    result.tryFail(e);
  }

  /** ISO-8601 with an offset, or an RFC 2822 date ({@code Tue, 01 Dec 2026 10:15:00 GMT}, {@code UTC} or an offset). */
  static OffsetDateTime time(String v) {
    try {
      return OffsetDateTime.parse(v);
    } catch (DateTimeParseException e) {
      // below
    }
    try {
      return OffsetDateTime.parse(v.replaceFirst(" UTC$", " GMT"), java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME);
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  private static <T> T[] cut(T[] a, int n) {
    return n == a.length ? a : Arrays.copyOf(a, n);
  }

  private static String clip(String v) {
    return v.length() > 40 ? v.substring(0, 40) + "..." : v;
  }
}

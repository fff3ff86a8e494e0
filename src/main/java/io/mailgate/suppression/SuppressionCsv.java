package io.mailgate.suppression;

import io.mailgate.config.GatewayConfig.SuppressionCsvConfig;
import io.mailgate.error.PayloadTooLargeException;
import io.mailgate.job.Admission;
import io.mailgate.store.SuppressionStore;
import io.mailgate.store.SuppressionStore.Suppression;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;
import io.vertx.core.streams.WriteStream;
import java.time.Duration;
import java.util.UUID;

/**
 * A tenant's suppression list as CSV, both ways, in memory that does not grow with the list. Import: a header line,
 * then one suppression a line ({@link SuppressionImport}), all or nothing, admitted like an NDJSON upload (a stream
 * holding a transaction). Export: every suppression through a database cursor, written as the client takes it.
 */
public final class SuppressionCsv {

  /** Rows of the export gathered into one write of about this size (a write per row costs a syscall each). */
  static final int EXPORT_WRITE_BYTES = 32 * 1024;

  private final SuppressionImport.Setup setup;
  private final Admission admission;

  public SuppressionCsv(Vertx vertx, SuppressionStore store, SuppressionCsvConfig csv, int batchRows, int batchesInFlight,
                        Duration timeout, int maxTagChars, Admission admission) {
    this.setup = new SuppressionImport.Setup(vertx, store, csv, batchRows, batchesInFlight, timeout, maxTagChars);
    this.admission = admission;
  }

  /** What an import did: suppressions new to the list, and the other valid lines (already listed, or repeated). */
  public record Imported(long imported, long updated) {}

  /**
   * Imports {@code body} (our own columns, in any order; {@code defaultReason} for lines without one) for the tenant,
   * answering once it is committed. {@code declaredBytes} is the Content-Length, or -1.
   */
  public Future<Imported> importCsv(UUID tenantId, long declaredBytes, ReadStream<Buffer> body, String defaultReason) {
    return importCsv(tenantId, declaredBytes, body, SuppressionCsvFormat.MAILGATE, defaultReason);
  }

  /** The same for a file of another shape ({@code format}: its columns, and the reason it implies). */
  public Future<Imported> importCsv(UUID tenantId, long declaredBytes, ReadStream<Buffer> body, SuppressionCsvFormat format,
                                    String defaultReason) {
    if (declaredBytes > setup.csv().maxBodyBytes()) {
      return Future.failedFuture(new PayloadTooLargeException("the import is larger than " + setup.csv().maxBodyBytes()
          + " bytes (MAILGATE_SUPPRESSION_IMPORT_MAX_BODY)"));
    }
    return admission.admit(tenantId, 0, true).compose(ticket -> {
      Future<SuppressionImport.Result> f;
      try {
        f = new SuppressionImport(setup, tenantId, format, defaultReason, body).run();
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      return f.andThen(ar -> ticket.release()).map(r -> new Imported(r.imported(), r.updated()));
    });
  }

  /**
   * Writes the tenant's suppressions (of one reason, when given) to {@code out} as CSV with a header line, in address
   * order: the cursor is paused while {@code out}'s write queue is full. The future fails if the database or
   * {@code out} does (the client went away); {@code out} is not ended here.
   */
  public Future<Void> export(UUID tenantId, String reason, WriteStream<Buffer> out) {
    return setup.store().stream(tenantId, reason, setup.csv().exportFetchRows(), rows -> {
      Promise<Void> done = Promise.promise();
      StringBuilder pending = new StringBuilder(EXPORT_WRITE_BYTES + 1024);
      pending.append(String.join(",", SuppressionCsvFormat.EXPORT_HEADER)).append("\r\n");
      out.exceptionHandler(done::tryFail);
      rows.exceptionHandler(done::tryFail);
      rows.endHandler(v -> {
        if (pending.length() > 0) {
          out.write(Buffer.buffer(pending.toString()));
        }
        done.tryComplete();
      });
      rows.handler(s -> {
        appendRow(pending, s);
        if (pending.length() >= EXPORT_WRITE_BYTES) {
          out.write(Buffer.buffer(pending.toString()));
          pending.setLength(0);
          if (out.writeQueueFull()) {
            rows.pause();
            out.drainHandler(d -> rows.resume());
          }
        }
      });
      return done.future();
    });
  }

  /** One line of the export, in the order of {@link SuppressionCsvFormat#EXPORT_HEADER}, ending CRLF (RFC 4180). */
  static void appendRow(StringBuilder out, Suppression s) {
    CsvRecords.appendField(out, s.address());
    out.append(',');
    CsvRecords.appendField(out, s.reason());
    out.append(',');
    CsvRecords.appendField(out, s.tag());
    out.append(',');
    out.append(s.createdAt().toInstant().toString());
    out.append(',');
    if (s.code() != null) {
      out.append(s.code().intValue());
    }
    out.append(',');
    CsvRecords.appendField(out, s.detail());
    out.append("\r\n");
  }
}

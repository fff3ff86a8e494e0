package io.mailgate.api;

import static io.mailgate.support.TestJobs.counts;
import static io.mailgate.support.TestJobs.recipientsByEmail;
import static io.mailgate.support.TestJobs.submit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.store.DbTarget;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * CSV import and export of suppressions through the HTTP API on real PostgreSQL: quoted fields and any column order
 * are taken and enforced at dispatch; a file with invalid lines lists them by number and stores nothing, even after
 * batches were written; a large file streams in; the export gives back what was imported, for its tenant only.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SuppressionCsvTest {

  static DbTarget db;
  static TestGateway gw;
  static Api api;
  static ScriptedSmtpServer smtp;

  @BeforeAll
  static void start() {
    db = TestDatabase.fresh();
    // small batches, so a bad line late in a file comes after batches were already written
    gw = TestGateway.start(db, Map.of("MAILGATE_INGEST_BATCH_ROWS", "100", "MAILGATE_SUPPRESSION_IMPORT_MAX_LINE", "200",
        "MAILGATE_SUPPRESSION_IMPORT_MAX_ERRORS", "5"));
    api = gw.api;
    smtp = new ScriptedSmtpServer().start();
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
    if (smtp != null) {
      smtp.close();
    }
  }

  static Api.Response importCsv(TenantKey t, String query, String csv) {
    return api.send("POST", "/v1/suppressions/import" + query, t.apiKey(), "text/csv",
        HttpRequest.BodyPublishers.ofString(csv), Map.of());
  }

  static long stored(TenantKey t) {
    return TestDatabase.count(db, "SELECT count(*) FROM suppressions WHERE tenant_id = '" + t.id() + "'");
  }

  static Map<String, JsonObject> listed(TenantKey t) {
    Map<String, JsonObject> out = new HashMap<>();
    Api.Response r = api.get("/v1/suppressions?limit=1000", t.apiKey());
    Api.expect(r, 200);
    r.json().getJsonArray("items").forEach(o -> {
      JsonObject s = (JsonObject) o;
      out.put(s.getString("address") + "/" + s.getString("tag", ""), s);
    });
    return out;
  }

  @Test
  void importsQuotedFieldsInAnyColumnOrderWithCrlfAndTheListIsEnforced() {
    TenantKey t = api.tenantOnSmtp("csv-enforced", smtp.port(), null);
    String csv = "Tag, ADDRESS ,reason,created_at,detail\r\n"
        + "\"\",ann@example.com,hard_bounce,2026-11-01T10:00:00Z,\"550 5.1.1 \"\"no such user\"\", sorry\"\r\n"
        + "spring,\"Bob@Example.com\",\"unsubscribe\",,\r\n"
        + ",\"carl@example.com\",,,\r\n"
        + "\r\n"
        + "\"x,y\",dan@example.com,unsubscribe,2026-11-02T11:00:00+01:00,\r\n";
    Api.Response r = importCsv(t, "", csv);
    Api.expect(r, 200);
    assertEquals(new JsonObject().put("imported", 4).put("updated", 0), r.json());

    Map<String, JsonObject> s = listed(t);
    assertEquals(4, s.size(), s.toString());
    JsonObject ann = s.get("ann@example.com/");
    assertEquals("hard_bounce", ann.getString("reason"));
    assertEquals("2026-11-01T10:00:00Z", ann.getString("createdAt"));
    assertEquals("550 5.1.1 \"no such user\", sorry", ann.getString("detail"));
    assertEquals("unsubscribe", s.get("bob@example.com/spring").getString("reason"));
    assertEquals("manual", s.get("carl@example.com/").getString("reason"));
    assertEquals("2026-11-02T10:00:00Z", s.get("dan@example.com/x,y").getString("createdAt"));

    // enforced at dispatch: the suppressed addresses are never sent to
    String job = submit(api, t, List.of("ann@example.com", "carl@example.com", "erin@example.com"));
    api.awaitState(t, job, "completed", Duration.ofSeconds(60));
    assertEquals(2, counts(api, t, job).getInteger("suppressed"));
    assertEquals("sent", recipientsByEmail(api, t, job).get("erin@example.com").getString("state"));
    assertEquals("suppressed", recipientsByEmail(api, t, job).get("ann@example.com").getString("state"));
  }

  @Test
  void aLaterLineWinsOverAnEarlierOneAndOverWhatIsListed() {
    TenantKey t = api.createTenant("csv-upsert", "eu");
    Api.expect(importCsv(t, "", "address,reason,detail\nold@example.com,hard_bounce,550 gone\n"), 200);
    // ?reason= is the default for lines without one; the second line of new@ wins over its first
    Api.Response r = importCsv(t, "?reason=complaint", "address,reason,created_at\n"
        + "old@example.com,,\n"
        + "new@example.com,manual,2026-10-01T00:00:00Z\n"
        + "NEW@example.com,,\n");
    Api.expect(r, 200);
    assertEquals(new JsonObject().put("imported", 1).put("updated", 2), r.json());
    Map<String, JsonObject> s = listed(t);
    assertEquals(2, s.size());
    assertEquals("complaint", s.get("old@example.com/").getString("reason"));
    assertFalse(s.get("old@example.com/").containsKey("detail"), "the line replaces the detail");
    assertEquals("complaint", s.get("new@example.com/").getString("reason"));
    assertEquals("2026-10-01T00:00:00Z", s.get("new@example.com/").getString("createdAt"), "the last time given is kept");
  }

  @Test
  void aFileWithInvalidLinesIsRefusedWithTheirNumbersAndNothingIsStored() {
    TenantKey t = api.createTenant("csv-invalid", "eu");
    Api.expect(importCsv(t, "", "address\nkept@example.com\n"), 200);
    long before = stored(t);
    StringBuilder csv = new StringBuilder("address,reason,tag\n");
    for (int i = 0; i < 450; i++) { // lines 2-451: several batches of 100 written before the first bad line
      csv.append("fine").append(i).append("@example.com,manual,\n");
    }
    csv.append("not-an-address,manual,\n");                      // 452
    csv.append("ok@example.com,bored,\n");                       // 453
    csv.append("long@example.com,manual,").append("x".repeat(300)).append('\n'); // 454: over 200 bytes
    csv.append("tagged@example.com,hard_bounce,spring\n");       // 455: a tag only with unsubscribe
    csv.append("two@example.com,manual\n");                      // 456: a field missing
    csv.append("\"open@example.com,manual,\n");                  // 457-458: a quote never closed...
    csv.append("next@example.com,manual,\n");
    Api.Response r = importCsv(t, "", csv.toString());
    Api.expect(r, 400);
    assertEquals("invalid_lines", r.errorCode());
    JsonArray lines = r.json().getJsonArray("lines");
    List<Long> numbers = new ArrayList<>();
    lines.forEach(l -> numbers.add(((JsonObject) l).getLong("line")));
    assertEquals(List.of(452L, 453L, 454L, 455L, 456L), numbers, r.text()); // MAILGATE_SUPPRESSION_IMPORT_MAX_ERRORS=5
    assertEquals(6, r.json().getLong("invalidLines"), r.text()); // ...still counted
    assertEquals("address", lines.getJsonObject(0).getString("column"));
    assertTrue(lines.getJsonObject(1).getString("message").contains("bored"), r.text());
    assertTrue(lines.getJsonObject(2).getString("message").contains("longer than 200 bytes"), r.text());
    assertEquals(452L, r.json().getJsonObject("error").getLong("line"));
    assertEquals(before, stored(t), "nothing of the file is stored");
  }

  @Test
  void unknownColumnsAreRefusedByNameAndNothingIsStored() {
    TenantKey t = api.createTenant("csv-columns", "eu");
    Api.Response r = importCsv(t, "", "address,colour,reason,size\na@example.com,red,manual,9\n");
    Api.expect(r, 400);
    assertEquals("unknown_column", r.errorCode());
    String message = r.json().getJsonObject("error").getString("message");
    assertTrue(message.contains("'colour'") && message.contains("'size'"), message);
    assertEquals("missing_column", importCsv(t, "", "reason\nmanual\n").errorCode());
    assertEquals("missing_header", importCsv(t, "", "").errorCode());
    assertEquals("unsupported_media_type", api.send("POST", "/v1/suppressions/import", t.apiKey(), "application/json",
        HttpRequest.BodyPublishers.ofString("{}"), Map.of()).errorCode());
    assertEquals("invalid_parameter", importCsv(t, "?reason=bored", "address\na@example.com\n").errorCode());
    assertEquals(0, stored(t));
  }

  @Test
  void twoHundredThousandStreamedLinesAreImportedInFlatMemoryAndExportedAgain() throws Exception {
    TenantKey t = api.createTenant("csv-large", "eu");
    int n = 200_000;
    String detail = "550 5.1.1 the mailbox does not exist here; padding the line to about 120 bytes";
    var mem = ManagementFactory.getMemoryMXBean();
    System.gc();
    long baseline = mem.getHeapMemoryUsage().getUsed();
    AtomicLong midway = new AtomicLong(-1);
    // generated as the client sends it (chunked, no Content-Length); at 90 % the heap is measured after a full GC:
    // a gateway holding the body would hold ~20 MB of it by then
    InputStream body = new Generated("address,reason,detail\n", n, i -> {
      if (i == n * 9 / 10) {
        System.gc();
        midway.set(mem.getHeapMemoryUsage().getUsed());
      }
      return "bulk" + i + "@example.com,hard_bounce," + detail + "\n";
    });
    long start = System.nanoTime();
    Api.Response r = api.send("POST", "/v1/suppressions/import", t.apiKey(), "text/csv",
        HttpRequest.BodyPublishers.ofInputStream(() -> body), Map.of());
    Api.expect(r, 200);
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertEquals(n, r.json().getLong("imported"));
    assertEquals(n, stored(t));
    long grown = midway.get() - baseline;
    assertTrue(midway.get() > 0 && grown < 12L * 1024 * 1024, "heap grew by " + grown / 1024 + " KB during the import");
    System.out.printf("imported %,d lines in %,d ms; heap %+,d KB at 90 %%%n", n, ms, grown / 1024);

    // the export streams them back, every one, in address order
    HttpResponse<Stream<String>> e = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create(api.base() + "/v1/suppressions/export?format=csv")).header("Authorization", "Bearer " + t.apiKey()).build(),
        HttpResponse.BodyHandlers.ofLines());
    assertEquals(200, e.statusCode());
    long[] seen = {0};
    String[] previous = {""};
    try (Stream<String> lines = e.body()) {
      lines.skip(1).forEach(line -> {
        String address = line.substring(0, line.indexOf(','));
        assertTrue(address.compareTo(previous[0]) > 0, address);
        previous[0] = address;
        seen[0]++;
      });
    }
    assertEquals(n, seen[0]);
  }

  @Test
  void theExportGivesBackWhatWasImportedAndOnlyToItsTenant() {
    TenantKey t = api.createTenant("csv-export", "eu");
    TenantKey other = api.createTenant("csv-export-other", "eu");
    String csv = "address,reason,tag,created_at,code,detail\n"
        + "a@example.com,hard_bounce,,2026-11-01T10:00:00.123456Z,550,\"5.1.1 \"\"gone\"\", for good\"\n"
        + "=b@example.com,unsubscribe,\"say \"\"hi\"\"\",2026-11-02T10:00:00Z,,\n"
        + "c@example.com,complaint,,2026-11-03T10:00:00Z,,-1 spam\n";
    Api.expect(importCsv(t, "", csv), 200);
    Api.expect(importCsv(other, "", "address\nmine@example.com\n"), 200);

    Api.Response e = api.send("GET", "/v1/suppressions/export", t.apiKey(), null, null, Map.of("Accept", "text/csv"));
    Api.expect(e, 200);
    assertTrue(e.header("Content-Type").startsWith("text/csv"), e.header("Content-Type"));
    List<List<String>> rows = parse(e.text());
    assertEquals(List.of("address", "reason", "tag", "created_at", "code", "detail"), rows.get(0));
    assertEquals(List.of(
        List.of("=b@example.com", "unsubscribe", "say \"hi\"", "2026-11-02T10:00:00Z", "", ""),
        List.of("a@example.com", "hard_bounce", "", "2026-11-01T10:00:00.123456Z", "550", "5.1.1 \"gone\", for good"),
        List.of("c@example.com", "complaint", "", "2026-11-03T10:00:00Z", "", "-1 spam")), rows.subList(1, rows.size()));

    // the export imports again as it is, changing nothing
    Api.Response again = importCsv(t, "", e.text());
    Api.expect(again, 200);
    assertEquals(new JsonObject().put("imported", 0).put("updated", 3), again.json());
    assertEquals(e.text(), api.send("GET", "/v1/suppressions/export?format=csv", t.apiKey(), null, null, Map.of()).text());

    // another tenant sees its own only; reason= filters
    List<List<String>> theirs = parse(api.send("GET", "/v1/suppressions/export?format=csv", other.apiKey(), null, null,
        Map.of()).text());
    assertEquals(2, theirs.size());
    assertEquals("mine@example.com", theirs.get(1).get(0));
    List<List<String>> complaints = parse(api.send("GET", "/v1/suppressions/export?format=csv&reason=complaint",
        t.apiKey(), null, null, Map.of()).text());
    assertEquals(2, complaints.size());
    assertEquals("c@example.com", complaints.get(1).get(0));
    assertEquals("not_acceptable", api.send("GET", "/v1/suppressions/export", t.apiKey(), null, null,
        Map.of("Accept", "application/json")).errorCode());
  }

  /** An RFC 4180 reader of its own, so the export's quoting is checked by other code than the import's. */
  static List<List<String>> parse(String text) {
    List<List<String>> rows = new ArrayList<>();
    List<String> row = new ArrayList<>();
    StringBuilder f = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (quoted) {
        if (c == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
          f.append('"');
          i++;
        } else if (c == '"') {
          quoted = false;
        } else {
          f.append(c);
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        row.add(f.toString());
        f.setLength(0);
      } else if (c == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') {
        row.add(f.toString());
        f.setLength(0);
        rows.add(row);
        row = new ArrayList<>();
        i++;
      } else {
        f.append(c);
      }
    }
    assertTrue(row.isEmpty() && f.length() == 0, "the export ends with CRLF");
    return rows;
  }

  /** A CSV body made line by line as it is read: a header, then {@code n} lines. */
  static final class Generated extends InputStream {
    private final java.util.function.IntFunction<String> line;
    private final int n;
    private byte[] current;
    private int pos;
    private int next;

    Generated(String header, int n, java.util.function.IntFunction<String> line) {
      this.current = header.getBytes(StandardCharsets.US_ASCII);
      this.n = n;
      this.line = line;
    }

    @Override
    public int read() {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      int done = 0;
      while (done < len) {
        if (pos == current.length) {
          if (next == n) {
            break;
          }
          current = line.apply(next++).getBytes(StandardCharsets.US_ASCII);
          pos = 0;
        }
        int k = Math.min(len - done, current.length - pos);
        System.arraycopy(current, pos, b, off + done, k);
        pos += k;
        done += k;
      }
      return done == 0 && len > 0 ? -1 : done;
    }
  }
}

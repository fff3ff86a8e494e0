package io.mailgate.api;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every bad job submission is refused with its documented status and error body, and leaves nothing behind: no job,
 * recipient, chunk or idempotency key. The tests that store a job run last, so every refusal before them can check
 * that the tables are still empty.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class InputValidationTest {

  private static final int LAST = Integer.MAX_VALUE;
  private static final int MAX_JSON_BODY = 64 * 1024;
  private static final int MAX_LINE = 1024;

  static TestGateway gw;
  static Api api;
  static Api http;
  static TenantKey tenant;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(TestDatabase.fresh(), Map.of(
        "MAILGATE_DISPATCH_ENABLED", "false",
        "MAILGATE_MAX_HEADERS", "2",
        "MAILGATE_MAX_TAGS", "2",
        "MAILGATE_MAX_RECIPIENTS", "3",
        "MAILGATE_MAX_JSON_BODY", "64kb",
        "MAILGATE_MAX_NDJSON_LINE", "1kb",
        // recipients are written in batches of two, so NDJSON refusals happen after rows were inserted
        "MAILGATE_INGEST_BATCH_ROWS", "2"));
    api = gw.api;
    http = api.overHttp11();
    api.createBackend("validation-file", "file", "eu",
        new JsonObject().put("dir", System.getProperty("java.io.tmpdir") + "/mailgate-validation-test"));
    tenant = api.createTenant("validation", "eu");
    api.route(tenant, "validation-file");
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  // --- JSON bodies

  @Test
  void rejectsMalformedJson() {
    Api.Response r = postJson("{\"from\": \"news@acme.example\", \"subject\": ");
    assertRejected(r, 400, "invalid_json", null, null);
  }

  @Test
  void rejectsJsonBodyThatIsAnArray() {
    Api.Response r = postJson(new JsonArray().add(validJob()).encode());
    assertRejected(r, 400, "invalid_json", null, null);
  }

  @Test
  void rejectsJobWithoutFrom() {
    JsonObject job = validJob();
    job.remove("from");
    assertRejected(http.submitJson(tenant, job), 400, "missing_field", "from", null);
  }

  @Test
  void rejectsJobWithoutSubject() {
    JsonObject job = validJob();
    job.remove("subject");
    assertRejected(http.submitJson(tenant, job), 400, "missing_field", "subject", null);
  }

  @Test
  void rejectsJobWithBlankSubject() {
    assertRejected(http.submitJson(tenant, validJob().put("subject", "   ")), 400, "missing_field", "subject", null);
  }

  @Test
  void rejectsJobWithNeitherTextNorHtml() {
    JsonObject job = validJob();
    job.remove("text");
    assertRejected(http.submitJson(tenant, job), 400, "missing_body", "text", null);
  }

  @Test
  void rejectsInvalidFromAddress() {
    Api.Response r = http.submitJson(tenant, validJob().put("from", "Acme News <news@@acme>"));
    assertRejected(r, 400, "invalid_address", "from", null);
  }

  @Test
  void rejectsInvalidRecipientAddressNamingTheRecipient() {
    JsonObject job = validJob().put("recipients", new JsonArray()
        .add(new JsonObject().put("email", "ok@example.com"))
        .add(new JsonObject().put("email", "not-an-address")));
    assertRejected(http.submitJson(tenant, job), 400, "invalid_address", "recipients[1].email", null);
  }

  @ParameterizedTest
  @ValueSource(strings = {"Hello\r\nBcc: victim@example.com", "Hello\nBcc: victim@example.com", "Hello\rthere"})
  void rejectsCrOrLfInSubject(String subject) {
    assertRejected(http.submitJson(tenant, validJob().put("subject", subject)), 400, "header_injection", "subject", null);
  }

  @ParameterizedTest
  @ValueSource(strings = {"spring\r\nBcc: victim@example.com", "spring\nX-Evil: 1", "spring\r"})
  void rejectsCrOrLfInHeaderValue(String value) {
    Api.Response r = http.submitJson(tenant, validJob().put("headers", new JsonObject().put("X-Campaign", value)));
    assertRejected(r, 400, "header_injection", "headers.X-Campaign", null);
  }

  @ParameterizedTest
  @ValueSource(strings = {"from", "replyTo"})
  void rejectsLineBreakInDisplayName(String field) {
    Api.Response r = http.submitJson(tenant, validJob().put(field, "Acme\r\nBcc: victim@example.com <news@acme.example>"));
    assertRejected(r, 400, "header_injection", field, null);
  }

  @Test
  void rejectsNulInSubject() {
    assertRejected(http.submitJson(tenant, validJob().put("subject", "Hello\u0000there")), 400, "header_injection", "subject", null);
  }

  @ParameterizedTest
  @ValueSource(strings = {"X Campaign", "X:Campaign", "X-Caf\u00e9"})
  void rejectsMalformedHeaderName(String name) {
    Api.Response r = http.submitJson(tenant, validJob().put("headers", new JsonObject().put(name, "x")));
    assertRejected(r, 400, "invalid_header_name", "headers." + name, null);
  }

  @Test
  void rejectsMoreHeadersThanTheLimit() {
    JsonObject headers = new JsonObject().put("X-A", "1").put("X-B", "2").put("X-C", "3");
    assertRejected(http.submitJson(tenant, validJob().put("headers", headers)), 400, "too_many_headers", "headers", null);
  }

  @Test
  void rejectsMoreTagsThanTheLimit() {
    JsonArray tags = new JsonArray().add("a").add("b").add("c");
    assertRejected(http.submitJson(tenant, validJob().put("tags", tags)), 400, "too_many_tags", "tags", null);
  }

  @ParameterizedTest
  @ValueSource(strings = {"Bcc", "message-id", "Content-Type", "DKIM-Signature"})
  void rejectsReservedHeader(String name) {
    Api.Response r = http.submitJson(tenant, validJob().put("headers", new JsonObject().put(name, "x")));
    assertRejected(r, 400, "reserved_header", "headers." + name, null);
  }

  @Test
  void rejectsUnknownJobField() {
    assertRejected(http.submitJson(tenant, validJob().put("urgency", "high")), 400, "unknown_field", "urgency", null);
  }

  @Test
  void rejectsJobWithZeroRecipients() {
    Api.Response r = http.submitJson(tenant, validJob().put("recipients", new JsonArray()));
    assertRejected(r, 400, "no_recipients", "recipients", null);
  }

  @Test
  void rejectsJobWithoutRecipientsField() {
    JsonObject job = validJob();
    job.remove("recipients");
    assertRejected(http.submitJson(tenant, job), 400, "no_recipients", "recipients", null);
  }

  @Test
  void rejectsJsonJobWithMoreRecipientsThanTheLimit() {
    JsonArray recipients = new JsonArray();
    for (int i = 0; i < 4; i++) {
      recipients.add(new JsonObject().put("email", "user" + i + "@example.com"));
    }
    Api.Response r = http.submitJson(tenant, validJob().put("recipients", recipients));
    assertRejected(r, 400, "too_many_recipients", "recipients", null);
  }

  @Test
  void rejectsJsonBodyLargerThanTheLimit() {
    String body = oversizedJob();
    assertTrue(body.length() > MAX_JSON_BODY);
    // the JDK client sends a Content-Length header for a string body
    Api.Response r = postJson(body);
    assertRejected(r, 413, "payload_too_large", null, null);
  }

  @Test
  void rejectsChunkedJsonBodyOnceItPassesTheLimit() {
    byte[] body = oversizedJob().getBytes(StandardCharsets.UTF_8);
    // an InputStream body has no known length: it goes out chunked, without Content-Length
    Api.Response r = http.send("POST", "/v1/jobs", tenant.apiKey(), "application/json",
        HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body)), Map.of());
    assertRejected(r, 413, "payload_too_large", null, null);
  }

  @Test
  void refusesJsonBodyFromItsContentLengthWithoutWaitingForTheBody() throws Exception {
    // announce 10 MB but send only a few bytes: an answer can only come from the Content-Length header
    String head = "POST /v1/jobs HTTP/1.1\r\n"
        + "Host: 127.0.0.1\r\n"
        + "Authorization: Bearer " + tenant.apiKey() + "\r\n"
        + "Content-Type: application/json\r\n"
        + "Content-Length: 10000000\r\n"
        + "\r\n"
        + "{\"from\":";
    String answer = rawExchange(head, 10_000);
    assertTrue(answer.startsWith("HTTP/1.1 413"), "expected 413 before the body was sent, got: " + answer);
    JsonObject error = new JsonObject(answer.substring(answer.indexOf("\r\n\r\n") + 4)).getJsonObject("error");
    assertEquals("payload_too_large", error.getString("code"));
    assertNothingStored();
  }

  @ParameterizedTest
  @ValueSource(strings = {"text/plain", "application/xml", "multipart/form-data; boundary=x"})
  void rejectsUnsupportedContentType(String contentType) {
    Api.Response r = http.postRaw("/v1/jobs", tenant.apiKey(), contentType, validJob().encode(), Map.of());
    assertRejected(r, 415, "unsupported_media_type", null, null);
  }

  @Test
  void rejectsBodyWithoutContentType() {
    Api.Response r = http.postRaw("/v1/jobs", tenant.apiKey(), null, validJob().encode(), Map.of());
    assertRejected(r, 415, "unsupported_media_type", null, null);
  }

  @Test
  void rejectedJsonRequestStoresNoIdempotencyKey() {
    Api.Response r = http.postRaw("/v1/jobs", tenant.apiKey(), "application/json",
        validJob().put("subject", "a\r\nb").encode(), Map.of("Idempotency-Key", "rejected-json-1"));
    assertRejected(r, 400, "header_injection", "subject", null);
  }

  // --- NDJSON bodies

  @Test
  void rejectsNdjsonWithInvalidRecipientOnLineFiveNamingTheLine() {
    // lines 2 and 3 are written as one batch before line 5 is read: they must be rolled back
    String body = ndjson(jobLine(), recipientLine("a@example.com"), recipientLine("b@example.com"),
        recipientLine("c@example.com"), recipientLine("not-an-address"));
    Api.Response r = http.postRaw("/v1/jobs", tenant.apiKey(), "application/x-ndjson", body,
        Map.of("Idempotency-Key", "rejected-ndjson-1"));
    assertRejected(r, 400, "invalid_address", "email", 5L);
  }

  @Test
  void rejectsNdjsonRecipientWithUnknownFieldNamingTheLine() {
    String body = ndjson(jobLine(), recipientLine("a@example.com"),
        new JsonObject().put("email", "b@example.com").put("name", "B").encode());
    assertRejected(http.submitNdjson(tenant, body), 400, "unknown_field", "name", 3L);
  }

  @Test
  void rejectsNdjsonLineThatIsNotJsonNamingTheLine() {
    String body = ndjson(jobLine(), recipientLine("a@example.com"), "{\"email\": \"b@example.com\"", recipientLine("c@example.com"));
    assertRejected(http.submitNdjson(tenant, body), 400, "invalid_json", null, 3L);
  }

  @Test
  void rejectsNdjsonJobLineWithInvalidFromNamingLineOne() {
    String body = ndjson(jobLine().replace("news@acme.example", "nobody"), recipientLine("a@example.com"));
    assertRejected(http.submitNdjson(tenant, body), 400, "invalid_address", "from", 1L);
  }

  @Test
  void rejectsNdjsonJobLineCarryingRecipients() {
    String body = ndjson(validJob().encode(), recipientLine("a@example.com"));
    assertRejected(http.submitNdjson(tenant, body), 400, "unknown_field", "recipients", 1L);
  }

  @Test
  void rejectsNdjsonWithOnlyTheJobLine() {
    assertRejected(http.submitNdjson(tenant, ndjson(jobLine())), 400, "no_recipients", null, 1L);
  }

  @Test
  void rejectsEmptyNdjsonBody() {
    assertRejected(http.submitNdjson(tenant, ""), 400, "missing_job", null, 1L);
  }

  @Test
  void rejectsNdjsonLineLongerThanTheLimit() {
    String longLine = new JsonObject().put("email", "a@example.com")
        .put("vars", new JsonObject().put("bio", "x".repeat(2 * MAX_LINE))).encode();
    String body = ndjson(jobLine(), longLine, recipientLine("b@example.com"));
    assertRejected(http.submitNdjson(tenant, body), 400, "line_too_long", null, 2L);
  }

  @Test
  void rejectsNdjsonJobWithMoreRecipientsThanTheLimit() {
    String body = ndjson(jobLine(), recipientLine("a@example.com"), recipientLine("b@example.com"),
        recipientLine("c@example.com"), recipientLine("d@example.com"));
    assertRejected(http.submitNdjson(tenant, body), 400, "too_many_recipients", null, 5L);
  }

  // --- accepted jobs (last: they change the counts)

  @Test
  @Order(LAST - 1)
  void storesValidJobSubmittedAfterRejectedOnes() {
    assertNothingStored();
    // the key of a refused request was not used up
    Api.Response r = http.postRaw("/v1/jobs", tenant.apiKey(), "application/json", validJob().encode(),
        Map.of("Idempotency-Key", "rejected-json-1"));
    Api.expect(r, 202);
    String id = r.json().getString("id");
    assertEquals(1, r.json().getInteger("recipients"));
    assertEquals(1, count("SELECT count(*) FROM jobs WHERE id = '" + id + "'"));
    assertEquals(1, count("SELECT count(*) FROM recipients WHERE job_id = '" + id + "'"));
    assertEquals(1, count("SELECT count(*) FROM chunks WHERE job_id = '" + id + "'"));
    assertEquals(1, count("SELECT count(*) FROM idempotency_keys WHERE job_id = '" + id + "'"));

    String body = ndjson(jobLine(), recipientLine("a@example.com"), recipientLine("b@example.com"),
        recipientLine("c@example.com"));
    Api.Response n = http.postRaw("/v1/jobs", tenant.apiKey(), "application/x-ndjson", body,
        Map.of("Idempotency-Key", "rejected-ndjson-1"));
    Api.expect(n, 202);
    String nid = n.json().getString("id");
    assertEquals(3, n.json().getInteger("recipients"));
    assertEquals(3, count("SELECT count(*) FROM recipients WHERE job_id = '" + nid + "'"));
    assertEquals(2, count("SELECT count(*) FROM jobs"));
  }

  @Test
  @Order(LAST)
  void acceptsNdjsonBodyLargerThanTheLineLimitWhenEveryLineFits() throws Exception {
    // every line is far below MAILGATE_MAX_NDJSON_LINE (1 KiB); only the body as a whole is larger
    String[] lines = new String[4];
    lines[0] = jobLine();
    for (int i = 1; i < lines.length; i++) {
      lines[i] = new JsonObject().put("email", "user" + i + "@example.com")
          .put("vars", new JsonObject().put("note", "n".repeat(MAX_LINE / 2))).encode();
      assertTrue(lines[i].length() < MAX_LINE);
    }
    String body = ndjson(lines);
    assertTrue(body.length() > MAX_LINE);
    long before = count("SELECT count(*) FROM jobs");
    // head and body in one write on a new connection, so the whole body reaches the gateway as one chunk, the way
    // a body that arrives faster than the job line is processed does (through a keep-alive connection the body
    // may come in pieces, which hides the bug)
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    String answer = rawExchange("POST /v1/jobs HTTP/1.1\r\n"
        + "Host: 127.0.0.1\r\n"
        + "Authorization: Bearer " + tenant.apiKey() + "\r\n"
        + "Content-Type: application/x-ndjson\r\n"
        + "Content-Length: " + bytes.length + "\r\n"
        + "Connection: close\r\n"
        + "\r\n"
        + body, 30_000);
    assertTrue(answer.startsWith("HTTP/1.1 202"), answer);
    JsonObject accepted = new JsonObject(answer.substring(answer.indexOf("\r\n\r\n") + 4));
    assertEquals(3, accepted.getInteger("recipients"));
    assertEquals(before + 1, count("SELECT count(*) FROM jobs"));
  }

  // --- helpers

  private static JsonObject validJob() {
    return new JsonObject()
        .put("from", "Acme News <news@acme.example>")
        .put("subject", "Hello {{name}}")
        .put("text", "Dear {{name}}")
        .put("recipients", new JsonArray().add(new JsonObject().put("email", "one@example.com")
            .put("vars", new JsonObject().put("name", "One"))));
  }

  private static String jobLine() {
    JsonObject job = validJob();
    job.remove("recipients");
    return job.encode();
  }

  private static String recipientLine(String email) {
    return new JsonObject().put("email", email).encode();
  }

  private static String ndjson(String... lines) {
    return String.join("\n", lines) + "\n";
  }

  /** A syntactically valid job whose encoding is larger than the JSON body limit. */
  private static String oversizedJob() {
    JsonArray recipients = new JsonArray();
    int i = 0;
    JsonObject job = validJob().put("recipients", recipients);
    while (job.encode().length() <= MAX_JSON_BODY + 4096) {
      recipients.add(new JsonObject().put("email", "user" + i++ + "@example.com"));
    }
    return job.encode();
  }

  private static Api.Response postJson(String body) {
    return http.postRaw("/v1/jobs", tenant.apiKey(), "application/json", body, Map.of());
  }

  private static void assertRejected(Api.Response r, int status, String code, String field, Long line) {
    assertEquals(status, r.status(), r.text());
    assertNotNull(r.header("Content-Type"));
    assertTrue(r.header("Content-Type").startsWith("application/json"), r.header("Content-Type"));
    assertNotNull(r.json(), "the error body is JSON: " + r.text());
    assertEquals(1, r.json().size(), "only an error member: " + r.text());
    JsonObject error = r.json().getJsonObject("error");
    assertNotNull(error, r.text());
    assertEquals(code, error.getString("code"), r.text());
    assertNotNull(error.getString("message"), r.text());
    assertFalse(error.getString("message").isBlank(), r.text());
    assertEquals(field, error.getString("field"), r.text());
    if (line == null) {
      assertNull(error.getValue("line"), r.text());
    } else {
      assertEquals(line, error.getLong("line"), r.text());
    }
    assertTrue(List.of("code", "message", "field", "line").containsAll(error.fieldNames()), r.text());
    assertNothingStored();
  }

  private static void assertNothingStored() {
    for (String table : List.of("jobs", "recipients", "chunks", "idempotency_keys")) {
      assertEquals(0, count("SELECT count(*) FROM " + table), "rows in " + table + " after a refused request");
    }
  }

  private static long count(String sql) {
    return TestDatabase.count(gw.db, sql);
  }

  /** Writes raw bytes and reads what the server answers until it closes the connection or the timeout passes. */
  private static String rawExchange(String request, int timeoutMillis) throws Exception {
    int port = Integer.parseInt(api.base().substring(api.base().lastIndexOf(':') + 1));
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(timeoutMillis);
      OutputStream out = s.getOutputStream();
      out.write(request.getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      try {
        for (int n; (n = in.read(buf)) >= 0; ) {
          got.write(buf, 0, n);
        }
      } catch (SocketTimeoutException e) {
        if (got.size() == 0) {
          throw new AssertionError("no answer within " + timeoutMillis + " ms: the server waited for the body");
        }
      }
      return got.toString(StandardCharsets.UTF_8);
    }
  }
}

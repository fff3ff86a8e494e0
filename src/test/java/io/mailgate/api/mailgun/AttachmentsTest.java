package io.mailgate.api.mailgun;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import com.mailgun.api.v3.MailgunMessagesApi;
import com.mailgun.model.message.Message;
import com.mailgun.model.message.MessageResponse;
import feign.FeignException;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.DkimVerifiers;
import io.mailgate.support.MimeParts;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestAttachments;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.Uploads;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import jakarta.mail.internet.MimeMessage;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attachments end to end: Mailgun's official Java client sends text, html, two attachments and an inline image to
 * a real gateway on PostgreSQL, delivered by SMTP to GreenMail and parsed with jakarta.mail; the job API's
 * {@code attachments}; what is refused (and that nothing is stored then); DKIM over a message with files; a tenant's
 * deletion taking its files.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class AttachmentsTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final int MAX_JSON_FILES = 256 * 1024;
  private static final int MAX_FILES = 5;
  /** Small parts, so that a file of a few megabytes is stored in many. */
  private static final int PART = 64 * 1024;

  static GreenMail greenMail;
  static ScriptedSmtpServer smtp;
  static TestGateway gw;
  static Api api;
  static TenantKey acme;
  static TenantKey signed;
  static JsonObject signedKey;

  @TempDir
  static File dir;

  @BeforeAll
  static void start() {
    greenMail = new GreenMail(new ServerSetup(TestGateway.freePort(), "127.0.0.1", "smtp"));
    greenMail.start();
    smtp = new ScriptedSmtpServer().start();
    gw = TestGateway.start(TestDatabase.fresh(), Map.of(
        "MAILGATE_MAX_JSON_ATTACHMENT_BYTES", String.valueOf(MAX_JSON_FILES),
        "MAILGATE_MAX_ATTACHMENTS", String.valueOf(MAX_FILES),
        "MAILGATE_BLOB_CHUNK_BYTES", String.valueOf(PART)));
    api = gw.api.overHttp11();
    acme = api.tenantOnSmtp("files-acme", greenMail.getSmtp().getPort(), null);
    domains(acme, "acme.example");
    signed = api.tenantOnSmtp("files-signed", smtp.port(), null);
    domains(signed, "signed.example");
    Api.Response key = api.post("/v1/admin/tenants/" + signed.id() + "/dkim", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domain", "signed.example").put("selector", "s2026"));
    Api.expect(key, 201);
    signedKey = key.json();
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
    if (greenMail != null) {
      greenMail.stop();
    }
    if (smtp != null) {
      smtp.close();
    }
  }

  static void domains(TenantKey t, String domain) {
    MailgunCalls.domains(api, t, domain);
  }

  static MailgunMessagesApi messages(TenantKey t) {
    return MailgunCalls.messages(api, t);
  }

  static String jobId(MessageResponse r) {
    return MailgunCalls.jobId(r);
  }

  static File file(String name, byte[] data) throws Exception {
    File f = new File(dir, name);
    Files.write(f.toPath(), data);
    return f;
  }

  static long count(String sql) {
    return TestDatabase.count(gw.db, sql);
  }

  /** The uploads' temporary files in the JVM's temporary directory. */
  static java.util.Set<String> attachmentTempFiles() {
    File[] files = new File(System.getProperty("java.io.tmpdir")).listFiles((d, n) -> n.startsWith("mailgate-attachment-"));
    return files == null ? java.util.Set.of() : java.util.Arrays.stream(files).map(File::getName)
        .collect(java.util.stream.Collectors.toSet());
  }

  /** Waits until no temporary file that was not there {@code before} is left. */
  static void awaitTempFilesDeleted(java.util.Set<String> before) {
    Polling.await("the uploads' temporary files are deleted", () -> {
      java.util.Set<String> now = new java.util.HashSet<>(attachmentTempFiles());
      now.removeAll(before);
      return now.isEmpty();
    }, TIMEOUT);
  }

  /** Runs the refused requests and checks that no job, recipient or file was stored by them. */
  static void assertNothingStored(Runnable refused) {
    long jobs = count("SELECT count(*) FROM jobs");
    long recipients = count("SELECT count(*) FROM recipients");
    long files = count("SELECT count(*) FROM job_attachments");
    long parts = count("SELECT count(*) FROM job_attachment_parts");
    refused.run();
    assertEquals(jobs, count("SELECT count(*) FROM jobs"), "jobs stored by refused requests");
    assertEquals(recipients, count("SELECT count(*) FROM recipients"), "recipients stored");
    assertEquals(files, count("SELECT count(*) FROM job_attachments"), "attachments stored");
    assertEquals(parts, count("SELECT count(*) FROM job_attachment_parts"), "attachments' parts stored");
  }

  static MimeMessage receivedBy(String address) throws Exception {
    List<MimeMessage> got = new java.util.ArrayList<>();
    for (MimeMessage m : greenMail.getReceivedMessages()) {
      if (m.getAllRecipients()[0].toString().equals(address)) {
        got.add(m);
      }
    }
    assertEquals(1, got.size(), address + " got " + got.size() + " messages");
    return got.get(0);
  }

  /** The structure every message with attachments and an inline image has, and its files' bytes. */
  static void assertTextHtmlFilesAndInlineImage(MimeMessage m, String notesName) throws Exception {
    assertTrue(m.getContentType().toLowerCase().startsWith("multipart/mixed"), m.getContentType());
    List<MimeParts.Leaf> leaves = MimeParts.leaves(m);
    assertEquals(5, leaves.size(), leaves.stream().map(MimeParts.Leaf::type).toList().toString());
    MimeParts.Leaf text = leaves.get(0);
    assertEquals("text/plain", text.type());
    assertEquals("multipart/mixed/multipart/alternative", text.path());
    MimeParts.Leaf html = leaves.get(1);
    assertEquals("text/html", html.type());
    assertEquals("multipart/mixed/multipart/alternative/multipart/related", html.path(), "the html with its inline image");
    assertTrue(new String(html.data(), StandardCharsets.UTF_8).contains("<img src=\"cid:logo.png\""));
    MimeParts.Leaf logo = leaves.get(2);
    assertEquals("multipart/mixed/multipart/alternative/multipart/related", logo.path());
    assertEquals("image/png", logo.type());
    assertEquals("inline", logo.disposition());
    assertEquals("<logo.png>", logo.contentId(), "the Content-ID the html's cid: refers to");
    assertEquals("logo.png", logo.filename());
    assertArrayEquals(TestAttachments.LOGO, logo.data(), "the logo's bytes");
    MimeParts.Leaf report = leaves.get(3);
    assertEquals("multipart/mixed", report.path());
    assertEquals("attachment", report.disposition());
    assertEquals("report.pdf", report.filename());
    assertEquals("application/pdf", report.type());
    assertNull(report.contentId());
    assertArrayEquals(TestAttachments.REPORT, report.data(), "the report's bytes");
    MimeParts.Leaf notes = leaves.get(4);
    assertEquals("attachment", notes.disposition());
    assertEquals(notesName, notes.filename(), "the name decoded (RFC 2231)");
    assertEquals("text/plain", notes.type());
    assertArrayEquals(TestAttachments.NOTES, notes.data(), "the notes' bytes");
  }

  // --- Mailgun's API

  @Test
  void mailgunsJavaClientSendsTwoAttachmentsAndAnInlineImageThatArriveWithTheirNamesTypesAndBytes() throws Exception {
    File report = file("report.pdf", TestAttachments.REPORT);
    File notes = file(TestAttachments.NOTES_NAME, TestAttachments.NOTES);
    File logo = file("logo.png", TestAttachments.LOGO);
    java.util.Set<String> before = attachmentTempFiles();
    MessageResponse r = messages(acme).sendMessage("acme.example", Message.builder()
        .from("Acme <news@acme.example>")
        .to("mg-files@example.com")
        .subject("Your report")
        .text("Your report is attached.")
        .html(TestAttachments.HTML)
        .attachment(List.of(report, notes))
        .inline(logo)
        .build());
    String id = jobId(r);
    assertEquals(3, count("SELECT count(*) FROM job_attachments WHERE job_id = '" + id + "'"),
        "the files are stored with the job before the answer");
    api.awaitState(acme, id, "completed", TIMEOUT);

    MimeMessage m = receivedBy("mg-files@example.com");
    assertEquals("Your report", m.getSubject());
    assertTextHtmlFilesAndInlineImage(m, TestAttachments.NOTES_NAME);
    awaitTempFilesDeleted(before);
  }

  @Test
  void aMailgunAttachmentOfThreeMegabytesIsStoredInPartsOfTheSettingAndArrivesByteIdentical() throws Exception {
    byte[] data = new byte[3_000_001];
    new java.util.Random(9).nextBytes(data);
    File big = file("big-random.bin", data);
    java.util.Set<String> before = attachmentTempFiles();
    MessageResponse r = messages(acme).sendMessage("acme.example", Message.builder()
        .from("news@acme.example")
        .to("mg-parts@example.com")
        .subject("Parts")
        .text("A big file.")
        .attachment(big)
        .build());
    String id = jobId(r);
    String job = "job_id = '" + id + "'";
    assertEquals((data.length + PART - 1) / PART, count("SELECT count(*) FROM job_attachment_parts WHERE " + job),
        "stored before the answer, in parts of MAILGATE_BLOB_CHUNK_BYTES");
    assertEquals(PART, count("SELECT max(length(data)) FROM job_attachment_parts WHERE " + job));
    assertEquals(data.length, count("SELECT size FROM job_attachments WHERE " + job));
    assertEquals(data.length, count("SELECT sum(length(data)) FROM job_attachment_parts WHERE " + job));
    awaitTempFilesDeleted(before);
    api.awaitState(acme, id, "completed", TIMEOUT);

    MimeParts.Leaf file = MimeParts.byName(MimeParts.leaves(receivedBy("mg-parts@example.com")), "big-random.bin");
    assertEquals("application/octet-stream", file.type());
    assertArrayEquals(data, file.data(), "the file's bytes, reassembled from its parts");
  }

  @Test
  void aMailgunUploadCutOffHalfWayLeavesNoTemporaryFileAndStoresNothing() {
    String marker = "cut-off-" + java.util.UUID.randomUUID();
    byte[] data = new byte[1024 * 1024];
    new java.util.Random(3).nextBytes(data);
    byte[] m = marker.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(m, 0, data, 0, m.length);
    String boundary = "cut-boundary";
    byte[] body = Uploads.form(boundary, List.of(new String[] {"from", "news@acme.example"},
        new String[] {"to", "mg-cut@example.com"}, new String[] {"subject", "cut"}, new String[] {"text", "cut"}),
        "attachment", "cut.bin", data);
    java.util.Set<java.nio.file.Path> before = Uploads.tempFiles("mailgate-attachment-");
    assertNothingStored(() -> {
      try (java.net.Socket client = Uploads.cutOff(gw.gateway.httpPort(), "/v3/acme.example/messages", acme.apiKey(),
          boundary, body, body.length / 2)) {
        java.nio.file.Path upload = Uploads.awaitTempFileWith("mailgate-attachment-", before, marker, TIMEOUT);
        client.close(); // the client goes away half-way through its upload
        Polling.await("the cut-off upload's temporary file is deleted", () -> !Files.exists(upload), TIMEOUT);
      } catch (java.io.IOException e) {
        throw new IllegalStateException(e);
      }
    });
    Uploads.awaitNoNewTempFiles("mailgate-attachment-", before, TIMEOUT);
  }

  @Test
  void aMailgunFormWithAnAttachmentAndAnUnknownParameterIsRefusedAndStoresNoPart() {
    String boundary = "b0undary";
    String body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nnews@acme.example\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nmg-unknown@example.com\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nunknown\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nsee file\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"x-no-such-option\"\r\n\r\n1\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"a.txt\"\r\n"
        + "\r\n" + "file ".repeat(30_000) + "\r\n--" + boundary + "--\r\n";
    java.util.Set<String> before = attachmentTempFiles();
    assertNothingStored(() -> {
      Api.Response r = api.postRaw("/v3/acme.example/messages", null, "multipart/form-data; boundary=" + boundary, body,
          Map.of("Authorization", "Basic " + Base64.getEncoder().encodeToString(("api:" + acme.apiKey()).getBytes(StandardCharsets.UTF_8))));
      assertEquals(400, r.status(), r.text());
      assertTrue(r.text().contains("x-no-such-option"), r.text());
    });
    awaitTempFilesDeleted(before);
  }

  @Test
  void aSharedMailgunMessageWithAnAttachmentGivesEveryRecipientTheSameMessageWithTheFile() throws Exception {
    File report = file("shared-report.pdf", TestAttachments.REPORT);
    MessageResponse r = messages(acme).sendMessage("acme.example", Message.builder()
        .from("news@acme.example")
        .to(List.of("mg-shared-a@example.com", "mg-shared-b@example.com"))
        .subject("Minutes")
        .text("Minutes attached.")
        .attachment(report)
        .build());
    String id = jobId(r);
    api.awaitState(acme, id, "completed", TIMEOUT);
    String messageId = "<" + id.replace("-", "") + "@acme.example>";
    List<MimeMessage> got = new java.util.ArrayList<>();
    for (MimeMessage m : greenMail.getReceivedMessages()) {
      if (messageId.equals(m.getMessageID())) {
        got.add(m);
      }
    }
    assertEquals(2, got.size(), "one shared message, a copy for each recipient");
    for (MimeMessage m : got) {
      assertEquals("mg-shared-a@example.com, mg-shared-b@example.com", m.getHeader("To", ", "));
      MimeParts.Leaf file = MimeParts.byName(MimeParts.leaves(m), "shared-report.pdf");
      assertEquals("application/pdf", file.type());
      assertArrayEquals(TestAttachments.REPORT, file.data());
    }
  }

  @Test
  void aMailgunAttachmentWithAPathInItsFileNameKeepsOnlyTheLastSegmentAndTheDefaultType() throws Exception {
    String boundary = "b0undary";
    String body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nnews@acme.example\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nmg-path@example.com\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\npath\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nsee file\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"..\\\\..\\\\etc\\\\passwd.bin\"\r\n"
        + "\r\nbinary\r\n--" + boundary + "--\r\n";
    Api.Response r = api.postRaw("/v3/acme.example/messages", null, "multipart/form-data; boundary=" + boundary, body,
        Map.of("Authorization", "Basic " + Base64.getEncoder().encodeToString(("api:" + acme.apiKey()).getBytes(StandardCharsets.UTF_8))));
    assertEquals(200, r.status(), r.text());
    api.awaitState(acme, MailgunCalls.jobId(r.json().getString("id")), "completed", TIMEOUT);
    List<MimeParts.Leaf> leaves = MimeParts.leaves(receivedBy("mg-path@example.com"));
    MimeParts.Leaf file = MimeParts.byName(leaves, "passwd.bin");
    assertEquals("application/octet-stream", file.type());
    assertArrayEquals("binary".getBytes(StandardCharsets.US_ASCII), file.data());
  }

  @Test
  void moreMailgunAttachmentsThanTheSettingAllowsAreRefusedWith400AndNothingIsStored() throws Exception {
    List<File> files = new java.util.ArrayList<>();
    for (int i = 0; i <= MAX_FILES; i++) {
      files.add(file("f" + i + ".txt", ("file " + i).getBytes(StandardCharsets.US_ASCII)));
    }
    java.util.Set<String> before = attachmentTempFiles();
    assertNothingStored(() -> {
      FeignException e = assertThrows(FeignException.class, () -> messages(acme).sendMessage("acme.example", Message.builder()
          .from("news@acme.example").to("mg-many@example.com").subject("many").text("many").attachment(files).build()));
      assertEquals(400, e.status(), e.contentUTF8());
      assertTrue(new JsonObject(e.contentUTF8()).getString("message").contains("MAILGATE_MAX_ATTACHMENTS"), e.contentUTF8());
    });
    awaitTempFilesDeleted(before);
  }

  @Test
  void mailgunAttachmentsOverTwentyFiveMegabytesAreRefusedWith413AndNothingIsStored() throws Exception {
    java.util.Set<String> before = attachmentTempFiles();
    assertNothingStored(() -> {
      String status = streamedAttachment(27);
      assertTrue(status.startsWith("HTTP/1.1 413"), status);
    });
    awaitTempFilesDeleted(before);
  }

  /**
   * A chunked multipart request (no Content-Length, so the limit is met while it streams) whose attachment is
   * {@code megabytes} MB; returns the answer's status line.
   */
  static String streamedAttachment(int megabytes) {
    String boundary = "big-boundary";
    String head = "POST /v3/acme.example/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Authorization: Basic " + Base64.getEncoder().encodeToString(("api:" + acme.apiKey()).getBytes(StandardCharsets.UTF_8))
        + "\r\nContent-Type: multipart/form-data; boundary=" + boundary + "\r\nTransfer-Encoding: chunked\r\n\r\n";
    String fields = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nnews@acme.example\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nmg-big@example.com\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nbig\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nbig\r\n"
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"big.bin\"\r\n"
        + "Content-Type: application/octet-stream\r\n\r\n";
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", gw.gateway.httpPort())) {
      socket.setSoTimeout(30_000);
      java.io.OutputStream out = socket.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      byte[] f = fields.getBytes(StandardCharsets.US_ASCII);
      out.write((Integer.toHexString(f.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(f);
      out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread writer = new Thread(() -> {
        byte[] chunk = new byte[0x100000];
        java.util.Arrays.fill(chunk, (byte) 'z');
        try {
          for (int i = 0; i < megabytes; i++) {
            out.write("100000\r\n".getBytes(StandardCharsets.US_ASCII));
            out.write(chunk);
            out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
          }
          out.flush();
        } catch (java.io.IOException e) {
          // the server stopped reading: expected once it answered
        }
      });
      writer.setDaemon(true);
      writer.start();
      java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
          StandardCharsets.US_ASCII));
      String status = in.readLine();
      return status == null ? "(no answer)" : status;
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  // --- the job API

  static JsonObject jsonJob(String to) {
    return new JsonObject()
        .put("from", "Acme <news@acme.example>")
        .put("subject", "Hello {{name}}")
        .put("text", "Hi {{name}}, your report is attached.")
        .put("html", TestAttachments.HTML)
        .put("attachments", TestAttachments.json())
        .put("recipients", new JsonArray().add(new JsonObject().put("email", to).put("vars", new JsonObject().put("name", "Ann"))));
  }

  @Test
  void aJsonJobsAttachmentsArriveIntactWithTheirNonAsciiNameEncoded() throws Exception {
    Api.Response r = api.submitJson(acme, jsonJob("json-files@example.com"));
    Api.expect(r, 202);
    String id = r.json().getString("id");
    assertEquals(3, count("SELECT count(*) FROM job_attachments WHERE job_id = '" + id + "'"));
    api.awaitState(acme, id, "completed", TIMEOUT);
    MimeMessage m = receivedBy("json-files@example.com");
    assertEquals("Hello Ann", m.getSubject());
    assertTextHtmlFilesAndInlineImage(m, TestAttachments.NOTES_NAME);
  }

  @Test
  void aJsonJobsInvalidAttachmentIsRefusedWith400NamingTheFieldAndNothingIsStored() {
    record Bad(String what, JsonObject attachment, String field) {}
    List<Bad> bad = List.of(
        new Bad("invalid base64", new JsonObject().put("filename", "a.bin").put("content", "not base64!"), "attachments[0].content"),
        new Bad("no filename", new JsonObject().put("content", "AAAA"), "attachments[0].filename"),
        new Bad("CR/LF in the name", new JsonObject().put("filename", "a\r\nBcc: x@y.example").put("content", "AAAA"),
            "attachments[0].filename"),
        new Bad("no content", new JsonObject().put("filename", "a.bin"), "attachments[0].content"),
        new Bad("a bad type", new JsonObject().put("filename", "a.bin").put("contentType", "image png").put("content", "AAAA"),
            "attachments[0].contentType"),
        new Bad("a bad Content-ID", new JsonObject().put("filename", "a.png").put("contentId", "a b>").put("content", "AAAA"),
            "attachments[0].contentId"),
        new Bad("an unknown field", new JsonObject().put("filename", "a.bin").put("content", "AAAA").put("path", "/etc/passwd"),
            "attachments[0].path"));
    assertNothingStored(() -> {
      for (Bad b : bad) {
        JsonObject job = jsonJob("json-bad@example.com").put("attachments", new JsonArray().add(b.attachment()));
        Api.Response r = api.submitJson(acme, job);
        assertEquals(400, r.status(), b.what() + ": " + r.text());
        assertEquals(b.field(), r.json().getJsonObject("error").getString("field"), b.what() + ": " + r.text());
      }
    });
  }

  @Test
  void jsonAttachmentsOverTheSettingAreRefusedWith413AndTooManyWith400() {
    assertNothingStored(() -> {
      byte[] big = new byte[MAX_JSON_FILES / 2 + 1];
      JsonObject file = new JsonObject().put("filename", "half.bin").put("content", Base64.getEncoder().encodeToString(big));
      Api.Response r = api.submitJson(acme, jsonJob("json-big@example.com").put("attachments", new JsonArray().add(file).add(file)));
      assertEquals(413, r.status(), r.text());
      assertTrue(r.text().contains("MAILGATE_MAX_JSON_ATTACHMENT_BYTES"), r.text());

      JsonArray many = new JsonArray();
      for (int i = 0; i <= MAX_FILES; i++) {
        many.add(new JsonObject().put("filename", i + ".txt").put("content", "AAAA"));
      }
      Api.Response r2 = api.submitJson(acme, jsonJob("json-many@example.com").put("attachments", many));
      assertEquals(400, r2.status(), r2.text());
      assertEquals("attachments", r2.json().getJsonObject("error").getString("field"), r2.text());
    });
  }

  // --- DKIM and deletion

  @Test
  void aSignedMessageWithAttachmentsVerifiesWithDkimpyAndJdkim() throws Exception {
    JsonObject job = jsonJob("dkim-files@example.com").put("from", "news@signed.example");
    Api.Response r = api.submitJson(signed, job);
    Api.expect(r, 202);
    api.awaitState(signed, r.json().getString("id"), "completed", TIMEOUT);
    List<ScriptedSmtpServer.Received> got = smtp.received().stream()
        .filter(m -> m.rcptTo().contains("dkim-files@example.com")).toList();
    assertEquals(1, got.size());
    byte[] data = got.get(0).data().getBytes(StandardCharsets.UTF_8);
    assertTrue(got.get(0).data().startsWith("DKIM-Signature:"), "signed: " + got.get(0).data().substring(0, 100));
    DkimVerifiers.Verdict py = DkimVerifiers.dkimpy(data, signedKey.getString("dnsName"), signedKey.getString("dnsRecord"));
    assertTrue(py.valid(), py.toString());
    DkimVerifiers.Verdict j = DkimVerifiers.jdkim(data, signedKey.getString("dnsName"), signedKey.getString("dnsRecord"));
    assertTrue(j.valid(), j.toString());
    List<MimeParts.Leaf> leaves = MimeParts.leaves(MimeParts.parse(data));
    assertArrayEquals(TestAttachments.REPORT, MimeParts.byName(leaves, "report.pdf").data(), "the signed message's files");
  }

  @Test
  void deletingATenantDeletesItsJobsAttachments() {
    TenantKey doomed = api.tenantOnSmtp("files-doomed", greenMail.getSmtp().getPort(), null);
    Api.Response r = api.submitJson(doomed, jsonJob("doomed-files@example.com"));
    Api.expect(r, 202);
    String id = r.json().getString("id");
    assertEquals(3, count("SELECT count(*) FROM job_attachments WHERE job_id = '" + id + "'"));
    assertTrue(count("SELECT count(*) FROM job_attachment_parts WHERE job_id = '" + id + "'") >= 3);
    api.awaitState(doomed, id, "completed", TIMEOUT);
    long others = count("SELECT count(*) FROM job_attachments WHERE job_id <> '" + id + "'");

    Api.expect(api.send("DELETE", "/v1/admin/tenants/" + doomed.id(), TestGateway.ADMIN_TOKEN, null, null, Map.of()), 204);
    assertEquals(0, count("SELECT count(*) FROM job_attachments WHERE job_id = '" + id + "'"), "its files are gone");
    assertEquals(0, count("SELECT count(*) FROM job_attachment_parts WHERE job_id = '" + id + "'"), "and their parts");
    assertEquals(0, count("SELECT count(*) FROM jobs WHERE id = '" + id + "'"));
    assertEquals(others, count("SELECT count(*) FROM job_attachments WHERE job_id <> '" + id + "'"), "no other tenant's");
  }
}

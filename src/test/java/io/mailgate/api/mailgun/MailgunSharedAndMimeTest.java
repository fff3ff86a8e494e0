package io.mailgate.api.mailgun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.mailgun.api.v3.MailgunMessagesApi;
import com.mailgun.model.message.MailgunMimeMessage;
import com.mailgun.model.message.Message;
import com.mailgun.model.message.MessageResponse;
import feign.FeignException;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.DkimVerifiers;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.Uploads;
import io.mailgate.support.sim.MailgunSimulator;
import io.mailgate.support.sim.SendGridSimulator;
import io.mailgate.support.sim.SesSimulator;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One message to several recipients, end to end: Mailgun's official Java client sends with {@code cc}, {@code bcc}
 * and several {@code to} (a shared message) and through {@code messages.mime} (the caller's own MIME message) to a
 * real gateway on PostgreSQL and a real SMTP server; the native job API's {@code to}/{@code cc}; and the provider
 * backends' shapes against their simulators.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class MailgunSharedAndMimeTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  /** A small limit, so that a message over it is cheap to send. */
  private static final int MAX_MIME = 512 * 1024;
  /** Small parts, so that a message of a few hundred kilobytes is stored in many. */
  private static final int PART = 16 * 1024;

  static TestGateway gw;
  static Api api;
  static ScriptedSmtpServer smtp;
  static TenantKey acme;
  static TenantKey signed;
  static JsonObject signedKey;
  static SendGridSimulator sendgrid;
  static TenantKey onSendGrid;

  @TempDir
  static File dir;

  @BeforeAll
  static void start() {
    smtp = new ScriptedSmtpServer().start();
    gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_MAX_MIME_MESSAGE", String.valueOf(MAX_MIME),
        "MAILGATE_BLOB_CHUNK_BYTES", String.valueOf(PART)));
    api = gw.api.overHttp11();
    acme = api.tenantOnSmtp("shared-acme", smtp.port(), null);
    domains(acme, "acme.example");
    signed = api.tenantOnSmtp("shared-signed", smtp.port(), null);
    domains(signed, "signed.example");
    Api.Response key = api.post("/v1/admin/tenants/" + signed.id() + "/dkim", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domain", "signed.example").put("selector", "s2026"));
    Api.expect(key, 201);
    signedKey = key.json();
    sendgrid = new SendGridSimulator("sg-key").start();
    api.createBackend("shared-sg", "sendgrid", "eu", new JsonObject().put("apiKey", "sg-key").put("region", "eu")
        .put("baseUrl", sendgrid.baseUrl()));
    onSendGrid = api.createTenant("shared-on-sendgrid", "eu");
    api.route(onSendGrid, "shared-sg");
    domains(onSendGrid, "sg.example");
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
    if (smtp != null) {
      smtp.close();
    }
    if (sendgrid != null) {
      sendgrid.close();
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

  static List<ScriptedSmtpServer.Received> receivedBy(String address) {
    return smtp.received().stream().filter(m -> m.rcptTo().contains(address)).toList();
  }

  /** The one message each address got (exactly one each). */
  static List<String> onePerAddress(List<String> addresses) {
    return addresses.stream().map(a -> {
      List<ScriptedSmtpServer.Received> got = receivedBy(a);
      assertEquals(1, got.size(), a + " got " + got.size() + " messages");
      return got.get(0).data();
    }).toList();
  }

  static String header(String message, String name) {
    String head = message.substring(0, message.indexOf("\r\n\r\n")).replace("\r\n ", " ");
    for (String line : head.split("\r\n")) {
      if (line.regionMatches(true, 0, name + ": ", 0, name.length() + 2)) {
        return line.substring(name.length() + 2);
      }
    }
    return null;
  }

  static long count(String sql) {
    return TestDatabase.count(gw.db, sql);
  }

  /** Runs the refused requests and checks that no job, recipient or message was stored by them. */
  static void assertNothingStored(Runnable refused) {
    long jobs = count("SELECT count(*) FROM jobs");
    long recipients = count("SELECT count(*) FROM recipients");
    long messages = count("SELECT count(*) FROM job_messages");
    long parts = count("SELECT count(*) FROM job_message_parts");
    refused.run();
    assertEquals(jobs, count("SELECT count(*) FROM jobs"), "jobs stored by refused requests");
    assertEquals(recipients, count("SELECT count(*) FROM recipients"), "recipients stored");
    assertEquals(messages, count("SELECT count(*) FROM job_messages"), "messages stored");
    assertEquals(parts, count("SELECT count(*) FROM job_message_parts"), "messages' parts stored");
  }

  /** The temporary files of messages.mime uploads in the JVM's temporary directory. */
  static Set<java.nio.file.Path> mimeTempFiles() {
    return Uploads.tempFiles("mailgate-mime-");
  }

  static FeignException refused(Runnable call) {
    return assertThrows(FeignException.class, call::run);
  }

  // --- the shared message: cc, bcc, several to

  @Test
  void toCcAndBccRecipientsAllGetTheSameMessageWithTheToAndCcListsAndOneMessageId() {
    MessageResponse r = messages(acme).sendMessage("acme.example", Message.builder()
        .from("Acme <news@acme.example>")
        .to(List.of("Ann Example <shared-ann@example.com>", "shared-bob@example.com"))
        .cc("\"Smith, Carl\" <shared-carl@example.com>")
        .bcc(List.of("shared-dora@example.com", "shared-eve@example.com"))
        .subject("Meeting on {{friday}}")
        .text("See you all at 10:00. 100% sure.")
        .build());
    String id = jobId(r);
    api.awaitState(acme, id, "completed", TIMEOUT);

    List<String> all = List.of("shared-ann@example.com", "shared-bob@example.com", "shared-carl@example.com",
        "shared-dora@example.com", "shared-eve@example.com");
    List<String> got = onePerAddress(all);
    assertEquals(Set.copyOf(all), Set.copyOf(receivedBy("shared-ann@example.com").get(0).rcptTo()),
        "one SMTP transaction with a RCPT TO per recipient");
    String first = got.get(0);
    for (String m : got) {
      assertEquals(first, m, "every recipient, to, cc and bcc, gets the same bytes");
    }
    assertEquals("Ann Example <shared-ann@example.com>, shared-bob@example.com", header(first, "To"), first);
    assertEquals("\"Smith, Carl\" <shared-carl@example.com>", header(first, "Cc"), first);
    assertEquals(null, header(first, "Bcc"), "no Bcc header: " + first);
    assertFalse(first.contains("shared-dora") || first.contains("shared-eve"), "blind copies stay blind: " + first);
    assertEquals("Meeting on {{friday}}", header(first, "Subject"), "text is literal, not a template");
    assertTrue(first.contains("See you all at 10:00. 100% sure."), first);
    String messageId = "<" + id.replace("-", "") + "@acme.example>";
    assertEquals(messageId, header(first, "Message-ID"), "one Message-ID, <jobId@domain>");

    List<JsonObject> recipients = api.recipients(acme, id);
    assertEquals(Set.copyOf(all), recipients.stream().map(x -> x.getString("email")).collect(Collectors.toSet()),
        "a recipient row per envelope address");
    for (JsonObject x : recipients) {
      assertEquals("sent", x.getString("state"), x.encode());
      assertEquals(messageId, x.getString("messageId"), x.encode());
    }
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
  void eachRecipientsStateIsItsOwnInOneTransactionWithOrWithoutPipelining(boolean pipelining) {
    String p = pipelining ? "p" : "np";
    smtp.onRcpt(a -> a.startsWith("shared-refused") ? "550 5.1.1 no such user"
        : a.startsWith("shared-later") ? "450 4.2.1 try later" : "250 2.1.5 ok");
    smtp.pipelining(pipelining);
    try {
      MessageResponse r = messages(acme).sendMessage("acme.example", Message.builder()
          .from("news@acme.example")
          .to(List.of("shared-fine-" + p + "@example.com", "shared-later-" + p + "@example.com"))
          .cc("shared-refused-" + p + "@example.com")
          .bcc("shared-fine2-" + p + "@example.com")
          .subject("States")
          .text("T")
          .build());
      String id = jobId(r);
      api.awaitJob(acme, id, j -> j.getJsonObject("counts").getInteger("sent") == 2
          && j.getJsonObject("counts").getInteger("failed") == 1, TIMEOUT);
      Map<String, String> states = api.recipients(acme, id).stream()
          .collect(Collectors.toMap(x -> x.getString("email"), x -> x.getString("state")));
      assertEquals(Map.of("shared-fine-" + p + "@example.com", "sent", "shared-fine2-" + p + "@example.com", "sent",
          "shared-refused-" + p + "@example.com", "failed", "shared-later-" + p + "@example.com", "deferred"), states);
      List<ScriptedSmtpServer.Received> got = receivedBy("shared-fine-" + p + "@example.com");
      assertEquals(1, got.size());
      assertEquals(List.of("shared-fine-" + p + "@example.com", "shared-fine2-" + p + "@example.com"), got.get(0).rcptTo(),
          "the accepted recipients, in one transaction");
      api.control(acme.apiKey(), id, "cancel");
    } finally {
      smtp.onRcpt(a -> "250 2.1.5 ok");
      smtp.pipelining(true);
    }
  }

  @Test
  void ccOrBccWithRecipientVariablesIsRefused() {
    assertNothingStored(() -> {
      for (Message.MessageBuilder b : List.of(
          Message.builder().cc("shared-c@example.com"), Message.builder().bcc("shared-c@example.com"))) {
        FeignException e = refused(() -> messages(acme).sendMessage("acme.example", b
            .from("news@acme.example").to(List.of("shared-a@example.com", "shared-b@example.com"))
            .recipientVariables("{\"shared-a@example.com\":{\"n\":\"A\"}}")
            .subject("S").text("Hi %recipient.n%").build()));
        assertEquals(400, e.status(), e.contentUTF8());
        assertTrue(new JsonObject(e.contentUTF8()).getString("message").contains("with recipient-variables"), e.contentUTF8());
      }
    });
  }

  @Test
  void moreThan1000RecipientsCountingCcAndBccAreRefused() {
    List<String> to = IntStream.range(0, 998).mapToObj(i -> "shared-many" + i + "@example.com").toList();
    assertNothingStored(() -> {
      FeignException e = refused(() -> messages(acme).sendMessage("acme.example", Message.builder()
          .from("news@acme.example").to(to).cc("shared-c1@example.com").bcc(List.of("shared-b1@example.com", "shared-b2@example.com"))
          .subject("S").text("T").build()));
      assertEquals(400, e.status(), e.contentUTF8());
      assertTrue(e.contentUTF8().contains("Too many recipients; max is 1000"), e.contentUTF8());
    });
  }

  @Test
  void aTenantRoutedToSendGridGetsA400ForASharedMessage() {
    assertNothingStored(() -> {
      FeignException e = refused(() -> messages(onSendGrid).sendMessage("sg.example", Message.builder()
          .from("news@sg.example").to("shared-x@example.com").cc("shared-y@example.com").subject("S").text("T").build()));
      assertEquals(400, e.status(), e.contentUTF8());
      assertTrue(e.contentUTF8().contains("'shared-sg' (sendgrid) cannot send it"), e.contentUTF8());
    });
    assertEquals(0, sendgrid.requests().size());
  }

  // --- the native job API

  @Test
  void aNativeJobWithToAndCcIsOneSharedMessageSentAsItIsInATransactionPerRecipientWhenSoSet() {
    TenantKey single = api.tenantOnSmtp("shared-single-rcpt", smtp.port(), new JsonObject().put("maxRecipientsPerMessage", 1));
    domains(single, "single.example");
    Api.Response r = api.submitJson(single, new JsonObject()
        .put("from", "news@acme.example")
        .put("to", new JsonArray().add("Native Ann <native-ann@example.com>"))
        .put("cc", new JsonArray().add("native-cc@example.com"))
        .put("subject", "Native shared")
        .put("text", "Hello all")
        .put("recipients", new JsonArray().add(new JsonObject().put("email", "native-ann@example.com"))
            .add(new JsonObject().put("email", "native-cc@example.com"))
            .add(new JsonObject().put("email", "native-bcc@example.com"))));
    Api.expect(r, 202);
    String id = r.json().getString("id");
    api.awaitState(single, id, "completed", TIMEOUT);
    List<String> got = onePerAddress(List.of("native-ann@example.com", "native-cc@example.com", "native-bcc@example.com"));
    assertEquals(1, receivedBy("native-bcc@example.com").get(0).rcptTo().size(), "a transaction per recipient");
    assertEquals(got.get(0), got.get(1));
    assertEquals(got.get(0), got.get(2));
    assertEquals("Native Ann <native-ann@example.com>", header(got.get(0), "To"));
    assertEquals("native-cc@example.com", header(got.get(0), "Cc"));
  }

  @Test
  void aNativeSharedJobRefusesVarsAndTemplateVariables() {
    JsonObject base = new JsonObject().put("from", "news@acme.example").put("to", new JsonArray().add("a@example.com"))
        .put("subject", "S").put("text", "T");
    assertNothingStored(() -> {
      Api.Response vars = api.submitJson(acme, base.copy().put("recipients", new JsonArray()
          .add(new JsonObject().put("email", "a@example.com").put("vars", new JsonObject().put("n", "A")))));
      assertEquals(400, vars.status(), vars.text());
      assertEquals("invalid_recipient", vars.errorCode());
      Api.Response template = api.submitJson(acme, base.copy().put("text", "Hi {{name}}")
          .put("recipients", new JsonArray().add(new JsonObject().put("email", "a@example.com"))));
      assertEquals(400, template.status(), template.text());
      assertEquals("invalid_template", template.errorCode());
      Api.Response unsubscribe = api.submitJson(acme, base.copy().put("unsubscribe", true)
          .put("recipients", new JsonArray().add(new JsonObject().put("email", "a@example.com"))));
      assertEquals(400, unsubscribe.status(), unsubscribe.text());
    });
  }

  // --- messages.mime

  static final String MIME = "From: Signed Sender <sender@signed.example>\r\n"
      + "To: Team <team@signed.example>\r\n"
      + "Subject: A whole message\r\n"
      + "Date: Thu, 03 Dec 2026 08:00:00 +0000\r\n"
      + "Message-ID: <own-id-1@signed.example>\r\n"
      + "MIME-Version: 1.0\r\n"
      + "Content-Type: text/plain; charset=us-ascii\r\n"
      + "\r\n"
      + "Sent as is.\r\n"
      + ".a line with a leading dot\r\n";

  static File file(String name, byte[] content) throws Exception {
    File f = new File(dir, name);
    Files.write(f.toPath(), content);
    return f;
  }

  /** The received message without its DKIM-Signature field (the first one, folded). */
  static String withoutSignature(String data) {
    assertTrue(data.startsWith("DKIM-Signature: "), data);
    Matcher m = Pattern.compile("^DKIM-Signature: [^\r]*\r\n(?:[ \t][^\r]*\r\n)*").matcher(data);
    assertTrue(m.find(), data);
    return data.substring(m.end());
  }

  @Test
  void aMimeMessageArrivesAsSentSignedWithTheTenantsKeyAndKeepsItsMessageId() throws Exception {
    Set<java.nio.file.Path> before = mimeTempFiles();
    MessageResponse r = messages(signed).sendMIMEMessage("signed.example", MailgunMimeMessage.builder()
        .to(List.of("mime-a@example.com", "mime-b@example.com"))
        .tag("mime")
        .message(file("signed.eml", MIME.getBytes(StandardCharsets.US_ASCII)))
        .build());
    assertEquals("Queued. Thank you.", r.getMessage());
    String id = jobId(r);
    assertEquals(1, count("SELECT count(*) FROM job_messages WHERE job_id = '" + id + "'"), "stored with the job");
    api.awaitState(signed, id, "completed", TIMEOUT);
    for (String data : onePerAddress(List.of("mime-a@example.com", "mime-b@example.com"))) {
      assertEquals(MIME, withoutSignature(data), "byte-identical apart from the signature");
      DkimVerifiers.Verdict v = DkimVerifiers.jdkim(data.getBytes(StandardCharsets.US_ASCII),
          signedKey.getString("dnsName"), signedKey.getString("dnsRecord"));
      assertTrue(v.valid(), v.detail());
    }
    for (JsonObject x : api.recipients(signed, id)) {
      assertEquals("sent", x.getString("state"));
      assertEquals("<own-id-1@signed.example>", x.getString("messageId"), "the message's own Message-ID");
    }
    Uploads.awaitNoNewTempFiles("mailgate-mime-", before, TIMEOUT);
  }

  @Test
  void aMimeMessageWithoutMessageIdGetsTheJobsAndBareLfLinesBecomeCrlf() throws Exception {
    String lf = "From: news@acme.example\nTo: list@acme.example\nSubject: Unix file\n\nLine one\nLine two\n";
    MessageResponse r = messages(acme).sendMIMEMessage("acme.example", MailgunMimeMessage.builder()
        .to("mime-lf@example.com").message(file("lf.eml", lf.getBytes(StandardCharsets.US_ASCII))).build());
    String id = jobId(r);
    api.awaitState(acme, id, "completed", TIMEOUT);
    String data = onePerAddress(List.of("mime-lf@example.com")).get(0);
    String messageId = "<" + id.replace("-", "") + "@acme.example>";
    assertEquals("Message-ID: " + messageId + "\r\n" + lf.replace("\n", "\r\n"), data);
    assertEquals(messageId, api.recipients(acme, id).get(0).getString("messageId"));
  }

  /** A message of bare LFs, over many parts: lines of every length up to 200, some starting with '.'. */
  static String manyLines(String subject, int bytes) {
    java.util.Random random = new java.util.Random(5);
    StringBuilder m = new StringBuilder("From: news@acme.example\nTo: list@acme.example\nSubject: " + subject + "\n\n");
    while (m.length() < bytes) {
      int n = random.nextInt(200);
      StringBuilder line = new StringBuilder(random.nextInt(10) == 0 ? "." : "");
      while (line.length() < n) {
        line.append((char) ('a' + random.nextInt(26)));
      }
      m.append(line).append('\n');
    }
    return m.toString();
  }

  @Test
  void aMimeMessageOfManyPartsWithBareLfsArrivesCrlfConvertedAndOtherwiseIdentical() throws Exception {
    String lf = manyLines("Many parts", 300_000);
    String crlf = lf.replace("\n", "\r\n");
    Set<java.nio.file.Path> before = mimeTempFiles();
    MessageResponse r = messages(acme).sendMIMEMessage("acme.example", MailgunMimeMessage.builder()
        .to("mime-parts@example.com").message(file("parts.eml", lf.getBytes(StandardCharsets.US_ASCII))).build());
    String id = jobId(r);
    String job = "job_id = '" + id + "'";
    assertEquals((crlf.length() + PART - 1) / PART, count("SELECT count(*) FROM job_message_parts WHERE " + job),
        "stored before the answer, as converted, in parts of MAILGATE_BLOB_CHUNK_BYTES");
    assertEquals(PART, count("SELECT max(length(data)) FROM job_message_parts WHERE " + job));
    assertEquals(crlf.length(), count("SELECT size FROM job_messages WHERE " + job));
    Uploads.awaitNoNewTempFiles("mailgate-mime-", before, TIMEOUT);
    api.awaitState(acme, id, "completed", TIMEOUT);
    String data = onePerAddress(List.of("mime-parts@example.com")).get(0);
    assertEquals("Message-ID: <" + id.replace("-", "") + "@acme.example>\r\n" + crlf, data,
        "CRLF line endings, and else the bytes as sent (its dotted lines too)");
  }

  @Test
  void aMimeMessageRefusedInALaterPartStoresNoPartAndNoJob() throws Exception {
    String good = manyLines("Refused late", 100_000).replace("\n", "\r\n");
    List<String> bad = List.of(good + "a NUL \0 at the end\r\n", good + "x".repeat(999) + "\r\n", good + "a bare LF\n");
    Set<java.nio.file.Path> before = mimeTempFiles();
    assertNothingStored(() -> {
      for (String m : bad) {
        FeignException e = refused(() -> {
          try {
            messages(acme).sendMIMEMessage("acme.example", MailgunMimeMessage.builder().to("mime-late@example.com")
                .message(file("late.eml", m.getBytes(StandardCharsets.ISO_8859_1))).build());
          } catch (FeignException fe) {
            throw fe;
          } catch (Exception x) {
            throw new IllegalStateException(x);
          }
        });
        assertEquals(400, e.status(), e.contentUTF8());
        assertTrue(new JsonObject(e.contentUTF8()).getString("message").startsWith("the message"), e.contentUTF8());
      }
    });
    Uploads.awaitNoNewTempFiles("mailgate-mime-", before, TIMEOUT);
  }

  @Test
  void aMimeUploadCutOffHalfWayLeavesNoTemporaryFileAndStoresNothing() {
    String marker = "cut-off-" + java.util.UUID.randomUUID();
    byte[] message = manyLines(marker, 200_000).getBytes(StandardCharsets.US_ASCII);
    String boundary = "cut-boundary";
    byte[] body = Uploads.form(boundary, List.<String[]>of(new String[] {"to", "mime-cut@example.com"}), "message",
        "cut.eml", message);
    Set<java.nio.file.Path> before = mimeTempFiles();
    assertNothingStored(() -> {
      try (java.net.Socket client = Uploads.cutOff(gw.gateway.httpPort(), "/v3/acme.example/messages.mime",
          acme.apiKey(), boundary, body, body.length / 2)) {
        java.nio.file.Path upload = Uploads.awaitTempFileWith("mailgate-mime-", before, marker, TIMEOUT);
        client.close(); // the client goes away half-way through its upload
        io.mailgate.support.Polling.await("the cut-off upload's temporary file is deleted", () -> !Files.exists(upload),
            TIMEOUT);
      } catch (java.io.IOException e) {
        throw new IllegalStateException(e);
      }
    });
    Uploads.awaitNoNewTempFiles("mailgate-mime-", before, TIMEOUT);
  }

  @Test
  void aMimeMessageWithoutFromOrWithMixedLineEndingsOrNulIsRefused() {
    assertNothingStored(() -> {
      for (String bad : List.of("To: a@example.com\r\nSubject: no from\r\n\r\nbody\r\n",
          "From: a@acme.example\r\nSubject: mixed\n\r\nbody\r\n",
          "From: a@acme.example\r\nSubject: bare cr\r\rbody\r\n",
          "From: a@acme.example\r\nSubject: nul\r\n\r\nbo\0dy\r\n",
          "From: a@acme.example\r\nnot a header line\r\n\r\nbody\r\n")) {
        FeignException e = refused(() -> {
          try {
            messages(acme).sendMIMEMessage("acme.example", MailgunMimeMessage.builder().to("mime-bad@example.com")
                .message(file("bad.eml", bad.getBytes(StandardCharsets.ISO_8859_1))).build());
          } catch (FeignException fe) {
            throw fe;
          } catch (Exception x) {
            throw new IllegalStateException(x);
          }
        });
        assertEquals(400, e.status(), bad + ": " + e.contentUTF8());
        assertTrue(new JsonObject(e.contentUTF8()).getString("message").startsWith("the message"), e.contentUTF8());
      }
    });
  }

  @Test
  void aMimeMessageOverTheLimitIsRefusedWith413InMailgunsShape() throws Exception {
    StringBuilder big = new StringBuilder("From: news@acme.example\r\nSubject: big\r\n\r\n");
    while (big.length() <= MAX_MIME + 10) {
      big.append("x".repeat(70)).append("\r\n");
    }
    File f = file("big.eml", big.toString().getBytes(StandardCharsets.US_ASCII));
    Set<java.nio.file.Path> before = mimeTempFiles();
    assertNothingStored(() -> {
      FeignException e = refused(() -> messages(acme).sendMIMEMessage("acme.example",
          MailgunMimeMessage.builder().to("mime-big@example.com").message(f).build()));
      assertEquals(413, e.status(), e.contentUTF8());
      assertTrue(new JsonObject(e.contentUTF8()).getString("message").contains("MAILGATE_MAX_MIME_MESSAGE"), e.contentUTF8());
    });
    Uploads.awaitNoNewTempFiles("mailgate-mime-", before, TIMEOUT);
  }

  @Test
  void aTenantRoutedToSendGridGetsA400ForAMimeMessage() throws Exception {
    File f = file("sg.eml", "From: news@sg.example\r\nSubject: s\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII));
    assertNothingStored(() -> {
      FeignException e = refused(() -> messages(onSendGrid).sendMIMEMessage("sg.example",
          MailgunMimeMessage.builder().to("mime-sg@example.com").message(f).build()));
      assertEquals(400, e.status(), e.contentUTF8());
      assertTrue(e.contentUTF8().contains("(sendgrid) cannot send it"), e.contentUTF8());
    });
    assertEquals(0, sendgrid.requests().size());
  }

  @Test
  void mimeOptionsOutsideTheModelAreRefusedByName() throws Exception {
    File f = file("opt.eml", "From: news@acme.example\r\nSubject: s\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII));
    assertNothingStored(() -> {
      FeignException e = refused(() -> messages(acme).sendMIMEMessage("acme.example", MailgunMimeMessage.builder()
          .to("mime-opt@example.com").headers(Map.of("X-Extra", "1")).message(f).build()));
      assertEquals(400, e.status(), e.contentUTF8());
      assertTrue(e.contentUTF8().contains("h:X-Extra"), e.contentUTF8());
    });
  }

  // --- provider backends

  @Test
  void aSharedJobThatReachesSendGridAfterARouteChangeFailsForGoodWithTheReasonAndNothingIsSent() {
    TenantKey t = api.tenantOnSmtp("shared-rerouted", smtp.port(), null);
    String sendAt = java.time.OffsetDateTime.now().plusSeconds(3).toString();
    Api.Response r = api.submitJson(t, new JsonObject().put("from", "news@acme.example")
        .put("to", new JsonArray().add("rerouted-a@example.com")).put("subject", "S").put("text", "T").put("sendAt", sendAt)
        .put("recipients", new JsonArray().add(new JsonObject().put("email", "rerouted-a@example.com"))
            .add(new JsonObject().put("email", "rerouted-b@example.com"))));
    Api.expect(r, 202);
    String id = r.json().getString("id");
    api.route(t, "shared-sg"); // before its sendAt: the job is still queued
    api.awaitState(t, id, "completed", TIMEOUT);
    for (JsonObject x : api.recipients(t, id)) {
      assertEquals("failed", x.getString("state"), x.encode());
      assertTrue(x.getString("lastMessage").contains("cannot go through this backend: SendGrid's Mail Send"), x.encode());
    }
    assertEquals(0, sendgrid.requests().size(), "nothing reached SendGrid");
    assertEquals(0, receivedBy("rerouted-a@example.com").size());
  }

  @Test
  void throughMailgunASharedMessageGoesAsTheSameMessageInAMessagesMimeCallPerRecipient() {
    try (MailgunSimulator sim = new MailgunSimulator("mg.example", "mg-key").start()) {
      api.createBackend("shared-mg", "mailgun", "eu", new JsonObject().put("apiKey", "mg-key").put("domain", "mg.example")
          .put("region", "eu").put("baseUrl", sim.baseUrl()));
      TenantKey t = api.createTenant("shared-on-mailgun", "eu");
      api.route(t, "shared-mg");
      domains(t, "mg.example");
      MessageResponse r = messages(t).sendMessage("mg.example", Message.builder().from("news@mg.example")
          .to(List.of("mg-a@example.com", "mg-b@example.com")).bcc("mg-c@example.com").subject("Via Mailgun").text("T").build());
      String id = jobId(r);
      api.awaitState(t, id, "completed", TIMEOUT);
      List<MailgunSimulator.Request> calls = sim.acceptedRequests();
      assertEquals(3, calls.size());
      assertEquals(Set.of("mg-a@example.com", "mg-b@example.com", "mg-c@example.com"),
          calls.stream().flatMap(c -> c.to().stream()).collect(Collectors.toSet()));
      for (MailgunSimulator.Request c : calls) {
        assertTrue(c.isMime(), "messages.mime");
        assertEquals(1, c.to().size());
        assertEquals(id, c.first("v:mailgate-job"));
        assertTrue(c.first("v:mailgate-recipient").matches("[0-2]"), "the recipient's seq, for webhooks");
        assertTrue(java.util.Arrays.equals(calls.get(0).mime(), c.mime()), "the same message for all");
      }
      String mime = new String(calls.get(0).mime(), StandardCharsets.US_ASCII);
      assertEquals("mg-a@example.com, mg-b@example.com", header(mime, "To"), mime);
      assertEquals(null, header(mime, "Bcc"));
      assertEquals("<" + id.replace("-", "") + "@mg.example>", header(mime, "Message-ID"));
    }
  }

  @Test
  void throughSesAMimeMessageGoesAsRawSendEmailPerRecipient() throws Exception {
    try (SesSimulator ses = SesSimulator.start("AKIDSHAREDEXAMPLE", "ses-secret", "eu-west-1")) {
      api.createBackend("shared-ses", "ses", "eu", new JsonObject().put("awsRegion", "eu-west-1")
          .put("accessKeyId", "AKIDSHAREDEXAMPLE").put("secretAccessKey", "ses-secret").put("endpoint", ses.endpoint())
          .put("ratePerSecond", 0));
      TenantKey t = api.createTenant("mime-on-ses", "eu");
      api.route(t, "shared-ses");
      domains(t, "ses.example");
      String mime = "From: news@ses.example\r\nTo: all@ses.example\r\nSubject: raw\r\nMessage-ID: <raw-1@ses.example>\r\n\r\nbody\r\n";
      MessageResponse r = messages(t).sendMIMEMessage("ses.example", MailgunMimeMessage.builder()
          .to(List.of("ses-a@example.com", "ses-b@example.com")).message(file("ses.eml", mime.getBytes(StandardCharsets.US_ASCII))).build());
      String id = jobId(r);
      api.awaitState(t, id, "completed", TIMEOUT);
      List<SesSimulator.Delivered> got = ses.delivered();
      assertEquals(Set.of("ses-a@example.com", "ses-b@example.com"), got.stream().map(SesSimulator.Delivered::to).collect(Collectors.toSet()));
      for (SesSimulator.Delivered d : got) {
        assertEquals(mime, d.text(), "the raw message as sent");
      }
    }
  }
}

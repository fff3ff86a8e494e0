package io.mailgate.api.mailgun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.mailgun.api.v3.MailgunMessagesApi;
import com.mailgun.client.MailgunClient;
import com.mailgun.enums.DomainState;
import com.mailgun.model.domains.Domain;
import com.mailgun.model.domains.DomainListResponse;
import com.mailgun.model.domains.SingleDomainResponse;
import com.mailgun.model.message.Message;
import com.mailgun.model.message.MessageResponse;
import feign.Logger;
import feign.Retryer;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
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

/**
 * The Mailgun-compatible API end to end: Mailgun's official Java client (com.mailgun:mailgun-java), pointed at the
 * gateway's base URL, sends through a real gateway on PostgreSQL to a real SMTP server; hand-built requests check
 * Mailgun's error shapes, and that a refused request stores nothing.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class MailgunApiTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final Pattern ID = Pattern.compile("<([0-9a-f-]{36})@acme\\.example>");

  static TestGateway gw;
  static Api api;
  static ScriptedSmtpServer smtp;
  static TenantKey acme;
  static TenantKey other;

  @BeforeAll
  static void start() {
    smtp = new ScriptedSmtpServer().start();
    gw = TestGateway.start(TestDatabase.fresh());
    api = gw.api.overHttp11();
    acme = api.tenantOnSmtp("acme", smtp.port(), null);
    other = api.tenantOnSmtp("other", smtp.port(), null);
    Api.expect(api.put("/v1/admin/tenants/" + acme.id() + "/domains", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domains", new JsonArray().add("acme.example").add("mail.acme.example"))), 200);
    Api.expect(api.put("/v1/admin/tenants/" + other.id() + "/domains", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domains", new JsonArray().add("other.example"))), 200);
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

  static MailgunClient.MailgunClientBuilder client(String key) {
    return MailgunClient.config(api.base(), key).retryer(Retryer.NEVER_RETRY).logLevel(Logger.Level.NONE);
  }

  static MailgunMessagesApi messages() {
    return client(acme.apiKey()).createApi(MailgunMessagesApi.class);
  }

  /** The job id in a Mailgun answer's {@code <jobId@domain>}. */
  static String jobId(MessageResponse r) {
    Matcher m = ID.matcher(r.getId());
    assertTrue(m.matches(), r.getId());
    return m.group(1);
  }

  static List<ScriptedSmtpServer.Received> receivedBy(String address) {
    return smtp.received().stream().filter(m -> m.rcptTo().contains(address)).toList();
  }

  // --- sending through the official client

  @Test
  void officialClientSendsOneMessageAndItIsDelivered() {
    MessageResponse r = messages().sendMessage("acme.example", Message.builder()
        .from("Acme <news@acme.example>")
        .to("Ann Example <single-ann@example.com>")
        .subject("Your order")
        .text("Thank you for your order.")
        .build());
    assertEquals("Queued. Thank you.", r.getMessage());
    String id = jobId(r);
    assertEquals(1, api.job(acme, id).getInteger("recipients"), "the job is stored when answered");
    api.awaitState(acme, id, "completed", TIMEOUT);

    List<ScriptedSmtpServer.Received> got = receivedBy("single-ann@example.com");
    assertEquals(1, got.size());
    assertTrue(got.get(0).data().contains("Subject: Your order"), got.get(0).data());
    assertTrue(got.get(0).data().contains("Thank you for your order."), got.get(0).data());
    JsonObject recipient = api.recipients(acme, id).get(0);
    assertEquals("sent", recipient.getString("state"));
    assertEquals("<0." + id.replace("-", "") + "@acme.example>", recipient.getString("messageId"),
        "each message's Message-ID is <seq.jobId@from-domain>");
  }

  @Test
  void officialClientTestModeComposesTheMessageDeliversNothingAndReportsItDelivered() {
    MessageResponse r = messages().sendMessage("acme.example", Message.builder()
        .from("news@acme.example").to("testmode-ann@example.com").subject("Just a test").text("Not for real.")
        .testMode(true).build());
    String id = jobId(r);
    api.awaitState(acme, id, "completed", TIMEOUT);
    io.mailgate.support.Polling.await("the delivered event of the test-mode send",
        () -> "delivered".equals(api.recipients(acme, id).get(0).getString("state")), TIMEOUT);
    assertTrue(receivedBy("testmode-ann@example.com").isEmpty(), "nothing reached the SMTP server");
    List<String> types = new ArrayList<>();
    api.get("/v1/jobs/" + id + "/events?ascending=true", acme.apiKey()).json().getJsonArray("items")
        .forEach(o -> types.add(((JsonObject) o).getString("type")));
    assertTrue(types.containsAll(List.of("sent", "delivered")), types.toString());
    assertEquals(true, api.job(acme, id).getBoolean("testMode"), "the job says it was a test");
    // Mailgun's events of a test-mode message: accepted, then delivered (once, whichever the filter)
    String events = "/v3/acme.example/events?ascending=yes&recipient=testmode-ann@example.com";
    io.mailgate.support.Polling.await("both events of the test-mode send",
        () -> get(events, acme.apiKey()).json().getJsonArray("items").size() == 2, TIMEOUT);
    List<String> mailgun = new ArrayList<>();
    get(events, acme.apiKey()).json().getJsonArray("items").forEach(o -> mailgun.add(((JsonObject) o).getString("event")));
    assertEquals(List.of("accepted", "delivered"), mailgun);
    for (String kind : List.of("accepted", "delivered")) {
      assertEquals(1, get(events + "&event=" + kind, acme.apiKey()).json().getJsonArray("items").size(), kind);
    }

    Api.Response bad = postForm("/v3/acme.example/messages", acme.apiKey(), simpleForm() + "&" + form("o:testmode", "maybe"));
    assertEquals(400, bad.status(), bad.text());
    assertEquals("o:testmode must be yes, no, true or false", bad.json().getString("message"));
  }

  @Test
  void officialClientDeliveryTimeSchedulesTheSend() {
    java.time.ZonedDateTime at = java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC).plusSeconds(2)
        .truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    MessageResponse r = messages().sendMessage("acme.example", Message.builder()
        .from("news@acme.example").to("later-ann@example.com").subject("Tomorrow's reminder").text("See you.")
        .deliveryTime(at).build());
    String id = jobId(r);
    assertEquals(at.toInstant(), java.time.OffsetDateTime.parse(api.job(acme, id).getString("sendAt")).toInstant());
    api.awaitState(acme, id, "completed", TIMEOUT);
    assertEquals(1, receivedBy("later-ann@example.com").size());
    JsonObject sent = api.get("/v1/jobs/" + id + "/events", acme.apiKey()).json().getJsonArray("items").getJsonObject(0);
    assertTrue(!java.time.OffsetDateTime.parse(sent.getString("at")).toInstant().isBefore(at.toInstant()),
        "sent at or after o:deliverytime: " + sent);

    Api.Response bad = postForm("/v3/acme.example/messages", acme.apiKey(), simpleForm() + "&" + form("o:deliverytime", "tomorrow"));
    assertEquals(400, bad.status(), bad.text());
    assertTrue(bad.json().getString("message").startsWith("o:deliverytime must be an RFC 2822 date"), bad.text());
  }

  @Test
  void batchWithRecipientVariablesGivesEachRecipientTheirOwnSubstitutedText() {
    Map<String, Object> vars = new LinkedHashMap<>();
    vars.put("batch-ann@example.com", Map.of("name", "Ann", "code", 1));
    vars.put("batch-bob@example.com", Map.of("name", "Bob <b>", "code", 2));
    MessageResponse r = messages().sendMessage("acme.example", Message.builder()
        .from("news@acme.example")
        .to(List.of("batch-ann@example.com", "Bob <batch-bob@example.com>", "batch-carl@example.com"))
        .subject("Hello %recipient.name%")
        .text("Hi %recipient.name%, your code is %recipient.code%. {{not a tag}} %recipient.missing%!")
        .html("<p>Hi %recipient.name%</p>")
        .recipientVariables(vars)
        .build());
    String id = jobId(r);
    assertEquals(3, api.job(acme, id).getInteger("recipients"), "one recipient per to address");
    api.awaitState(acme, id, "completed", TIMEOUT);

    String ann = receivedBy("batch-ann@example.com").get(0).data();
    assertTrue(ann.contains("Subject: Hello Ann"), ann);
    assertTrue(ann.contains("Hi Ann, your code is 1. {{not a tag}} !"), ann);
    String bob = receivedBy("batch-bob@example.com").get(0).data();
    assertTrue(bob.contains("Hi Bob <b>, your code is 2."), bob);
    assertTrue(bob.contains("<p>Hi Bob <b></p>"), "values are inserted as given, as Mailgun does: " + bob);
    String carl = receivedBy("batch-carl@example.com").get(0).data();
    assertTrue(carl.contains("Hi , your code is . {{not a tag}} !"), "a recipient without variables gets them empty: " + carl);
    for (String a : List.of("batch-ann@example.com", "batch-bob@example.com", "batch-carl@example.com")) {
      assertEquals(1, receivedBy(a).size(), a);
      assertEquals(List.of(a), receivedBy(a).get(0).rcptTo(), "a message of its own");
    }
    // the events name the subject each message had, not the template it was made from
    for (var who : Map.of("batch-bob@example.com", "Hello Bob <b>", "batch-carl@example.com", "Hello ").entrySet()) {
      JsonObject event = get("/v3/acme.example/events?recipient=" + who.getKey(), acme.apiKey()).json()
          .getJsonArray("items").getJsonObject(0);
      assertEquals(who.getValue(), event.getJsonObject("message").getJsonObject("headers").getString("subject"),
          event.encode());
    }
  }

  @Test
  void tagsHeadersReplyToAndCustomVariablesAreStoredWithTheJobAndSent() throws Exception {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("X-Campaign", "spring");
    MessageResponse r = messages().sendMessage("acme.example", Message.builder()
        .from("news@acme.example")
        .to("tagged@example.com")
        .subject("Spring")
        .text("Spring is here.")
        .tag(List.of("spring", "newsletter"))
        .headers(headers)
        .replyTo("help@acme.example")
        .userVariables(Map.of("crm-id", "4711", "order", "{\"n\":1}"))
        .tracking(true)
        .dkim(true)
        .build());
    String id = jobId(r);
    JsonObject spec = spec(id);
    assertEquals(new JsonArray(List.of("spring", "newsletter")), spec.getJsonArray("tags"));
    assertEquals(new JsonObject().put("X-Campaign", "spring"), spec.getJsonObject("headers"));
    assertEquals("help@acme.example", spec.getString("replyTo"));
    assertEquals(new JsonObject().put("crm-id", "4711").put("order", "{\"n\":1}"), spec.getJsonObject("metadata"),
        "v: variables are kept with the job");
    api.awaitState(acme, id, "completed", TIMEOUT);
    String data = receivedBy("tagged@example.com").get(0).data();
    assertTrue(data.contains("X-Campaign: spring"), data);
    assertTrue(data.contains("Reply-To: help@acme.example"), data);
    assertTrue(!data.contains("4711"), "custom variables are not sent: " + data);
  }

  @Test
  void aUrlEncodedFormIsAcceptedLikeMultipart() {
    Api.Response r = postForm("/v3/acme.example/messages", acme.apiKey(), form(
        "from", "news@acme.example", "to", "\"Form, Fan\" <form-fan@example.com>", "subject", "Form",
        "text", "Sent as a form.", "o:tracking-opens", "yes"));
    assertEquals(200, r.status(), r.text());
    assertEquals("Queued. Thank you.", r.json().getString("message"));
    Matcher m = ID.matcher(r.json().getString("id"));
    assertTrue(m.matches(), r.text());
    api.awaitState(acme, m.group(1), "completed", TIMEOUT);
    assertEquals(1, receivedBy("form-fan@example.com").size());
  }

  // --- domains through the official client

  @Test
  void domainsAreListedAndReadInMailgunShapes() {
    DomainListResponse v3 = client(acme.apiKey()).createApi(com.mailgun.api.v3.MailgunDomainsApi.class).getDomainsList();
    assertEquals(2, v3.getTotalCount());
    assertEquals(List.of("acme.example", "mail.acme.example"), v3.getItems().stream().map(Domain::getName).toList(),
        "only the tenant's own domains");
    Domain first = v3.getItems().get(0);
    assertEquals(DomainState.ACTIVE, first.getState());
    assertNotNull(first.getCreatedAt());
    assertNotNull(first.getId());

    DomainListResponse v4 = client(acme.apiKey()).createApi(com.mailgun.api.v4.MailgunDomainsApi.class).getDomainsList();
    assertEquals(v3.getItems(), v4.getItems());

    Api.expect(api.post("/v1/admin/tenants/" + acme.id() + "/dkim", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domain", "mail.acme.example").put("selector", "mg1")), 201);
    SingleDomainResponse one = client(acme.apiKey()).createApi(com.mailgun.api.v4.MailgunDomainsApi.class)
        .getSingleDomain("mail.acme.example");
    assertEquals("mail.acme.example", one.getDomain().getName());
    assertEquals(1, one.getSendingDnsRecords().size());
    assertEquals("mg1._domainkey.mail.acme.example", one.getSendingDnsRecords().get(0).getName());
    assertEquals("TXT", one.getSendingDnsRecords().get(0).getRecordType());
    assertTrue(one.getSendingDnsRecords().get(0).getValue().startsWith("v=DKIM1; k=rsa; p="));
    SingleDomainResponse v3one = client(acme.apiKey()).createApi(com.mailgun.api.v3.MailgunDomainsApi.class)
        .getSingleDomain("acme.example");
    assertEquals("acme.example", v3one.getDomain().getName());
    assertEquals(List.of(), v3one.getSendingDnsRecords());

    Api.Response paged = get("/v4/domains?limit=1&skip=1", acme.apiKey());
    assertEquals(200, paged.status(), paged.text());
    assertEquals(2, paged.json().getInteger("total_count"));
    assertEquals("mail.acme.example", paged.json().getJsonArray("items").getJsonObject(0).getString("name"));
    Api.Response refused = get("/v3/domains?authority=x", acme.apiKey());
    assertEquals(400, refused.status(), refused.text());
    assertEquals("Parameter not supported: authority", refused.json().getString("message"));

    // mailgun.js sends h:extended and h:with_dns whenever it is given options; with_dns=false leaves the records out
    Api.Response withoutDns = get("/v4/domains/mail.acme.example?h:extended=true&h:with_dns=false", acme.apiKey());
    assertEquals(200, withoutDns.status(), withoutDns.text());
    assertEquals("mail.acme.example", withoutDns.json().getJsonObject("domain").getString("name"));
    assertEquals(Set.of("domain"), withoutDns.json().fieldNames());
    Api.Response withDns = get("/v4/domains/mail.acme.example?h:extended=false&h:with_dns=true", acme.apiKey());
    assertEquals(1, withDns.json().getJsonArray("sending_dns_records").size(), withDns.text());
    Api.Response badFlag = get("/v4/domains/acme.example?h:with_dns=maybe", acme.apiKey());
    assertEquals(400, badFlag.status(), badFlag.text());
    assertEquals("h:with_dns must be true or false", badFlag.json().getString("message"));
    Api.Response unknown = get("/v3/domains/acme.example?extended=true", acme.apiKey());
    assertEquals(400, unknown.status(), unknown.text());
    assertEquals("Parameter not supported: extended", unknown.json().getString("message"));
  }

  @Test
  void anotherTenantsDomainAnswersLikeAMissingOne() {
    Api.Response theirs = get("/v3/domains/other.example", acme.apiKey());
    Api.Response missing = get("/v4/domains/nowhere.example", acme.apiKey());
    assertEquals(404, theirs.status(), theirs.text());
    assertEquals(new JsonObject().put("message", "Domain not found: other.example"), theirs.json());
    assertEquals(new JsonObject().put("message", "Domain not found: nowhere.example"), missing.json());

    assertNothingStored(() -> {
      Api.Response send = postForm("/v3/other.example/messages", acme.apiKey(), simpleForm());
      assertEquals(404, send.status(), send.text());
      assertEquals(new JsonObject().put("message", "Domain not found: other.example"), send.json());
    });
  }

  // --- errors, as hand-built requests

  @Test
  void aBadOrMissingKeyAnswers401Forbidden() {
    assertNothingStored(() -> {
      for (String auth : new String[] {basic("api", "mg_wrong"), basic("someone", acme.apiKey()),
          "Bearer " + acme.apiKey(), null}) {
        Map<String, String> h = auth == null ? Map.of() : Map.of("Authorization", auth);
        Api.Response r = api.send("POST", "/v3/acme.example/messages", null, "application/x-www-form-urlencoded",
            HttpRequest.BodyPublishers.ofString(simpleForm()), h);
        assertEquals(401, r.status(), auth + ": " + r.text());
        assertEquals("Forbidden", r.text());
      }
      assertEquals(401, api.send("GET", "/v3/domains", null, null, null, Map.of("Authorization", basic("api", "nope"))).status());
    });
  }

  @Test
  void anUnknownParameterIsRefusedByName() {
    assertNothingStored(() -> {
      Api.Response r = postForm("/v3/acme.example/messages", acme.apiKey(), simpleForm() + "&" + form("o:foo", "1", "bar", "2"));
      assertEquals(400, r.status(), r.text());
      assertEquals("Parameters not supported: o:foo, bar", r.json().getString("message"));
    });
  }

  @Test
  void parametersOutsideOurModelAreRefusedWithTheReason() {
    assertNothingStored(() -> {
      for (String[] p : new String[][] {{"o:time-zone-localize", "09:00AM"}, {"template", "welcome"}}) {
        Api.Response r = postForm("/v3/acme.example/messages", acme.apiKey(), simpleForm() + "&" + form(p[0], p[1]));
        assertEquals(400, r.status(), r.text());
        assertTrue(r.json().getString("message").startsWith("Parameter not supported: " + p[0] + " ("), r.text());
      }
    });
  }

  @Test
  void aFilePartOtherThanAttachmentOrInlineIsRefusedByName() {
    String boundary = "mg-test-boundary";
    String body = part(boundary, "from", "news@acme.example") + part(boundary, "to", "att@example.com")
        + part(boundary, "subject", "S") + part(boundary, "text", "T")
        + "--" + boundary + "\r\nContent-Disposition: form-data; name=\"document\"; filename=\"a.txt\"\r\n"
        + "Content-Type: text/plain\r\n\r\nfile content\r\n--" + boundary + "--\r\n";
    assertNothingStored(() -> {
      Api.Response r = api.send("POST", "/v3/acme.example/messages", null, "multipart/form-data; boundary=" + boundary,
          HttpRequest.BodyPublishers.ofString(body), Map.of("Authorization", basic("api", acme.apiKey())));
      assertEquals(400, r.status(), r.text());
      assertEquals("Parameter not supported: document", r.json().getString("message"), r.text());
    });
  }

  @Test
  void anAttachmentAsAPlainFieldInsteadOfAFileIsRefusedWithTheReason() {
    assertNothingStored(() -> {
      Api.Response r = postForm("/v3/acme.example/messages", acme.apiKey(), simpleForm() + "&" + form("attachment", "x"));
      assertEquals(400, r.status(), r.text());
      assertTrue(r.json().getString("message").startsWith("Parameter not supported: attachment (send a file as a"
          + " multipart/form-data file part"), r.text());
    });
  }

  @Test
  void moreThan1000RecipientsAreRefused() {
    String to = IntStream.range(0, 1001).mapToObj(i -> "many" + i + "@example.com").collect(Collectors.joining(","));
    assertNothingStored(() -> {
      Api.Response r = postForm("/v3/acme.example/messages", acme.apiKey(),
          form("from", "news@acme.example", "to", to, "subject", "S", "text", "T", "recipient-variables", "{}"));
      assertEquals(400, r.status(), r.text());
      assertEquals(new JsonObject().put("message", "Too many recipients; max is 1000"), r.json());
    });
  }

  @Test
  void crOrLfInACustomHeaderIsRefused() {
    assertNothingStored(() -> {
      for (String value : new String[] {"a\r\nBcc: victim@example.com", "a\nb", "a\rb"}) {
        Api.Response r = postForm("/v3/acme.example/messages", acme.apiKey(), simpleForm() + "&" + form("h:X-Note", value));
        assertEquals(400, r.status(), r.text());
        assertEquals("h:X-Note must not contain CR, LF or NUL", r.json().getString("message"));
      }
      Api.Response subject = postForm("/v3/acme.example/messages", acme.apiKey(),
          form("from", "news@acme.example", "to", "x@example.com", "subject", "a\r\nBcc: v@example.com", "text", "T"));
      assertEquals(400, subject.status(), subject.text());
    });
  }

  @Test
  void missingRequiredParametersAreNamedAsMailgunNamesThem() {
    assertNothingStored(() -> {
      assertEquals("from parameter is missing", postForm("/v3/acme.example/messages", acme.apiKey(),
          form("to", "x@example.com", "subject", "S", "text", "T")).json().getString("message"));
      assertEquals("to parameter is missing", postForm("/v3/acme.example/messages", acme.apiKey(),
          form("from", "news@acme.example", "subject", "S", "text", "T")).json().getString("message"));
      assertEquals("Need at least one of 'text' or 'html' parameters specified", postForm("/v3/acme.example/messages",
          acme.apiKey(), form("from", "news@acme.example", "to", "x@example.com", "subject", "S")).json().getString("message"));
      Api.Response bad = postForm("/v3/acme.example/messages", acme.apiKey(),
          form("from", "news@acme.example", "to", "not an address", "subject", "S", "text", "T"));
      assertEquals(400, bad.status(), bad.text());
      assertTrue(bad.json().getString("message").startsWith("to parameter is not a valid address"), bad.text());
    });
  }

  @Test
  void tooManyFormFieldsAreRefused() {
    String body = simpleForm() + IntStream.range(0, MessagesRoutes.MAX_FORM_FIELDS).mapToObj(i -> "&o%3Atag=t" + i)
        .collect(Collectors.joining());
    assertNothingStored(() -> {
      Api.Response r = postForm("/v3/acme.example/messages", acme.apiKey(), body);
      assertEquals(400, r.status(), r.text());
      assertEquals("Too many parameters; max is " + MessagesRoutes.MAX_FORM_FIELDS, r.json().getString("message"));
    });
  }

  @Test
  void aBodyDeclaredOverTwentyFiveMegabytesIsRefusedWith413BeforeItIsRead() throws Exception {
    assertNothingStored(() -> {
      String status = rawRequest("POST /v3/acme.example/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Authorization: " + basic("api", acme.apiKey()) + "\r\n"
          + "Content-Type: application/x-www-form-urlencoded\r\n"
          + "Content-Length: " + (MessagesRoutes.MAX_BODY_BYTES + 1) + "\r\n\r\nfrom=a", false);
      assertTrue(status.startsWith("HTTP/1.1 413"), status);
    });
  }

  @Test
  void aStreamedBodyOverTwentyFiveMegabytesIsRefusedWith413() throws Exception {
    assertNothingStored(() -> {
      String status = rawRequest("POST /v3/acme.example/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Authorization: " + basic("api", acme.apiKey()) + "\r\n"
          + "Content-Type: application/x-www-form-urlencoded\r\n"
          + "Transfer-Encoding: chunked\r\n\r\n", true);
      assertTrue(status.startsWith("HTTP/1.1 413"), status);
    });
  }

  /**
   * Sends the head of a request over a plain socket (then, when {@code streamBody}, 1 MB chunks of a {@code text}
   * field until the server stops reading) and returns the status line of the answer.
   */
  static String rawRequest(String head, boolean streamBody) {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", gw.gateway.httpPort())) {
      socket.setSoTimeout(30_000);
      java.io.OutputStream out = socket.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread writer = null;
      if (streamBody) {
        writer = new Thread(() -> {
          byte[] chunk = ("100000\r\n" + "a".repeat(0x100000) + "\r\n").getBytes(StandardCharsets.US_ASCII);
          try {
            out.write("5\r\ntext=\r\n".getBytes(StandardCharsets.US_ASCII));
            for (int i = 0; i < 64; i++) {
              out.write(chunk);
            }
          } catch (java.io.IOException e) {
            // the server answered and closed the connection: what the test waits for
          }
        });
        writer.start();
      }
      java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
          StandardCharsets.US_ASCII));
      String status = in.readLine();
      socket.close();
      if (writer != null) {
        writer.join(30_000);
      }
      return String.valueOf(status);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  // --- helpers

  static String simpleForm() {
    return form("from", "news@acme.example", "to", "refused@example.com", "subject", "S", "text", "T");
  }

  static String form(String... kv) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < kv.length; i += 2) {
      out.add(URLEncoder.encode(kv[i], StandardCharsets.UTF_8) + "=" + URLEncoder.encode(kv[i + 1], StandardCharsets.UTF_8));
    }
    return String.join("&", out);
  }

  static String part(String boundary, String name, String value) {
    return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
  }

  static String basic(String user, String password) {
    return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  static Api.Response postForm(String path, String key, String body) {
    return api.send("POST", path, null, "application/x-www-form-urlencoded", HttpRequest.BodyPublishers.ofString(body),
        Map.of("Authorization", basic("api", key)));
  }

  static Api.Response get(String path, String key) {
    return api.send("GET", path, null, null, null, Map.of("Authorization", basic("api", key)));
  }

  static long jobs() {
    return TestDatabase.count(gw.db, "SELECT count(*) FROM jobs");
  }

  /** Runs the refused requests and checks that no job or recipient was stored by them. */
  static void assertNothingStored(Runnable refused) {
    long jobs = jobs();
    long recipients = TestDatabase.count(gw.db, "SELECT count(*) FROM recipients");
    refused.run();
    assertEquals(jobs, jobs(), "jobs stored by refused requests");
    assertEquals(recipients, TestDatabase.count(gw.db, "SELECT count(*) FROM recipients"), "recipients stored");
  }

  static JsonObject spec(String jobId) throws Exception {
    try (Connection c = TestDatabase.jdbc(gw.db); Statement st = c.createStatement();
        ResultSet rs = st.executeQuery("SELECT spec::text FROM jobs WHERE id = '" + jobId + "'")) {
      assertTrue(rs.next(), "job " + jobId + " is stored");
      return new JsonObject(rs.getString(1));
    }
  }
}

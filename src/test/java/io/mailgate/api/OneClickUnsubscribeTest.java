package io.mailgate.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.DkimVerifiers;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.sim.MailgunSimulator;
import io.mailgate.support.sim.SendGridSimulator;
import io.mailgate.store.DbTarget;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * RFC 8058 one-click unsubscribe through the whole gateway: the headers of sent mail (signed, and as providers' custom
 * headers), {@code {{unsubscribeUrl}}}, the {@code /u/{token}} routes and the public listener that serves only them.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class OneClickUnsubscribeTest {

  private static final String ADMIN = TestGateway.ADMIN_TOKEN;
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  private static final Pattern LINK = Pattern.compile("<(http://127\\.0\\.0\\.1:\\d+/u/([A-Za-z0-9_-]+))>");
  private static final String ONE_CLICK = "List-Unsubscribe=One-Click";
  private static final String FORM = "application/x-www-form-urlencoded";

  static DbTarget db;
  static TestGateway gw;
  static Api api;
  /** The public listener (MAILGATE_PUBLIC_PORT), where the links point. */
  static Api pub;
  static int publicPort;
  static Path outbox;

  @BeforeAll
  static void start() throws Exception {
    db = TestDatabase.fresh();
    publicPort = TestGateway.freePort();
    gw = TestGateway.start(db, Map.of(
        "MAILGATE_PUBLIC_PORT", Integer.toString(publicPort),
        "MAILGATE_PUBLIC_HOST", "127.0.0.1",
        "MAILGATE_PUBLIC_URL", "http://127.0.0.1:" + publicPort + "/"));
    api = gw.api.overHttp11();
    pub = new Api(publicPort, ADMIN).overHttp11();
    outbox = Files.createTempDirectory("mailgate-unsub-files");
    api.createBackend("unsub-files", "file", "eu", new JsonObject().put("dir", outbox.toString()));
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
  }

  // --- the mail

  @Test
  void signedMessagesCarryBothHeadersInsideTheSignatureAndVerifyWithDkimpy() throws Exception {
    TenantKey t = fileTenant("signed");
    Api.expect(api.put("/v1/admin/tenants/" + t.id() + "/domains", ADMIN,
        new JsonObject().put("domains", new JsonArray().add("unsub-signed.example"))), 200);
    Api.Response key = api.post("/v1/admin/tenants/" + t.id() + "/dkim", ADMIN,
        new JsonObject().put("domain", "unsub-signed.example").put("selector", "u1"));
    Api.expect(key, 201);
    List<String> emls = send(t, job("news@unsub-signed.example", "a@example.com", "b@example.com").put("unsubscribe", true));
    List<String> tokens = new ArrayList<>();
    for (String eml : emls) {
      String headers = unfold(eml.substring(0, eml.indexOf("\r\n\r\n")));
      Matcher link = LINK.matcher(header(headers, "List-Unsubscribe"));
      assertTrue(link.matches(), headers);
      tokens.add(link.group(2));
      assertEquals(ONE_CLICK, header(headers, "List-Unsubscribe-Post"));
      String h = dkimTag(header(headers, "DKIM-Signature"), "h");
      // over-signed: a List-Unsubscribe added on the way breaks the signature
      assertTrue(h.contains("list-unsubscribe:list-unsubscribe:"), h);
      assertTrue(h.contains("list-unsubscribe-post:list-unsubscribe-post"), h);
      // {{unsubscribeUrl}} in text and html is the header's link
      assertTrue(eml.contains("Leave: " + link.group(1)), eml);
      assertTrue(eml.contains("<a href=\"" + link.group(1) + "\">"), eml);
      DkimVerifiers.Verdict v = DkimVerifiers.dkimpy(eml.getBytes(StandardCharsets.UTF_8), key.json().getString("dnsName"),
          key.json().getString("dnsRecord"));
      assertTrue(v.valid(), v.detail() + "\n" + eml);
    }
    assertNotEquals(tokens.get(0), tokens.get(1), "each recipient its own link");
  }

  @Test
  void tenantDefaultAppliesWithItsMailtoAndAJobMayOptOut() throws Exception {
    TenantKey t = fileTenant("default");
    Api.Response patched = api.send("PATCH", "/v1/admin/tenants/" + t.id(), ADMIN, "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString(new JsonObject().put("unsubscribeDefault", true)
            .put("unsubscribeMailto", "leave@acme.example").encode()), Map.of());
    Api.expect(patched, 200);
    assertEquals(true, patched.json().getBoolean("unsubscribeDefault"));
    assertEquals("leave@acme.example", patched.json().getString("unsubscribeMailto"));

    String eml = send(t, job("news@acme.example", "d@example.com")).get(0);
    String value = header(unfold(eml.substring(0, eml.indexOf("\r\n\r\n"))), "List-Unsubscribe");
    assertTrue(value.matches("<http://127\\.0\\.0\\.1:\\d+/u/[A-Za-z0-9_-]{64}>, <mailto:leave@acme\\.example>"), value);

    String optedOut = send(t, job("news@acme.example", "e@example.com").put("unsubscribe", false)).get(0);
    assertFalse(optedOut.contains("List-Unsubscribe"), optedOut);
  }

  @Test
  void mailgunBatchCallGivesEachRecipientItsOwnLinkAsACustomHeader() {
    try (MailgunSimulator sim = new MailgunSimulator("mg.acme.example", "key-unsub").start()) {
      api.createBackend("unsub-mailgun", "mailgun", "eu", new JsonObject().put("apiKey", "key-unsub")
          .put("domain", "mg.acme.example").put("region", "eu").put("baseUrl", sim.baseUrl()));
      TenantKey t = api.createTenant("unsub-mg", "eu");
      api.route(t, "unsub-mailgun");
      String id = submit(t, job("news@acme.example", "m1@example.com", "m2@example.com").put("unsubscribe", true));
      api.awaitState(t, id, "completed", TIMEOUT);
      MailgunSimulator.Request call = sim.acceptedRequests().get(0);
      assertEquals(2, call.to().size(), "one batch call");
      assertEquals(ONE_CLICK, call.first("h:List-Unsubscribe-Post"));
      List<String> links = new ArrayList<>();
      for (String to : call.to()) {
        Matcher m = LINK.matcher(call.personalised("h:List-Unsubscribe", to));
        assertTrue(m.matches(), call.personalised("h:List-Unsubscribe", to));
        links.add(m.group(1));
        assertTrue(call.personalised("text", to).contains("Leave: " + m.group(1)), call.personalised("text", to));
      }
      assertNotEquals(links.get(0), links.get(1));
    }
  }

  @Test
  void sendGridPersonalizationsCarryTheHeaders() {
    try (SendGridSimulator sim = new SendGridSimulator("SG.unsub").start()) {
      api.createBackend("unsub-sendgrid", "sendgrid", "eu", new JsonObject().put("apiKey", "SG.unsub")
          .put("region", "eu").put("baseUrl", sim.baseUrl()));
      TenantKey t = api.createTenant("unsub-sg", "eu");
      api.route(t, "unsub-sendgrid");
      String id = submit(t, job("news@acme.example", "s1@example.com").put("unsubscribe", true));
      api.awaitState(t, id, "completed", TIMEOUT);
      JsonObject headers = sim.acceptedRequests().get(0).personalization("s1@example.com").getJsonObject("headers");
      assertNotNull(headers);
      assertTrue(LINK.matcher(headers.getString("List-Unsubscribe")).matches(), headers.encode());
      assertEquals(ONE_CLICK, headers.getString("List-Unsubscribe-Post"));
    }
  }

  // --- the links

  @Test
  void getShowsAConfirmationPageAndChangesNothing() throws Exception {
    TenantKey t = fileTenant("get");
    String path = linkPath(t, "g@example.com");
    Api.Response page = pub.get(path, null);
    assertEquals(200, page.status());
    assertTrue(page.header("Content-Type").startsWith("text/html"), page.header("Content-Type"));
    assertTrue(page.header("Content-Security-Policy").contains("default-src 'none'"));
    assertEquals("no-referrer", page.header("Referrer-Policy"));
    assertTrue(page.text().contains("<form method=\"post\">"), page.text());
    assertTrue(page.text().contains("name=\"List-Unsubscribe\" value=\"One-Click\""), page.text());
    assertFalse(page.text().contains("http"), "no external resource: " + page.text());
    assertNothingStored(t, "g@example.com");
  }

  @Test
  void postUnsubscribesThroughTheEventsAndARepeatRecordsNothingMore() throws Exception {
    TenantKey t = fileTenant("post");
    String path = linkPath(t, "p@example.com");
    Api.Response first = pub.postRaw(path, null, FORM, ONE_CLICK, Map.of());
    assertEquals(200, first.status(), first.text());
    Api.Response again = pub.postRaw(path, null, FORM, ONE_CLICK, Map.of());
    assertEquals(200, again.status(), again.text());

    JsonObject s = api.get("/v1/suppressions/p@example.com", t.apiKey()).json();
    assertEquals("unsubscribe", s.getJsonArray("items").getJsonObject(0).getString("reason"), s.encode());
    JsonArray events = api.get("/v1/events?type=unsubscribed&recipient=p@example.com", t.apiKey()).json().getJsonArray("items");
    assertEquals(1, events.size(), events.encode());
    assertEquals("one-click", events.getJsonObject(0).getString("source"));
    assertNotNull(events.getJsonObject(0).getString("job"));
  }

  @Test
  void thePagesButtonSendsTheOneClickBodyAsAMultipartFormToo() throws Exception {
    TenantKey t = fileTenant("multipart");
    String path = linkPath(t, "mp@example.com");
    String boundary = "b" + UUID.randomUUID().toString().replace("-", "");
    String body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--"
        + boundary + "--\r\n";
    Api.Response r = pub.postRaw(path, null, "multipart/form-data; boundary=" + boundary, body, Map.of());
    assertEquals(200, r.status(), r.text());
    assertEquals(200, api.get("/v1/suppressions/mp@example.com", t.apiKey()).status());
  }

  @Test
  void aTamperedTokenIs404AndStoresNothing() throws Exception {
    TenantKey t = fileTenant("tamper");
    String path = linkPath(t, "x@example.com");
    char last = path.charAt(path.length() - 1);
    String tampered = path.substring(0, path.length() - 1) + (last == 'A' ? 'B' : 'A');
    assertEquals(404, pub.postRaw(tampered, null, FORM, ONE_CLICK, Map.of()).status());
    assertEquals(404, pub.get(tampered, null).status());
    assertEquals(404, pub.postRaw("/u/guessed", null, FORM, ONE_CLICK, Map.of()).status());
    assertNothingStored(t, "x@example.com");
  }

  @Test
  void aPostWithoutTheOneClickBodyIs400AndStoresNothing() throws Exception {
    TenantKey t = fileTenant("wrongbody");
    String path = linkPath(t, "w@example.com");
    assertEquals(400, pub.postRaw(path, null, FORM, "List-Unsubscribe=Yes", Map.of()).status());
    assertEquals(400, pub.postRaw(path, null, FORM, "", Map.of()).status());
    assertEquals(413, pub.postRaw(path, null, FORM, ONE_CLICK + "&x=" + "a".repeat(10_000), Map.of()).status());
    assertNothingStored(t, "w@example.com");
  }

  @Test
  void thePublicListenerServesOnlyThePublicRoutesAndTheMainPortServesThemToo() throws Exception {
    TenantKey t = fileTenant("listener");
    String path = linkPath(t, "l@example.com");
    assertEquals(publicPort, gw.gateway.publicPort());
    assertEquals(200, pub.get(path, null).status());
    for (String p : List.of("/v1/jobs", "/v1/admin/tenants", "/metrics", "/health", "/v1/suppressions")) {
      assertEquals(404, pub.get(p, t.apiKey()).status(), p);
      assertEquals(404, pub.get(p, ADMIN).status(), p);
    }
    assertEquals(404, pub.post("/v1/jobs", t.apiKey(), job("news@acme.example", "z@example.com")).status());
    assertEquals(200, api.get(path, null).status(), "the main port serves /u/ too");
    assertEquals(200, api.get("/metrics", null).status());
  }

  // --- refused without a public URL

  @Test
  void withoutAPublicUrlAJobAskingForUnsubscribeIsRefusedAndNothingIsStored() {
    TestGateway plain = TestGateway.start(db);
    try {
      Api other = plain.api.overHttp11();
      TenantKey t = other.createTenant("unsub-nourl", "eu");
      Api.Response r = other.submitJson(t, job("news@acme.example", "n@example.com").put("unsubscribe", true));
      assertEquals(422, r.status(), r.text());
      assertEquals("unsubscribe_unavailable", r.errorCode());
      assertEquals(0, other.get("/v1/jobs", t.apiKey()).json().getJsonArray("items").size());
      Api.Response patch = other.send("PATCH", "/v1/admin/tenants/" + t.id(), ADMIN, "application/json",
          java.net.http.HttpRequest.BodyPublishers.ofString(new JsonObject().put("unsubscribeDefault", true).encode()), Map.of());
      assertEquals(422, patch.status(), patch.text());
      assertEquals(202, other.submitJson(t, job("news@acme.example", "n@example.com")).status(), "without it: accepted");
    } finally {
      plain.close();
    }
  }

  // --- helpers

  private static TenantKey fileTenant(String name) {
    TenantKey t = api.createTenant("unsub-" + name, "eu");
    api.route(t, "unsub-files");
    return t;
  }

  private static JsonObject job(String from, String... to) {
    JsonArray recipients = new JsonArray();
    for (String e : to) {
      recipients.add(new JsonObject().put("email", e).put("vars", new JsonObject().put("name", e)));
    }
    return new JsonObject().put("from", from).put("subject", "News for {{name}}")
        .put("text", "Hi {{name}}\nLeave: {{unsubscribeUrl}}\n")
        .put("html", "<p>Hi {{name}}</p><p><a href=\"{{unsubscribeUrl}}\">Unsubscribe</a></p>")
        .put("recipients", recipients);
  }

  private static String submit(TenantKey t, JsonObject job) {
    Api.Response r = api.submitJson(t, job);
    Api.expect(r, 202);
    return r.json().getString("id");
  }

  /** Submits, waits until every recipient is sent, and answers the written messages in seq order. */
  private static List<String> send(TenantKey t, JsonObject job) throws Exception {
    String id = submit(t, job);
    JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
    int n = job.getJsonArray("recipients").size();
    assertEquals(n, done.getJsonObject("counts").getInteger("sent"), done.encode());
    List<String> out = new ArrayList<>();
    for (int seq = 0; seq < n; seq++) {
      out.add(Files.readString(outbox.resolve(id).resolve(seq + ".eml"), StandardCharsets.UTF_8));
    }
    return out;
  }

  /** The path of the link the one recipient of a new job got. */
  private static String linkPath(TenantKey t, String email) throws Exception {
    String eml = send(t, job("news@acme.example", email).put("unsubscribe", true)).get(0);
    Matcher m = LINK.matcher(header(unfold(eml.substring(0, eml.indexOf("\r\n\r\n"))), "List-Unsubscribe"));
    assertTrue(m.find(), eml);
    return "/u/" + m.group(2);
  }

  private static void assertNothingStored(TenantKey t, String email) {
    assertEquals(404, api.get("/v1/suppressions/" + email, t.apiKey()).status());
    assertEquals(0, api.get("/v1/events?type=unsubscribed&recipient=" + email, t.apiKey()).json().getJsonArray("items").size());
  }

  private static String unfold(String headers) {
    return headers.replace("\r\n ", " ").replace("\r\n\t", " ");
  }

  private static String header(String unfoldedHeaders, String name) {
    for (String line : unfoldedHeaders.split("\r\n")) {
      if (line.regionMatches(true, 0, name + ":", 0, name.length() + 1)) {
        return line.substring(name.length() + 1).trim();
      }
    }
    return null;
  }

  private static String dkimTag(String signature, String tag) {
    for (String part : signature.split(";")) {
      String p = part.trim();
      if (p.startsWith(tag + "=")) {
        return p.substring(tag.length() + 1).replace(" ", "");
      }
    }
    return null;
  }
}

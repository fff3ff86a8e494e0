package io.mailgate.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Internationalised addresses (RFC 6530/6531/6532) end to end, through the gateway's own API and the Mailgun API, to
 * two real SMTP servers in the test JVM: one offering SMTPUTF8 and one not (both refuse, as real servers do, a
 * non-ASCII address in a transaction not begun with SMTPUTF8, so a mangled or unannounced address would show).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class UnicodeAddressTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  static TestGateway gw;
  static Api api;
  static ScriptedSmtpServer utf8Smtp;
  static ScriptedSmtpServer asciiSmtp;
  static TenantKey intl;
  static TenantKey legacy;

  @BeforeAll
  static void start() {
    utf8Smtp = new ScriptedSmtpServer().smtpUtf8(true).start();
    asciiSmtp = new ScriptedSmtpServer().smtpUtf8(false).start();
    gw = TestGateway.start(TestDatabase.fresh());
    api = gw.api.overHttp11();
    intl = api.tenantOnSmtp("intl", utf8Smtp.port(), null);
    legacy = api.tenantOnSmtp("legacy", asciiSmtp.port(), null);
    Api.expect(api.put("/v1/admin/tenants/" + intl.id() + "/domains", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domains", new JsonArray().add("acme.example"))), 200);
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
    if (utf8Smtp != null) {
      utf8Smtp.close();
    }
    if (asciiSmtp != null) {
      asciiSmtp.close();
    }
  }

  private static List<ScriptedSmtpServer.Received> receivedBy(ScriptedSmtpServer smtp, String address) {
    return smtp.received().stream().filter(m -> m.rcptTo().contains(address)).toList();
  }

  private static Map<String, JsonObject> byEmail(TenantKey t, String job) {
    return api.recipients(t, job).stream().collect(Collectors.toMap(r -> r.getString("email"), Function.identity()));
  }

  @Test
  void aUtf8LocalPartGoesWithSmtpUtf8WhereOfferedAndAnIdnDomainAsALabelsWithout() {
    String id = TestJobs.submit(api, intl, TestJobs.job("Grüße\n",
        List.of("jürgen@bücher.example", "ann@xn--bcher-kva.example", "bob@example.com")));
    api.awaitState(intl, id, "completed", TIMEOUT);

    Map<String, JsonObject> rs = byEmail(intl, id);
    assertEquals("sent", rs.get("jürgen@bücher.example").getString("state"), rs.toString());
    assertEquals("sent", rs.get("ann@bücher.example").getString("state"), "an A-label domain is stored as its U-labels: " + rs);
    assertEquals("sent", rs.get("bob@example.com").getString("state"));

    List<ScriptedSmtpServer.Received> utf8 = receivedBy(utf8Smtp, "jürgen@bücher.example");
    assertEquals(1, utf8.size(), "the UTF-8 address reached the server intact");
    assertTrue(utf8.get(0).mailParameters().contains(" SMTPUTF8"), utf8.get(0).mailParameters());
    assertTrue(utf8.get(0).mailParameters().contains(" BODY=8BITMIME"), "the server offers 8BITMIME");
    assertTrue(utf8.get(0).data().contains("\r\nTo: jürgen@bücher.example\r\n"), utf8.get(0).data());

    List<ScriptedSmtpServer.Received> idn = receivedBy(utf8Smtp, "ann@xn--bcher-kva.example");
    assertEquals(1, idn.size(), "an IDN domain with an ASCII local part goes as A-labels");
    assertFalse(idn.get(0).mailParameters().contains("SMTPUTF8"), "nothing needs SMTPUTF8: " + idn.get(0).mailParameters());
    assertTrue(idn.get(0).data().contains("\r\nTo: ann@xn--bcher-kva.example\r\n"), idn.get(0).data());
    assertEquals("", receivedBy(utf8Smtp, "bob@example.com").get(0).mailParameters());
  }

  @Test
  void withoutSmtpUtf8AUtf8LocalPartFailsForGoodAndTheOthersAreDelivered() {
    String id = TestJobs.submit(api, legacy, TestJobs.job("Hello\n",
        List.of("legacy-ann@bücher.example", "légacy@bücher.example", "legacy-bob@example.com")));
    api.awaitState(legacy, id, "completed", TIMEOUT);

    Map<String, JsonObject> rs = byEmail(legacy, id);
    JsonObject failed = rs.get("légacy@bücher.example");
    assertEquals("failed", failed.getString("state"), rs.toString());
    assertEquals(553, failed.getInteger("lastCode"));
    String why = failed.getString("lastMessage");
    assertTrue(why.startsWith("5.6.7 not sent: the address has a UTF-8 local part and needs SMTPUTF8"), why);
    assertTrue(why.contains("127.0.0.1:" + asciiSmtp.port()), "names the backend: " + why);
    assertEquals(1, failed.getInteger("attempts"), "a permanent failure: not retried");
    assertEquals("sent", rs.get("legacy-ann@bücher.example").getString("state"));
    assertEquals("sent", rs.get("legacy-bob@example.com").getString("state"));

    assertEquals(1, receivedBy(asciiSmtp, "legacy-ann@xn--bcher-kva.example").size(), "the IDN envelope as A-labels");
    assertEquals(1, receivedBy(asciiSmtp, "legacy-bob@example.com").size());
    assertTrue(asciiSmtp.received().stream().flatMap(m -> m.rcptTo().stream()).allMatch(a -> a.chars().allMatch(c -> c < 128)),
        "nothing non-ASCII reached the server");

    JsonObject event = events(legacy, "recipient=" + enc("légacy@bücher.example")).stream()
        .filter(e -> "failed".equals(e.getString("type"))).findFirst().orElseThrow();
    assertEquals("bücher.example", event.getString("recipientDomain"));
    assertEquals(553, event.getInteger("code"));
    assertFalse("hard".equals(event.getString("severity")), "the address is fine, the backend cannot carry it: " + event);
    Api.Response none = api.get("/v1/suppressions/" + enc("légacy@bücher.example"), legacy.apiKey());
    assertEquals(404, none.status(), "no suppression: " + none.text());
  }

  @Test
  void aSuppressionOfTheULabelFormBlocksTheALabelSpelling() {
    Api.expect(api.post("/v1/suppressions", intl.apiKey(), new JsonObject().put("address", "Carl@Bücher.example")), 200);
    String id = TestJobs.submit(api, intl, TestJobs.job("Hi\n",
        List.of("carl@xn--bcher-kva.example", "dora@xn--bcher-kva.example")));
    api.awaitState(intl, id, "completed", TIMEOUT);
    Map<String, JsonObject> rs = byEmail(intl, id);
    assertEquals("suppressed", rs.get("carl@bücher.example").getString("state"), rs.toString());
    assertEquals("sent", rs.get("dora@bücher.example").getString("state"));
    assertTrue(receivedBy(utf8Smtp, "carl@xn--bcher-kva.example").isEmpty());
    // and the other way round: listed by its A-labels, found by its U-labels
    Api.Response one = api.get("/v1/suppressions/" + enc("carl@xn--bcher-kva.example"), intl.apiKey());
    Api.expect(one, 200);
    assertEquals("carl@bücher.example", one.json().getJsonArray("items").getJsonObject(0).getString("address"));
  }

  @Test
  void invalidInternationalAddressesAreRefusedWithA400AndNothingStored() {
    long before = TestDatabase.count(gw.db, "SELECT count(*) FROM jobs");
    for (String bad : List.of("user@faß.de", "us\u0085er@example.com", "a\u202eb@example.com", "ü".repeat(33) + "@example.com",
        "user@exa\u3002mple.com")) {
      Api.Response r = api.submitJson(intl, TestJobs.job("x", List.of("ok@example.com", bad)));
      assertEquals(400, r.status(), bad + ": " + r.text());
      assertEquals("invalid_address", r.errorCode(), r.text());
      assertTrue(r.text().chars().noneMatch(c -> c == 0x85 || c == 0x202e), "control characters never echoed: " + r.text());
    }
    assertEquals(before, TestDatabase.count(gw.db, "SELECT count(*) FROM jobs"));
  }

  @Test
  void theMailgunApiTakesUnicodeAddressesAndTheyAreSentWithSmtpUtf8() {
    Api.Response r = postForm("/v3/acme.example/messages", intl.apiKey(), form(
        "from", "Acme <news@acme.example>", "to", "Jürgen Ünal <mg-jürgen@bücher.example>", "subject", "Grüße",
        "text", "Hallo %recipient.n%", "recipient-variables", "{\"mg-jürgen@xn--bcher-kva.example\": {\"n\": 1}}"));
    Api.expect(r, 200);
    Polling.await("the Mailgun message delivered", () -> !receivedBy(utf8Smtp, "mg-jürgen@bücher.example").isEmpty(), TIMEOUT);
    ScriptedSmtpServer.Received got = receivedBy(utf8Smtp, "mg-jürgen@bücher.example").get(0);
    assertTrue(got.mailParameters().contains(" SMTPUTF8"), got.mailParameters());
    assertTrue(got.data().contains("\r\nTo: mg-jürgen@bücher.example\r\n"), got.data());
    assertTrue(got.data().contains("Hallo 1"), "recipient-variables keyed by the A-label spelling: " + got.data());

    Api.Response bad = postForm("/v3/acme.example/messages", intl.apiKey(), form(
        "from", "news@acme.example", "to", "user@faß.de", "subject", "x", "text", "x"));
    assertEquals(400, bad.status(), bad.text());
    assertTrue(bad.text().contains("fass.de"), bad.text());
  }

  private static List<JsonObject> events(TenantKey t, String query) {
    Api.Response r = api.get("/v1/events?" + query + "&limit=50", t.apiKey());
    Api.expect(r, 200);
    List<JsonObject> out = new ArrayList<>();
    r.json().getJsonArray("items").forEach(o -> out.add((JsonObject) o));
    return out;
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  private static String form(String... kv) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < kv.length; i += 2) {
      out.add(enc(kv[i]) + "=" + enc(kv[i + 1]));
    }
    return String.join("&", out);
  }

  private static Api.Response postForm(String path, String key, String body) {
    String basic = "Basic " + Base64.getEncoder().encodeToString(("api:" + key).getBytes(StandardCharsets.UTF_8));
    return api.send("POST", path, null, "application/x-www-form-urlencoded", HttpRequest.BodyPublishers.ofString(body),
        Map.of("Authorization", basic));
  }
}

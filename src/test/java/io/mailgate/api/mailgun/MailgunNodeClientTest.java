package io.mailgate.api.mailgun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.Tools;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mailgun's official Node client, mailgun.js 14 ({@code src/test/node/mailgun-js}), against a real gateway with only
 * its {@code url} changed: its script sends in each shape, then (once the mail reached a real SMTP server and a bounce
 * came in) reads events through the client's page calls, manages the three suppression lists and reads stats/total
 * and metrics. The test checks each call's answer as the client parsed it, what the SMTP server received and what
 * the gateway stored. Without Node or the installed packages it is skipped, and fails under {@code CI=true}.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class MailgunNodeClientTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  /** The script's bound per phase: a hung client fails the test instead of waiting for the class timeout. */
  private static final Duration SCRIPT_TIMEOUT = Duration.ofSeconds(120);
  private static final Pattern ID = Pattern.compile("<([0-9a-f-]{36})@acme\\.example>");

  static Path node;
  static Path project;
  static TestGateway gw;
  static Api api;
  static ScriptedSmtpServer smtp;
  static TenantKey acme;
  static TenantKey other;
  static Map<String, JsonObject> sent;
  static Map<String, JsonObject> read;

  @TempDir
  static Path dir;

  @BeforeAll
  static void start() throws Exception {
    node = Tools.node();
    project = Tools.nodeProject("mailgun-js", "mailgun.js", "form-data");
    smtp = new ScriptedSmtpServer().start();
    gw = TestGateway.start(TestDatabase.fresh());
    api = gw.api.overHttp11();
    acme = api.tenantOnSmtp("acme", smtp.port(), null);
    other = api.tenantOnSmtp("other", smtp.port(), null);
    Api.expect(api.put("/v1/admin/tenants/" + acme.id() + "/domains", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domains", new JsonArray().add("acme.example").add("mail.acme.example"))), 200);
    Api.expect(api.put("/v1/admin/tenants/" + other.id() + "/domains", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domains", new JsonArray().add("other.example"))), 200);

    sent = run("send");
    for (String call : List.of("single", "batch", "testmode", "deliverytime", "second domain")) {
      api.awaitState(acme, jobId("messages.create " + call), "completed", TIMEOUT);
    }
    // a hard bounce of batch-bob's message after the send, through the operators' event intake
    Api.expect(api.post("/v1/admin/events", TestGateway.ADMIN_TOKEN, new JsonObject().put("events", new JsonArray()
        .add(new JsonObject().put("tenant", acme.id()).put("job", jobId("messages.create batch")).put("seq", 1)
            .put("email", "node-batch-bob@example.com").put("type", "bounced").put("severity", "hard").put("code", 550)
            .put("message", "5.1.1 user unknown").put("source", "test")))), 200);
    read = run("read");
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

  /** Runs a phase of the script; its JSON lines by call name. Fails on a non-zero exit or when it overruns. */
  static Map<String, JsonObject> run(String phase) throws Exception {
    Path out = dir.resolve(phase + ".out");
    Path err = dir.resolve(phase + ".err");
    ProcessBuilder pb = new ProcessBuilder(node.toString(), "client-check.mjs", phase).directory(project.toFile())
        .redirectOutput(out.toFile()).redirectError(err.toFile());
    Map<String, String> env = pb.environment();
    env.put("MAILGUN_URL", api.base());
    env.put("MAILGUN_KEY", acme.apiKey());
    env.put("MAILGUN_DOMAIN", "acme.example");
    env.put("MAILGUN_OTHER_DOMAIN", "other.example");
    env.put("MAILGUN_SECOND_DOMAIN", "mail.acme.example");
    env.put("MAILGUN_TO_PREFIX", "node-");
    env.put("MAILGUN_TO_DOMAIN", "example.com");
    env.put("MAILGUN_DELIVERY_DELAY_SECONDS", "2");
    Process p = pb.start();
    if (!p.waitFor(SCRIPT_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("client-check.mjs " + phase + " did not finish within " + SCRIPT_TIMEOUT + ":\n"
          + Files.readString(out) + Files.readString(err));
    }
    String stdout = Files.readString(out, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), "client-check.mjs " + phase + " failed:\n" + stdout + Files.readString(err));
    Map<String, JsonObject> lines = new LinkedHashMap<>();
    for (String line : stdout.split("\n")) {
      if (!line.isBlank()) {
        JsonObject o = new JsonObject(line);
        assertNull(lines.put(o.getString("call"), o), "one line per call: " + line);
      }
    }
    return lines;
  }

  static JsonObject line(Map<String, JsonObject> lines, String call) {
    JsonObject o = lines.get(call);
    assertNotNull(o, "no line for " + call + " in " + lines.keySet());
    return o;
  }

  /** The result of a call that succeeded. */
  static JsonObject ok(Map<String, JsonObject> lines, String call) {
    JsonObject o = line(lines, call);
    assertEquals(true, o.getBoolean("ok"), o.encode());
    return o.getJsonObject("result");
  }

  /** The line of a call that failed as expected. */
  static JsonObject failed(Map<String, JsonObject> lines, String call, int status) {
    JsonObject o = line(lines, call);
    assertEquals(false, o.getBoolean("ok"), o.encode());
    assertEquals(status, o.getInteger("status"), o.encode());
    return o;
  }

  static String jobId(String call) {
    String id = ok(sent, call).getString("id");
    Matcher m = ID.matcher(id.replace("@mail.acme.example>", "@acme.example>"));
    assertTrue(m.matches(), id);
    return m.group(1);
  }

  static List<ScriptedSmtpServer.Received> receivedBy(String address) {
    return smtp.received().stream().filter(m -> m.rcptTo().contains(address)).toList();
  }

  static List<JsonObject> objects(JsonArray a) {
    List<JsonObject> out = new ArrayList<>();
    a.forEach(o -> out.add((JsonObject) o));
    return out;
  }

  // --- domains

  @Test
  void domainsListAndGetAnswerTheTenantsDomainsInTheClientsModel() {
    JsonObject list = line(sent, "domains.list");
    assertEquals(true, list.getBoolean("ok"), list.encode());
    List<JsonObject> domains = objects(list.getJsonArray("result"));
    assertEquals(List.of("acme.example", "mail.acme.example"), domains.stream().map(d -> d.getString("name")).sorted().toList());
    assertTrue(domains.stream().allMatch(d -> "active".equals(d.getString("state")) && !d.getBoolean("is_disabled")));

    JsonObject one = ok(sent, "domains.get");
    assertEquals("acme.example", one.getString("name"));
    assertNotNull(one.getString("created_at"), "the client parsed created_at to a date: " + one);
    assertEquals(new JsonArray(), one.getJsonArray("receiving_dns_records"));
    assertNotNull(one.getJsonArray("sending_dns_records"));
    JsonObject withoutDns = ok(sent, "domains.get without dns");
    assertEquals("acme.example", withoutDns.getString("name"));
    assertNull(withoutDns.getValue("sending_dns_records"), "h:with_dns=false leaves the records out: " + withoutDns);

    JsonObject foreign = failed(sent, "domains.get other tenant's", 404);
    assertEquals("Domain not found: other.example", foreign.getString("details"));
  }

  // --- sending

  @Test
  void singleMessageIsDeliveredWithItsTagsHeadersReplyToAndVariables() {
    JsonObject r = ok(sent, "messages.create single");
    assertEquals("Queued. Thank you.", r.getString("message"));
    assertEquals(200, r.getInteger("status"));
    String id = jobId("messages.create single");
    List<ScriptedSmtpServer.Received> got = receivedBy("node-single@example.com");
    assertEquals(1, got.size());
    String data = got.get(0).data();
    assertTrue(data.contains("Subject: Your order"), data);
    assertTrue(data.contains("X-Crm-Id: crm-42"), data);
    assertTrue(data.contains("Reply-To: help@acme.example"), data);
    assertTrue(data.contains("Thank you for your order."), data);
    assertTrue(data.contains("<p>Thank you for your order.</p>"), "the html part: " + data);
    assertFalse(data.contains("c-42"), "v: variables are never sent");
    assertEquals(List.of("node-single@example.com"), got.get(0).rcptTo());
    assertEquals(1, api.job(acme, id).getInteger("recipients"));
  }

  @Test
  void batchWithRecipientVariablesGivesEachRecipientTheirOwnMessage() {
    String id = jobId("messages.create batch");
    assertEquals(3, api.job(acme, id).getInteger("recipients"));
    Map<String, String> expected = Map.of("ann", "Hello Ann|Your code is A-1.", "bob", "Hello Bob|Your code is B-2.",
        "carl", "Hello Carl|Your code is C-3.");
    expected.forEach((who, text) -> {
      List<ScriptedSmtpServer.Received> got = receivedBy("node-batch-" + who + "@example.com");
      assertEquals(1, got.size(), who);
      assertEquals(List.of("node-batch-" + who + "@example.com"), got.get(0).rcptTo(), "a message of their own");
      String data = got.get(0).data();
      assertTrue(data.contains("Subject: " + text.split("\\|")[0]), data);
      assertTrue(data.contains(text.split("\\|")[1]), data);
      assertTrue(data.contains("To: node-batch-" + who + "@example.com"), "only their own address: " + data);
    });
  }

  @Test
  void testModeComposesWithoutDeliveringAndDeliveryTimeSchedulesTheSend() {
    String test = jobId("messages.create testmode");
    assertEquals(true, api.job(acme, test).getBoolean("testMode"));
    assertTrue(receivedBy("node-testmode@example.com").isEmpty(), "nothing reached the SMTP server");

    JsonObject later = ok(sent, "messages.create deliverytime");
    Instant at = Instant.parse(later.getString("deliverytime"));
    String id = jobId("messages.create deliverytime");
    assertEquals(at, OffsetDateTime.parse(api.job(acme, id).getString("sendAt")).toInstant());
    assertEquals(1, receivedBy("node-later@example.com").size());
    JsonObject event = api.get("/v1/jobs/" + id + "/events", acme.apiKey()).json().getJsonArray("items").getJsonObject(0);
    assertFalse(OffsetDateTime.parse(event.getString("at")).toInstant().isBefore(at), "sent at or after it: " + event);
  }

  @Test
  void refusedCallsReachTheClientAsItsErrorsAndStoreNothing() {
    assertTrue(failed(sent, "messages.create cc", 400).getString("details").contains("cc"), sent.get("messages.create cc").encode());
    assertTrue(failed(sent, "messages.create unknown option", 400).getString("details")
        .startsWith("Parameter not supported: o:deliverytime-optimize-period"), sent.get("messages.create unknown option").encode());
    assertEquals("Domain not found: other.example", failed(sent, "messages.create other tenant's domain", 404)
        .getString("details"));
    assertEquals("Forbidden", failed(sent, "messages.create wrong key", 401).getString("details"));
    assertTrue(receivedBy("node-cc-ann@example.com").isEmpty());
    assertTrue(receivedBy("node-unknown-option@example.com").isEmpty());
    assertTrue(receivedBy("node-nobody@example.com").isEmpty());
    assertEquals(5, api.get("/v1/jobs?limit=100", acme.apiKey()).json().getJsonArray("items").size(),
        "the five accepted calls are the tenant's only jobs");
    assertEquals(0, api.get("/v1/jobs?limit=100", other.apiKey()).json().getJsonArray("items").size());
  }

  // --- events

  @Test
  void eventsArePagedThroughTheClientsPageCallsUntilAnEmptyPage() {
    JsonObject first = ok(read, "events.get ascending page 1");
    assertEquals(2, first.getJsonArray("items").size());
    String next = first.getJsonObject("pages").getString("next");
    assertFalse(next.isEmpty() || next.contains("/"), "the client's page is the last segment of paging.next: " + next);
    JsonObject all = ok(read, "events.get ascending all");
    int pages = all.getInteger("pages");
    assertTrue(pages >= 4, "limit 2 over at least 7 events: " + pages);
    assertTrue(ok(read, "events.get ascending page " + pages).getJsonArray("items").isEmpty(), "the last page is empty");
    List<JsonObject> items = objects(all.getJsonArray("items"));
    Set<String> seen = new HashSet<>();
    items.forEach(e -> seen.add(e.getString("event") + " " + e.getString("recipient")));
    assertEquals(Set.of("delivered node-single@example.com", "delivered node-batch-ann@example.com",
        "delivered node-batch-bob@example.com", "delivered node-batch-carl@example.com",
        "accepted node-testmode@example.com", "delivered node-testmode@example.com", "delivered node-later@example.com",
        "failed node-batch-bob@example.com"), seen);
    assertEquals(8, items.size(), "every event once across the pages: " + items);
    // ascending in the order the events were written (bob's bounce after his delivery, the deferred send last of the
    // deliveries); timestamps of events written concurrently may differ in that order by a few milliseconds
    for (int i = 1; i < items.size(); i++) {
      assertTrue(Long.parseLong(items.get(i - 1).getString("id")) < Long.parseLong(items.get(i).getString("id")),
          "ascending: " + items);
    }
    assertEquals("failed node-batch-bob@example.com", items.get(7).getString("event") + " " + items.get(7).getString("recipient"));

    JsonObject single = objects(ok(read, "events.get delivered to single").getJsonArray("items")).get(0);
    assertEquals(1, ok(read, "events.get delivered to single").getJsonArray("items").size());
    assertEquals(new JsonArray().add("node").add("single"), single.getJsonArray("tags"));
    assertEquals(new JsonObject().put("crm-id", "c-42"), single.getJsonObject("user-variables"));
    assertEquals("Your order", single.getString("subject"));
    String messageId = api.recipients(acme, jobId("messages.create single")).get(0).getString("messageId");
    assertEquals(messageId, "<" + single.getString("message-id") + ">");

    // a test-mode message is accepted, then delivered, as at Mailgun; nothing else was accepted (all went by SMTP)
    assertEquals(List.of("accepted", "delivered"), objects(ok(read, "events.get testmode").getJsonArray("items")).stream()
        .map(e -> e.getString("event")).toList());
    assertEquals(List.of("node-testmode@example.com"), objects(ok(read, "events.get accepted").getJsonArray("items"))
        .stream().map(e -> e.getString("recipient")).toList());

    List<JsonObject> batch = objects(ok(read, "events.get tags batch").getJsonArray("items"));
    assertEquals(4, batch.size(), batch.toString());
    assertTrue(batch.stream().allMatch(e -> e.getJsonObject("user-variables").equals(new JsonObject().put("campaign", "spring"))));
    Set<String> subjects = new HashSet<>();
    batch.forEach(e -> subjects.add(e.getString("recipient") + " " + e.getString("subject")));
    assertEquals(Set.of("node-batch-ann@example.com Hello Ann", "node-batch-bob@example.com Hello Bob",
        "node-batch-carl@example.com Hello Carl"), subjects, "each message's own subject");
    List<JsonObject> failed = objects(ok(read, "events.get failed").getJsonArray("items"));
    assertEquals(1, failed.size(), failed.toString());
    assertEquals("node-batch-bob@example.com", failed.get(0).getString("recipient"));
    assertEquals("permanent", failed.get(0).getString("severity"));
    assertEquals(550, failed.get(0).getInteger("code"));
    assertEquals("Parameter not supported: subject", failed(read, "events.get unsupported filter", 400).getString("details"));
  }

  // --- suppressions

  static Api.Response suppression(String address) {
    return api.get("/v1/suppressions/" + address, acme.apiKey());
  }

  @Test
  void bouncesAreAddedListedInPagesReadAndRemoved() {
    ok(read, "suppressions.create bounces");
    ok(read, "suppressions.create bounces many");
    JsonObject ann = ok(read, "suppressions.get bounces");
    assertEquals("bounces", ann.getString("type"));
    assertEquals("node-bounced-ann@example.com", ann.getString("address"));
    assertEquals(550, ann.getInteger("code"));
    assertEquals("5.1.1 user unknown", ann.getString("error"));
    assertNotNull(ann.getString("created_at"));

    JsonObject page1 = ok(read, "suppressions.list bounces page 1");
    JsonObject page2 = ok(read, "suppressions.list bounces page 2");
    assertEquals(2, page1.getJsonArray("items").size());
    assertTrue(page1.getJsonObject("pages").getString("next").startsWith("?"), page1.encode());
    List<String> listed = new ArrayList<>();
    for (JsonObject p : List.of(page1, page2)) {
      objects(p.getJsonArray("items")).forEach(i -> listed.add(i.getString("address")));
    }
    // the three added, and batch-bob, suppressed by his hard bounce
    assertEquals(List.of("node-batch-bob@example.com", "node-bounced-ann@example.com", "node-bounced-bob@example.com",
        "node-bounced-carl@example.com"), listed);

    assertEquals("Bounced address has been removed", ok(read, "suppressions.destroy bounces").getString("message"));
    assertEquals("Address not found in bounces table", failed(read, "suppressions.get bounces destroyed", 404)
        .getString("details"));
    assertEquals(404, suppression("node-bounced-bob@example.com").status());
    JsonObject carl = suppression("node-bounced-carl@example.com").json().getJsonArray("items").getJsonObject(0);
    assertEquals("hard_bounce", carl.getString("reason"));
    failed(read, "suppressions.create bounces bad address", 400); // and not in the list above
  }

  @Test
  void unsubscribesKeepTheirTagsAndComplaintsAreImportedAndRemovedAll() {
    ok(read, "suppressions.create unsubscribes");
    ok(read, "suppressions.create unsubscribes many");
    assertEquals(new JsonArray().add("newsletter").add("offers"), ok(read, "suppressions.get unsubscribes")
        .getJsonArray("tags"));
    Map<String, JsonArray> unsubscribed = new LinkedHashMap<>();
    objects(ok(read, "suppressions.list unsubscribes").getJsonArray("items"))
        .forEach(i -> unsubscribed.put(i.getString("address"), i.getJsonArray("tags")));
    assertEquals(Map.of("node-unsub-ann@example.com", new JsonArray().add("newsletter"),
        "node-unsub-bob@example.com", new JsonArray().add("newsletter").add("offers"),
        "node-unsub-carl@example.com", new JsonArray().add("*")), unsubscribed);
    ok(read, "suppressions.destroy unsubscribes");
    assertEquals(404, suppression("node-unsub-carl@example.com").status());
    JsonObject ann = suppression("node-unsub-ann@example.com").json().getJsonArray("items").getJsonObject(0);
    assertEquals("unsubscribe", ann.getString("reason"));
    assertEquals("newsletter", ann.getString("tag"));

    ok(read, "suppressions.create complaints");
    assertEquals("node-complained-ann@example.com", ok(read, "suppressions.get complaints").getString("address"));
    assertEquals(List.of("node-complained-ann@example.com"), objects(ok(read, "suppressions.list complaints")
        .getJsonArray("items")).stream().map(i -> i.getString("address")).toList());
    assertTrue(ok(read, "suppressions.upload complaints").getString("message").startsWith("file uploaded successfully"));
    assertEquals("2026-01-02T03:04:05.000Z", ok(read, "suppressions.get complaints imported").getString("created_at"));
    ok(read, "suppressions.destroy complaints");
    assertEquals("Complaint addresses for this domain have been removed", ok(read, "suppressions.destroyAll complaints")
        .getString("message"));
    assertTrue(ok(read, "suppressions.list complaints after destroyAll").getJsonArray("items").isEmpty());
    assertEquals(0, api.get("/v1/suppressions?reason=complaint", acme.apiKey()).json().getJsonArray("items").size());
    assertEquals(404, api.get("/v1/suppressions/node-unsub-ann@example.com", other.apiKey()).status(),
        "the other tenant's list is untouched");
  }

  // --- statistics

  @Test
  void statsTotalAndMetricsCountTheDomainsMail() {
    JsonObject stats = ok(read, "stats.getDomain");
    assertEquals("day", stats.getString("resolution"));
    List<JsonObject> days = objects(stats.getJsonArray("stats"));
    assertTrue(days.size() >= 7 && days.size() <= 8, "a bucket per day: " + days.size());
    assertEquals(6, days.stream().mapToInt(d -> d.getJsonObject("accepted").getInteger("total")).sum());
    assertEquals(6, days.stream().mapToInt(d -> d.getJsonObject("delivered").getInteger("total")).sum());
    assertEquals(1, days.stream().mapToInt(d -> d.getJsonObject("failed").getJsonObject("permanent").getInteger("total")).sum());
    JsonObject hours = ok(read, "stats.getDomain hours");
    assertEquals("hour", hours.getString("resolution"));
    assertEquals(6, objects(hours.getJsonArray("stats")).stream()
        .mapToInt(d -> d.getJsonObject("delivered").getInteger("total")).sum());
    assertEquals("event parameter is missing", failed(read, "stats.getDomain without event", 400).getString("details"));
    // the account: both of the tenant's domains
    List<JsonObject> account = objects(ok(read, "stats.getAccount").getJsonArray("stats"));
    assertEquals(7, account.stream().mapToInt(d -> d.getJsonObject("accepted").getInteger("total")).sum());
    assertEquals(7, account.stream().mapToInt(d -> d.getJsonObject("delivered").getInteger("total")).sum());

    JsonObject metrics = ok(read, "metrics.getAccount");
    JsonObject total = metrics.getJsonObject("aggregates").getJsonObject("metrics");
    assertEquals(7, total.getInteger("accepted_count"));
    assertEquals(7, total.getInteger("delivered_count"));
    assertEquals(1, total.getInteger("bounced_count"));
    assertEquals("1.0000", total.getString("delivered_rate"));
    assertFalse(metrics.getJsonArray("items").isEmpty());
    List<JsonObject> byDomain = objects(ok(read, "metrics.getAccount by domain").getJsonArray("items"));
    assertEquals(1, byDomain.size(), byDomain.toString());
    assertEquals("acme.example", byDomain.get(0).getJsonArray("dimensions").getJsonObject(0).getString("value"));
    assertEquals(6, byDomain.get(0).getJsonObject("metrics").getInteger("delivered_count"));
  }
}

package io.mailgate.api.mailgun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.mailgun.api.v1.MailgunAccountMetricsApi;
import com.mailgun.api.v3.MailgunEventsApi;
import com.mailgun.api.v3.MailgunMessagesApi;
import com.mailgun.api.v3.MailgunStatisticsApi;
import com.mailgun.api.v3.suppression.MailgunSuppressionBouncesApi;
import com.mailgun.api.v3.suppression.MailgunSuppressionComplaintsApi;
import com.mailgun.api.v3.suppression.MailgunSuppressionUnsubscribeApi;
import com.mailgun.client.MailgunClient;
import com.mailgun.enums.EventType;
import com.mailgun.enums.Resolution;
import com.mailgun.enums.ResolutionPeriod;
import com.mailgun.enums.Severity;
import com.mailgun.enums.StatsEventType;
import com.mailgun.model.Filter;
import com.mailgun.model.FilterItem;
import com.mailgun.model.StatisticsOptions;
import com.mailgun.model.events.EventItem;
import com.mailgun.model.events.EventsQueryOptions;
import com.mailgun.model.events.EventsResponse;
import com.mailgun.model.message.Message;
import com.mailgun.model.metrics.AccountMetrics;
import com.mailgun.model.metrics.MetricsRequest;
import com.mailgun.model.metrics.MetricsResponse;
import com.mailgun.model.stats.Stats;
import com.mailgun.model.stats.StatsResult;
import com.mailgun.model.suppression.bounces.BouncesItem;
import com.mailgun.model.suppression.bounces.BouncesListImportRequest;
import com.mailgun.model.suppression.bounces.BouncesRequest;
import com.mailgun.model.suppression.bounces.BouncesResponse;
import com.mailgun.model.suppression.bounces.ComplaintsListImportRequest;
import com.mailgun.model.suppression.complaints.ComplaintsItem;
import com.mailgun.model.suppression.complaints.ComplaintsSingleItemRequest;
import com.mailgun.model.suppression.unsubscribe.UnsubscribeItem;
import com.mailgun.model.suppression.unsubscribe.UnsubscribeSingleItemRequest;
import com.mailgun.model.suppression.unsubscribe.UnsubscribesListImportRequest;
import feign.FeignException;
import feign.Logger;
import feign.Retryer;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The read side of the Mailgun-compatible API, driven by Mailgun's official Java client against a real gateway:
 * three messages sent through it to a real SMTP server, then a hard bounce and a complaint recorded through the
 * operators' event intake; events (with the client's page calls), the three suppression lists, stats/total and the
 * metrics API read them back in Mailgun's shapes, each scoped to the caller's tenant and domain.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class MailgunReadApiTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  static TestGateway gw;
  static Api api;
  static ScriptedSmtpServer smtp;
  static TenantKey acme;
  static TenantKey other;
  static List<String> jobs = new ArrayList<>();

  @TempDir
  static Path dir;

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

    MailgunMessagesApi messages = client(acme.apiKey()).createApi(MailgunMessagesApi.class);
    for (String to : List.of("ann@example.com", "bob@example.com", "carl@example.com")) {
      var r = messages.sendMessage("acme.example", Message.builder().from("news@acme.example").to(to)
          .subject("Hello").text("Hi.").tag(to.startsWith("ann") ? List.of("spring") : List.of("autumn"))
          .userVariables(Map.of("crm-id", "id-" + to)).build());
      String id = r.getId().substring(1, r.getId().indexOf('@'));
      api.awaitState(acme, id, "completed", TIMEOUT);
      jobs.add(id);
    }
    // a message of the other domain of the tenant: not in acme.example's events
    var r = messages.sendMessage("mail.acme.example", Message.builder().from("news@mail.acme.example")
        .to("dora@example.com").subject("Other domain").text("Hi.").build());
    api.awaitState(acme, r.getId().substring(1, r.getId().indexOf('@')), "completed", TIMEOUT);
    // later events, through the operators' entry point: bob's message bounced, carl complained
    Api.expect(api.post("/v1/admin/events", TestGateway.ADMIN_TOKEN, new JsonObject().put("events", new JsonArray()
        .add(new JsonObject().put("tenant", acme.id()).put("job", jobs.get(1)).put("seq", 0).put("email", "bob@example.com")
            .put("type", "bounced").put("severity", "hard").put("code", 550).put("message", "5.1.1 user unknown")
            .put("source", "test"))
        .add(new JsonObject().put("tenant", acme.id()).put("job", jobs.get(2)).put("seq", 0).put("email", "carl@example.com")
            .put("type", "complained").put("source", "test")))), 200);
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

  static <T extends com.mailgun.api.MailgunApi> T acmeApi(Class<T> type) {
    return client(acme.apiKey()).createApi(type);
  }

  static Api.Response send(String method, String path) {
    return api.send(method, path, null, null, null, Map.of("Authorization", MailgunApiTest.basic("api", acme.apiKey())));
  }

  static Api.Response postForm(String path, String body) {
    return api.send("POST", path, null, "application/x-www-form-urlencoded",
        java.net.http.HttpRequest.BodyPublishers.ofString(body),
        Map.of("Authorization", MailgunApiTest.basic("api", acme.apiKey())));
  }

  /** Every item of a search, following the client's page call with the last segment of {@code paging.next}. */
  static List<EventItem> allPages(EventsResponse first, int maxPages) {
    MailgunEventsApi events = acmeApi(MailgunEventsApi.class);
    List<EventItem> out = new ArrayList<>(first.getItems());
    EventsResponse page = first;
    for (int i = 0; i < maxPages && !page.getItems().isEmpty(); i++) {
      String next = page.getPaging().getNext();
      assertTrue(next.startsWith(api.base() + "/v3/acme.example/events/"), next);
      page = events.getEvents("acme.example", next.substring(next.lastIndexOf('/') + 1));
      out.addAll(page.getItems());
    }
    assertTrue(page.getItems().isEmpty(), "the pages end with an empty one");
    return out;
  }

  // --- events

  @Test
  void eventsOfTheDomainArePagedInMailgunsShapeThroughTheClientsPageCall() {
    MailgunEventsApi events = acmeApi(MailgunEventsApi.class);
    EventsResponse first = events.getEvents("acme.example", EventsQueryOptions.builder().limit(2).ascending(true).build());
    assertEquals(2, first.getItems().size());
    List<EventItem> all = allPages(first, 10);
    // three delivered (SMTP: the server's 250), bob's bounce, carl's complaint; dora's is another domain's
    assertEquals(List.of("delivered", "delivered", "delivered", "failed", "complained"),
        all.stream().map(EventItem::getEvent).toList());
    EventItem ann = all.get(0);
    assertEquals("ann@example.com", ann.getRecipient());
    assertEquals(List.of("spring"), ann.getTags());
    assertEquals(Map.of("crm-id", "id-ann@example.com"), ann.getUserVariables());
    assertEquals("<" + ann.getMessage().getHeaders().getMessageId() + ">",
        api.recipients(acme, jobs.get(0)).get(0).getString("messageId"), "message-id without its brackets");
    assertEquals("news@acme.example", ann.getMessage().getHeaders().getFrom());
    assertNotNull(ann.getTimestamp());
    assertTrue(Math.abs(ann.getTimestamp().toEpochSecond() - ZonedDateTime.now().toEpochSecond()) < 3600, ann.getTimestamp().toString());
    EventItem bounce = all.get(3);
    assertEquals(Severity.PERMANENT, bounce.getSeverity());
    assertEquals("bounce", bounce.getReason());
    assertEquals(550, bounce.getDeliveryStatus().getCode());
    assertEquals("5.1.1 user unknown", bounce.getDeliveryStatus().getMessage());
    assertTrue(all.stream().noneMatch(e -> e.getRecipient().equals("dora@example.com")), "another domain's mail");

    // descending by default: the newest first; previous of the first page is empty
    EventsResponse newest = events.getEvents("acme.example", EventsQueryOptions.builder().limit(1).build());
    assertEquals("complained", newest.getItems().get(0).getEvent());
    String previous = newest.getPaging().getPrevious();
    assertTrue(events.getEvents("acme.example", previous.substring(previous.lastIndexOf('/') + 1)).getItems().isEmpty());
    // the page before the second page is the first
    String next = newest.getPaging().getNext();
    EventsResponse second = events.getEvents("acme.example", next.substring(next.lastIndexOf('/') + 1));
    assertEquals("failed", second.getItems().get(0).getEvent());
    String back = second.getPaging().getPrevious();
    assertEquals(List.of("complained"), events.getEvents("acme.example", back.substring(back.lastIndexOf('/') + 1))
        .getItems().stream().map(EventItem::getEvent).toList());
  }

  @Test
  void eventFiltersSelectByMailgunsNamesSeverityRecipientTagsAndMessageId() {
    MailgunEventsApi events = acmeApi(MailgunEventsApi.class);
    List<EventItem> failed = events.getEvents("acme.example", EventsQueryOptions.builder().event(EventType.FAILED)
        .severity(Severity.PERMANENT).build()).getItems();
    assertEquals(List.of("bob@example.com"), failed.stream().map(EventItem::getRecipient).toList());
    assertTrue(events.getEvents("acme.example", EventsQueryOptions.builder().event(EventType.FAILED)
        .severity(Severity.TEMPORARY).build()).getItems().isEmpty());
    assertEquals(List.of("complained", "delivered"), events.getEvents("acme.example", EventsQueryOptions.builder()
        .eventFieldFilterExpression("delivered OR complained").recipient("carl@example.com").build())
        .getItems().stream().map(EventItem::getEvent).toList());
    assertTrue(events.getEvents("acme.example", EventsQueryOptions.builder().event(EventType.ACCEPTED).build())
        .getItems().isEmpty(), "an SMTP backend's sent is delivered, not accepted");
    assertEquals(List.of("ann@example.com"), events.getEvents("acme.example", EventsQueryOptions.builder().tags("spring")
        .build()).getItems().stream().map(EventItem::getRecipient).toList());
    // the id the send answered names its message
    List<EventItem> byCall = events.getEvents("acme.example", EventsQueryOptions.builder()
        .messageId(jobs.get(1) + "@acme.example").build()).getItems();
    assertEquals(List.of("failed", "delivered"), byCall.stream().map(EventItem::getEvent).toList());
    String mid = byCall.get(0).getMessage().getHeaders().getMessageId();
    assertEquals(2, events.getEvents("acme.example", EventsQueryOptions.builder().messageId(mid).build()).getItems().size());
    // a time range given as Mailgun's epoch seconds: nothing before the sends
    long now = ZonedDateTime.now(ZoneOffset.UTC).toEpochSecond();
    assertTrue(events.getEvents("acme.example", EventsQueryOptions.builder().begin(now - 7200).end(now - 3600).build())
        .getItems().isEmpty());
    assertEquals(5, events.getEvents("acme.example", EventsQueryOptions.builder().begin(now - 3600).end(now + 60).build())
        .getItems().size());
  }

  @Test
  void unsupportedEventParametersAreRefusedByName() {
    MailgunEventsApi events = acmeApi(MailgunEventsApi.class);
    FeignException e = assertThrows(FeignException.class, () -> events.getEvents("acme.example",
        EventsQueryOptions.builder().subject("Hello").build()));
    assertEquals(400, e.status());
    assertEquals("Parameter not supported: subject", new JsonObject(e.contentUTF8()).getString("message"));
    e = assertThrows(FeignException.class, () -> events.getEvents("acme.example", EventsQueryOptions.builder()
        .eventFieldFilterExpression("NOT delivered").build()));
    assertEquals(400, e.status());
    e = assertThrows(FeignException.class, () -> events.getEvents("acme.example", EventsQueryOptions.builder().limit(301).build()));
    assertEquals(400, e.status(), e.contentUTF8());
    e = assertThrows(FeignException.class, () -> events.getEvents("acme.example", "not-a-token"));
    assertEquals(400, e.status());
  }

  @Test
  void anotherTenantsDomainIsNotFoundAndAWrongKeyIsForbidden() {
    FeignException e = assertThrows(FeignException.class, () -> client(other.apiKey()).createApi(MailgunEventsApi.class)
        .getAllEvents("acme.example"));
    assertEquals(404, e.status());
    assertEquals("Domain not found: acme.example", new JsonObject(e.contentUTF8()).getString("message"));
    e = assertThrows(FeignException.class, () -> client(other.apiKey()).createApi(MailgunSuppressionBouncesApi.class)
        .getBounces("acme.example"));
    assertEquals(404, e.status());
    e = assertThrows(FeignException.class, () -> client(other.apiKey()).createApi(MailgunStatisticsApi.class)
        .getDomainStats("acme.example", StatisticsOptions.builder().event(StatsEventType.DELIVERED).build()));
    assertEquals(404, e.status());
    // the other tenant sees nothing of acme's on its own domain
    assertTrue(client(other.apiKey()).createApi(MailgunEventsApi.class).getAllEvents("other.example").getItems().isEmpty());
    assertTrue(client(other.apiKey()).createApi(MailgunSuppressionComplaintsApi.class).getAllComplaints("other.example")
        .getItems().isEmpty());
    MetricsResponse<AccountMetrics> theirs = client(other.apiKey()).createApi(MailgunAccountMetricsApi.class)
        .getMetrics(MetricsRequest.builder().metrics(List.of("delivered_count")).includeAggregates(true).build());
    assertEquals(0, theirs.getAggregates().getMetrics().getDeliveredCount());

    e = assertThrows(FeignException.class, () -> client("wrong-key").createApi(MailgunEventsApi.class).getAllEvents("acme.example"));
    assertEquals(401, e.status());
    assertEquals("Forbidden", e.contentUTF8());
    e = assertThrows(FeignException.class, () -> client("wrong-key").createApi(MailgunAccountMetricsApi.class)
        .getMetrics(MetricsRequest.builder().build()));
    assertEquals(401, e.status());
    Api.Response metrics = api.send("POST", "/v1/analytics/metrics", null, "application/json",
        java.net.http.HttpRequest.BodyPublishers.ofString("{}"), Map.of("Authorization", MailgunApiTest.basic("api", "wrong")));
    assertEquals(401, metrics.status());
    assertEquals("Forbidden", metrics.text());
  }

  // --- suppressions

  @Test
  void bouncesAreListedAddedReadImportedAndDeletedThroughTheClient() throws Exception {
    MailgunSuppressionBouncesApi bounces = acmeApi(MailgunSuppressionBouncesApi.class);
    // bob's hard bounce put him on the list
    BouncesItem bob = bounces.getBounce("acme.example", "bob@example.com");
    assertEquals("550", bob.getCode());
    assertEquals("5.1.1 user unknown", bob.getError());
    assertNotNull(bob.getCreatedAt());

    ZonedDateTime when = ZonedDateTime.of(2026, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC);
    var added = bounces.addBounce("acme.example", BouncesRequest.builder().address("Eve@Example.com").code("554")
        .error("mailbox disabled").createdAt(when).build());
    assertEquals("eve@example.com", added.getAddress());
    BouncesItem eve = bounces.getBounce("acme.example", "eve@example.com");
    assertEquals("554", eve.getCode());
    assertEquals("mailbox disabled", eve.getError());
    assertEquals(when.toInstant(), eve.getCreatedAt().toInstant());

    assertTrue(bounces.addBounces("acme.example", List.of(BouncesRequest.builder().address("f1@example.com").build(),
        BouncesRequest.builder().address("f2@example.com").code("550").build())).getMessage().contains("2 addresses"));
    Path csv = Files.writeString(dir.resolve("bounces.csv"),
        "address,code,error,created_at\ng1@example.com,550,no such user,\"Fri, 02 Jan 2026 03:04:05 UTC\"\ng2@example.com,,,\n",
        StandardCharsets.UTF_8);
    assertTrue(bounces.importBounceList("acme.example", BouncesListImportRequest.builder().file(csv.toFile()).build())
        .getMessage().contains("2 added"));
    assertEquals(when.toInstant(), bounces.getBounce("acme.example", "g1@example.com").getCreatedAt().toInstant(),
        "created_at of the file");

    BouncesResponse list = bounces.getBounces("acme.example", 3);
    assertEquals(List.of("bob@example.com", "eve@example.com", "f1@example.com"),
        list.getItems().stream().map(BouncesItem::getAddress).toList());
    String next = list.getPaging().getNext();
    assertTrue(next.startsWith(api.base() + "/v3/acme.example/bounces?"), next);
    Api.Response page2 = send("GET", next.substring(api.base().length()));
    assertEquals(200, page2.status(), page2.text());
    assertEquals(List.of("f2@example.com", "g1@example.com", "g2@example.com"), page2.json().getJsonArray("items").stream()
        .map(o -> ((JsonObject) o).getString("address")).toList());

    // a bounce stops the next send to that address, as any suppression
    assertEquals("Bounced address has been removed", bounces.deleteBounce("acme.example", "eve@example.com").getMessage());
    FeignException e = assertThrows(FeignException.class, () -> bounces.getBounce("acme.example", "eve@example.com"));
    assertEquals(404, e.status());
    assertEquals("Address not found in bounces table", new JsonObject(e.contentUTF8()).getString("message"));
    assertEquals(404, assertThrows(FeignException.class, () -> bounces.deleteBounce("acme.example", "eve@example.com")).status());

    // a refused import stores nothing
    Path bad = Files.writeString(dir.resolve("bad.csv"), "address,code\nh1@example.com,550\nnot-an-address,550\n");
    e = assertThrows(FeignException.class, () -> bounces.importBounceList("acme.example",
        BouncesListImportRequest.builder().file(bad.toFile()).build()));
    assertEquals(400, e.status());
    assertEquals(404, assertThrows(FeignException.class, () -> bounces.getBounce("acme.example", "h1@example.com")).status());

    MailgunSuppressionComplaintsApi complaints = acmeApi(MailgunSuppressionComplaintsApi.class);
    complaints.addAddressToComplaintsList("acme.example", ComplaintsSingleItemRequest.builder().address("keep@example.com").build());
    assertTrue(bounces.deleteAllBounces("acme.example").getMessage().contains("removed"));
    assertTrue(bounces.getBounces("acme.example").getItems().isEmpty());
    assertEquals("keep@example.com", complaints.getSingleComplaint("acme.example", "keep@example.com").getAddress(),
        "deleting the bounces leaves the complaints");
  }

  @Test
  void unsubscribesKeepTheirTagsAndCanBeRemovedPerTag() throws Exception {
    MailgunSuppressionUnsubscribeApi unsubscribes = acmeApi(MailgunSuppressionUnsubscribeApi.class);
    unsubscribes.addAddressToUnsubscribeTable("acme.example", UnsubscribeSingleItemRequest.builder()
        .address("u1@example.com").tag("newsletter").build());
    unsubscribes.addAddressToUnsubscribeTable("acme.example", UnsubscribeSingleItemRequest.builder()
        .address("u1@example.com").tag("offers").build());
    unsubscribes.addAddressToUnsubscribeTable("acme.example", UnsubscribeSingleItemRequest.builder()
        .address("u2@example.com").build());
    assertTrue(unsubscribes.addAddressesToUnsubscribeTable("acme.example", List.of(UnsubscribeItem.builder()
        .address("u3@example.com").tags(List.of("*")).build())).getMessage().contains("1 address"));
    Path csv = Files.writeString(dir.resolve("unsubscribes.csv"), "address,tags,created_at\nu4@example.com,*,\n"
        + "u5@example.com,offers,\n");
    unsubscribes.importAddressesToUnsubscribeTable("acme.example", UnsubscribesListImportRequest.builder()
        .file(csv.toFile()).build());

    assertEquals(Set.of("newsletter", "offers"), Set.copyOf(unsubscribes.getSingleUnsubscribe("acme.example", "u1@example.com").getTags()));
    assertEquals(List.of("*"), unsubscribes.getSingleUnsubscribe("acme.example", "u2@example.com").getTags());
    Map<String, List<String>> all = unsubscribes.getAllUnsubscribe("acme.example", 100).getItems().stream()
        .collect(Collectors.toMap(UnsubscribeItem::getAddress, UnsubscribeItem::getTags));
    assertEquals(Map.of("u1@example.com", all.get("u1@example.com"), "u2@example.com", List.of("*"),
        "u3@example.com", List.of("*"), "u4@example.com", List.of("*"), "u5@example.com", List.of("offers")), all);
    JsonArray ours = api.get("/v1/suppressions/u5@example.com", acme.apiKey()).json().getJsonArray("items");
    assertEquals("unsubscribe", ours.getJsonObject(0).getString("reason"));
    assertEquals("offers", ours.getJsonObject(0).getString("tag"), "a tag scopes our unsubscribe");

    unsubscribes.removeAddressFromUnsubscribeTag("acme.example", "u1@example.com", "offers");
    assertEquals(List.of("newsletter"), unsubscribes.getSingleUnsubscribe("acme.example", "u1@example.com").getTags());
    unsubscribes.removeAddressFromUnsubscribeList("acme.example", "u1@example.com");
    assertEquals(404, assertThrows(FeignException.class, () -> unsubscribes.getSingleUnsubscribe("acme.example",
        "u1@example.com")).status());
    Api.Response r = send("DELETE", "/v3/acme.example/unsubscribes");
    assertEquals(200, r.status(), r.text());
    assertTrue(unsubscribes.getAllUnsubscribe("acme.example").getItems().isEmpty());
  }

  @Test
  void complaintsAreAddedListedImportedAndDeleted() throws Exception {
    MailgunSuppressionComplaintsApi complaints = acmeApi(MailgunSuppressionComplaintsApi.class);
    // carl's complaint, from the event
    assertEquals("carl@example.com", complaints.getSingleComplaint("acme.example", "carl@example.com").getAddress());
    complaints.addAddressToComplaintsList("acme.example", ComplaintsSingleItemRequest.builder().address("c1@example.com")
        .createdAt(ZonedDateTime.of(2026, 3, 4, 5, 6, 7, 0, ZoneOffset.UTC)).build());
    assertEquals(ZonedDateTime.of(2026, 3, 4, 5, 6, 7, 0, ZoneOffset.UTC).toInstant(),
        complaints.getSingleComplaint("acme.example", "c1@example.com").getCreatedAt().toInstant());
    complaints.addAddressesToComplaintsList("acme.example", List.of(ComplaintsItem.builder().address("c2@example.com").build()));
    Path csv = Files.writeString(dir.resolve("complaints.csv"), "address,created_at\nc3@example.com,\n");
    complaints.importComplaintsList("acme.example", ComplaintsListImportRequest.builder().file(csv.toFile()).build());
    assertTrue(complaints.getAllComplaints("acme.example", 100).getItems().stream().map(ComplaintsItem::getAddress).toList()
        .containsAll(List.of("c1@example.com", "c2@example.com", "c3@example.com")));
    // an unknown field is refused by name, and nothing is stored
    Api.Response refused = postForm("/v3/acme.example/complaints", MailgunApiTest.form("address", "c9@example.com",
        "reason", "spam"));
    assertEquals(400, refused.status());
    assertEquals("Parameter not supported: reason", refused.json().getString("message"));
    assertEquals(404, assertThrows(FeignException.class, () -> complaints.getSingleComplaint("acme.example", "c9@example.com")).status());

    assertEquals("Spam complaint has been removed", complaints.removeAddressFromComplaints("acme.example", "c1@example.com")
        .getMessage());
    Api.Response r = send("DELETE", "/v3/acme.example/complaints");
    assertEquals(200, r.status(), r.text());
    assertTrue(complaints.getAllComplaints("acme.example").getItems().isEmpty());
  }

  // --- statistics

  @Test
  void statsTotalCountsTheDomainsMailFromTheRollups() {
    StatsResult r = acmeApi(MailgunStatisticsApi.class).getDomainStats("acme.example", StatisticsOptions.builder()
        .event(List.of(StatsEventType.ACCEPTED, StatsEventType.DELIVERED, StatsEventType.FAILED, StatsEventType.COMPLAINED))
        .resolution(ResolutionPeriod.DAY).duration(7, com.mailgun.enums.Duration.DAY).build());
    assertEquals(ResolutionPeriod.DAY, r.getResolution());
    assertTrue(r.getStats().size() >= 7 && r.getStats().size() <= 8, "a bucket per day: " + r.getStats().size());
    int accepted = 0;
    int delivered = 0;
    int permanent = 0;
    int delayedBounces = 0;
    int complained = 0;
    for (Stats s : r.getStats()) {
      assertNotNull(s.getTime());
      accepted += s.getAccepted().getTotal();
      delivered += s.getDelivered().getTotal();
      permanent += s.getFailed().getPermanent().getTotal();
      delayedBounces += s.getFailed().getPermanent().getDelayedBounce();
      complained += s.getComplained().getTotal();
      assertEquals(null, s.getOpened(), "only the events asked for");
    }
    assertEquals(3, accepted, "mail.acme.example's message is not acme.example's");
    assertEquals(3, delivered);
    assertEquals(1, permanent);
    assertEquals(1, delayedBounces);
    assertEquals(1, complained);

    // the account's totals (mailgun.js's stats.getAccount): both of the tenant's domains
    Api.Response account = send("GET", "/v3/stats/total?event=accepted&event=delivered&duration=7d");
    assertEquals(200, account.status(), account.text());
    int accountAccepted = 0;
    for (Object o : account.json().getJsonArray("stats")) {
      accountAccepted += ((JsonObject) o).getJsonObject("accepted").getInteger("total");
    }
    assertEquals(4, accountAccepted, account.text());
    Api.Response otherAccount = api.send("GET", "/v3/stats/total?event=accepted", null, null, null,
        Map.of("Authorization", MailgunApiTest.basic("api", other.apiKey())));
    assertEquals(0, otherAccount.json().getJsonArray("stats").stream()
        .mapToInt(o -> ((JsonObject) o).getJsonObject("accepted").getInteger("total")).sum(), "another tenant's account");

    FeignException e = assertThrows(FeignException.class, () -> acmeApi(MailgunStatisticsApi.class).getDomainStats(
        "acme.example", StatisticsOptions.builder().event(StatsEventType.DELIVERED).filter("domain:x").build()));
    assertEquals(400, e.status());
    assertEquals("Parameter not supported: filter", new JsonObject(e.contentUTF8()).getString("message"));
  }

  @Test
  void metricsApiGivesCountsAndRatesByTimeAndTag() {
    MailgunAccountMetricsApi metrics = acmeApi(MailgunAccountMetricsApi.class);
    ZonedDateTime end = ZonedDateTime.now(ZoneOffset.UTC).plusHours(1);
    MetricsResponse<AccountMetrics> r = metrics.getMetrics(MetricsRequest.builder().start(end.minusDays(2)).end(end)
        .resolution(Resolution.HOUR).dimensions(List.of("time"))
        .metrics(List.of("accepted_count", "delivered_count", "complained_count", "hard_bounces_count", "bounce_rate",
            "complained_rate", "delivered_rate"))
        .includeAggregates(true).build());
    AccountMetrics total = r.getAggregates().getMetrics();
    assertEquals(4, total.getAcceptedCount(), "the tenant's, both domains");
    assertEquals(4, total.getDeliveredCount());
    assertEquals(1, total.getComplainedCount());
    assertEquals(1, total.getHardBouncesCount());
    assertEquals("0.2500", total.getBounceRate());
    assertEquals("0.2500", total.getComplainedRate());
    assertEquals("1.0000", total.getDeliveredRate());
    assertTrue(r.getItems().size() >= 48, "a bucket per hour: " + r.getItems().size());
    assertEquals("time", r.getItems().get(0).getDimensions().get(0).getDimension());
    assertEquals(4, r.getItems().stream().mapToInt(i -> i.getMetrics().getDeliveredCount()).sum());

    MetricsResponse<AccountMetrics> byTag = metrics.getMetrics(MetricsRequest.builder().dimensions(List.of("tag"))
        .metrics(List.of("delivered_count")).build());
    Map<String, Integer> tags = byTag.getItems().stream().collect(Collectors.toMap(
        i -> i.getDimensions().get(0).getValue(), i -> i.getMetrics().getDeliveredCount()));
    assertEquals(Map.of("spring", 1, "autumn", 2), tags);

    MetricsResponse<AccountMetrics> oneDomain = metrics.getMetrics(MetricsRequest.builder().dimensions(List.of("domain"))
        .metrics(List.of("delivered_count")).filter(Filter.builder().and(List.of(FilterItem.builder().attribute("domain")
            .comparator("=").values(List.of(FilterItem.FilterItemValue.builder().label("m").value("mail.acme.example")
                .build())).build())).build()).build());
    assertEquals(1, oneDomain.getItems().size());
    assertEquals("mail.acme.example", oneDomain.getItems().get(0).getDimensions().get(0).getValue());
    assertEquals(1, oneDomain.getItems().get(0).getMetrics().getDeliveredCount());

    FeignException e = assertThrows(FeignException.class, () -> metrics.getMetrics(MetricsRequest.builder()
        .metrics(List.of("delivered_count", "unique_opened_count")).build()));
    assertEquals(400, e.status());
    assertEquals("metric not supported: unique_opened_count", new JsonObject(e.contentUTF8()).getString("message"));
    e = assertThrows(FeignException.class, () -> metrics.getMetrics(MetricsRequest.builder()
        .metrics(List.of("delivered_count")).dimensions(List.of("recipient-domain")).build()));
    assertEquals(400, e.status());
    assertFalse(e.contentUTF8().isEmpty());
  }
}

package io.mailgate.api.mailgun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.mailgun.api.v3.MailgunWebhooksApi;
import com.mailgun.client.MailgunClient;
import com.mailgun.enums.WebhookName;
import com.mailgun.model.webhooks.WebhookListResult;
import com.mailgun.model.webhooks.WebhookRequest;
import com.mailgun.model.webhooks.WebhookResult;
import com.mailgun.model.webhooks.WebhookUpdateRequest;
import feign.FeignException;
import feign.Logger;
import feign.Retryer;
import io.mailgate.store.DbTarget;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code /v3/domains/{domain}/webhooks} driven by Mailgun's official Java client (mailgun-java 2.4.1): create, list,
 * read, update and delete a domain's webhooks, and the calls they get for mail from that domain only.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class MailgunWebhooksTest {

  static DbTarget db;
  static TestGateway gw;
  static Api api;
  static ScriptedSmtpServer smtp;
  static Vertx vertx;
  static int receiverPort;
  static final ConcurrentLinkedQueue<JsonObject> received = new ConcurrentLinkedQueue<>();
  static TenantKey acme;
  static TenantKey other;

  @BeforeAll
  static void start() throws Exception {
    db = TestDatabase.fresh();
    gw = TestGateway.start(db, Map.of("MAILGATE_WEBHOOK_ALLOW_HTTP", "true", "MAILGATE_WEBHOOK_ALLOW_PRIVATE", "true",
        "MAILGATE_WEBHOOK_POLL_INTERVAL", "50ms"));
    api = gw.api;
    smtp = new ScriptedSmtpServer().start();
    vertx = Vertx.vertx();
    receiverPort = vertx.createHttpServer().requestHandler(req -> req.body().onSuccess(b -> {
      received.add(new JsonObject(b.toString()).put("path", req.path()));
      req.response().end();
    })).listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();
    acme = api.tenantOnSmtp("acme", smtp.port(), null);
    other = api.tenantOnSmtp("other", smtp.port(), null);
    Api.expect(api.put("/v1/admin/tenants/" + acme.id() + "/domains", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domains", new JsonArray().add("acme.example").add("news.acme.example"))), 200);
    Api.expect(api.put("/v1/admin/tenants/" + other.id() + "/domains", TestGateway.ADMIN_TOKEN,
        new JsonObject().put("domains", new JsonArray().add("other.example"))), 200);
  }

  @AfterAll
  static void stop() throws Exception {
    if (gw != null) {
      gw.close();
    }
    if (smtp != null) {
      smtp.close();
    }
    if (vertx != null) {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  static MailgunWebhooksApi webhooks(TenantKey t) {
    return MailgunClient.config(api.base(), t.apiKey()).retryer(Retryer.NEVER_RETRY).logLevel(Logger.Level.NONE)
        .createApi(MailgunWebhooksApi.class);
  }

  static String url(String path) {
    return "http://127.0.0.1:" + receiverPort + path;
  }

  @Test
  void theOfficialClientManagesADomainsWebhooks() {
    MailgunWebhooksApi hooks = webhooks(acme);
    WebhookResult created = hooks.createNewWebhook("acme.example", WebhookRequest.builder()
        .webhookName(WebhookName.PERMANENT_FAIL).url(url("/a")).url(url("/b")).build());
    assertEquals("Webhook has been created", created.getMessage());
    assertEquals(Set.of(url("/a"), url("/b")), Set.copyOf(created.getWebhook().getUrls()));

    hooks.createNewWebhook("acme.example", WebhookRequest.builder().webhookName(WebhookName.OPENED).url(url("/o")).build());
    WebhookListResult all = hooks.getAllWebhooks("acme.example");
    assertEquals(Set.of(url("/a"), url("/b")), Set.copyOf(all.getWebhooks().getPermanentFail().getUrls()));
    assertEquals(List.of(url("/o")), all.getWebhooks().getOpened().getUrls());
    assertNull(all.getWebhooks().getDelivered());
    assertEquals(List.of(url("/o")), hooks.getWebhookDetails("acme.example", WebhookName.OPENED).getWebhook().getUrls());

    WebhookResult updated = hooks.updateWebhook("acme.example", WebhookName.PERMANENT_FAIL,
        WebhookUpdateRequest.builder().url(url("/b")).url(url("/c")).build());
    assertEquals(Set.of(url("/b"), url("/c")), Set.copyOf(updated.getWebhook().getUrls()));
    assertEquals(Set.of(url("/b"), url("/c")),
        Set.copyOf(hooks.getWebhookDetails("acme.example", WebhookName.PERMANENT_FAIL).getWebhook().getUrls()));

    WebhookResult deleted = hooks.deleteWebhook("acme.example", WebhookName.PERMANENT_FAIL);
    assertEquals("Webhook has been deleted", deleted.getMessage());
    assertNull(hooks.getAllWebhooks("acme.example").getWebhooks().getPermanentFail());
    FeignException missing = assertThrows(FeignException.class,
        () -> hooks.getWebhookDetails("acme.example", WebhookName.PERMANENT_FAIL));
    assertEquals(404, missing.status());

    // the same id twice, more than three URLs, an id Mailgun has but we do not send
    assertEquals(400, assertThrows(FeignException.class, () -> hooks.createNewWebhook("acme.example",
        WebhookRequest.builder().webhookName(WebhookName.OPENED).url(url("/o2")).build())).status());
    assertEquals(400, assertThrows(FeignException.class, () -> hooks.createNewWebhook("acme.example",
        WebhookRequest.builder().webhookName(WebhookName.CLICKED).url(url("/1")).url(url("/2")).url(url("/3")).url(url("/4"))
            .build())).status());
    assertEquals(400, assertThrows(FeignException.class, () -> hooks.createNewWebhook("acme.example",
        WebhookRequest.builder().webhookName(WebhookName.ACCEPTED).url(url("/acc")).build())).status());
    // another tenant's domain answers like a missing one
    FeignException foreign = assertThrows(FeignException.class, () -> webhooks(other).getAllWebhooks("acme.example"));
    assertEquals(404, foreign.status());
  }

  @Test
  void aDomainsWebhookIsCalledForMailFromThatDomainOnly() {
    webhooks(acme).createNewWebhook("news.acme.example", WebhookRequest.builder().webhookName(WebhookName.DELIVERED)
        .url(url("/delivered")).build());
    for (String from : List.of("news@news.acme.example", "news@acme.example")) {
      JsonObject job = TestJobs.job("Hi", List.of(from.startsWith("news@news") ? "in@example.com" : "out@example.com"))
          .put("from", from);
      api.awaitState(acme, TestJobs.submit(api, acme, job), "completed", Duration.ofSeconds(60));
    }
    JsonObject call = Polling.await("the delivered call", () -> received.stream()
        .filter(o -> o.getString("path").equals("/delivered")).findFirst().orElse(null), o -> o != null, Duration.ofSeconds(60));
    JsonObject data = call.getJsonObject("event-data");
    assertEquals("delivered", data.getString("event"));
    assertEquals("in@example.com", data.getString("recipient"));
    // the other domain's mail wrote no call for this webhook
    assertEquals(1, TestDatabase.count(db, "SELECT count(*) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
        + " WHERE w.domain = 'news.acme.example'"));
    assertTrue(received.stream().noneMatch(o -> "out@example.com".equals(o.getJsonObject("event-data").getString("recipient"))));
  }
}

package io.mailgate.dispatch;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static io.mailgate.support.TestJobs.emails;
import static io.mailgate.support.TestJobs.receivedPerAddress;
import static io.mailgate.support.TestJobs.recipient;
import static io.mailgate.support.TestJobs.recipientsByEmail;
import static io.mailgate.support.TestJobs.submit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What the dispatcher makes of SMTP answers: 4xx defers and retries, 5xx fails at once, a dead server defers
 * everything until it is back, and temporary failures end in 'failed' once the attempts are used up.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RetryBehaviourTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  static TestGateway gw;
  static Api api;

  @BeforeAll
  static void start() {
    // a first retry 0.5 to 1 s later: long enough to see the recipient 'deferred' through the API
    gw = TestGateway.start(TestDatabase.fresh(), Map.of(
        "MAILGATE_RETRY_BASE_DELAY", "1s",
        "MAILGATE_RETRY_MAX_DELAY", "2s",
        "MAILGATE_RETRY_MAX_ATTEMPTS", "10"));
    api = gw.api;
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
  }

  @Test
  void defersRecipientOnRcpt4xxAndSendsItOnRetry() {
    String grey = "grey@example.com";
    Map<String, Integer> rcpts = new ConcurrentHashMap<>();
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer()) {
      smtp.onRcpt(a -> rcpts.merge(a, 1, Integer::sum) == 1 && a.equals(grey)
          ? "450 4.2.0 greylisted, come back later" : "250 2.1.5 ok").start();
      TenantKey t = api.tenantOnSmtp("rcpt4xx", smtp.port(), null);
      List<String> to = new ArrayList<>(emails("rcpt4xx-", 5));
      to.add(2, grey);
      String id = submit(api, t, to);

      JsonObject deferred = Polling.await("greylisted recipient deferred", () -> recipient(api, t, id, grey),
          r -> "deferred".equals(r.getString("state")), TIMEOUT);
      assertEquals(450, deferred.getInteger("lastCode"));
      assertTrue(deferred.getString("lastMessage").contains("greylisted"), deferred.encode());
      assertEquals(1, deferred.getInteger("attempts"));
      assertNotNull(deferred.getString("nextAttemptAt"), "a deferred recipient has a next attempt time");

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(6, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(0, done.getJsonObject("counts").getInteger("deferred"));
      JsonObject sent = recipient(api, t, id, grey);
      assertEquals("sent", sent.getString("state"));
      assertEquals(2, sent.getInteger("attempts"));
      assertEquals(250, sent.getInteger("lastCode"));
      assertNull(sent.getString("nextAttemptAt"));
      assertEquals(1, receivedPerAddress(smtp).get(grey), "exactly one message for the greylisted address");
      assertEquals(2, rcpts.get(grey), "one refused RCPT, one accepted");
      recipientsByEmail(api, t, id).forEach((email, r) -> {
        if (!email.equals(grey)) {
          assertEquals(1, r.getInteger("attempts"), email + " was sent at the first attempt");
        }
      });
      assertEquals(6, smtp.received().size());
    }
  }

  @Test
  void failsRecipientAtOnceOnRcpt5xxAndSendsTheOthers() {
    String unknown = "nobody@example.com";
    Map<String, Integer> rcpts = new ConcurrentHashMap<>();
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer()) {
      smtp.onRcpt(a -> {
        rcpts.merge(a, 1, Integer::sum);
        return a.equals(unknown) ? "550 5.1.1 <" + a + ">: no such user here" : "250 2.1.5 ok";
      }).start();
      TenantKey t = api.tenantOnSmtp("rcpt5xx", smtp.port(), null);
      List<String> to = new ArrayList<>(emails("rcpt5xx-", 5));
      to.add(0, unknown);
      String id = submit(api, t, to);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(5, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(1, done.getJsonObject("counts").getInteger("failed"));
      JsonObject failed = recipient(api, t, id, unknown);
      assertEquals("failed", failed.getString("state"));
      assertEquals(550, failed.getInteger("lastCode"));
      assertTrue(failed.getString("lastMessage").contains("no such user here"), failed.encode());
      assertEquals(1, failed.getInteger("attempts"));
      assertNull(failed.getString("nextAttemptAt"));
      recipientsByEmail(api, t, id).forEach((email, r) -> {
        if (!email.equals(unknown)) {
          assertEquals("sent", r.getString("state"), email);
        }
      });
      assertEquals(1, rcpts.get(unknown), "a permanently refused address is never tried again");
      assertFalse(receivedPerAddress(smtp).containsKey(unknown));
      assertEquals(5, smtp.received().size());
    }
  }

  @Test
  void defersRecipientOn4xxAtEndOfDataAndSendsItOnRetry() {
    String busy = "busy@example.com";
    Map<String, Integer> tries = new ConcurrentHashMap<>();
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer()) {
      smtp.onData((n, data) -> data.contains("To: " + busy + "\r\n") && tries.merge(busy, 1, Integer::sum) == 1
          ? "451 4.3.0 temporary local problem" : "250 2.0.0 queued as " + n).start();
      TenantKey t = api.tenantOnSmtp("data4xx", smtp.port(), null);
      List<String> to = new ArrayList<>(emails("data4xx-", 4));
      to.add(busy);
      String id = submit(api, t, to);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(5, done.getJsonObject("counts").getInteger("sent"));
      JsonObject sent = recipient(api, t, id, busy);
      assertEquals("sent", sent.getString("state"));
      assertEquals(2, sent.getInteger("attempts"));
      // the deferral, from the job's event log (the state itself may last less than a poll: the retry's delay is
      // jittered below MAILGATE_RETRY_BASE_DELAY)
      List<JsonObject> busyEvents = new ArrayList<>();
      api.get("/v1/jobs/" + id + "/events?limit=100", t.apiKey()).json().getJsonArray("items").forEach(o -> {
        if (busy.equals(((JsonObject) o).getString("recipient"))) {
          busyEvents.add((JsonObject) o);
        }
      });
      busyEvents.sort(java.util.Comparator.comparing(o -> Long.parseLong(o.getString("id"))));
      assertEquals(List.of("deferred", "sent"), busyEvents.stream().map(o -> o.getString("type")).toList(), busyEvents.toString());
      JsonObject deferred = busyEvents.get(0);
      assertEquals(451, deferred.getInteger("code"));
      assertTrue(deferred.getString("message").contains("temporary local problem"), deferred.encode());
      assertEquals(1, deferred.getInteger("attempt"));
      assertEquals(1, receivedPerAddress(smtp).get(busy));
      assertEquals(5, smtp.received().size());
    }
  }

  @Test
  void failsRecipientOn5xxAtEndOfData() {
    String spam = "spamtrap@example.com";
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer()) {
      smtp.onData((n, data) -> data.contains("To: " + spam + "\r\n")
          ? "554 5.7.1 message rejected as spam" : "250 2.0.0 queued as " + n).start();
      TenantKey t = api.tenantOnSmtp("data5xx", smtp.port(), null);
      List<String> to = new ArrayList<>(emails("data5xx-", 4));
      to.add(1, spam);
      String id = submit(api, t, to);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(4, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(1, done.getJsonObject("counts").getInteger("failed"));
      JsonObject failed = recipient(api, t, id, spam);
      assertEquals("failed", failed.getString("state"));
      assertEquals(554, failed.getInteger("lastCode"));
      assertTrue(failed.getString("lastMessage").contains("rejected as spam"), failed.encode());
      assertEquals(1, failed.getInteger("attempts"));
      assertEquals(5, smtp.transactions(), "the refused message was not offered again");
    }
  }

  /**
   * The first sends find the server down and are deferred; once the backend's circuit opens, the rest are held
   * queued (no attempt is spent on a dead server) until a probe finds the server back.
   */
  @Test
  void defersOrHoldsEveryRecipientWhileServerIsDownAndSendsEachExactlyOnceWhenItIsBack() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer()) {
      smtp.start();
      int port = smtp.port();
      smtp.stop();
      TenantKey t = api.tenantOnSmtp("down", port, null);
      List<String> to = emails("down-", 20);
      String id = submit(api, t, to);

      Map<String, JsonObject> down = Polling.await("the circuit opened: recipients deferred or held, none sending",
          () -> recipientsByEmail(api, t, id),
          rs -> rs.values().stream().allMatch(r -> "deferred".equals(r.getString("state")) || "queued".equals(r.getString("state")))
              && rs.values().stream().filter(r -> "deferred".equals(r.getString("state"))).count() >= 5, TIMEOUT);
      down.values().stream().filter(r -> "deferred".equals(r.getString("state"))).forEach(r -> {
        assertTrue(r.getString("lastMessage").contains("connect"), "the reason names the connection: " + r.encode());
        assertNull(r.getInteger("lastCode"), "no server said anything: " + r.encode());
      });
      Polling.await("the backend is reported open to operators", () -> TestDatabase.count(gw.db,
          "SELECT count(*) FROM backends WHERE name = 'down-smtp' AND health = 'open'") == 1, TIMEOUT);
      assertEquals(0, smtp.transactions());

      smtp.start(); // same port
      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(20, done.getJsonObject("counts").getInteger("sent"));
      recipientsByEmail(api, t, id).forEach((email, r) -> assertEquals("sent", r.getString("state"), email));
      Polling.await("the backend is healthy again", () -> TestDatabase.count(gw.db,
          "SELECT count(*) FROM backends WHERE name = 'down-smtp' AND health = 'healthy'") == 1, TIMEOUT);
      assertEquals(20, smtp.received().size(), "one message per recipient");
      Map<String, Integer> per = receivedPerAddress(smtp);
      to.forEach(a -> assertEquals(1, per.get(a), a));
    }
  }

  @Test
  void failsRecipientSayingItGaveUpOnceTemporaryFailuresExceedMaxAttempts() {
    String always = "always-busy@example.com";
    Map<String, Integer> rcpts = new ConcurrentHashMap<>();
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer();
         TestGateway strict = TestGateway.start(TestDatabase.fresh(), Map.of(
             "MAILGATE_RETRY_MAX_ATTEMPTS", "2",
             "MAILGATE_RETRY_BASE_DELAY", "200ms"))) {
      smtp.onRcpt(a -> {
        rcpts.merge(a, 1, Integer::sum);
        return a.equals(always) ? "451 4.4.5 mailbox busy" : "250 2.1.5 ok";
      }).start();
      Api strictApi = strict.api;
      TenantKey t = strictApi.tenantOnSmtp("giveup", smtp.port(), null);
      List<String> to = new ArrayList<>(emails("giveup-", 3));
      to.add(always);
      String id = submit(strictApi, t, to);

      JsonObject done = strictApi.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(3, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(1, done.getJsonObject("counts").getInteger("failed"));
      JsonObject failed = recipient(strictApi, t, id, always);
      assertEquals("failed", failed.getString("state"));
      assertEquals(2, failed.getInteger("attempts"));
      assertEquals(451, failed.getInteger("lastCode"));
      String why = failed.getString("lastMessage");
      assertTrue(why.contains("gave up"), why);
      assertTrue(why.contains("mailbox busy"), "keeps the server's last answer: " + why);
      assertEquals(2, rcpts.get(always), "tried exactly MAILGATE_RETRY_MAX_ATTEMPTS times");
      assertFalse(receivedPerAddress(smtp).containsKey(always));
    }
  }
}

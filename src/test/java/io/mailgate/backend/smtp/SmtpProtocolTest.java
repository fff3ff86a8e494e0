package io.mailgate.backend.smtp;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static io.mailgate.support.TestJobs.control;
import static io.mailgate.support.TestJobs.emails;
import static io.mailgate.support.TestJobs.job;
import static io.mailgate.support.TestJobs.receivedPerAddress;
import static io.mailgate.support.TestJobs.recipient;
import static io.mailgate.support.TestJobs.recipientsByEmail;
import static io.mailgate.support.TestJobs.submit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.Polling;
import io.mailgate.support.ScriptedSmtpServer;
import io.mailgate.support.ScriptedSmtpServer.Received;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonObject;
import jakarta.mail.Session;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The SMTP client as a server sees it, through the whole gateway: with and without PIPELINING, STARTTLS and
 * AUTH, what a refused handshake does to recipients, the exact bytes of DATA, and connection reuse.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class SmtpProtocolTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  static TestGateway gw;
  static Api api;

  @BeforeAll
  static void start() {
    // connection problems are retried for as long as these tests watch
    gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_RETRY_MAX_ATTEMPTS", "100"));
    api = gw.api;
  }

  @AfterAll
  static void stop() {
    if (gw != null) {
      gw.close();
    }
  }

  @Test
  void sendsEveryMessageToServerWithPipelining() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().pipelining(true).start()) {
      TenantKey t = api.tenantOnSmtp("pipelined", smtp.port(), null);
      List<String> to = emails("pipelined-", 30);
      String id = submit(api, t, to);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(30, done.getJsonObject("counts").getInteger("sent"));
      assertOneMessageEach(smtp, to);
      assertEquals(30, smtp.transactions());
    }
  }

  @Test
  void sendsEveryMessageToServerWithoutPipeliningAndStillFailsRefusedRecipient() {
    String unknown = "unknown@example.com";
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().pipelining(false)
        .onRcpt(a -> a.equals(unknown) ? "550 5.1.1 user unknown" : "250 2.1.5 ok").start()) {
      TenantKey t = api.tenantOnSmtp("lockstep", smtp.port(), null);
      List<String> to = emails("lockstep-", 30);
      List<String> all = new ArrayList<>(to);
      all.add(15, unknown);
      String id = submit(api, t, all);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(30, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(1, done.getJsonObject("counts").getInteger("failed"));
      JsonObject failed = recipient(api, t, id, unknown);
      assertEquals("failed", failed.getString("state"));
      assertEquals(550, failed.getInteger("lastCode"));
      assertOneMessageEach(smtp, to);
      assertEquals(30, smtp.transactions(), "no DATA for the refused recipient");
    }
  }

  @Test
  void upgradesToTlsAndAuthenticatesBeforeSendingWhenStartTlsIsRequired() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().startTls(true).requireAuth("acme", "s3cret!").start()) {
      TenantKey t = api.tenantOnSmtp("tls-auth", smtp.port(), new JsonObject()
          .put("tls", "starttls-required").put("trustAll", true)
          .put("username", "acme").put("password", "s3cret!"));
      List<String> to = emails("tls-auth-", 20);
      String id = submit(api, t, to);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(20, done.getJsonObject("counts").getInteger("sent"));
      assertOneMessageEach(smtp, to);
      assertTrue(smtp.tlsSessions() >= 1, "the server saw a TLS session");
      assertEquals(20, smtp.tlsTransactions(), "every message went over TLS");
    }
  }

  @Test
  void defersButNeverFailsRecipientsWhenAuthenticationIsRefused() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().startTls(true).requireAuth("acme", "s3cret!").start()) {
      TenantKey t = api.tenantOnSmtp("bad-auth", smtp.port(), new JsonObject()
          .put("tls", "starttls-required").put("trustAll", true)
          .put("username", "acme").put("password", "wrong-password"));
      List<String> to = emails("bad-auth-", 5);
      String id = submit(api, t, to);

      // retried several times, and at no point failed
      Map<String, JsonObject> rs = Polling.await("every recipient tried at least 3 times",
          () -> {
            Map<String, JsonObject> now = recipientsByEmail(api, t, id);
            now.values().forEach(r -> assertFalse("failed".equals(r.getString("state")),
                "an authentication failure must not fail the recipient: " + r.encode()));
            return now;
          },
          now -> now.values().stream().allMatch(r -> r.getInteger("attempts") >= 3), TIMEOUT);
      rs.values().forEach(r -> {
        assertTrue(Set.of("deferred", "sending").contains(r.getString("state")), r.encode());
        assertTrue(r.getString("lastMessage").contains("authentication failed"), r.encode());
        assertFalse(r.getString("lastMessage").contains("wrong-password"), "the password is never recorded");
      });
      assertEquals(0, smtp.transactions(), "nothing is sent unauthenticated");
      assertEquals(0, api.job(t, id).getJsonObject("counts").getInteger("failed"));
      Api.expect(control(api, t, id, "cancel"), 200);
    }
  }

  @Test
  void defersRecipientsSayingWhyWhenStartTlsIsRequiredButNotOffered() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().startTls(false).start()) {
      TenantKey t = api.tenantOnSmtp("no-starttls", smtp.port(), new JsonObject()
          .put("tls", "starttls-required").put("trustAll", true));
      String id = submit(api, t, emails("no-starttls-", 3));

      Map<String, JsonObject> rs = Polling.await("every recipient deferred", () -> recipientsByEmail(api, t, id),
          now -> now.values().stream().allMatch(r -> "deferred".equals(r.getString("state"))), TIMEOUT);
      rs.values().forEach(r -> assertTrue(r.getString("lastMessage").contains("STARTTLS"), r.encode()));
      assertEquals(0, smtp.transactions(), "nothing is sent in plain text");
      Api.expect(control(api, t, id, "cancel"), 200);
    }
  }

  @Test
  void sendsCrlfOnlyDataAndTheServerRestoresDotStuffedLines() {
    String text = "First line\n.a line starting with a dot\n..two dots\n.\nlast line\n";
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start()) {
      TenantKey t = api.tenantOnSmtp("dots", smtp.port(), null);
      List<String> to = emails("dots-", 3);
      String id = submit(api, t, job(text, to));

      api.awaitState(t, id, "completed", TIMEOUT);
      assertOneMessageEach(smtp, to);
      for (Received m : smtp.received()) {
        assertCrlfOnly(m.raw());
        String raw = new String(m.raw(), StandardCharsets.UTF_8);
        assertTrue(raw.contains("\r\n..a line starting with a dot\r\n...two dots\r\n..\r\nlast line\r\n"),
            "dot-stuffed on the wire: " + raw);
        assertTrue(m.data().endsWith("\r\n\r\nFirst line\r\n.a line starting with a dot\r\n..two dots\r\n.\r\nlast line\r\n"),
            "the body arrives as written, with CRLF line endings: " + m.data());
      }
    }
  }

  @Test
  void bareLfBeforeDotCannotEndDataEarly() {
    // an attempt at SMTP smuggling: if "\n.\r\n" ended DATA, the rest would be read as a second transaction
    String text = "Hello\n.\r\nMAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"
        + "smuggled\r\n.\r\nthe real end\n";
    Set<String> rcpts = ConcurrentHashMap.newKeySet();
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().onRcpt(a -> {
      rcpts.add(a);
      return "250 2.1.5 ok";
    }).start()) {
      TenantKey t = api.tenantOnSmtp("smuggle", smtp.port(), null);
      List<String> to = emails("smuggle-", 4);
      String id = submit(api, t, job(text, to));

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(4, done.getJsonObject("counts").getInteger("sent"));
      assertEquals(4, smtp.transactions(), "exactly one transaction per recipient");
      assertOneMessageEach(smtp, to);
      assertEquals(Set.copyOf(to), rcpts, "no smuggled RCPT reached the server");
      for (Received m : smtp.received()) {
        assertEquals("news@acme.example", m.mailFrom());
        assertCrlfOnly(m.raw());
        assertTrue(m.data().endsWith("\r\n\r\nHello\r\n.\r\nMAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.org>\r\n"
            + "DATA\r\nsmuggled\r\n.\r\nthe real end\r\n"), "the whole body arrives: " + m.data());
      }
    }
  }

  @Test
  void quotedPrintableBodyWithLinesStartingWithDotArrivesIntact() throws Exception {
    String text = "Grüße aus Köln\n.hidden? no\n.\nEnde\n";
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start()) {
      TenantKey t = api.tenantOnSmtp("qp-dots", smtp.port(), null);
      List<String> to = emails("qp-dots-", 2);
      String id = submit(api, t, job(text, to));

      api.awaitState(t, id, "completed", TIMEOUT);
      assertOneMessageEach(smtp, to);
      assertEquals(2, smtp.transactions());
      for (Received m : smtp.received()) {
        assertCrlfOnly(m.raw());
        MimeMessage parsed = new MimeMessage(Session.getInstance(new Properties()),
            new ByteArrayInputStream(m.data().getBytes(StandardCharsets.UTF_8)));
        assertEquals("Grüße aus Köln\r\n.hidden? no\r\n.\r\nEnde\r\n", parsed.getContent().toString());
      }
    }
  }

  @Test
  void reusesConnectionsAcrossMessages() {
    try (ScriptedSmtpServer smtp = new ScriptedSmtpServer().start()) {
      TenantKey t = api.tenantOnSmtp("reuse", smtp.port(), new JsonObject().put("maxConnections", 4));
      List<String> to = emails("reuse-", 200);
      String id = submit(api, t, to);

      JsonObject done = api.awaitState(t, id, "completed", TIMEOUT);
      assertEquals(200, done.getJsonObject("counts").getInteger("sent"));
      assertOneMessageEach(smtp, to);
      assertTrue(smtp.connections() <= 4, "200 messages over at most maxConnections connections, not "
          + smtp.connections());
    }
  }

  private static void assertOneMessageEach(ScriptedSmtpServer smtp, List<String> to) {
    assertEquals(to.size(), smtp.received().size(), "one message per recipient");
    Map<String, Integer> per = receivedPerAddress(smtp);
    to.forEach(a -> assertEquals(1, per.getOrDefault(a, 0), "messages to " + a));
  }

  /** Every CR is followed by LF and every LF preceded by CR. */
  private static void assertCrlfOnly(byte[] raw) {
    for (int i = 0; i < raw.length; i++) {
      if (raw[i] == '\n') {
        assertTrue(i > 0 && raw[i - 1] == '\r', "bare LF at byte " + i);
      } else if (raw[i] == '\r') {
        assertTrue(i + 1 < raw.length && raw[i + 1] == '\n', "bare CR at byte " + i);
      }
    }
  }
}

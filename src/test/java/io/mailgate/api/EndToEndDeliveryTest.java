package io.mailgate.api;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.vertx.core.json.JsonObject;
import jakarta.mail.internet.MimeMessage;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Through the HTTP API to a real SMTP server (GreenMail, in process): every recipient gets one personalised message. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class EndToEndDeliveryTest {

  static GreenMail smtp;
  static TestGateway gw;

  @BeforeAll
  static void start() {
    smtp = new GreenMail(new ServerSetup(TestGateway.freePort(), "127.0.0.1", "smtp"));
    smtp.start();
    gw = TestGateway.start(TestDatabase.fresh(), Map.of("MAILGATE_CHUNK_SIZE", "500"));
  }

  @AfterAll
  static void stop() {
    gw.close();
    smtp.stop();
  }

  @Test
  void deliversTenThousandRecipientNdjsonJobWithExactlyOnePersonalisedMessageEach() throws Exception {
    Api api = gw.api;
    TenantKey acme = api.tenantOnSmtp("acme", smtp.getSmtp().getPort(), new JsonObject().put("maxConnections", 16));
    int n = 10_000;
    StringBuilder body = new StringBuilder();
    body.append(new JsonObject()
        .put("from", "Acme News <news@acme.example>")
        .put("subject", "Hello {{name}}")
        .put("text", "Dear {{name}},\nyour code is {{code}}.\n")
        .put("headers", new JsonObject().put("X-Campaign", "spring"))
        .put("tags", List.of("spring")).encode()).append('\n');
    for (int i = 0; i < n; i++) {
      body.append(new JsonObject().put("email", "user" + i + "@example.com")
          .put("vars", new JsonObject().put("name", "User " + i).put("code", "C" + i)).encode()).append('\n');
    }
    Api.Response accepted = api.submitNdjson(acme, body.toString());
    Api.expect(accepted, 202);
    assertEquals("queued", accepted.json().getString("state"));
    assertEquals(n, accepted.json().getInteger("recipients"));
    String id = accepted.json().getString("id");

    JsonObject done = api.awaitState(acme, id, "completed", Duration.ofMinutes(3));
    JsonObject counts = done.getJsonObject("counts");
    assertEquals(n, counts.getInteger("sent"));
    assertEquals(0, counts.getInteger("queued") + counts.getInteger("sending") + counts.getInteger("deferred")
        + counts.getInteger("failed") + counts.getInteger("cancelled"));

    MimeMessage[] messages = smtp.getReceivedMessages();
    assertEquals(n, messages.length, "exactly one message per recipient");
    Map<String, MimeMessage> byRecipient = new HashMap<>();
    for (MimeMessage m : messages) {
      String to = m.getAllRecipients()[0].toString();
      assertTrue(byRecipient.put(to, m) == null, "a second message to " + to);
    }
    for (int i = 0; i < n; i += 997) {
      MimeMessage m = byRecipient.get("user" + i + "@example.com");
      assertEquals("Hello User " + i, m.getSubject());
      // the CRLF ending the content is part of the DATA terminator
      assertEquals("Dear User " + i + ",\r\nyour code is C" + i + ".", m.getContent().toString());
      assertEquals("spring", m.getHeader("X-Campaign")[0]);
      assertEquals("Acme News <news@acme.example>", m.getFrom()[0].toString());
    }
    List<JsonObject> recipients = api.recipients(acme, id);
    assertEquals(n, recipients.size());
    assertTrue(recipients.stream().allMatch(r -> "sent".equals(r.getString("state")) && r.getInteger("attempts") == 1
        && r.getString("messageId").startsWith("<" + r.getInteger("seq") + ".")));
  }
}

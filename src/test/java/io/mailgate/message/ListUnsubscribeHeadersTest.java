package io.mailgate.message;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.config.GatewayConfig;
import io.mailgate.job.JobSpec;
import io.mailgate.job.JobSpecParser;
import io.vertx.core.json.JsonObject;
import jakarta.mail.Session;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** List-Unsubscribe and List-Unsubscribe-Post in composed messages, and {@code {{unsubscribeUrl}}} in their bodies. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class ListUnsubscribeHeadersTest {

  private static final EmailAddress TO = EmailAddress.parse("ada@example.com", "email");
  private static final String BASE = "https://mail.a-rather-long-host-name.acme.example/u/";

  private static Campaign campaign(String mailto) {
    JobSpec spec = new JobSpecParser(GatewayConfig.from(Map.of()).limits()).parse(new JsonObject()
        .put("from", "news@acme.example").put("subject", "Hi").put("text", "Leave: {{unsubscribeUrl}}"), false);
    ListUnsubscribe links = new ListUnsubscribe() {
      @Override
      public String url(int seq) {
        return BASE + "token-" + seq;
      }

      @Override
      public String mailto() {
        return mailto;
      }
    };
    return spec.compile(UUID.randomUUID(), UUID.randomUUID(), links);
  }

  private static MimeMessage compose(Campaign c, int seq) throws Exception {
    byte[] b = new MimeComposer(c).compose(seq, TO, c.varsFor(seq, Map.of())).toBytes();
    for (String line : new String(b, StandardCharsets.US_ASCII).split("\r\n")) {
      assertTrue(line.length() <= 998, line);
    }
    return new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(b));
  }

  @Test
  void eachRecipientGetsItsLinkInTheHeaderAndTheBody() throws Exception {
    MimeMessage m = compose(campaign(null), 5);
    assertArrayEquals(new String[] {"<" + BASE + "token-5>"}, m.getHeader("List-Unsubscribe"));
    assertArrayEquals(new String[] {"List-Unsubscribe=One-Click"}, m.getHeader("List-Unsubscribe-Post"));
    assertEquals("Leave: " + BASE + "token-5", ((String) m.getContent()).trim());
  }

  @Test
  void aLongHeaderWithAMailtoIsFoldedBetweenItsItems() throws Exception {
    Campaign c = campaign("leave-this-list@acme.example");
    String wire = new String(new MimeComposer(c).compose(7, TO, c.varsFor(7, Map.of())).toBytes(), StandardCharsets.US_ASCII);
    assertTrue(wire.contains("List-Unsubscribe: <" + BASE + "token-7>,\r\n <mailto:leave-this-list@acme.example>\r\n"), wire);
    MimeMessage m = compose(c, 7);
    String raw = m.getHeader("List-Unsubscribe", null);
    assertEquals("<" + BASE + "token-7>, <mailto:leave-this-list@acme.example>", raw.replace("\r\n", ""));
  }

  @Test
  void withoutUnsubscribeThereIsNoHeaderAndTheVarIsTheRecipients() throws Exception {
    JobSpec spec = new JobSpecParser(GatewayConfig.from(Map.of()).limits()).parse(new JsonObject()
        .put("from", "news@acme.example").put("subject", "Hi").put("text", "[{{unsubscribeUrl}}]"), false);
    Campaign c = spec.compile(UUID.randomUUID(), UUID.randomUUID());
    Map<String, Object> vars = Map.of("unsubscribeUrl", "mine");
    MimeMessage m = new MimeMessage(Session.getInstance(new Properties()),
        new ByteArrayInputStream(new MimeComposer(c).compose(1, TO, c.varsFor(1, vars)).toBytes()));
    assertNull(m.getHeader("List-Unsubscribe"));
    assertEquals("[mine]", ((String) m.getContent()).trim());
  }
}

package io.mailgate.api.mailgun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.error.InvalidInputException;
import io.mailgate.message.Template;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Mailgun's message parameters as our jobs: recipients, substitution, literal braces, refusals. Pure logic. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class MailgunMessageTranslationTest {

  static List<Map.Entry<String, String>> params(String... kv) {
    List<Map.Entry<String, String>> out = new ArrayList<>();
    for (int i = 0; i < kv.length; i += 2) {
      out.add(Map.entry(kv[i], kv[i + 1]));
    }
    return out;
  }

  static String render(String mailgunText, boolean substitute, Map<String, Object> vars, Template.Escaping escaping) {
    return Template.compile(MessageTranslation.template(mailgunText, substitute), escaping, "text").render(vars);
  }

  @ParameterizedTest
  @ValueSource(strings = {"{{name}}", "{{{name}}}", "{", "{{", "{{{", "}}", "a{{#list}}x{{/list}}b", "{{> partial}}",
      "{{=<% %>=}}", "<%name%>", "{{! comment }}", "%recipient.%", "100% {{x}} %", "{%recipient.name%}",
      "{{%recipient.name%}}", "%recipient.name%{{", "line\n{{\nline", "{{=| |=}}|name|"})
  void userTextStaysLiteralWhateverMustacheSyntaxItHas(String text) {
    String expected = text.replace("%recipient.name%", "Ann");
    assertEquals(expected, render(text, true, Map.of("name", "Ann", "list", List.of(1, 2)), Template.Escaping.NONE));
    assertEquals(expected, render(text, true, Map.of("name", "Ann", "list", List.of(1, 2)), Template.Escaping.HTML));
    assertEquals(text, render(text, false, Map.of("name", "Ann"), Template.Escaping.NONE), "without recipient-variables nothing is substituted");
  }

  @Test
  void recipientVariablesAreSubstitutedAsGivenAndMissingOnesRenderEmpty() {
    assertEquals("Hi Ann <b>, #7; ",
        render("Hi %recipient.first-name%, #%recipient.id%; %recipient.none%", true,
            Map.of("first-name", "Ann <b>", "id", 7), Template.Escaping.HTML));
    assertEquals("%recipient.a.b% %recipient.with space%",
        render("%recipient.a.b% %recipient.with space%", true, Map.of(), Template.Escaping.NONE),
        "keys other than letters, digits, '_' and '-' stay text");
  }

  @Test
  void aBatchBecomesOneRecipientPerToWithItsVariables() {
    JsonObject job = MessageTranslation.toJob(params(
        "from", "Acme <news@acme.example>",
        "to", "\"Smith, Ann\" <ann@example.com>, bob@example.com",
        "to", "Carl <carl@example.com>",
        "to", "ANN@example.com",
        "subject", "Hi %recipient.name%",
        "text", "Hello",
        "recipient-variables", "{\"Ann@Example.com\": {\"name\": \"Ann\"}, \"carl@example.com\": {\"name\": \"Carl\"}}",
        "o:tag", "a", "o:tag", "b",
        "h:X-One", "1", "h:Reply-To", "help@acme.example",
        "v:crm", "42",
        "o:tracking", "yes", "o:sending-ip-pool", "pool"), List.of());
    assertEquals("Acme <news@acme.example>", job.getString("from"));
    assertEquals("Hi {{{name}}}", job.getString("subject"));
    JsonArray rs = job.getJsonArray("recipients");
    assertEquals(3, rs.size(), "the same address twice is one recipient: " + rs.encode());
    assertEquals(new JsonObject().put("email", "ann@example.com").put("vars", new JsonObject().put("name", "Ann")), rs.getJsonObject(0));
    assertEquals(new JsonObject().put("email", "bob@example.com"), rs.getJsonObject(1));
    assertEquals("Carl", rs.getJsonObject(2).getJsonObject("vars").getString("name"));
    assertEquals(new JsonArray().add("a").add("b"), job.getJsonArray("tags"));
    assertEquals(new JsonObject().put("X-One", "1"), job.getJsonObject("headers"));
    assertEquals("help@acme.example", job.getString("replyTo"));
    assertEquals(new JsonObject().put("crm", "42"), job.getJsonObject("metadata"));
  }

  @Test
  void ccBccAndSeveralToBecomeOneSharedMessageWithTheHeaderListsAndEveryAddressOnce() {
    JsonObject job = MessageTranslation.toJob(params("from", "a@example.com", "to", "Ann <ann@example.com>, bob@example.com",
        "cc", "carl@example.com", "bcc", "dora@example.com, ANN@example.com", "subject", "S {{x}}", "text", "T"), List.of());
    assertEquals(new JsonArray().add("Ann <ann@example.com>").add("bob@example.com"), job.getJsonArray("to"));
    assertEquals(new JsonArray().add("carl@example.com"), job.getJsonArray("cc"));
    assertEquals(List.of("ann@example.com", "bob@example.com", "carl@example.com", "dora@example.com"),
        job.getJsonArray("recipients").stream().map(r -> ((JsonObject) r).getString("email")).toList());
    JsonObject single = MessageTranslation.toJob(params("from", "a@example.com", "to", "ann@example.com", "subject", "S",
        "text", "T"), List.of());
    assertFalse(single.containsKey("to"), "a single to stays a message of its own");
    assertTrue(refusal(params("from", "a@example.com", "to", "ann@example.com", "cc", "c@example.com", "subject", "S",
        "text", "T", "recipient-variables", "{}")).startsWith("Parameter not supported: cc with recipient-variables"));
  }

  @Test
  void refusalsNameTheParameter() {
    assertEquals("Parameters not supported: o:foo, x", refusal(params("o:foo", "1", "x", "2")));
    assertTrue(refusal(params("amp-html", "<p>x</p>")).startsWith("Parameter not supported: amp-html ("));
    assertTrue(refusal(params("t:variables", "{}")).startsWith("Parameter not supported: t:variables ("));
    assertEquals("h:X-A must not contain CR, LF or NUL", refusal(params("h:X-A", "a\r\nb")));
    assertEquals("h:x-a is given more than once", refusal(params("h:X-A", "1", "h:x-a", "2")));
    assertEquals("Send options (parameters starting with o:, h:, or v:) are limited to 16 kB total",
        refusal(params("v:big", "x".repeat(16 * 1024))));
    assertEquals("recipient-variables parameter is not a valid JSON object",
        refusal(params("from", "a@example.com", "to", "b@example.com", "subject", "S", "text", "T", "recipient-variables", "[1]")));
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> MessageTranslation.toJob(params(
        "from", "a@example.com", "to", "b@example.com", "subject", "S", "text", "T"), List.of("inline")));
    assertTrue(e.getMessage().startsWith("Parameter not supported: inline ("), e.getMessage());
  }

  @Test
  void acceptedAndIgnoredOptionsLeaveNoTrace() {
    JsonObject job = MessageTranslation.toJob(params("from", "a@example.com", "to", "b@example.com", "subject", "S",
        "text", "T", "o:dkim", "yes", "o:require-tls", "true", "o:skip-verification", "false", "o:sending-ip", "1.2.3.4",
        "o:tracking-clicks", "htmlonly"), List.of());
    assertFalse(job.containsKey("headers"));
    assertFalse(job.containsKey("metadata"));
    assertEquals(new JsonObject().put("from", "a@example.com").put("subject", "S").put("text", "T")
        .put("recipients", new JsonArray().add(new JsonObject().put("email", "b@example.com"))), job);
  }

  @Test
  void mailgunPrefixesMangledByTheMultipartDecoderAreRestored() {
    assertEquals("o:tag", MessagesRoutes.prefixRestored("o tag"));
    assertEquals("h:X-Campaign", MessagesRoutes.prefixRestored("h X-Campaign"));
    assertEquals("v:crm-id", MessagesRoutes.prefixRestored("v crm-id"));
    assertEquals("to", MessagesRoutes.prefixRestored("to"));
    assertEquals("a b", MessagesRoutes.prefixRestored("a b"));
  }

  static String refusal(List<Map.Entry<String, String>> params) {
    return assertThrows(InvalidInputException.class, () -> MessageTranslation.toJob(params, List.of())).getMessage();
  }
}

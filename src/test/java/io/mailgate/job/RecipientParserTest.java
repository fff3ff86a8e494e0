package io.mailgate.job;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mailgate.config.GatewayConfig;
import io.mailgate.config.GatewayConfig.LimitsConfig;
import io.mailgate.error.InvalidInputException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RecipientParserTest {

  private static final LimitsConfig LIMITS = GatewayConfig.from(Map.of()).limits();
  private final RecipientParser parser = new RecipientParser(LIMITS);

  private InvalidInputException rejected(Object recipient) {
    return assertThrows(InvalidInputException.class, () -> parser.parse(recipient));
  }

  private static JsonObject vars(int n) {
    JsonObject v = new JsonObject();
    for (int i = 0; i < n; i++) {
      v.put("v" + i, i);
    }
    return v;
  }

  @Test
  void parsesEmailAndVars() {
    RecipientParser.Parsed p = parser.parse(new JsonObject().put("email", "ada@example.com")
        .put("vars", new JsonObject().put("name", "Ada").put("n", 1)));
    assertEquals("ada@example.com", p.email());
    assertEquals(new JsonObject().put("name", "Ada").put("n", 1), new JsonObject(p.varsJson()));
  }

  @Test
  void storesNoVarsWhenMissingNullOrEmpty() {
    assertNull(parser.parse(new JsonObject().put("email", "ada@example.com")).varsJson());
    assertNull(parser.parse(new JsonObject().put("email", "ada@example.com").putNull("vars")).varsJson());
    assertNull(parser.parse(new JsonObject().put("email", "ada@example.com").put("vars", new JsonObject())).varsJson());
  }

  @Test
  void rejectsRecipientThatIsNotAnObject() {
    assertEquals("invalid_recipient", rejected("ada@example.com").code());
    assertEquals("invalid_recipient", rejected(new JsonArray().add("ada@example.com")).code());
    assertEquals("invalid_recipient", rejected(null).code());
  }

  @Test
  void rejectsRecipientWithoutEmail() {
    InvalidInputException e = rejected(new JsonObject().put("vars", new JsonObject().put("name", "Ada")));
    assertEquals("invalid_recipient", e.code());
    assertEquals("email", e.field());
  }

  @Test
  void acceptsAUnicodeAddressInItsCanonicalForm() {
    assertEquals("ädä@bücher.example", parser.parse(new JsonObject().put("email", "ädä@xn--bcher-kva.example")).email());
    assertEquals("ad\u00e9@example.com", parser.parse(new JsonObject().put("email", "ade\u0301@example.com")).email(), "NFC");
    String plain = new String("ada@example.com");
    assertSame(plain, parser.parse(new JsonObject().put("email", plain)).email(), "an ASCII address is kept, not copied");
  }

  @Test
  void rejectsNonStringEmail() {
    assertEquals("invalid_recipient", rejected(new JsonObject().put("email", 42)).code());
    assertEquals("invalid_recipient", rejected(new JsonObject().putNull("email")).code());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "ada", "ada@localhost", "ada@example.com\r\nRCPT TO:<x@y.z>", "äd\u0085ä@example.com", "a b@example.com",
      "ada@faß.de"})
  void rejectsBadEmail(String email) {
    InvalidInputException e = rejected(new JsonObject().put("email", email));
    assertEquals("invalid_address", e.code());
    assertEquals("email", e.field());
  }

  @Test
  void rejectsVarsThatAreNotAnObject() {
    for (Object v : new Object[] {"name=Ada", 1, new JsonArray().add("Ada"), true}) {
      InvalidInputException e = rejected(new JsonObject().put("email", "ada@example.com").put("vars", v));
      assertEquals("invalid_recipient", e.code(), String.valueOf(v));
      assertEquals("vars", e.field());
    }
  }

  @Test
  void acceptsVarsUpToTheLimitAndRejectsMore() {
    int max = LIMITS.maxVarsPerRecipient();
    assertEquals(max, new JsonObject(parser.parse(new JsonObject().put("email", "a@example.com").put("vars", vars(max))).varsJson()).size());
    InvalidInputException e = rejected(new JsonObject().put("email", "a@example.com").put("vars", vars(max + 1)));
    assertEquals("too_many_vars", e.code());
    assertEquals("vars", e.field());
  }

  @ParameterizedTest
  @ValueSource(strings = {"name", "Email", "tenantId", "headers"})
  void rejectsUnknownFields(String field) {
    InvalidInputException e = rejected(new JsonObject().put("email", "a@example.com").put(field, "x"));
    assertEquals("unknown_field", e.code());
    assertEquals(field, e.field());
  }
}

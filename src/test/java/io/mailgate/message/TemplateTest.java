package io.mailgate.message;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.error.InvalidInputException;
import io.mailgate.message.Template.Escaping;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 5, unit = TimeUnit.MINUTES)
class TemplateTest {

  private static String render(String source, Escaping escaping, Map<String, Object> vars) {
    return Template.compile(source, escaping, "text").render(vars);
  }

  @Test
  void substitutesVars() {
    assertEquals("Hello Ada, your code is 42.",
        render("Hello {{name}}, your code is {{code}}.", Escaping.NONE, Map.of("name", "Ada", "code", 42)));
  }

  @Test
  void substitutesNestedMapValues() {
    assertEquals("Hi Ada from Acme",
        render("Hi {{user.name}} from {{org.name}}", Escaping.NONE,
            Map.of("user", Map.of("name", "Ada"), "org", Map.of("name", "Acme"))));
  }

  @Test
  void iteratesListsInSections() {
    assertEquals("[a][b]", render("{{#items}}[{{.}}]{{/items}}", Escaping.NONE, Map.of("items", List.of("a", "b"))));
  }

  @Test
  void htmlEscapesValuesOnlyWithHtmlEscaping() {
    Map<String, Object> vars = Map.of("name", "<b>Tom & \"Jerry\"</b>");
    assertEquals("<p><b>Tom & \"Jerry\"</b></p>", render("<p>{{name}}</p>", Escaping.NONE, vars));
    String html = render("<p>{{name}}</p>", Escaping.HTML, vars);
    assertTrue(html.startsWith("<p>&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;"), html);
    assertTrue(html.endsWith("</p>"), html);
    assertFalse(html.contains("<b>"), html);
  }

  @Test
  void doesNotEscapeTheTemplateItself() {
    assertEquals("<b>Ada</b>", render("<b>{{name}}</b>", Escaping.HTML, Map.of("name", "Ada")));
  }

  @Test
  void rendersMissingVarsAsEmpty() {
    assertEquals("Hello , bye", render("Hello {{name}}, bye", Escaping.NONE, Map.of()));
    assertEquals("Hello , bye", render("Hello {{name}}, bye", Escaping.NONE, null));
    assertEquals("Hi ", render("Hi {{user.name}}", Escaping.NONE, Map.of("user", Map.of())));
  }

  @Test
  void rendersConstantTemplateAsItsSource() {
    Template t = Template.compile("No tags here", Escaping.NONE, "subject");
    assertEquals("No tags here", t.render(Map.of("name", "Ada")));
    assertEquals("No tags here", t.source());
  }

  @ParameterizedTest
  @ValueSource(strings = {"{{> x}}", "Hi {{>header}}", "{{#a}}{{> /etc/passwd}}{{/a}}"})
  void refusesPartials(String source) {
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> Template.compile(source, Escaping.NONE, "text"));
    assertEquals("invalid_template", e.code());
    assertEquals("text", e.field());
  }

  @ParameterizedTest
  @ValueSource(strings = {"Hello {{name", "{{#section}}never closed", "{{#a}}x{{/b}}"})
  void rejectsMalformedTemplates(String source) {
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> Template.compile(source, Escaping.HTML, "html"));
    assertEquals("invalid_template", e.code());
    assertEquals("html", e.field());
    assertTrue(e.getMessage().startsWith("html is not a valid template"), e.getMessage());
    assertTrue(e.getMessage().indexOf('\n') < 0, e.getMessage());
  }

  @Test
  void turnsBareLineBreaksInValuesIntoCrlf() {
    Map<String, Object> vars = Map.of("v", "a\nb\rc\r\nd");
    assertEquals("<a\r\nb\r\nc\r\nd>", render("<{{v}}>", Escaping.NONE, vars));
    // the HTML escaper writes line breaks as character references, still as CRLF pairs
    assertEquals("<a&#13;&#10;b&#13;&#10;c&#13;&#10;d>", render("<{{v}}>", Escaping.HTML, vars));
  }

  @ParameterizedTest
  @ValueSource(strings = {"{{name.bytes}}", "{{name.class}}", "{{name.class.name}}", "{{name.length}}",
      "{{name.getClass}}", "{{name.toString}}", "{{name.empty}}", "{{name.hashCode}}"})
  void doesNotReflectOnValues(String tag) {
    assertEquals("[]", render("[" + tag + "]", Escaping.NONE, Map.of("name", "Ada")));
  }

  @Test
  void doesNotReflectOnTheVarsMapItself() {
    assertEquals("[][]", render("[{{class}}][{{size}}]", Escaping.NONE, Map.of("name", "Ada")));
  }
}

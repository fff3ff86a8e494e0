package io.mailgate.message;

import com.github.mustachejava.util.HtmlEscaper;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A template as literal text and variable references, for providers that substitute per recipient themselves
 * (Mailgun's {@code %recipient.x%}, SendGrid substitutions, SES templates). Only plain {@code {{x}}},
 * {@code {{{x}}}} and {@code {{& x}}} tags qualify; a template with sections, comments or partials has no parts
 * and must be rendered per recipient by the gateway.
 */
public record TemplateParts(List<Segment> segments) {

  /** A piece of a template. */
  public sealed interface Segment permits Literal, Var {}

  /** Text copied as is. */
  public record Literal(String text) implements Segment {}

  /** A variable; {@code escaped} is true for {@code {{x}}} (HTML-escaped in html templates), false for raw tags. */
  public record Var(String name, boolean escaped) implements Segment {}

  public static Optional<TemplateParts> parse(String source) {
    List<Segment> out = new ArrayList<>();
    int at = 0;
    while (at < source.length()) {
      int open = source.indexOf("{{", at);
      if (open < 0) {
        out.add(new Literal(source.substring(at)));
        break;
      }
      if (open > at) {
        out.add(new Literal(source.substring(at, open)));
      }
      boolean triple = source.startsWith("{{{", open);
      String close = triple ? "}}}" : "}}";
      int end = source.indexOf(close, open + (triple ? 3 : 2));
      if (end < 0) {
        return Optional.empty();
      }
      String tag = source.substring(open + (triple ? 3 : 2), end).trim();
      boolean raw = triple;
      if (!triple && tag.startsWith("&")) {
        raw = true;
        tag = tag.substring(1).trim();
      }
      if (!tag.matches("[A-Za-z0-9_][A-Za-z0-9_.-]*")) {
        return Optional.empty();
      }
      out.add(new Var(tag, !raw));
      at = end + close.length();
    }
    return Optional.of(new TemplateParts(List.copyOf(out)));
  }

  public Set<String> varNames() {
    Set<String> names = new LinkedHashSet<>();
    segments.forEach(s -> {
      if (s instanceof Var v) {
        names.add(v.name());
      }
    });
    return names;
  }

  /** A variable's value for a recipient as the gateway's own rendering would write it; "" when missing. */
  public static String value(Map<String, Object> vars, String name) {
    Object v = vars;
    for (String part : name.split("\\.")) {
      if (!(v instanceof Map<?, ?> m) || !m.containsKey(part)) {
        return "";
      }
      v = m.get(part);
    }
    return v == null ? "" : MimeComposer.normalizeLineBreaks(String.valueOf(v));
  }

  /** HTML escaping exactly as the gateway's templates do it. */
  public static String htmlEscape(String value) {
    StringWriter w = new StringWriter(value.length() + 16);
    HtmlEscaper.escape(value, w);
    return w.toString();
  }
}

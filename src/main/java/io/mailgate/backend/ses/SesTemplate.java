package io.mailgate.backend.ses;

import io.mailgate.message.Campaign;
import io.mailgate.message.MimeComposer;
import io.mailgate.message.TemplateParts;
import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A job's templates as one SES inline template for SendBulkEmail, and each recipient's replacement data.
 *
 * <p>SES renders templates with Handlebars and, as its documentation says, does not HTML-escape values in the html
 * part. So nothing is left to its engine: the gateway computes every value exactly as its own rendering writes it
 * and SES only pastes them in.
 * <ul>
 *   <li>Every reference becomes a triple-brace {@code {{{name}}}}, which Handlebars never escapes, whatever SES's
 *       engine would do with {@code {{name}}}.</li>
 *   <li>Each (variable, use) pair gets its own name: {@code s0} a subject value (made single-line), {@code t0} a raw
 *       value (text, and html {@code {{{x}}}}), {@code h0} an html {@code {{x}}} value, already HTML-escaped with
 *       {@link TemplateParts#htmlEscape}. A nested {@code {{a.b}}} is looked up by the gateway, so names are flat.</li>
 *   <li>Literal text that Handlebars could read as syntax next to a reference (a trailing backslash, which would
 *       escape the following tag, or a leading brace) goes into the data as a constant {@code c0} instead.</li>
 *   <li>Every entry carries all names (SES does not merge an entry's data with the default data), so no value is
 *       ever missing; the default data has the constants and empty values.</li>
 * </ul>
 */
final class SesTemplate {

  private enum Use { SUBJECT, RAW, HTML }

  private record Ref(Use use, String var) {}

  private final Map<Ref, String> names = new LinkedHashMap<>();
  private final Map<String, String> constants = new LinkedHashMap<>();
  private final String subject;
  private final String text;
  private final String html;

  private SesTemplate(Campaign.BatchForm form) {
    this.subject = convert(form.subject(), false, true);
    this.text = form.text() == null ? null : convert(form.text(), false, false);
    this.html = form.html() == null ? null : convert(form.html(), true, false);
  }

  static SesTemplate of(Campaign.BatchForm form) {
    return new SesTemplate(form);
  }

  String subject() {
    return subject;
  }

  String text() {
    return text;
  }

  String html() {
    return html;
  }

  /** The default template data: constants, and an empty value for every name. */
  String defaultData() {
    JsonObject o = new JsonObject();
    constants.forEach(o::put);
    names.values().forEach(n -> o.put(n, ""));
    return o.encode();
  }

  /** One recipient's replacement data: constants and every value as the gateway's rendering would write it. */
  String data(Map<String, Object> vars) {
    JsonObject o = new JsonObject();
    constants.forEach(o::put);
    names.forEach((ref, name) -> o.put(name, value(ref, vars)));
    return o.encode();
  }

  private static String value(Ref ref, Map<String, Object> vars) {
    String v = TemplateParts.value(vars == null ? Map.of() : vars, ref.var());
    return switch (ref.use()) {
      case SUBJECT -> Campaign.singleLine(v);
      case HTML -> TemplateParts.htmlEscape(v);
      case RAW -> v;
    };
  }

  private String convert(TemplateParts parts, boolean htmlPart, boolean subjectPart) {
    List<TemplateParts.Segment> segs = parts.segments();
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < segs.size(); i++) {
      TemplateParts.Segment seg = segs.get(i);
      if (seg instanceof TemplateParts.Literal l) {
        String t = subjectPart ? Campaign.singleLine(l.text()) : MimeComposer.normalizeLineBreaks(l.text());
        boolean varBefore = i > 0 && segs.get(i - 1) instanceof TemplateParts.Var;
        boolean varAfter = i + 1 < segs.size() && segs.get(i + 1) instanceof TemplateParts.Var;
        if (t.contains("{{") || varAfter && (t.endsWith("\\") || t.endsWith("{"))
            || varBefore && t.startsWith("}")) {
          String name = "c" + constants.size();
          constants.put(name, t);
          reference(out, name);
        } else {
          out.append(t);
        }
      } else {
        TemplateParts.Var v = (TemplateParts.Var) seg;
        Use use = subjectPart ? Use.SUBJECT : htmlPart && v.escaped() ? Use.HTML : Use.RAW;
        String prefix = switch (use) {
          case SUBJECT -> "s";
          case HTML -> "h";
          case RAW -> "t";
        };
        reference(out, names.computeIfAbsent(new Ref(use, v.name()), r -> prefix + names.size()));
      }
    }
    return out.toString();
  }

  private static void reference(StringBuilder out, String name) {
    out.append("{{{").append(name).append("}}}");
  }
}

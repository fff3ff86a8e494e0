package io.mailgate.message;

import com.github.mustachejava.DefaultMustacheFactory;
import com.github.mustachejava.Mustache;
import com.github.mustachejava.MustacheException;
import com.github.mustachejava.reflect.MapObjectHandler;
import io.mailgate.error.InvalidInputException;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.util.Map;

/**
 * A Mustache template ({@code {{var}}} filled from a recipient's vars), compiled once per job and rendered
 * per recipient. Lookups only see the vars map (no reflection on Java objects) and partials are refused,
 * so a template cannot reach files or classes.
 */
public final class Template {

  /** How substituted values are written: as-is (subject, text) or HTML-escaped (html). */
  public enum Escaping { NONE, HTML }

  private static final DefaultMustacheFactory RAW = factory(false);
  private static final DefaultMustacheFactory HTML = factory(true);

  private final String source;
  private final Mustache mustache;
  private final boolean constant;

  private Template(String source, Mustache mustache) {
    this.source = source;
    this.mustache = mustache;
    this.constant = source.indexOf("{{") < 0;
  }

  public static Template compile(String source, Escaping escaping, String field) {
    try {
      Mustache m = (escaping == Escaping.HTML ? HTML : RAW).compile(new StringReader(source), field);
      return new Template(source, m);
    } catch (MustacheException | IllegalArgumentException e) {
      throw new InvalidInputException("invalid_template", field + " is not a valid template: " + firstLine(e.getMessage()), field);
    }
  }

  public String source() {
    return source;
  }

  public String render(Map<String, Object> vars) {
    if (constant) {
      return source;
    }
    StringWriter w = new StringWriter(source.length() + 64);
    mustache.execute(w, vars == null ? Map.of() : vars);
    return w.toString();
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "syntax error";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private static DefaultMustacheFactory factory(boolean html) {
    DefaultMustacheFactory f = new DefaultMustacheFactory(name -> {
      throw new IllegalArgumentException("partials ({{> " + name + "}}) are not supported");
    }) {
      @Override
      public void encode(String value, Writer writer) {
        // values get the template's line endings (CRLF), so a rendered body needs no second pass
        String v = MimeComposer.normalizeLineBreaks(value);
        if (html) {
          super.encode(v, writer);
        } else {
          try {
            writer.write(v);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      }
    };
    f.setObjectHandler(new MapObjectHandler());
    return f;
  }
}

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

  /**
   * Compiled small templates, by escaping and source: transactional mail sends the same few templates with new vars
   * all day, and compiling them at intake and again at dispatch was a tenth of the gateway's work per small job.
   * Bounded by entries and by size (larger templates, campaigns, are compiled once per job anyway).
   */
  private static final int CACHE_ENTRIES = 1000;
  private static final int CACHE_MAX_CHARS = 16 * 1024;
  private static final java.util.concurrent.ConcurrentHashMap<String, Template> CACHE = new java.util.concurrent.ConcurrentHashMap<>();

  public static Template compile(String source, Escaping escaping, String field) {
    if (source.length() > CACHE_MAX_CHARS) {
      return compileNew(source, escaping, field);
    }
    String key = (escaping == Escaping.HTML ? 'h' : 'r') + source;
    Template t = CACHE.get(key);
    if (t == null) {
      t = compileNew(source, escaping, field);
      if (CACHE.size() >= CACHE_ENTRIES) {
        CACHE.clear();
      }
      CACHE.put(key, t);
    }
    return t;
  }

  private static Template compileNew(String source, Escaping escaping, String field) {
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

  /**
   * The most characters one part of one message may render to. Sections repeat their content for each list item, so
   * a small template and small vars could otherwise ask for gigabytes; past this the recipient fails with a reason.
   */
  public static final int MAX_RENDERED_CHARS = 8 * 1024 * 1024;

  public String render(Map<String, Object> vars) {
    if (constant) {
      return source;
    }
    LimitedWriter w = new LimitedWriter(source.length() + 64);
    try {
      mustache.execute(w, vars == null ? Map.of() : vars);
    } catch (LimitedWriter.Full e) {
      throw new RenderException("the message would be larger than " + MAX_RENDERED_CHARS + " characters");
    } catch (MustacheException e) {
      for (Throwable c = e; c != null; c = c.getCause()) {
        if (c instanceof LimitedWriter.Full) {
          throw new RenderException("the message would be larger than " + MAX_RENDERED_CHARS + " characters");
        }
      }
      throw new RenderException("the template cannot be rendered: " + firstLine(e.getMessage()));
    }
    return w.toString();
  }

  /** A StringWriter that refuses to grow past {@link #MAX_RENDERED_CHARS}. */
  private static final class LimitedWriter extends Writer {
    static final class Full extends RuntimeException {
      Full() {
        super(null, null, false, false);
      }
    }

    private final StringBuilder b;

    LimitedWriter(int capacity) {
      b = new StringBuilder(Math.min(capacity, MAX_RENDERED_CHARS));
    }

    @Override
    public void write(char[] cbuf, int off, int len) {
      check(len);
      b.append(cbuf, off, len);
    }

    @Override
    public void write(String s, int off, int len) {
      check(len);
      b.append(s, off, off + len);
    }

    private void check(int len) {
      if (b.length() + len > MAX_RENDERED_CHARS) {
        throw new Full();
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}

    @Override
    public String toString() {
      return b.toString();
    }
  }

  /**
   * Whether what it renders depends on the variables at all (a variable, a section): rendered once with none and
   * once with a value for every name, as the one message of a shared job must not depend on them.
   */
  public boolean usesVariables() {
    if (constant) {
      return false;
    }
    Map<String, Object> every = new java.util.HashMap<>() {
      @Override
      public boolean containsKey(Object key) {
        return true;
      }

      @Override
      public Object get(Object key) {
        return "\u0001";
      }
    };
    try {
      return !render(Map.of()).equals(render(every));
    } catch (RenderException e) {
      return true;
    }
  }

  /** How deep sections ({@code {{#x}}}, {@code {{^x}}}) nest in this template. */
  public int sectionDepth() {
    int depth = 0;
    int max = 0;
    int at = 0;
    while ((at = source.indexOf("{{", at)) >= 0) {
      int tag = at + 2;
      if (tag < source.length()) {
        char c = source.charAt(tag);
        if (c == '#' || c == '^') {
          max = Math.max(max, ++depth);
        } else if (c == '/') {
          depth = Math.max(0, depth - 1);
        }
      }
      at = tag;
    }
    return max;
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

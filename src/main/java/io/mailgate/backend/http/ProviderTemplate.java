package io.mailgate.backend.http;

import io.mailgate.message.Campaign;
import io.mailgate.message.MimeComposer;
import io.mailgate.message.TemplateParts;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A job's templates in a provider's own substitution syntax (Mailgun {@code %recipient.key%}, SendGrid
 * substitution tags), built once per job from {@link Campaign#batchForm()}, plus each recipient's values.
 *
 * <p>Each template variable becomes one key per way it is written, so the provider only copies values: as is
 * (text, and raw {@code {{{x}}}} in html) under {@code x}, HTML-escaped ({@code {{x}}} in html) under
 * {@code x_html}, made single-line (subject) under {@code x_subject}. Characters other than letters, digits and
 * '_' become '_'; a key that would clash gets a number. Values are those the gateway's own rendering writes.
 */
public final class ProviderTemplate {

  /** How a variable's value is written. */
  public enum Kind { TEXT, HTML, SUBJECT }

  /** One key of the provider template: which variable, written how. */
  public record Slot(String key, String var, Kind kind) {
    public String value(Map<String, Object> vars) {
      String v = TemplateParts.value(vars, var);
      return switch (kind) {
        case TEXT -> v;
        case HTML -> TemplateParts.htmlEscape(v);
        case SUBJECT -> Campaign.singleLine(v);
      };
    }
  }

  private final String subject;
  private final String text;
  private final String html;
  private final List<Slot> slots;

  private ProviderTemplate(String subject, String text, String html, List<Slot> slots) {
    this.subject = subject;
    this.text = text;
    this.html = html;
    this.slots = List.copyOf(slots);
  }

  /**
   * @param subject     the subject's parts, or null when the provider gets each recipient's subject rendered
   * @param placeholder a key as the provider writes it in a template, e.g. {@code k -> "%recipient." + k + "%"}
   * @param reserved    keys the backend uses itself
   */
  public static ProviderTemplate of(TemplateParts subject, TemplateParts text, TemplateParts html,
                                    Function<String, String> placeholder, Set<String> reserved) {
    Builder b = new Builder(placeholder, reserved);
    return new ProviderTemplate(b.write(subject, Kind.SUBJECT), b.write(text, Kind.TEXT), b.write(html, Kind.HTML), b.slots);
  }

  /** The subject with placeholders, or null if built without one. */
  public String subject() {
    return subject;
  }

  public String text() {
    return text;
  }

  public String html() {
    return html;
  }

  public List<Slot> slots() {
    return slots;
  }

  /** One recipient's value of every key, in key order. */
  public Map<String, String> values(Map<String, Object> vars) {
    Map<String, String> out = new LinkedHashMap<>();
    slots.forEach(s -> out.put(s.key(), s.value(vars)));
    return out;
  }

  /** True if a literal part of any template contains {@code s} (which the provider would take for a placeholder). */
  public static boolean literalsContain(Campaign.BatchForm form, String s) {
    for (TemplateParts p : new TemplateParts[] {form.subject(), form.text(), form.html()}) {
      if (p != null) {
        for (TemplateParts.Segment seg : p.segments()) {
          if (seg instanceof TemplateParts.Literal l && l.text().contains(s)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  private static final class Builder {
    private final Function<String, String> placeholder;
    private final Set<String> used;
    private final Map<String, Slot> byVarAndKind = new LinkedHashMap<>();
    private final List<Slot> slots = new ArrayList<>();

    Builder(Function<String, String> placeholder, Set<String> reserved) {
      this.placeholder = placeholder;
      this.used = new HashSet<>(reserved);
    }

    String write(TemplateParts parts, Kind part) {
      if (parts == null) {
        return null;
      }
      StringBuilder out = new StringBuilder();
      for (TemplateParts.Segment seg : parts.segments()) {
        if (seg instanceof TemplateParts.Literal l) {
          out.append(part == Kind.SUBJECT ? l.text() : MimeComposer.normalizeLineBreaks(l.text()));
        } else if (seg instanceof TemplateParts.Var v) {
          Kind kind = part == Kind.HTML && !v.escaped() ? Kind.TEXT : part;
          out.append(placeholder.apply(slot(v.name(), kind).key()));
        }
      }
      return out.toString();
    }

    private Slot slot(String var, Kind kind) {
      return byVarAndKind.computeIfAbsent(kind + ":" + var, k -> {
        String base = var.replaceAll("[^A-Za-z0-9_]", "_") + switch (kind) {
          case TEXT -> "";
          case HTML -> "_html";
          case SUBJECT -> "_subject";
        };
        String key = base;
        for (int i = 2; !used.add(key); i++) {
          key = base + "_" + i;
        }
        Slot s = new Slot(key, var, kind);
        slots.add(s);
        return s;
      });
    }
  }
}

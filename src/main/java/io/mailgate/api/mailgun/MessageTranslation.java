package io.mailgate.api.mailgun;

import io.mailgate.error.InvalidInputException;
import io.mailgate.message.AddressList;
import io.mailgate.message.EmailAddress;
import io.mailgate.message.Mailbox;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Translates the parameters of Mailgun's {@code POST /v3/{domain}/messages} into one of our JSON jobs, which then
 * goes through the same intake as {@code POST /v1/jobs}. Every parameter is either used, accepted and ignored (a
 * documented short list), or refused by name: nothing is silently dropped.
 *
 * <p>Mailgun sends one message per {@code to} when {@code recipient-variables} is given (a batch send), and else one
 * message that all recipients see. The first becomes a job of personal messages; the second, with several {@code to}
 * or any {@code cc}/{@code bcc}, a shared message (the job's {@code to} and {@code cc} header lists; {@code bcc}
 * addresses are recipients in neither). A single {@code to} alone stays a personal message (the same mail). With
 * {@code recipient-variables}, {@code cc} and {@code bcc} are refused: Mailgun would copy them on every message of
 * the batch, which our jobs have no shape for.
 */
final class MessageTranslation {
  private MessageTranslation() {}

  /** Mailgun's limit of recipients per call. */
  static final int MAX_RECIPIENTS = 1000;
  /** Mailgun's limit on the parameters starting with {@code o:}, {@code h:} or {@code v:}, names and values together. */
  static final int MAX_SEND_OPTIONS_BYTES = 16 * 1024;

  /**
   * Options accepted and ignored: open and click tracking (the gateway has none of its own), {@code o:dkim} (we sign
   * with the tenant's own keys whenever it has one for the sender's domain), TLS, verification and sending IPs (the
   * backend's settings decide them).
   */
  static final Set<String> IGNORED = Set.of("o:tracking", "o:tracking-clicks", "o:tracking-opens", "o:dkim",
      "o:require-tls", "o:skip-verification", "o:sending-ip", "o:sending-ip-pool");

  /** Parameters refused with the reason, so a caller knows what to change. */
  private static final Map<String, String> REFUSED = Map.ofEntries(
      Map.entry("attachment", "send a file as a multipart/form-data file part with a filename"),
      Map.entry("inline", "send a file as a multipart/form-data file part with a filename"),
      Map.entry("o:deliverytime-optimize-period", "send time optimization is not supported; give o:deliverytime"),
      Map.entry("o:time-zone-localize", "time zone localization is not supported; give o:deliverytime"),
      Map.entry("amp-html", "AMP parts are not supported"),
      Map.entry("template", "stored templates are not supported; send subject, text and html"));

  private static final Set<String> CORE = Set.of("from", "to", "cc", "bcc", "subject", "text", "html",
      "recipient-variables");

  /** The escape of a literal '{' that would otherwise start a Mustache tag: switch delimiters around it. */
  static final String LITERAL_BRACE = "{{=<% %>=}}{<%={{ }}=%>";

  /**
   * @param params the form's parameters, in order, names as sent
   * @param fileParts names of the file parts in a multipart body other than {@code attachment} and {@code inline}
   *     (which the caller reads as the job's files)
   */
  static JsonObject toJob(List<Map.Entry<String, String>> params, List<String> fileParts) {
    Map<String, List<String>> core = new HashMap<>();
    Map<String, String> headers = new LinkedHashMap<>();
    SendOptions options = new SendOptions();
    Set<String> unknown = new LinkedHashSet<>();
    for (String file : fileParts) {
      refuseIfListed(file.toLowerCase(Locale.ROOT));
      unknown.add(file);
    }
    for (Map.Entry<String, String> p : params) {
      String name = p.getKey();
      String lower = name.toLowerCase(Locale.ROOT);
      String value = p.getValue();
      refuseIfListed(lower);
      options.measure(lower, name, value);
      if (CORE.contains(lower)) {
        core.computeIfAbsent(lower, k -> new ArrayList<>()).add(value);
      } else if (options.take(lower, name, value)) {
        continue;
      } else if (lower.startsWith("h:") && name.length() > 2) {
        String header = name.substring(2);
        singleLine(value, name);
        if (headers.keySet().stream().anyMatch(h -> h.equalsIgnoreCase(header))) {
          throw invalid(name + " is given more than once");
        }
        headers.put(header, value);
      } else {
        unknown.add(name);
      }
    }
    refuseUnknown(unknown);
    options.checkSize();

    String from = single(core, "from");
    if (from == null || from.isBlank()) {
      throw invalid("from parameter is missing");
    }
    List<Mailbox> froms = AddressList.parse(from, "from");
    if (froms.size() != 1) {
      throw invalid("from parameter must be one address");
    }
    Recipients rs = new Recipients();
    List<Mailbox> to = rs.add(core.getOrDefault("to", List.of()), "to");
    List<Mailbox> cc = rs.add(core.getOrDefault("cc", List.of()), "cc");
    List<Mailbox> bcc = rs.add(core.getOrDefault("bcc", List.of()), "bcc");
    if (to.isEmpty()) {
      throw invalid("to parameter is missing");
    }
    String subject = single(core, "subject");
    if (subject == null || subject.isBlank()) {
      throw invalid("subject parameter is missing");
    }
    singleLine(subject, "subject");
    String text = single(core, "text");
    String html = single(core, "html");
    if ((text == null || text.isEmpty()) && (html == null || html.isEmpty())) {
      throw invalid("Need at least one of 'text' or 'html' parameters specified");
    }
    String variables = single(core, "recipient-variables");
    Map<String, JsonObject> vars = variables == null ? null : recipientVariables(variables);
    if (vars != null && !(cc.isEmpty() && bcc.isEmpty())) {
      throw invalid("Parameter not supported: " + (cc.isEmpty() ? "bcc" : "cc") + " with recipient-variables (a batch"
          + " send gives each 'to' a message of its own, and Mailgun would copy every cc and bcc on each of them; send"
          + " the copies as 'to' of the batch, or the message without recipient-variables)");
    }
    boolean shared = vars == null && (to.size() > 1 || !cc.isEmpty() || !bcc.isEmpty());

    boolean substitute = vars != null;
    JsonObject job = new JsonObject()
        .put("from", froms.get(0).toString())
        .put("subject", template(subject, substitute));
    if (text != null && !text.isEmpty()) {
      job.put("text", template(text, substitute));
    }
    if (html != null && !html.isEmpty()) {
      job.put("html", template(html, substitute));
    }
    String replyTo = headers.keySet().stream().filter(h -> h.equalsIgnoreCase("Reply-To")).findFirst().orElse(null);
    if (replyTo != null) {
      job.put("replyTo", headers.remove(replyTo));
    }
    if (!headers.isEmpty()) {
      JsonObject h = new JsonObject();
      headers.forEach(h::put);
      job.put("headers", h);
    }
    options.putInto(job);
    if (shared) {
      // one message that all see: To and Cc as given, bcc addresses only in the envelope
      job.put("to", new JsonArray(to.stream().map(Mailbox::toString).toList()));
      if (!cc.isEmpty()) {
        job.put("cc", new JsonArray(cc.stream().map(Mailbox::toString).toList()));
      }
    }
    JsonArray list = new JsonArray();
    for (Mailbox r : rs.envelope) {
      JsonObject recipient = new JsonObject().put("email", r.address().value());
      JsonObject v = vars == null ? null : vars.get(EmailAddress.asciiLower(r.address().value()));
      if (v != null && !v.isEmpty()) {
        recipient.put("vars", v);
      }
      list.add(recipient);
    }
    return job.put("recipients", list);
  }

  /**
   * The parameters of {@code POST /v3/{domain}/messages.mime} besides the message: {@code to} (the envelope
   * recipients, at most {@link #MAX_RECIPIENTS}), {@code o:tag}, {@code o:deliverytime}, {@code o:testmode}, the
   * ignored options, {@code v:} variables; as one of our JSON jobs without from, subject and body (the message has
   * them). {@code h:} headers are refused: the message is sent as given, its headers are in it.
   */
  static JsonObject toMimeJob(List<Map.Entry<String, String>> params, List<String> otherFileParts) {
    List<String> to = new ArrayList<>();
    SendOptions options = new SendOptions();
    Set<String> unknown = new LinkedHashSet<>(otherFileParts);
    for (Map.Entry<String, String> p : params) {
      String name = p.getKey();
      String lower = name.toLowerCase(Locale.ROOT);
      String value = p.getValue();
      options.measure(lower, name, value);
      if (lower.equals("to")) {
        to.add(value);
      } else if (options.take(lower, name, value)) {
        continue;
      } else if (lower.startsWith("h:") && name.length() > 2) {
        throw invalid("Parameter not supported: " + EmailAddress.printable(name) + " (a MIME message is sent as given:"
            + " put the header in the message)");
      } else {
        unknown.add(name);
      }
    }
    refuseUnknown(unknown);
    options.checkSize();
    Recipients rs = new Recipients();
    rs.add(to, "to");
    if (rs.envelope.isEmpty()) {
      throw invalid("to parameter is missing");
    }
    JsonObject job = new JsonObject();
    options.putInto(job);
    JsonArray list = new JsonArray();
    rs.envelope.forEach(r -> list.add(new JsonObject().put("email", r.address().value())));
    return job.put("recipients", list);
  }

  /**
   * The options both sends share, {@code messages} and {@code messages.mime}: {@code o:tag}, {@code o:deliverytime},
   * {@code o:testmode}, the ignored ones, {@code v:} variables, and the 16 kB bound on everything named o:, h: or v:.
   */
  private static final class SendOptions {
    private final List<String> tags = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private String deliveryTime;
    private Boolean testMode;
    private long bytes;

    /** Counts a parameter towards Mailgun's bound on send options. */
    void measure(String lower, String name, String value) {
      if (lower.startsWith("o:") || lower.startsWith("h:") || lower.startsWith("v:")) {
        bytes += name.length() + value.getBytes(StandardCharsets.UTF_8).length;
      }
    }

    /** @return whether the parameter is one of these options (then taken, or ignored) */
    boolean take(String lower, String name, String value) {
      if (lower.equals("o:tag")) {
        singleLine(value, name);
        tags.add(value);
      } else if (lower.equals("o:deliverytime")) {
        if (deliveryTime != null) {
          throw invalid(name + " is given more than once");
        }
        deliveryTime = deliveryTime(value);
      } else if (lower.equals("o:testmode")) {
        if (testMode != null) {
          throw invalid(name + " is given more than once");
        }
        testMode = yesNo(value, name);
      } else if (lower.startsWith("v:") && name.length() > 2) {
        if (metadata.put(name.substring(2), value) != null) {
          throw invalid(name + " is given more than once");
        }
      } else {
        return IGNORED.contains(lower);
      }
      return true;
    }

    void checkSize() {
      if (bytes > MAX_SEND_OPTIONS_BYTES) {
        throw invalid("Send options (parameters starting with o:, h:, or v:) are limited to 16 kB total");
      }
    }

    /** The job's tags, sendAt, testMode and metadata. */
    void putInto(JsonObject job) {
      if (!tags.isEmpty()) {
        job.put("tags", new JsonArray(tags));
      }
      if (deliveryTime != null) {
        job.put("sendAt", deliveryTime);
      }
      if (Boolean.TRUE.equals(testMode)) {
        job.put("testMode", true);
      }
      if (!metadata.isEmpty()) {
        JsonObject m = new JsonObject();
        metadata.forEach(m::put);
        job.put("metadata", m);
      }
    }
  }

  private static void refuseUnknown(Set<String> unknown) {
    if (!unknown.isEmpty()) {
      throw invalid((unknown.size() == 1 ? "Parameter not supported: " : "Parameters not supported: ")
          + String.join(", ", unknown.stream().map(EmailAddress::printable).toList()));
    }
  }

  /** Mailgun's booleans: {@code yes}/{@code true} or {@code no}/{@code false}. */
  static boolean yesNo(String value, String name) {
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "yes", "true" -> true;
      case "no", "false" -> false;
      default -> throw invalid(name + " must be yes, no, true or false");
    };
  }

  /**
   * {@code o:deliverytime} as Mailgun takes it, an RFC 2822 date ({@code Fri, 14 Oct 2011 23:10:10 -0000}), as our
   * ISO-8601 {@code sendAt}; the job's own checks (how far ahead) apply to it.
   */
  static String deliveryTime(String value) {
    try {
      return java.time.OffsetDateTime.parse(value.trim(), java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME).toString();
    } catch (java.time.format.DateTimeParseException e) {
      throw invalid("o:deliverytime must be an RFC 2822 date, such as 'Fri, 14 Oct 2011 23:10:10 -0000'");
    }
  }

  /**
   * The addresses of {@code to}, {@code cc} and {@code bcc}, each value an address list: at most
   * {@link #MAX_RECIPIENTS} together, as at Mailgun. The same address twice is one recipient (in the envelope, in
   * the order first given) and one entry of its header list.
   */
  private static final class Recipients {
    final List<Mailbox> envelope = new ArrayList<>();
    private final Set<String> seen = new java.util.HashSet<>();
    private int given;

    List<Mailbox> add(List<String> values, String field) {
      List<Mailbox> out = new ArrayList<>();
      Set<String> inList = new java.util.HashSet<>();
      for (String v : values) {
        List<Mailbox> parsed;
        try {
          parsed = AddressList.parse(v, field);
        } catch (InvalidInputException e) {
          throw invalid(field + " parameter is not a valid address: " + e.getMessage().replaceFirst("^" + field + ": ", ""));
        }
        given += parsed.size();
        if (given > MAX_RECIPIENTS) {
          throw invalid("Too many recipients; max is " + MAX_RECIPIENTS); // to, cc and bcc together
        }
        for (Mailbox m : parsed) {
          String key = EmailAddress.asciiLower(m.address().value());
          if (inList.add(key)) {
            out.add(m);
          }
          if (seen.add(key)) {
            envelope.add(m);
          }
        }
      }
      return out;
    }
  }

  /** {@code {"ann@example.com": {"name": "Ann"}, ...}}, keyed by {@link EmailAddress#key}. */
  private static Map<String, JsonObject> recipientVariables(String raw) {
    JsonObject all;
    try {
      all = new JsonObject(raw);
    } catch (DecodeException | ClassCastException e) {
      throw invalid("recipient-variables parameter is not a valid JSON object");
    }
    Map<String, JsonObject> out = new HashMap<>();
    for (String address : all.fieldNames()) {
      if (!(all.getValue(address) instanceof JsonObject v)) {
        throw invalid("recipient-variables: the value for '" + EmailAddress.printable(address) + "' must be a JSON object");
      }
      // keyed as the envelope's addresses are compared: canonical (an A-label domain as its U-label), ASCII case folded
      String key = EmailAddress.key(address.trim());
      out.put(key != null ? key : EmailAddress.asciiLower(address.trim()), v);
    }
    return out;
  }

  /**
   * Mailgun's text as one of our Mustache templates: each {@code %recipient.key%} (when {@code substitute}) becomes
   * {@code {{{key}}}}, inserted as given like Mailgun does (no HTML escaping); every other character stays literal,
   * a '{' that would start a Mustache tag included. Keys other than letters, digits, '_' and '-' stay literal text.
   */
  static String template(String source, boolean substitute) {
    List<Object> parts = new ArrayList<>(); // String: literal text; Key: a variable
    StringBuilder literal = new StringBuilder();
    int i = 0;
    while (i < source.length()) {
      if (substitute && source.startsWith("%recipient.", i)) {
        int start = i + "%recipient.".length();
        int end = source.indexOf('%', start);
        if (end > start && validKey(source, start, end)) {
          if (literal.length() > 0) {
            parts.add(literal.toString());
            literal.setLength(0);
          }
          parts.add(new Key(source.substring(start, end)));
          i = end + 1;
          continue;
        }
      }
      literal.append(source.charAt(i++));
    }
    if (literal.length() > 0) {
      parts.add(literal.toString());
    }
    StringBuilder out = new StringBuilder(source.length() + 16);
    for (int p = 0; p < parts.size(); p++) {
      if (parts.get(p) instanceof Key k) {
        out.append("{{{").append(k.name).append("}}}");
        continue;
      }
      String s = (String) parts.get(p);
      boolean keyFollows = p + 1 < parts.size(); // a literal is always followed by a key, if by anything
      for (int c = 0; c < s.length(); c++) {
        char ch = s.charAt(c);
        boolean braceFollows = c + 1 < s.length() ? s.charAt(c + 1) == '{' : keyFollows;
        out.append(ch == '{' && braceFollows ? LITERAL_BRACE : String.valueOf(ch));
      }
    }
    return out.toString();
  }

  private record Key(String name) {}

  private static boolean validKey(String s, int start, int end) {
    if (end - start > 64) {
      return false;
    }
    for (int i = start; i < end; i++) {
      char c = s.charAt(i);
      if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-')) {
        return false;
      }
    }
    return true;
  }

  private static void refuseIfListed(String lowerName) {
    String why = REFUSED.get(lowerName);
    if (why == null && lowerName.startsWith("t:")) {
      why = "stored templates are not supported; send subject, text and html";
    }
    if (why != null) {
      throw invalid("Parameter not supported: " + lowerName + " (" + why + ")");
    }
  }

  private static String single(Map<String, List<String>> core, String name) {
    List<String> values = core.get(name);
    if (values == null) {
      return null;
    }
    if (values.size() > 1) {
      throw invalid(name + " parameter is given more than once");
    }
    return values.get(0);
  }

  /** Header injection guard with the parameter's Mailgun name. */
  private static void singleLine(String value, String name) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c == '\r' || c == '\n' || c == 0) {
        throw invalid(EmailAddress.printable(name) + " must not contain CR, LF or NUL");
      }
    }
  }

  private static InvalidInputException invalid(String message) {
    return new InvalidInputException("invalid_parameter", message, null);
  }
}

package io.mailgate.api.mailgun;

import io.mailgate.backend.TestModeBackend;
import io.mailgate.error.InvalidInputException;
import io.mailgate.message.Campaign;
import io.mailgate.message.EmailAddress;
import io.mailgate.message.Template;
import io.mailgate.store.EventStore;
import io.mailgate.store.EventStore.EventRecord;
import io.mailgate.store.EventStore.Kind;
import io.mailgate.tenant.DkimService;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code GET /v3/{domain}/events} and its page route {@code /v3/{domain}/events/{page}}: the event log of the mail
 * sent from the domain (the sender's domain of the job), as Mailgun's items, in Mailgun's paging (absolute URLs of
 * page routes whose token holds the query and the position). Our event types map to Mailgun's in {@link #KINDS}.
 */
final class EventsRoutes {
  private EventsRoutes() {}

  static final int DEFAULT_LIMIT = 100;
  static final int MAX_LIMIT = 300;
  /** A page token longer than this is not one of ours. */
  static final int MAX_TOKEN_CHARS = 4096;
  /** At most this many names in an {@code OR} expression. */
  static final int MAX_TERMS = 20;

  private static final Set<String> PARAMETERS = Set.of("begin", "end", "ascending", "limit", "event", "recipient", "tags",
      "severity", "message-id");

  /** The backends whose {@code sent} is the next mail server's acceptance: Mailgun's {@code delivered}. */
  static final List<String> RELAYS = List.of("smtp", "file");
  /** The backends whose {@code sent} is a provider's acceptance (its delivery reported later): Mailgun's {@code accepted}. */
  static final List<String> PROVIDERS = List.of("mailgun", "sendgrid", "postmark", "ses");

  /** Mailgun's event names, and the kinds of our events each one is. */
  static final Map<String, List<Kind>> KINDS;

  static {
    Map<String, List<Kind>> k = new LinkedHashMap<>();
    // a test-mode message is accepted, then reported delivered (its own delivered event), as Mailgun does
    k.put("accepted", List.of(new Kind("sent", null, PROVIDERS), new Kind("sent", null, null, TestModeBackend.PEER, null)));
    k.put("delivered", List.of(new Kind("sent", null, RELAYS, null, TestModeBackend.PEER), new Kind("delivered", null, null)));
    k.put("failed", List.of(new Kind("deferred", null, null), new Kind("failed", null, null),
        new Kind("bounced", null, null), new Kind("suppressed", null, null), new Kind("cancelled", null, null),
        new Kind("expired", null, null)));
    k.put("opened", List.of(new Kind("opened", null, null)));
    k.put("clicked", List.of(new Kind("clicked", null, null)));
    k.put("unsubscribed", List.of(new Kind("unsubscribed", null, null)));
    k.put("complained", List.of(new Kind("complained", null, null)));
    // the gateway refuses what it does not take (nothing is stored, no event) and stores no messages
    k.put("rejected", List.of());
    k.put("stored", List.of());
    KINDS = Collections.unmodifiableMap(k);
  }

  /** The failure kinds of each Mailgun severity. */
  private static final Map<String, List<Kind>> SEVERITIES = Map.of(
      "temporary", List.of(new Kind("deferred", null, null), new Kind("bounced", List.of("soft"), null)),
      "permanent", List.of(new Kind("failed", null, null), new Kind("bounced", List.of("hard"), null),
          new Kind("suppressed", null, null), new Kind("cancelled", null, null), new Kind("expired", null, null)));

  private static final Pattern CALL_ID = Pattern.compile("<?([0-9a-fA-F-]{36})@([^>]+)>?");

  static void mount(Router router, DkimService domains, EventStore events) {
    router.get("/v3/:domain/events").handler(ctx -> MailgunRoutes.json(ctx, () -> {
      Filter f = filter(ctx);
      return page(ctx, domains, events, new Token(f, null, false));
    }));
    router.get("/v3/:domain/events/:page").handler(ctx -> MailgunRoutes.json(ctx, () -> {
      MailgunRoutes.knownQueryParameters(ctx, Set.of());
      return page(ctx, domains, events, Token.decode(ctx.pathParam("page")));
    }));
  }

  /**
   * The query of a search. {@code lower}/{@code upper} bound the time (epoch microseconds, inclusive, null open);
   * {@code events} Mailgun names (null: all), {@code tags} any of them.
   */
  record Filter(boolean ascending, Long lower, Long upper, int limit, List<String> events, String severity,
                String recipient, List<String> tags, String messageId) {

    JsonObject json() {
      JsonObject o = new JsonObject().put("asc", ascending).put("n", limit);
      put(o, "lo", lower);
      put(o, "hi", upper);
      put(o, "ev", events == null ? null : new JsonArray(new ArrayList<>(events)));
      put(o, "sev", severity);
      put(o, "rcpt", recipient);
      put(o, "tags", tags == null ? null : new JsonArray(new ArrayList<>(tags)));
      put(o, "mid", messageId);
      return o;
    }

    /** Checked as the query parameters are, so an altered token is refused like a bad parameter. */
    static Filter of(JsonObject o) {
      try {
        Filter f = new Filter(o.getBoolean("asc"), o.getLong("lo"), o.getLong("hi"), o.getInteger("n"),
            strings(o.getJsonArray("ev")), o.getString("sev"), o.getString("rcpt"), strings(o.getJsonArray("tags")),
            o.getString("mid"));
        if (f.limit < 1 || f.limit > MAX_LIMIT || f.events != null && !KINDS.keySet().containsAll(f.events)
            || f.severity != null && !SEVERITIES.containsKey(f.severity)
            || f.recipient != null && EmailAddress.problem(f.recipient) != null
            || f.tags != null && f.tags.stream().anyMatch(t -> !validTag(t))
            || f.messageId != null && !validMessageId(f.messageId)) {
          throw badToken();
        }
        return f;
      } catch (ClassCastException | NullPointerException e) {
        throw badToken();
      }
    }
  }

  /** A page: the search, the id the page starts after ({@code back}: the page before it), in the search's order. */
  record Token(Filter filter, Long after, boolean back) {

    String encode() {
      JsonObject o = new JsonObject().put("v", 1).put("q", filter.json()).put("back", back);
      put(o, "after", after);
      return Base64.getUrlEncoder().withoutPadding().encodeToString(o.encode().getBytes(StandardCharsets.UTF_8));
    }

    static Token decode(String s) {
      if (s == null || s.isEmpty() || s.length() > MAX_TOKEN_CHARS) {
        throw badToken();
      }
      try {
        JsonObject o = new JsonObject(new String(Base64.getUrlDecoder().decode(s), StandardCharsets.UTF_8));
        if (!Integer.valueOf(1).equals(o.getInteger("v")) || !(o.getValue("q") instanceof JsonObject q)) {
          throw badToken();
        }
        return new Token(Filter.of(q), o.getLong("after"), Boolean.TRUE.equals(o.getBoolean("back")));
      } catch (IllegalArgumentException | DecodeException | ClassCastException e) {
        throw badToken();
      }
    }
  }

  private static InvalidInputException badToken() {
    return new InvalidInputException("invalid_parameter", "Invalid page token", "page");
  }

  private static Filter filter(RoutingContext ctx) {
    MailgunRoutes.knownQueryParameters(ctx, PARAMETERS);
    var req = ctx.request();
    for (String p : PARAMETERS) {
      if (req.params().getAll(p).size() > 1) {
        throw new InvalidInputException("invalid_parameter", p + " is given more than once", p);
      }
    }
    int limit = MailgunRoutes.intParameter(ctx, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT);
    OffsetDateTime begin = MailgunRoutes.time(req.getParam("begin"), "begin");
    OffsetDateTime end = MailgunRoutes.time(req.getParam("end"), "end");
    String asc = req.getParam("ascending");
    Boolean ascending = asc == null ? null : switch (asc.toLowerCase(Locale.ROOT)) {
      case "yes", "true" -> true;
      case "no", "false" -> false;
      default -> throw new InvalidInputException("invalid_parameter", "ascending must be yes or no", "ascending");
    };
    // Mailgun walks from begin towards end: their order gives the direction
    if (begin != null && end != null) {
      boolean forward = !end.isBefore(begin);
      if (ascending != null && ascending != forward) {
        throw new InvalidInputException("invalid_parameter", "ascending contradicts the order of begin and end", "ascending");
      }
      ascending = forward;
    }
    boolean up = ascending != null && ascending;
    OffsetDateTime from = up ? begin : end;
    OffsetDateTime to = up ? end : begin;
    List<String> events = null;
    String ev = req.getParam("event");
    if (ev != null) {
      events = terms(ev, "event");
      for (String e : events) {
        if (!KINDS.containsKey(e)) {
          throw new InvalidInputException("invalid_parameter", "event must be one of " + KINDS.keySet() + ", got '"
              + EmailAddress.printable(e) + "'", "event");
        }
      }
    }
    String severity = req.getParam("severity");
    if (severity != null && !SEVERITIES.containsKey(severity)) {
      throw new InvalidInputException("invalid_parameter", "severity must be permanent or temporary", "severity");
    }
    String recipient = req.getParam("recipient");
    if (recipient != null) {
      String why = EmailAddress.problem(recipient);
      if (why != null) {
        throw new InvalidInputException("invalid_parameter", "recipient must be one address (expressions are not supported): "
            + why, "recipient");
      }
      recipient = EmailAddress.key(recipient);
    }
    List<String> tags = null;
    if (req.getParam("tags") != null) {
      tags = terms(req.getParam("tags"), "tags");
      for (String t : tags) {
        if (!validTag(t)) {
          throw new InvalidInputException("invalid_parameter", "tags must be printable ASCII of 1 to 128 characters", "tags");
        }
      }
    }
    String messageId = req.getParam("message-id");
    if (messageId != null && !validMessageId(messageId)) {
      throw new InvalidInputException("invalid_parameter", "message-id must be one message id", "message-id");
    }
    return new Filter(up, from == null ? null : micros(from), to == null ? null : micros(to), limit, events, severity,
        recipient, tags, messageId);
  }

  /** {@code a}, or {@code a OR b OR c}: the one expression of Mailgun's filter language that is supported. */
  private static List<String> terms(String v, String name) {
    List<String> out = new ArrayList<>();
    for (String t : v.trim().split("\\s+OR\\s+")) {
      String s = t.trim();
      if (s.isEmpty() || s.contains(" ") || s.contains("(") || s.contains(")") || s.equals("NOT") || s.equals("AND")) {
        throw new InvalidInputException("invalid_parameter", name + ": only a value or values joined by OR are supported",
            name);
      }
      out.add(s);
    }
    if (out.size() > MAX_TERMS) {
      throw new InvalidInputException("invalid_parameter", name + ": at most " + MAX_TERMS + " values", name);
    }
    return out;
  }

  private static boolean validTag(String t) {
    return !t.isEmpty() && t.length() <= 128 && t.chars().allMatch(c -> c > 0x20 && c < 0x7f);
  }

  private static boolean validMessageId(String m) {
    return !m.isEmpty() && m.length() <= 998 && m.chars().allMatch(c -> c > 0x20 && c < 0x7f);
  }

  private static Future<JsonObject> page(RoutingContext ctx, DkimService domains, EventStore events, Token token) {
    Filter f = token.filter();
    return MailgunRoutes.ownDomain(domains, MailgunAuth.tenant(ctx), ctx.pathParam("domain")).compose(domain -> {
      boolean order = f.ascending() != token.back();
      EventStore.Query q = query(f, domain, token.after(), order);
      return events.list(MailgunAuth.tenant(ctx).id(), q).map(list -> {
        List<EventRecord> items = new ArrayList<>(list);
        if (token.back()) {
          Collections.reverse(items);
        }
        JsonArray out = new JsonArray();
        items.forEach(e -> out.add(item(e)));
        String base = MailgunRoutes.baseUrl(ctx) + "/v3/" + domain + "/events/";
        Token next;
        Token previous;
        if (items.isEmpty()) {
          // nothing here: next stays where it is (Mailgun's clients stop at an empty page), previous looks back from it
          Long at = token.after();
          next = token.back() ? new Token(f, null, false) : token;
          previous = at == null ? new Token(f, null, true) : new Token(f, f.ascending() ? at + 1 : at - 1, true);
        } else {
          next = new Token(f, items.get(items.size() - 1).id(), false);
          previous = new Token(f, items.get(0).id(), true);
        }
        JsonObject paging = new JsonObject()
            .put("first", base + new Token(f, null, false).encode())
            .put("last", base + new Token(f, null, true).encode())
            .put("next", base + next.encode())
            .put("previous", base + previous.encode());
        return new JsonObject().put("items", out).put("paging", paging);
      });
    });
  }

  private static EventStore.Query query(Filter f, String domain, Long after, boolean ascending) {
    List<Kind> kinds = null;
    if (f.events() != null) {
      kinds = new ArrayList<>();
      for (String e : f.events()) {
        kinds.addAll(KINDS.get(e));
      }
    }
    if (f.severity() != null) {
      List<Kind> failures = SEVERITIES.get(f.severity());
      kinds = kinds == null ? failures : intersect(kinds, failures);
    }
    UUID job = null;
    String messageId = f.messageId();
    if (messageId != null) {
      // the id of a call (<jobId@domain>, the answer to POST /messages) names its job; any other a message's own id
      Matcher m = CALL_ID.matcher(messageId);
      UUID id = m.matches() ? io.mailgate.store.Ids.parseOrNull(m.group(1)) : null;
      if (id != null && m.group(2).equalsIgnoreCase(domain)) {
        job = id;
        messageId = null;
      }
    }
    return new EventStore.Query(null, f.recipient(), job, f.tags(), time(f.lower()),
        f.upper() == null ? null : time(f.upper() + 1), after, ascending, f.limit(), domain, kinds, messageId);
  }

  /** The kinds of {@code a} that are kinds of {@code b} (same type; the narrower severities). */
  private static List<Kind> intersect(List<Kind> a, List<Kind> b) {
    List<Kind> out = new ArrayList<>();
    for (Kind x : a) {
      for (Kind y : b) {
        if (x.type().equals(y.type())) {
          out.add(new Kind(x.type(), x.severities() != null ? x.severities() : y.severities(),
              x.backendTypes() != null ? x.backendTypes() : y.backendTypes()));
        }
      }
    }
    return out;
  }

  /** One of our events as Mailgun's item. */
  static JsonObject item(EventRecord e) {
    String event;
    String severity = null;
    String reason = null;
    String level = "info";
    switch (e.type()) {
      case "sent" -> event = viaProvider(e) || testMode(e) ? "accepted" : "delivered";
      case "deferred" -> {
        event = "failed";
        severity = "temporary";
        reason = "generic";
      }
      case "bounced" -> {
        event = "failed";
        severity = "hard".equals(e.severity()) ? "permanent" : "temporary";
        reason = "hard".equals(e.severity()) ? "bounce" : "generic";
      }
      case "failed" -> {
        event = "failed";
        severity = "permanent";
        reason = "hard".equals(e.severity()) ? "bounce" : "generic";
      }
      case "suppressed" -> {
        event = "failed";
        severity = "permanent";
        reason = switch (String.valueOf(e.severity())) {
          case "hard_bounce" -> "suppress-bounce";
          case "unsubscribe" -> "suppress-unsubscribe";
          case "complaint" -> "suppress-complaint";
          default -> "suppress-manual";
        };
      }
      case "expired" -> {
        event = "failed";
        severity = "permanent";
        reason = "old";
      }
      case "cancelled" -> {
        event = "failed";
        severity = "permanent";
        reason = "cancelled";
      }
      default -> event = e.type(); // delivered, opened, clicked, unsubscribed, complained
    }
    if (severity != null) {
      level = severity.equals("permanent") ? "error" : "warn";
    } else if (event.equals("complained")) {
      level = "warn";
    }
    JsonObject headers = new JsonObject().put("to", e.email());
    put(headers, "message-id", bare(e.messageId()));
    put(headers, "from", e.from());
    put(headers, "subject", subject(e));
    JsonObject o = new JsonObject()
        .put("id", Long.toString(e.id()))
        .put("event", event)
        .put("timestamp", seconds(e.at()))
        .put("log-level", level)
        .put("recipient", e.email());
    put(o, "recipient-domain", e.recipientDomain());
    put(o, "severity", severity);
    put(o, "reason", reason);
    o.put("tags", e.tags() == null ? new JsonArray() : e.tags())
        .put("user-variables", e.metadata() == null ? new JsonObject() : e.metadata())
        .put("campaigns", new JsonArray())
        .put("message", new JsonObject().put("headers", headers));
    if (e.type().equals("sent") || severity != null || e.type().equals("delivered")) {
      JsonObject envelope = new JsonObject().put("targets", e.email())
          .put("transport", viaProvider(e) ? "http" : "smtp");
      put(envelope, "sender", e.from() == null ? null : senderAddress(e.from()));
      o.put("envelope", envelope);
      JsonObject status = new JsonObject();
      put(status, "code", e.code());
      put(status, "message", e.message());
      status.put("description", e.message() == null ? "" : e.message());
      put(status, "attempt-no", e.attempt());
      put(status, "mx-host", e.peer());
      if (e.tlsName() != null) {
        status.put("tls", true);
      }
      o.put("delivery-status", status);
    }
    return o;
  }

  private static boolean testMode(EventRecord e) {
    return e.type().equals("sent") && TestModeBackend.PEER.equals(e.peer());
  }

  /**
   * The subject the recipient's message had: the job's template rendered with the recipient's vars (never the
   * template itself, whose Mustache form is ours, not the caller's); none when it cannot be rendered.
   */
  private static String subject(EventRecord e) {
    if (e.subject() == null || e.subjectVars() == null) {
      return e.subject();
    }
    try {
      return Campaign.singleLine(Template.compile(e.subject(), Template.Escaping.NONE, "subject")
          .render(e.subjectVars().getMap()));
    } catch (RuntimeException ex) {
      return null;
    }
  }

  private static boolean viaProvider(EventRecord e) {
    return e.backendType() != null && PROVIDERS.contains(e.backendType());
  }

  private static String senderAddress(String from) {
    int lt = from.lastIndexOf('<');
    int gt = from.lastIndexOf('>');
    return lt >= 0 && gt > lt ? from.substring(lt + 1, gt) : from;
  }

  private static String bare(String messageId) {
    if (messageId != null && messageId.length() > 1 && messageId.startsWith("<") && messageId.endsWith(">")) {
      return messageId.substring(1, messageId.length() - 1);
    }
    return messageId;
  }

  /** Seconds since the epoch with microseconds, as Mailgun's {@code timestamp}. */
  static double seconds(OffsetDateTime t) {
    return micros(t) / 1_000_000.0;
  }

  private static long micros(OffsetDateTime t) {
    Instant i = t.toInstant();
    return i.getEpochSecond() * 1_000_000L + i.getNano() / 1_000;
  }

  private static OffsetDateTime time(Long micros) {
    if (micros == null) {
      return null;
    }
    return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1_000L)
        .atOffset(ZoneOffset.UTC);
  }

  private static List<String> strings(JsonArray a) {
    if (a == null) {
      return null;
    }
    List<String> out = new ArrayList<>();
    for (Object x : a) {
      out.add((String) x);
    }
    return out;
  }

  private static void put(JsonObject o, String k, Object v) {
    if (v != null) {
      o.put(k, v);
    }
  }
}

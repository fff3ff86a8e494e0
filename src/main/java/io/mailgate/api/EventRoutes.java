package io.mailgate.api;

import io.mailgate.error.InvalidInputException;
import io.mailgate.error.NotFoundException;
import io.mailgate.job.JobService;
import io.mailgate.message.EmailAddress;
import io.mailgate.store.EventStore;
import io.mailgate.store.EventStore.EventRecord;
import io.mailgate.store.SuppressionStore;
import io.mailgate.store.SuppressionStore.NewSuppression;
import io.mailgate.store.SuppressionStore.Suppression;
import io.mailgate.suppression.SuppressionCsv;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;

/**
 * {@code /v1/events} and {@code /v1/jobs/{id}/events}: the event log, newest first (or ascending), in keyset pages;
 * {@code /v1/suppressions}: the tenant's suppression list, also as CSV (import and export). Scoped to the key's tenant; unknown query parameters and
 * bad values are refused with 400 naming the parameter, before anything is read or stored.
 */
final class EventRoutes {
  private EventRoutes() {}

  static final Set<String> EVENT_PARAMS = Set.of("type", "recipient", "job", "tag", "begin", "end", "limit", "after",
      "ascending");
  static final Set<String> REASONS = io.mailgate.suppression.SuppressionCsvFormat.REASONS;

  static void mount(Router router, Auth auth, EventStore events, io.mailgate.events.EventService intake,
                    SuppressionStore suppressions, SuppressionCsv csv, JobService jobs, int maxPage, long maxBody) {
    // the operators' entry point for what happened after the send (inbound bounces, feedback loops, a provider's
    // events fetched by other means): under /v1/admin, so behind the operator token and the admin body limit
    router.post("/v1/admin/events").handler(Responses.json(200, ctx -> {
      onlyParams(ctx, Set.of());
      List<EventStore.Incoming> in = incoming(Params.jsonBody(ctx));
      return intake.record(in).map(r -> new JsonObject().put("given", in.size()).put("recorded", r.recorded())
          .put("duplicates", r.duplicates()).put("unmatched", r.unmatched()));
    }));

    router.route("/v1/events*").handler(auth.tenant());
    router.route("/v1/suppressions*").handler(auth.tenant());
    // the CSV routes stream their bodies: before the body handler (which would read a whole import into memory), and
    // before /v1/suppressions/:address (which would take "export" for an address)
    router.post("/v1/suppressions/import").handler(Responses.json(200, ctx -> importCsv(ctx, csv)
        .map(r -> new JsonObject().put("imported", r.imported()).put("updated", r.updated()))));
    router.get("/v1/suppressions/export").handler(ctx -> exportCsv(ctx, csv));
    router.route("/v1/suppressions*").handler(BodyHandler.create(false).setBodyLimit(maxBody));

    router.get("/v1/events").handler(Responses.json(200, ctx -> {
      EventStore.Query q = query(ctx, maxPage, jobParam(ctx));
      return events.list(tenantId(ctx), q).map(list -> eventsPage(list, q.limit()));
    }));
    router.get("/v1/jobs/:id/events").handler(Responses.json(200, ctx -> {
      UUID job = Params.pathId(ctx, "id", "job");
      if (ctx.request().getParam("job") != null) {
        throw new InvalidInputException("invalid_parameter", "job is given by the path here", "job");
      }
      EventStore.Query q = query(ctx, maxPage, job);
      // another tenant's job answers 404, like a missing one
      return jobs.get(tenantId(ctx), job).compose(j -> events.list(tenantId(ctx), q)).map(list -> eventsPage(list, q.limit()));
    }));

    router.get("/v1/suppressions").handler(Responses.json(200, ctx -> {
      onlyParams(ctx, Set.of("reason", "limit", "after"));
      String reason = ctx.request().getParam("reason");
      if (reason != null && !REASONS.contains(reason)) {
        throw new InvalidInputException("invalid_parameter", "reason must be one of " + REASONS, "reason");
      }
      int limit = Params.limit(ctx, maxPage);
      String[] after = suppressionCursor(ctx.request().getParam("after"));
      return suppressions.list(tenantId(ctx), reason, after == null ? null : after[0], after == null ? null : after[1], limit)
          .map(list -> {
            JsonArray items = new JsonArray();
            list.forEach(s -> items.add(suppression(s)));
            Suppression last = list.isEmpty() ? null : list.get(list.size() - 1);
            return Views.page(items, list.size() == limit ? cursor(last) : null);
          });
    }));
    router.post("/v1/suppressions").handler(Responses.json(200, ctx -> {
      List<NewSuppression> add = newSuppressions(ctx, maxPage);
      return suppressions.add(tenantId(ctx), add).map(n -> new JsonObject().put("given", add.size()).put("added", n));
    }));
    router.get("/v1/suppressions/:address").handler(Responses.json(200, ctx -> {
      onlyParams(ctx, Set.of());
      String address = pathAddress(ctx);
      return suppressions.get(tenantId(ctx), address).map(list -> {
        if (list.isEmpty()) {
          throw new NotFoundException("suppression");
        }
        JsonArray items = new JsonArray();
        list.forEach(s -> items.add(suppression(s)));
        return new JsonObject().put("address", address).put("items", items);
      });
    }));
    router.delete("/v1/suppressions/:address").handler(Responses.noContent(ctx -> {
      onlyParams(ctx, Set.of("tag"));
      String address = pathAddress(ctx);
      String tag = ctx.request().getParam("tag");
      if (tag != null) {
        checkTag(tag, "tag");
      }
      return suppressions.delete(tenantId(ctx), address, tag).compose(n -> n == 0
          ? Future.failedFuture(new NotFoundException("suppression")) : Future.succeededFuture());
    }));
  }

  /** {@code POST /v1/suppressions/import}: a text/csv body, all lines or none. */
  private static Future<SuppressionCsv.Imported> importCsv(RoutingContext ctx, SuppressionCsv csv) {
    onlyParams(ctx, Set.of("reason"));
    String type = ctx.request().getHeader("Content-Type");
    String media = type == null ? "" : type.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
    if (!media.equals("text/csv")) {
      throw new ApiException(415, "unsupported_media_type", "Content-Type must be text/csv");
    }
    String reason = reasonParam(ctx);
    return csv.importCsv(tenantId(ctx), JobRoutes.declaredLength(ctx.request()), ctx.request(),
        reason == null ? "manual" : reason);
  }

  /**
   * {@code GET /v1/suppressions/export}: CSV streamed from a database cursor. A failure before the first byte is
   * answered as usual; after it, the status is gone, so the stream is reset: the client sees a broken transfer, never
   * a short file that looks complete.
   */
  private static void exportCsv(RoutingContext ctx, SuppressionCsv csv) {
    var resp = ctx.response();
    String reason;
    try {
      onlyParams(ctx, Set.of("reason", "format"));
      reason = reasonParam(ctx);
      String format = ctx.request().getParam("format");
      if (format != null && !format.equals("csv")) {
        throw new InvalidInputException("invalid_parameter", "format must be csv", "format");
      }
      if (format == null && !acceptsCsv(ctx.request().getHeader("Accept"))) {
        throw new ApiException(406, "not_acceptable", "the export is text/csv: send Accept: text/csv or ?format=csv");
      }
    } catch (RuntimeException e) {
      ctx.fail(e);
      return;
    }
    resp.setChunked(true)
        .putHeader("Content-Type", "text/csv; charset=utf-8")
        .putHeader("Content-Disposition", "attachment; filename=\"suppressions.csv\"");
    csv.export(tenantId(ctx), reason, resp).onComplete(ar -> {
      if (ar.succeeded()) {
        resp.end();
      } else if (!resp.headWritten()) {
        ctx.fail(ar.cause());
      } else if (!resp.closed()) {
        resp.reset();
      }
    });
  }

  private static boolean acceptsCsv(String accept) {
    if (accept == null || accept.isBlank()) {
      return true;
    }
    for (String part : accept.split(",")) {
      String m = part.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
      if (m.equals("text/csv") || m.equals("text/*") || m.equals("*/*")) {
        return true;
      }
    }
    return false;
  }

  private static String reasonParam(RoutingContext ctx) {
    String reason = ctx.request().getParam("reason");
    if (reason != null && !REASONS.contains(reason)) {
      throw new InvalidInputException("invalid_parameter", "reason must be one of " + REASONS, "reason");
    }
    return reason;
  }

  private static UUID tenantId(RoutingContext ctx) {
    return Auth.tenant(ctx).id();
  }

  private static UUID jobParam(RoutingContext ctx) {
    String v = ctx.request().getParam("job");
    if (v == null) {
      return null;
    }
    UUID id = io.mailgate.store.Ids.parseOrNull(v);
    if (id == null) {
      throw new InvalidInputException("invalid_parameter", "job must be a job id", "job");
    }
    return id;
  }

  static EventStore.Query query(RoutingContext ctx, int maxPage, UUID job) {
    onlyParams(ctx, EVENT_PARAMS);
    var req = ctx.request();
    String type = req.getParam("type");
    if (type != null && !EventStore.TYPES.contains(type)) {
      throw new InvalidInputException("invalid_parameter", "type must be one of " + EventStore.TYPES, "type");
    }
    String recipient = req.getParam("recipient");
    if (recipient != null && EmailAddress.problem(recipient) != null) {
      throw new InvalidInputException("invalid_parameter", "recipient: " + EmailAddress.problem(recipient), "recipient");
    }
    recipient = recipient == null ? null : EmailAddress.key(recipient);
    String tag = req.getParam("tag");
    if (tag != null) {
      checkTag(tag, "tag");
    }
    OffsetDateTime begin = time(req.getParam("begin"), "begin");
    OffsetDateTime end = time(req.getParam("end"), "end");
    if (begin != null && end != null && !begin.isBefore(end)) {
      throw new InvalidInputException("invalid_parameter", "begin must be before end", "begin");
    }
    Long after = null;
    String a = req.getParam("after");
    if (a != null && !a.isEmpty()) {
      try {
        after = Long.parseLong(a);
      } catch (NumberFormatException e) {
        after = -1L;
      }
      if (after < 0) {
        throw new InvalidInputException("invalid_parameter", "after must be an event id from a previous page's next", "after");
      }
    }
    return EventStore.Query.of(type, recipient, job, tag, begin, end, after, bool(req.getParam("ascending"), "ascending"),
        Params.limit(ctx, maxPage));
  }

  static void onlyParams(RoutingContext ctx, Set<String> allowed) {
    for (String name : ctx.queryParams().names()) {
      if (!allowed.contains(name)) {
        throw new InvalidInputException("unknown_parameter", "unknown query parameter '" + EmailAddress.printable(name) + "'"
            + (allowed.isEmpty() ? "" : "; known: " + new java.util.TreeSet<>(allowed)), name);
      }
    }
  }

  /** RFC 3339 ("2026-12-02T10:00:00Z") or seconds since the epoch. */
  static OffsetDateTime time(String v, String name) {
    if (v == null || v.isEmpty()) {
      return null;
    }
    try {
      if (v.matches("\\d{1,12}(\\.\\d{1,6})?")) {
        double secs = Double.parseDouble(v);
        return Instant.ofEpochMilli((long) (secs * 1000)).atOffset(ZoneOffset.UTC);
      }
      return OffsetDateTime.parse(v);
    } catch (DateTimeParseException | ArithmeticException e) {
      throw new InvalidInputException("invalid_parameter", name + " must be an RFC 3339 time or seconds since the epoch", name);
    }
  }

  static boolean bool(String v, String name) {
    if (v == null) {
      return false;
    }
    return switch (v.toLowerCase(Locale.ROOT)) {
      case "true", "yes", "1" -> true;
      case "false", "no", "0" -> false;
      default -> throw new InvalidInputException("invalid_parameter", name + " must be true or false", name);
    };
  }

  static void checkTag(String tag, String field) {
    if (tag.isEmpty() || tag.length() > 128 || !tag.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
      throw new InvalidInputException("invalid_parameter", field + " must be printable ASCII of 1 to 128 characters", field);
    }
  }

  private static String pathAddress(RoutingContext ctx) {
    String a = ctx.pathParam("address");
    String problem = EmailAddress.problem(a);
    if (problem != null) {
      throw new InvalidInputException("invalid_address", "address: " + problem, "address");
    }
    return EmailAddress.key(a);
  }

  /** A body of one suppression, an array of them, or {"items": [...]}: all checked before any is stored. */
  private static List<NewSuppression> newSuppressions(RoutingContext ctx, int max) {
    onlyParams(ctx, Set.of());
    Object body;
    try {
      body = ctx.body() == null || ctx.body().length() == 0 ? null : io.vertx.core.json.Json.decodeValue(ctx.body().buffer());
    } catch (io.vertx.core.json.DecodeException e) {
      throw new InvalidInputException("invalid_json", "body is not JSON", null);
    }
    JsonArray items;
    if (body instanceof JsonArray a) {
      items = a;
    } else if (body instanceof JsonObject o && o.getValue("items") instanceof JsonArray a) {
      items = a;
    } else if (body instanceof JsonObject o) {
      items = new JsonArray().add(o);
    } else {
      throw new InvalidInputException("invalid_json", "a suppression object, an array of them, or {\"items\": [...]} is required", null);
    }
    if (items.isEmpty() || items.size() > max) {
      throw new InvalidInputException("too_many_items", "1 to " + max + " suppressions per request, got " + items.size(), "items");
    }
    List<NewSuppression> out = new ArrayList<>(items.size());
    for (int i = 0; i < items.size(); i++) {
      String at = "items[" + i + "]";
      if (!(items.getValue(i) instanceof JsonObject o)) {
        throw new InvalidInputException("invalid_field", at + " must be an object", at);
      }
      for (String f : o.fieldNames()) {
        if (!Set.of("address", "reason", "tag", "detail").contains(f)) {
          throw new InvalidInputException("unknown_field", at + ": unknown field '" + EmailAddress.printable(f) + "'", at + "." + f);
        }
      }
      String address = Params.string(o, "address");
      String problem = EmailAddress.problem(address);
      if (problem != null) {
        throw new InvalidInputException("invalid_address", at + ".address: " + problem, at + ".address");
      }
      String reason = Params.string(o, "reason");
      reason = reason == null ? "manual" : reason;
      if (!REASONS.contains(reason)) {
        throw new InvalidInputException("invalid_field", at + ".reason must be one of " + REASONS, at + ".reason");
      }
      String tag = Params.string(o, "tag");
      if (tag != null) {
        checkTag(tag, at + ".tag");
        if (!reason.equals("unsubscribe")) {
          throw new InvalidInputException("invalid_field", at + ": only an unsubscribe may be limited to a tag", at + ".tag");
        }
      }
      String detail = Params.string(o, "detail");
      if (detail != null && (detail.length() > 500 || detail.indexOf('\0') >= 0)) {
        throw new InvalidInputException("invalid_field", at + ".detail must be at most 500 characters", at + ".detail");
      }
      out.add(new NewSuppression(EmailAddress.key(address), tag == null ? "" : tag, reason, detail));
    }
    return out;
  }

  static final Set<String> INCOMING_FIELDS = Set.of("tenant", "job", "seq", "email", "type", "severity", "code", "message",
      "messageId", "source", "sourceId");

  /** {"events": [{tenant, email, type, ...}]}: shapes checked here, meaning in EventService. */
  private static List<EventStore.Incoming> incoming(JsonObject body) {
    if (!(body.getValue("events") instanceof JsonArray a)) {
      throw new InvalidInputException("invalid_json", "an object with an \"events\" array is required", "events");
    }
    List<EventStore.Incoming> out = new ArrayList<>(a.size());
    for (int i = 0; i < a.size(); i++) {
      String at = "events[" + i + "]";
      if (!(a.getValue(i) instanceof JsonObject o)) {
        throw new InvalidInputException("invalid_field", at + " must be an object", at);
      }
      for (String f : o.fieldNames()) {
        if (!INCOMING_FIELDS.contains(f)) {
          throw new InvalidInputException("unknown_field", at + ": unknown field '" + EmailAddress.printable(f) + "'", at + "." + f);
        }
      }
      UUID tenant = uuidField(o, "tenant", at);
      if (tenant == null) {
        throw new InvalidInputException("invalid_field", at + ".tenant is required", at + ".tenant");
      }
      Object seq = o.getValue("seq");
      Object code = o.getValue("code");
      if (seq != null && !(seq instanceof Integer) || code != null && !(code instanceof Integer)) {
        throw new InvalidInputException("invalid_field", at + ": seq and code must be integers", at);
      }
      out.add(new EventStore.Incoming(tenant, uuidField(o, "job", at), (Integer) seq, Params.string(o, "email"),
          Params.string(o, "type"), Params.string(o, "severity"), (Integer) code, Params.string(o, "message"),
          Params.string(o, "messageId"), null, Params.string(o, "source"), Params.string(o, "sourceId")));
    }
    return out;
  }

  private static UUID uuidField(JsonObject o, String f, String at) {
    String v = Params.string(o, f);
    if (v == null) {
      return null;
    }
    UUID id = io.mailgate.store.Ids.parseOrNull(v);
    if (id == null) {
      throw new InvalidInputException("invalid_field", at + "." + f + " must be an id", at + "." + f);
    }
    return id;
  }

  private static JsonObject eventsPage(List<EventRecord> list, int limit) {
    JsonArray items = new JsonArray();
    list.forEach(e -> items.add(event(e)));
    return Views.page(items, list.size() == limit ? Long.toString(list.get(list.size() - 1).id()) : null);
  }

  static JsonObject event(EventRecord e) {
    JsonObject o = new JsonObject()
        .put("id", Long.toString(e.id()))
        .put("at", e.at().toInstant().toString())
        .put("type", e.type())
        .put("recipient", e.email());
    put(o, "severity", e.severity());
    put(o, "job", e.jobId() == null ? null : e.jobId().toString());
    put(o, "seq", e.seq());
    put(o, "attempt", e.attempt());
    put(o, "code", e.code());
    put(o, "message", e.message());
    put(o, "messageId", e.messageId());
    put(o, "backend", e.backendName());
    put(o, "region", e.region());
    put(o, "peer", e.peer());
    put(o, "tlsServerName", e.tlsName());
    put(o, "senderDomain", e.senderDomain());
    put(o, "recipientDomain", e.recipientDomain());
    if (e.possibleDuplicate()) {
      o.put("possibleDuplicate", true);
    }
    o.put("source", e.source());
    put(o, "tags", e.tags());
    return o;
  }

  private static void put(JsonObject o, String k, Object v) {
    if (v != null) {
      o.put(k, v);
    }
  }

  static JsonObject suppression(Suppression s) {
    JsonObject o = new JsonObject().put("address", s.address()).put("reason", s.reason());
    if (!s.tag().isEmpty()) {
      o.put("tag", s.tag());
    }
    put(o, "code", s.code());
    put(o, "detail", s.detail());
    put(o, "sourceEvent", s.sourceEvent() == null ? null : Long.toString(s.sourceEvent()));
    o.put("createdAt", s.createdAt().toInstant().toString());
    return o;
  }

  private static String cursor(Suppression s) {
    return Base64.getUrlEncoder().withoutPadding()
        .encodeToString((s.address() + "\n" + s.tag()).getBytes(StandardCharsets.UTF_8));
  }

  private static String[] suppressionCursor(String v) {
    if (v == null || v.isEmpty()) {
      return null;
    }
    try {
      String s = new String(Base64.getUrlDecoder().decode(v), StandardCharsets.UTF_8);
      int nl = s.indexOf('\n');
      if (nl > 0) {
        return new String[] {s.substring(0, nl), s.substring(nl + 1)};
      }
    } catch (IllegalArgumentException e) {
      // fall through
    }
    throw new InvalidInputException("invalid_parameter", "after must be a cursor from a previous page's next", "after");
  }

}

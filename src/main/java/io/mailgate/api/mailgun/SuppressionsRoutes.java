package io.mailgate.api.mailgun;

import io.mailgate.error.InvalidInputException;
import io.mailgate.message.EmailAddress;
import io.mailgate.store.SuppressionStore;
import io.mailgate.store.SuppressionStore.Suppression;
import io.mailgate.suppression.SuppressionCsv;
import io.mailgate.suppression.SuppressionCsvFormat;
import io.mailgate.suppression.SuppressionCsvFormat.Field;
import io.mailgate.tenant.DkimService;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Mailgun's suppression lists, {@code /v3/{domain}/bounces}, {@code /unsubscribes} and {@code /complaints}, on the
 * tenant's one suppression list: a bounce is a {@code hard_bounce}, an unsubscribe an {@code unsubscribe} (its tags
 * our tags, {@code *} every job), a complaint a {@code complaint}. The list is the tenant's, whichever of its domains
 * the path names (our suppressions apply to all of the tenant's mail). List (pages of addresses), get one, add (form
 * fields or a JSON array), delete one, delete all, CSV import (streamed, all or nothing).
 */
final class SuppressionsRoutes {
  private SuppressionsRoutes() {}

  static final int DEFAULT_LIMIT = 100;
  static final int MAX_LIMIT = 10_000;
  /** Addresses of one JSON add, as at Mailgun. */
  static final int MAX_ITEMS = 1000;
  /** A body of one add: 1,000 items of about 1 KB. */
  static final long MAX_BODY_BYTES = 1024 * 1024;
  private static final int MAX_DETAIL_CHARS = 500;

  /** One of Mailgun's lists and how it maps to ours. */
  record Table(String path, String reason, String name, Set<String> fields, SuppressionCsvFormat csv, String removed,
               String removedAll) {}

  static final List<Table> TABLES = List.of(
      new Table("bounces", "hard_bounce", "bounces", Set.of("address", "code", "error", "created_at"),
          SuppressionCsvFormat.of("mailgun-bounces", "hard_bounce", null, "address", Field.ADDRESS, "code", Field.CODE,
              "error", Field.DETAIL, "created_at", Field.CREATED_AT),
          "Bounced address has been removed", "Bounced addresses for this domain have been removed"),
      new Table("unsubscribes", "unsubscribe", "unsubscribes", Set.of("address", "tag", "tags", "created_at"),
          SuppressionCsvFormat.of("mailgun-unsubscribes", "unsubscribe", "*", "address", Field.ADDRESS, "tags", Field.TAG,
              "created_at", Field.CREATED_AT),
          "Unsubscribe event has been removed", "Unsubscribe addresses for this domain have been removed"),
      new Table("complaints", "complaint", "complaints", Set.of("address", "created_at"),
          SuppressionCsvFormat.of("mailgun-complaints", "complaint", null, "address", Field.ADDRESS, "created_at",
              Field.CREATED_AT),
          "Spam complaint has been removed", "Complaint addresses for this domain have been removed"));

  static void mount(Router router, DkimService domains, SuppressionStore store, SuppressionCsv csv, int maxTagChars) {
    for (Table t : TABLES) {
      String root = "/v3/:domain/" + t.path();
      router.post(root + "/import").handler(ctx -> MailgunRoutes.json(ctx, () -> importCsv(ctx, domains, csv, t)));
      router.get(root).handler(ctx -> MailgunRoutes.json(ctx, () -> list(ctx, domains, store, t)));
      router.get(root + "/:address").handler(ctx -> MailgunRoutes.json(ctx, () -> {
        MailgunRoutes.knownQueryParameters(ctx, Set.of());
        String address = pathAddress(ctx);
        return own(ctx, domains).compose(d -> store.get(tenant(ctx), address, t.reason())).map(rows -> {
          if (rows.isEmpty()) {
            throw notFound(t);
          }
          return item(t, rows);
        });
      }));
      router.post(root).handler(ctx -> MailgunRoutes.json(ctx, () -> add(ctx, domains, store, t, maxTagChars)));
      router.delete(root + "/:address").handler(ctx -> MailgunRoutes.json(ctx, () -> deleteOne(ctx, domains, store, t,
          maxTagChars)));
      router.delete(root).handler(ctx -> MailgunRoutes.json(ctx, () -> {
        MailgunRoutes.knownQueryParameters(ctx, Set.of());
        return own(ctx, domains).compose(d -> store.deleteOfReason(tenant(ctx), null, t.reason(), null))
            .map(n -> new JsonObject().put("message", t.removedAll()));
      }));
    }
  }

  private static Future<String> own(RoutingContext ctx, DkimService domains) {
    return MailgunRoutes.ownDomain(domains, MailgunAuth.tenant(ctx), ctx.pathParam("domain"));
  }

  private static UUID tenant(RoutingContext ctx) {
    return MailgunAuth.tenant(ctx).id();
  }

  private static MailgunAnswer notFound(Table t) {
    return new MailgunAnswer(404, "Address not found in " + t.name() + " table");
  }

  // --- list

  private static Future<JsonObject> list(RoutingContext ctx, DkimService domains, SuppressionStore store, Table t) {
    MailgunRoutes.knownQueryParameters(ctx, Set.of("limit", "page", "address"));
    int limit = MailgunRoutes.intParameter(ctx, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT);
    String page = ctx.request().getParam("page");
    String pivot = ctx.request().getParam("address");
    if (pivot != null) {
      String why = EmailAddress.problem(pivot);
      if (why != null) {
        throw new InvalidInputException("invalid_parameter", "address: " + why, "address");
      }
      pivot = EmailAddress.key(pivot);
    }
    boolean forward;
    switch (page == null ? "first" : page) {
      case "first" -> {
        forward = true;
        pivot = null;
      }
      case "last" -> {
        forward = false;
        pivot = null;
      }
      case "next" -> forward = true;
      case "previous", "prev" -> forward = false;
      default -> throw new InvalidInputException("invalid_parameter", "page must be first, last, next or previous", "page");
    }
    String from = pivot;
    return own(ctx, domains).compose(d -> store.pageOfAddresses(tenant(ctx), t.reason(), from, forward, limit).map(rows -> {
      Map<String, List<Suppression>> byAddress = new LinkedHashMap<>();
      rows.forEach(s -> byAddress.computeIfAbsent(s.address(), a -> new ArrayList<>()).add(s));
      JsonArray items = new JsonArray();
      byAddress.values().forEach(v -> items.add(item(t, v)));
      String base = MailgunRoutes.baseUrl(ctx) + "/v3/" + d + "/" + t.path() + "?limit=" + limit;
      List<String> addresses = new ArrayList<>(byAddress.keySet());
      String first = addresses.isEmpty() ? from : addresses.get(0);
      String last = addresses.isEmpty() ? from : addresses.get(addresses.size() - 1);
      JsonObject paging = new JsonObject()
          .put("first", base + "&page=first")
          .put("last", base + "&page=last")
          .put("next", base + "&page=next" + (last == null ? "" : "&address=" + encode(last)))
          .put("previous", base + "&page=previous" + (first == null ? "" : "&address=" + encode(first)));
      return new JsonObject().put("items", items).put("paging", paging);
    }));
  }

  private static String encode(String v) {
    return URLEncoder.encode(v, StandardCharsets.UTF_8);
  }

  /** An address's rows of one list as Mailgun's item (an unsubscribe lists its tags). */
  static JsonObject item(Table t, List<Suppression> rows) {
    Suppression s = rows.get(0);
    JsonObject o = new JsonObject().put("address", s.address());
    switch (t.reason()) {
      case "hard_bounce" -> o.put("code", s.code() == null ? "550" : Integer.toString(s.code()))
          .put("error", s.detail() == null ? "" : s.detail());
      case "unsubscribe" -> {
        JsonArray tags = new JsonArray();
        rows.forEach(r -> tags.add(r.tag().isEmpty() ? "*" : r.tag()));
        o.put("tags", tags);
      }
      case "complaint" -> o.put("count", 1);
      default -> throw new IllegalStateException(t.reason());
    }
    OffsetDateTime created = rows.stream().map(Suppression::createdAt).min(OffsetDateTime::compareTo).orElseThrow();
    return o.put("created_at", MailgunRoutes.rfc2822(created));
  }

  // --- add

  /** One suppression to write. */
  private record Entry(String address, String tag, Integer code, String detail, OffsetDateTime createdAt) {}

  private static Future<JsonObject> add(RoutingContext ctx, DkimService domains, SuppressionStore store, Table t,
                                        int maxTagChars) {
    MailgunRoutes.knownQueryParameters(ctx, Set.of());
    HttpServerRequest req = ctx.request();
    boolean json = MailgunRoutes.mediaType(req.getHeader("Content-Type")).equals("application/json");
    return own(ctx, domains).compose(d -> {
      MailgunRoutes.continueIfExpected(req);
      if (json) {
        return MailgunRoutes.readBody(req, MAX_BODY_BYTES).compose(body -> {
          List<Entry> entries = fromJson(body, t, maxTagChars);
          return write(store, tenant(ctx), t, entries).map(n -> new JsonObject().put("message", entries.size()
              + (entries.size() == 1 ? " address has" : " addresses have") + " been added to the " + t.name() + " table"));
        });
      }
      return MailgunRoutes.readForm(req, MAX_BODY_BYTES).compose(form -> {
        List<Entry> entries = fromForm(form, t, maxTagChars);
        return write(store, tenant(ctx), t, entries).map(n -> new JsonObject()
            .put("message", "Address has been added to the " + t.name() + " table")
            .put("address", entries.get(0).address()));
      });
    });
  }

  private static Future<Integer> write(SuppressionStore store, UUID tenant, Table t, List<Entry> entries) {
    int n = entries.size();
    String[] address = new String[n];
    String[] tag = new String[n];
    String[] reason = new String[n];
    Integer[] code = new Integer[n];
    String[] detail = new String[n];
    OffsetDateTime[] at = new OffsetDateTime[n];
    for (int i = 0; i < n; i++) {
      Entry e = entries.get(i);
      address[i] = e.address();
      tag[i] = e.tag();
      reason[i] = t.reason();
      code[i] = e.code();
      detail[i] = e.detail();
      at[i] = e.createdAt();
    }
    return store.put(tenant, address, tag, reason, code, detail, at);
  }

  private static List<Entry> fromForm(MultiMap form, Table t, int maxTagChars) {
    List<String> unknown = form.names().stream().filter(n -> !t.fields().contains(n) || n.equals("tags")).sorted().toList();
    if (!unknown.isEmpty()) {
      throw new InvalidInputException("invalid_parameter", "Parameter not supported: "
          + String.join(", ", unknown.stream().map(EmailAddress::printable).toList()), unknown.get(0));
    }
    for (String n : form.names()) {
      if (form.getAll(n).size() > 1 && !n.equals("tag")) {
        throw new InvalidInputException("invalid_parameter", n + " is given more than once", n);
      }
    }
    Map<String, Object> o = new LinkedHashMap<>();
    // a form's empty optional field (clients send the fields of their request object) is an absent one
    form.names().stream().filter(n -> !form.get(n).isEmpty() || n.equals("address"))
        .forEach(n -> o.put(n, n.equals("tag") ? new JsonArray(new ArrayList<>(form.getAll(n))) : form.get(n)));
    if (o.get("tag") instanceof JsonArray tags) {
      o.remove("tag");
      o.put("tags", tags);
    }
    return entries(new JsonObject(o), t, maxTagChars, "");
  }

  private static List<Entry> fromJson(Buffer body, Table t, int maxTagChars) {
    Object v;
    try {
      v = Json.decodeValue(body);
    } catch (DecodeException e) {
      throw new InvalidInputException("invalid_json", "The body is not JSON", null);
    }
    if (!(v instanceof JsonArray a)) {
      throw new InvalidInputException("invalid_json", "The body must be a JSON array of addresses", null);
    }
    if (a.isEmpty() || a.size() > MAX_ITEMS) {
      throw new InvalidInputException("too_many_items", "1 to " + MAX_ITEMS + " addresses per request, got " + a.size(), null);
    }
    List<Entry> out = new ArrayList<>();
    for (int i = 0; i < a.size(); i++) {
      if (!(a.getValue(i) instanceof JsonObject o)) {
        throw new InvalidInputException("invalid_parameter", "item " + i + " is not an object", null);
      }
      for (String f : o.fieldNames()) {
        if (!t.fields().contains(f)) {
          throw new InvalidInputException("invalid_parameter", "item " + i + ": Parameter not supported: "
              + EmailAddress.printable(f), f);
        }
      }
      JsonObject copy = o.copy();
      if (copy.getValue("tag") != null) {
        if (copy.getValue("tags") != null) {
          throw new InvalidInputException("invalid_parameter", "item " + i + ": tag and tags together", "tag");
        }
        copy.put("tags", new JsonArray().add(copy.remove("tag")));
      }
      out.addAll(entries(copy, t, maxTagChars, "item " + i + ": "));
    }
    return out;
  }

  /** The entries of one item: one per tag for an unsubscribe, else one. Every value checked. */
  private static List<Entry> entries(JsonObject o, Table t, int maxTagChars, String at) {
    Object a = o.getValue("address");
    if (!(a instanceof String address) || address.isBlank()) {
      throw new InvalidInputException("invalid_parameter", at + "address parameter is missing", "address");
    }
    String why = EmailAddress.problem(address.trim());
    if (why != null) {
      throw new InvalidInputException("invalid_parameter", at + "address is not valid: " + why, "address");
    }
    Integer code = null;
    Object c = o.getValue("code");
    if (c != null) {
      try {
        code = c instanceof Number n ? n.intValue() : Integer.parseInt(c.toString().trim());
      } catch (NumberFormatException e) {
        code = -1;
      }
      if (code < 0 || code > 999) {
        throw new InvalidInputException("invalid_parameter", at + "code must be a reply code of up to 3 digits", "code");
      }
    }
    String detail = null;
    Object e = o.getValue("error");
    if (e != null) {
      detail = e.toString();
      if (detail.length() > MAX_DETAIL_CHARS || detail.chars().anyMatch(ch -> ch == '\r' || ch == '\n' || ch == 0)) {
        throw new InvalidInputException("invalid_parameter", at + "error must be one line of at most " + MAX_DETAIL_CHARS
            + " characters", "error");
      }
      detail = detail.isEmpty() ? null : detail;
    }
    OffsetDateTime created = null;
    Object ca = o.getValue("created_at");
    if (ca != null) {
      created = MailgunRoutes.time(ca.toString(), "created_at");
      if (created.isAfter(OffsetDateTime.now().plusDays(1))) {
        throw new InvalidInputException("invalid_parameter", at + "created_at is in the future", "created_at");
      }
    }
    List<String> tags = new ArrayList<>();
    Object ts = o.getValue("tags");
    if (ts != null) {
      if (!(ts instanceof JsonArray arr) || arr.isEmpty()) {
        throw new InvalidInputException("invalid_parameter", at + "tags must be a list of tags", "tags");
      }
      for (Object x : arr) {
        String tag = x == null ? "" : x.toString().trim();
        if (tag.equals("*")) {
          tag = "";
        } else if (tag.isEmpty() || tag.length() > maxTagChars || !tag.chars().allMatch(ch -> ch >= 0x20 && ch < 0x7f)) {
          throw new InvalidInputException("invalid_parameter", at + "a tag must be * or printable ASCII of 1 to "
              + maxTagChars + " characters", "tag");
        }
        if (!tags.contains(tag)) {
          tags.add(tag);
        }
      }
    } else {
      tags.add("");
    }
    List<Entry> out = new ArrayList<>();
    for (String tag : tags) {
      out.add(new Entry(EmailAddress.key(address.trim()), tag, code, detail, created));
    }
    return out;
  }

  // --- delete one

  private static Future<JsonObject> deleteOne(RoutingContext ctx, DkimService domains, SuppressionStore store, Table t,
                                              int maxTagChars) {
    boolean unsubscribe = t.reason().equals("unsubscribe");
    MailgunRoutes.knownQueryParameters(ctx, unsubscribe ? Set.of("tag") : Set.of());
    String address = pathAddress(ctx);
    HttpServerRequest req = ctx.request();
    return own(ctx, domains).compose(d -> {
      String type = MailgunRoutes.mediaType(req.getHeader("Content-Type"));
      // Mailgun's Java client sends an unsubscribe's tag as a form field of the DELETE
      Future<MultiMap> form = type.equals("multipart/form-data") || type.equals("application/x-www-form-urlencoded")
          ? MailgunRoutes.readForm(req, MAX_BODY_BYTES) : MailgunRoutes.readBody(req, MAX_BODY_BYTES).map(b -> MultiMap.caseInsensitiveMultiMap());
      return form.compose(f -> {
        List<String> unknown = f.names().stream().filter(n -> !(unsubscribe && n.equals("tag"))).sorted().toList();
        if (!unknown.isEmpty()) {
          throw new InvalidInputException("invalid_parameter", "Parameter not supported: "
              + String.join(", ", unknown.stream().map(EmailAddress::printable).toList()), unknown.get(0));
        }
        String tag = f.get("tag") != null ? f.get("tag") : req.getParam("tag");
        if (tag != null) {
          tag = tag.trim();
          if (tag.equals("*")) {
            tag = "";
          } else if (tag.isEmpty() || tag.length() > maxTagChars || !tag.chars().allMatch(ch -> ch >= 0x20 && ch < 0x7f)) {
            throw new InvalidInputException("invalid_parameter", "tag must be * or printable ASCII of 1 to " + maxTagChars
                + " characters", "tag");
          }
        }
        return store.deleteOfReason(tenant(ctx), address, t.reason(), tag);
      }).map(n -> {
        if (n == 0) {
          throw notFound(t);
        }
        return new JsonObject().put("message", t.removed()).put("address", address);
      });
    });
  }

  // --- import

  /**
   * {@code POST .../import}: a multipart body whose {@code file} part is Mailgun's CSV of that list (bounces
   * {@code address,code,error,created_at}, unsubscribes {@code address,tags,created_at}, complaints
   * {@code address,created_at}; only {@code address} required), streamed into one transaction as our own import is.
   */
  private static Future<JsonObject> importCsv(RoutingContext ctx, DkimService domains, SuppressionCsv csv, Table t) {
    MailgunRoutes.knownQueryParameters(ctx, Set.of());
    HttpServerRequest req = ctx.request();
    if (!MailgunRoutes.mediaType(req.getHeader("Content-Type")).equals("multipart/form-data")) {
      throw new InvalidInputException("invalid_parameter", "Content-Type must be multipart/form-data with a file part", null);
    }
    long declared = MailgunRoutes.declaredLength(req);
    return own(ctx, domains).compose(d -> {
      MailgunRoutes.continueIfExpected(req);
      Promise<SuppressionCsv.Imported> done = Promise.promise();
      boolean[] started = {false};
      req.setExpectMultipart(true);
      req.uploadHandler(upload -> {
        if (started[0] || !upload.name().equals("file")) {
          upload.handler(b -> {});
          upload.exceptionHandler(e -> {});
          done.tryFail(new InvalidInputException("invalid_parameter", started[0] ? "Only one file per import"
              : "Parameter not supported: " + EmailAddress.printable(upload.name()), upload.name()));
          return;
        }
        started[0] = true;
        upload.pause();
        csv.importCsv(tenant(ctx), declared, upload, t.csv(), t.reason()).onComplete(done);
      });
      req.exceptionHandler(done::tryFail);
      req.endHandler(v -> {
        if (!started[0]) {
          done.tryFail(new InvalidInputException("invalid_parameter", "file parameter is missing", "file"));
        }
      });
      req.resume();
      return done.future().map(r -> new JsonObject()
          .put("message", "file uploaded successfully: " + r.imported() + " added, " + r.updated() + " updated")
          .put("imported", r.imported()).put("updated", r.updated()));
    });
  }

  private static String pathAddress(RoutingContext ctx) {
    String a = ctx.pathParam("address");
    String why = EmailAddress.problem(a);
    if (why != null) {
      throw new InvalidInputException("invalid_parameter", "address is not valid: " + why, "address");
    }
    return EmailAddress.key(a);
  }
}

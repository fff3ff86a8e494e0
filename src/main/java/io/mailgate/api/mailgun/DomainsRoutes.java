package io.mailgate.api.mailgun;

import io.mailgate.store.DkimStore.DomainRecord;
import io.mailgate.store.DkimStore.KeyRecord;
import io.mailgate.tenant.DkimService;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code GET /v3/domains}, {@code /v3/domains/{domain}} and their {@code /v4} twins: the tenant's domains (those the
 * operator gave it with {@code PUT /v1/admin/tenants/{id}/domains}) in Mailgun's shapes. A domain is {@code active}
 * as soon as it is the tenant's: the operator asserted it, nothing is verified in DNS. Its sending records are its
 * DKIM keys' TXT records.
 */
final class DomainsRoutes {
  private DomainsRoutes() {}

  /** Mailgun's list parameters that are honoured; the others are refused by name. */
  private static final Set<String> LIST_PARAMETERS = Set.of("limit", "skip");
  private static final int MAX_LIMIT = 1000;
  /**
   * Mailgun's options of one domain, which mailgun.js sends whenever it is given options: {@code h:with_dns=false}
   * leaves the DNS records out, {@code h:extended} asks for settings we do not have.
   */
  private static final Set<String> ONE_PARAMETERS = Set.of("h:with_dns", "h:extended");

  static void mount(Router router, DkimService domains) {
    for (String version : List.of("/v3", "/v4")) {
      router.get(version + "/domains").handler(ctx -> MailgunRoutes.json(ctx, () -> list(ctx, domains)));
      router.get(version + "/domains/:domain").handler(ctx -> MailgunRoutes.json(ctx, () -> one(ctx, domains)));
    }
  }

  private static Future<JsonObject> list(RoutingContext ctx, DkimService domains) {
    MailgunRoutes.knownQueryParameters(ctx, LIST_PARAMETERS);
    int limit = MailgunRoutes.intParameter(ctx, "limit", 100, 1, MAX_LIMIT);
    int skip = MailgunRoutes.intParameter(ctx, "skip", 0, 0, Integer.MAX_VALUE);
    return domains.ownedDomains(MailgunAuth.tenant(ctx).id()).map(all -> {
      JsonArray items = new JsonArray();
      all.stream().skip(skip).limit(limit).forEach(d -> items.add(domain(d)));
      return new JsonObject().put("total_count", all.size()).put("items", items);
    });
  }

  private static Future<JsonObject> one(RoutingContext ctx, DkimService domains) {
    MailgunRoutes.knownQueryParameters(ctx, ONE_PARAMETERS);
    boolean withDns = yesNo(ctx, "h:with_dns", true);
    yesNo(ctx, "h:extended", false); // the extended fields are Mailgun's own settings: we have none to add
    String name = ctx.pathParam("domain").toLowerCase(Locale.ROOT);
    var tenant = MailgunAuth.tenant(ctx).id();
    return domains.ownedDomains(tenant).compose(all -> {
      DomainRecord d = all.stream().filter(x -> x.domain().equals(name)).findFirst().orElse(null);
      if (d == null) {
        return Future.<JsonObject>failedFuture(MailgunAnswer.domainNotFound(ctx.pathParam("domain")));
      }
      if (!withDns) {
        return Future.succeededFuture(new JsonObject().put("domain", domain(d)));
      }
      return domains.ownedKeys(tenant).map(keys -> new JsonObject()
          .put("domain", domain(d))
          .put("receiving_dns_records", new JsonArray())
          .put("sending_dns_records", sendingRecords(keys, name)));
    });
  }

  /** A {@code true}/{@code false} query parameter ({@code yes}/{@code no} too), {@code dflt} when absent. */
  private static boolean yesNo(RoutingContext ctx, String name, boolean dflt) {
    String v = ctx.request().getParam(name);
    if (v == null) {
      return dflt;
    }
    return switch (v.trim().toLowerCase(Locale.ROOT)) {
      case "true", "yes" -> true;
      case "false", "no" -> false;
      default -> throw new io.mailgate.error.InvalidInputException("invalid_parameter", name + " must be true or false", name);
    };
  }

  /** A domain as Mailgun describes one; fields we have no value for (SMTP credentials, tracking host) are left out. */
  static JsonObject domain(DomainRecord d) {
    return new JsonObject()
        .put("id", id(d.domain()))
        .put("name", d.domain())
        .put("created_at", rfc2822(d.createdAt()))
        .put("state", "active")
        .put("type", "custom")
        .put("is_disabled", false)
        .put("wildcard", false)
        .put("spam_action", "disabled")
        .put("require_tls", false)
        .put("skip_verification", false);
  }

  private static JsonArray sendingRecords(List<KeyRecord> keys, String domain) {
    JsonArray out = new JsonArray();
    for (KeyRecord k : keys) {
      if (k.domain().equals(domain)) {
        out.add(new JsonObject()
            .put("record_type", "TXT")
            .put("name", DkimService.dnsName(k))
            .put("value", DkimService.dnsRecord(k))
            .put("valid", "unknown") // the gateway does not look up DNS
            .put("cached", new JsonArray()));
      }
    }
    return out;
  }

  /** Mailgun's ids are opaque hex strings; ours is derived from the name, so it is stable and needs no column. */
  private static String id(String domain) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(domain.getBytes(StandardCharsets.US_ASCII));
      return HexFormat.of().formatHex(h, 0, 12);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code Wed, 2 Dec 2026 20:40:00 GMT}: the form Mailgun's {@code created_at} has. */
  static String rfc2822(OffsetDateTime t) {
    return t == null ? null : DateTimeFormatter.RFC_1123_DATE_TIME.format(t.atZoneSameInstant(ZoneOffset.UTC));
  }
}

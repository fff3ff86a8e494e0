package io.mailgate.api;

import io.mailgate.error.InvalidInputException;
import io.mailgate.store.DkimStore.KeyRecord;
import io.mailgate.store.Ids;
import io.mailgate.tenant.DkimService;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import java.util.List;
import java.util.Set;

/**
 * {@code /v1/admin/tenants/{id}/domains} and {@code /v1/admin/tenants/{id}/dkim}: the domains a tenant owns and its
 * DKIM keys. Mounted after {@link AdminRoutes}, whose body handler and operator authentication cover these paths.
 * No answer ever contains a private key.
 */
final class DkimRoutes {
  private DkimRoutes() {}

  private static final Set<String> DOMAIN_FIELDS = Set.of("domains");
  private static final Set<String> KEY_FIELDS = Set.of("domain", "selector", "algorithm", "privateKeyPem");

  static void mount(Router router, DkimService dkim) {
    router.get("/v1/admin/tenants/:id/domains").handler(Responses.json(200, ctx ->
        dkim.domains(Params.pathId(ctx, "id", "tenant")).map(DkimRoutes::domains)));
    router.put("/v1/admin/tenants/:id/domains").handler(Responses.json(200, ctx -> {
      var tenant = Params.pathId(ctx, "id", "tenant");
      JsonObject b = Params.jsonBody(ctx);
      known(b, DOMAIN_FIELDS);
      Object list = b.getValue("domains");
      if (list == null) {
        throw new InvalidInputException("missing_field", "domains is required (an array, possibly empty)", "domains");
      }
      if (!(list instanceof JsonArray a)) {
        throw new InvalidInputException("invalid_field", "domains must be an array of domain names", "domains");
      }
      return dkim.setDomains(tenant, a.stream().toList()).map(DkimRoutes::domains);
    }));

    router.post("/v1/admin/tenants/:id/dkim").handler(Responses.json(201, ctx -> {
      var tenant = Params.pathId(ctx, "id", "tenant");
      JsonObject b = Params.jsonBody(ctx);
      known(b, KEY_FIELDS);
      return dkim.addKey(tenant, Params.string(b, "domain"), Params.string(b, "selector"), Params.string(b, "algorithm"),
          Params.string(b, "privateKeyPem")).map(DkimRoutes::key);
    }));
    router.get("/v1/admin/tenants/:id/dkim").handler(Responses.json(200, ctx ->
        dkim.keys(Params.pathId(ctx, "id", "tenant")).map(list -> {
          JsonArray items = new JsonArray();
          list.forEach(k -> items.add(key(k)));
          return new JsonObject().put("items", items);
        })));
    router.delete("/v1/admin/tenants/:id/dkim/:keyId").handler(ctx -> Params.attempt(() ->
            dkim.deleteKey(Params.pathId(ctx, "id", "tenant"), Ids.parseOrNull(ctx.pathParam("keyId"))))
        .onComplete(ar -> {
          if (ar.failed()) {
            ctx.fail(ar.cause());
          } else if (!ctx.response().ended()) {
            ctx.response().setStatusCode(204).end();
          }
        }));
  }

  private static JsonObject domains(List<String> domains) {
    return new JsonObject().put("domains", new JsonArray(domains));
  }

  /** A key without its private part: where and what to publish in DNS. */
  private static JsonObject key(KeyRecord k) {
    return new JsonObject()
        .put("id", k.id().toString())
        .put("domain", k.domain())
        .put("selector", k.selector())
        .put("algorithm", k.algorithm())
        .put("dnsName", DkimService.dnsName(k))
        .put("dnsRecord", DkimService.dnsRecord(k))
        .put("createdAt", k.createdAt() == null ? null : k.createdAt().toInstant().toString());
  }

  private static void known(JsonObject body, Set<String> fields) {
    for (String name : body.fieldNames()) {
      if (!fields.contains(name)) {
        throw new InvalidInputException("unknown_field", "unknown field '" + name + "'", name);
      }
    }
  }
}

package io.mailgate.api;

import io.mailgate.tenant.AdminService;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;

/** {@code /v1/admin/*}: tenants, backends and routing, for operators holding the admin token. */
final class AdminRoutes {
  private AdminRoutes() {}

  static void mount(Router router, Auth auth, AdminService admin, int maxPage, long maxBody) {
    // vert.x-web runs body handlers before user handlers; the small limit bounds what an unauthenticated caller can send
    router.route("/v1/admin/*").handler(BodyHandler.create(false).setBodyLimit(maxBody));
    router.route("/v1/admin/*").handler(auth.operator());

    router.post("/v1/admin/tenants").handler(Responses.json(201, ctx -> {
      JsonObject b = Params.jsonBody(ctx);
      return admin.createTenant(Params.string(b, "name"), Params.string(b, "region"), b)
          .map(n -> Views.tenant(n.tenant()).put("apiKey", n.apiKey()));
    }));
    router.get("/v1/admin/tenants").handler(Responses.json(200, ctx -> {
      int limit = Params.limit(ctx, maxPage);
      return admin.tenants(Params.afterId(ctx), limit).map(list -> {
        JsonArray items = new JsonArray();
        list.forEach(t -> items.add(Views.tenant(t)));
        return Views.page(items, list.size() == limit ? list.get(list.size() - 1).id().toString() : null);
      });
    }));
    router.get("/v1/admin/tenants/:id").handler(Responses.json(200, ctx ->
        admin.tenant(Params.pathId(ctx, "id", "tenant")).map(Views::tenant)));
    router.post("/v1/admin/tenants/:id/resume").handler(Responses.json(200, ctx ->
        admin.resumeTenant(Params.pathId(ctx, "id", "tenant")).map(Views::tenant)));
    router.patch("/v1/admin/tenants/:id").handler(Responses.json(200, ctx ->
        admin.updateTenant(Params.pathId(ctx, "id", "tenant"), Params.jsonBody(ctx)).map(Views::tenant)));
    router.delete("/v1/admin/tenants/:id").handler(Responses.noContent(ctx -> admin.deleteTenant(Params.pathId(ctx, "id", "tenant"))));
    router.put("/v1/admin/tenants/:id/backend").handler(Responses.json(200, ctx -> {
      JsonObject b = Params.jsonBody(ctx);
      return admin.setRoute(Params.pathId(ctx, "id", "tenant"), Params.string(b, "backend"), Params.string(b, "fallback"))
          .map(Views::tenant);
    }));

    router.post("/v1/admin/backends").handler(Responses.json(201, ctx -> {
      JsonObject b = Params.jsonBody(ctx);
      Object settings = b.getValue("settings");
      if (settings != null && !(settings instanceof JsonObject)) {
        throw new io.mailgate.error.InvalidInputException("invalid_field", "settings must be an object", "settings");
      }
      return admin.createBackend(Params.string(b, "name"), Params.string(b, "type"), Params.string(b, "region"),
              (JsonObject) settings)
          .map(r -> Views.backend(r, admin.secretNames(r)));
    }));
    router.get("/v1/admin/backends").handler(Responses.json(200, ctx -> {
      int limit = Params.limit(ctx, maxPage);
      return admin.backends(Params.afterId(ctx), limit).map(list -> {
        JsonArray items = new JsonArray();
        list.forEach(r -> items.add(Views.backend(r, admin.secretNames(r))));
        return Views.page(items, list.size() == limit ? list.get(list.size() - 1).id().toString() : null);
      });
    }));
    router.patch("/v1/admin/backends/:id").handler(Responses.json(200, ctx ->
        admin.updateBackend(Params.pathId(ctx, "id", "backend"), Params.jsonBody(ctx)).map(r -> Views.backend(r, admin.secretNames(r)))));
    router.delete("/v1/admin/backends/:id").handler(Responses.noContent(ctx -> admin.deleteBackend(Params.pathId(ctx, "id", "backend"))));
    router.get("/v1/admin/backends/:id").handler(Responses.json(200, ctx ->
        admin.backend(Params.pathId(ctx, "id", "backend")).map(r -> Views.backend(r, admin.secretNames(r)))));
  }
}

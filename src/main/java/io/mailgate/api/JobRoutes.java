package io.mailgate.api;

import io.mailgate.job.JobIntake;
import io.mailgate.job.JobService;
import io.mailgate.store.RecipientRecord;
import io.mailgate.tenant.Tenant;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.List;
import java.util.Locale;

/** {@code /v1/jobs}: submit jobs (JSON or NDJSON), read them and their recipients, pause, resume, cancel. */
final class JobRoutes {
  private JobRoutes() {}

  static void mount(Router router, Auth auth, JobIntake intake, JobService jobs, int maxPage, long maxJsonBody) {
    router.route("/v1/jobs*").handler(auth.tenant());

    router.post("/v1/jobs").handler(Responses.json(202, ctx -> submit(ctx, intake, maxJsonBody)
        .map(a -> {
          ctx.response().putHeader("Location", "/v1/jobs/" + a.jobId());
          return new JsonObject().put("id", a.jobId().toString()).put("state", "queued").put("recipients", a.recipients());
        })));

    router.get("/v1/jobs").handler(Responses.json(200, ctx -> {
      int limit = Params.limit(ctx, maxPage);
      return jobs.list(tenantId(ctx), Params.afterId(ctx), limit).map(list -> {
        JsonArray items = new JsonArray();
        list.forEach(j -> items.add(Views.job(j)));
        return Views.page(items, list.size() == limit ? list.get(list.size() - 1).id().toString() : null);
      });
    }));
    router.get("/v1/jobs/:id").handler(Responses.json(200, ctx ->
        jobs.get(tenantId(ctx), Params.pathId(ctx, "id", "job")).map(Views::job)));
    router.get("/v1/jobs/:id/recipients").handler(Responses.json(200, ctx -> {
      int limit = Params.limit(ctx, maxPage);
      return jobs.recipients(tenantId(ctx), Params.pathId(ctx, "id", "job"), ctx.request().getParam("state"),
          Params.afterSeq(ctx), limit).map(list -> recipientsPage(list, limit));
    }));
    router.post("/v1/jobs/:id/pause").handler(Responses.json(200, ctx ->
        jobs.pause(tenantId(ctx), Params.pathId(ctx, "id", "job")).map(Views::job)));
    router.post("/v1/jobs/:id/resume").handler(Responses.json(200, ctx ->
        jobs.resume(tenantId(ctx), Params.pathId(ctx, "id", "job")).map(Views::job)));
    router.post("/v1/jobs/:id/cancel").handler(Responses.json(200, ctx ->
        jobs.cancel(tenantId(ctx), Params.pathId(ctx, "id", "job")).map(Views::job)));
  }

  private static Future<JobIntake.Accepted> submit(RoutingContext ctx, JobIntake intake, long maxJsonBody) {
    HttpServerRequest req = ctx.request();
    Tenant tenant = Auth.tenant(ctx);
    String key = req.getHeader("Idempotency-Key");
    String type = mediaType(req.getHeader("Content-Type"));
    var defaults = new io.mailgate.job.JobSpecParser.TenantDefaults(tenant.unsubscribeDefault(), tenant.unsubscribeMailto());
    return switch (type) {
      case "application/json" -> intake.submitJson(tenant.id(), defaults, declaredLength(req), () -> BodyReader.read(req, maxJsonBody), key);
      case "application/x-ndjson", "application/ndjson", "application/jsonl" -> intake.submitNdjson(tenant.id(), defaults, req, key);
      default -> Future.failedFuture(new ApiException(415, "unsupported_media_type",
          "Content-Type must be application/json or application/x-ndjson"));
    };
  }

  private static JsonObject recipientsPage(List<RecipientRecord> list, int limit) {
    JsonArray items = new JsonArray();
    list.forEach(r -> items.add(Views.recipient(r)));
    return Views.page(items, list.size() == limit ? list.get(list.size() - 1).seq() : null);
  }

  private static java.util.UUID tenantId(RoutingContext ctx) {
    return Auth.tenant(ctx).id();
  }

  /** The Content-Length, or -1 when the body is chunked (HTTP/1.1) or of unknown length. */
  static long declaredLength(HttpServerRequest req) {
    String cl = req.getHeader("Content-Length");
    try {
      return cl == null ? -1 : Long.parseLong(cl.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static String mediaType(String contentType) {
    if (contentType == null) {
      return "";
    }
    int semi = contentType.indexOf(';');
    return (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
  }
}

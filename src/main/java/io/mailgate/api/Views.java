package io.mailgate.api;

import io.mailgate.store.BackendRecord;
import io.mailgate.store.JobRecord;
import io.mailgate.store.RecipientRecord;
import io.mailgate.tenant.Tenant;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.OffsetDateTime;
import java.util.List;

/** The JSON shapes of the API. Secrets never reach these. */
final class Views {
  private Views() {}

  static JsonObject tenant(Tenant t) {
    return new JsonObject()
        .put("id", t.id().toString())
        .put("name", t.name())
        .put("region", t.region())
        .put("allowedRegions", new JsonArray(t.allowedRegions()))
        .put("backend", t.backendName())
        .put("fallback", t.fallbackName())
        .put("maxRatePerSecond", t.maxRatePerSecond())
        .put("maxConcurrentChunks", t.maxConcurrentChunks())
        .put("reputationThresholds", t.reputationThresholds())
        .put("unsubscribeDefault", t.unsubscribeDefault())
        .put("unsubscribeMailto", t.unsubscribeMailto())
        .put("hold", t.holdReason() == null ? null : new JsonObject().put("reason", t.holdReason())
            .put("detail", t.holdDetail()).put("since", time(t.heldAt())))
        .put("createdAt", time(t.createdAt()));
  }

  static JsonObject backend(BackendRecord b, List<String> secretNames) {
    return new JsonObject()
        .put("id", b.id().toString())
        .put("name", b.name())
        .put("type", b.type())
        .put("region", b.region())
        .put("settings", b.settings())
        .put("secretSettings", new JsonArray(secretNames))
        .put("version", b.version())
        .put("health", new JsonObject().put("state", b.health()).put("reason", b.healthReason())
            .put("since", time(b.healthChangedAt())))
        .put("createdAt", time(b.createdAt()))
        .put("updatedAt", time(b.updatedAt()));
  }

  static JsonObject job(JobRecord j) {
    JobRecord.Counts c = j.counts();
    return new JsonObject()
        .put("id", j.id().toString())
        .put("state", j.state())
        .put("recipients", j.recipients())
        .put("counts", new JsonObject()
            .put("queued", c.queued())
            .put("sending", c.sending())
            .put("sent", c.sent())
            .put("deferred", c.deferred())
            .put("failed", c.failed())
            .put("cancelled", c.cancelled())
            .put("expired", c.expired())
            .put("suppressed", c.suppressed()))
        .put("priority", io.mailgate.job.Priority.of(j.priority()).json())
        .put("expiresAt", j.expiresAt() == null ? null : time(j.expiresAt()))
        .put("sendAt", j.sendAt() == null ? null : time(j.sendAt()))
        .put("testMode", j.testMode())
        .put("hold", j.hold())
        .put("createdAt", time(j.createdAt()))
        .put("updatedAt", time(j.updatedAt()));
  }

  static JsonObject recipient(RecipientRecord r) {
    return new JsonObject()
        .put("seq", r.seq())
        .put("email", r.email())
        .put("state", r.state())
        .put("attempts", r.attempts())
        .put("lastCode", r.lastCode())
        .put("lastMessage", r.lastMessage())
        .put("messageId", r.messageId())
        .put("possibleDuplicate", r.possibleDuplicate())
        .put("nextAttemptAt", time(r.nextAttemptAt()))
        .put("updatedAt", time(r.updatedAt()));
  }

  static JsonObject page(JsonArray items, Object next) {
    return new JsonObject().put("items", items).put("next", next);
  }

  private static String time(OffsetDateTime t) {
    return t == null ? null : t.toInstant().toString();
  }
}

package io.mailgate.store;

import io.vertx.core.json.JsonObject;
import java.time.OffsetDateTime;
import java.util.UUID;

/** A backend row: public settings, and the secret ones still sealed. */
public record BackendRecord(UUID id, String name, String type, String region, JsonObject settings, byte[] sealedSecrets,
                            int version, String health, String healthReason, OffsetDateTime healthChangedAt,
                            OffsetDateTime createdAt, OffsetDateTime updatedAt) {

  @Override
  public String toString() {
    return "BackendRecord[" + name + ", type=" + type + ", region=" + region + ", version=" + version + "]";
  }
}

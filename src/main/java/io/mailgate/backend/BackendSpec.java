package io.mailgate.backend;

import io.vertx.core.json.JsonObject;
import java.util.UUID;

/** A configured backend as the dispatcher needs it: settings with secrets decrypted. Never logged. */
public record BackendSpec(UUID id, String name, String type, String region, JsonObject settings, int version) {

  @Override
  public String toString() {
    return "BackendSpec[" + name + ", type=" + type + ", region=" + region + ", version=" + version + "]";
  }
}

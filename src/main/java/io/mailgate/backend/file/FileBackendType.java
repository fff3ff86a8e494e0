package io.mailgate.backend.file;

import io.mailgate.backend.BackendSpec;
import io.mailgate.backend.BackendType;
import io.mailgate.backend.MailBackend;
import io.mailgate.backend.SettingsReader;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/** {@code type: "file"}: writes each message as an .eml file; for the demo and for dry runs. */
public final class FileBackendType implements BackendType {

  @Override
  public String name() {
    return "file";
  }

  @Override
  public Set<String> secretSettings() {
    return Set.of();
  }

  @Override
  public void validate(JsonObject settings) {
    SettingsReader r = new SettingsReader(settings, "file", Set.of("dir", "maxConcurrentWrites"));
    r.required("dir");
    r.integer("maxConcurrentWrites", 16, 1, 1000);
  }

  @Override
  public MailBackend create(Vertx vertx, BackendSpec spec) {
    validate(spec.settings());
    return new FileBackend(vertx, spec.settings().getString("dir"), spec.settings().getInteger("maxConcurrentWrites", 16));
  }
}

package io.mailgate.backend.file;

import io.mailgate.backend.BackendSpec;
import io.mailgate.backend.BackendType;
import io.mailgate.backend.MailBackend;
import io.mailgate.error.InvalidInputException;
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
    for (String k : settings.fieldNames()) {
      if (!k.equals("dir") && !k.equals("maxConcurrentWrites")) {
        throw new InvalidInputException("invalid_setting", "settings." + k + " is not a setting of a file backend (known: dir, maxConcurrentWrites)", "settings." + k);
      }
    }
    Object dir = settings.getValue("dir");
    if (!(dir instanceof String s) || s.isBlank() || s.indexOf('\0') >= 0) {
      throw new InvalidInputException("invalid_setting", "settings.dir must be a directory path", "settings.dir");
    }
    Object w = settings.getValue("maxConcurrentWrites");
    if (w != null && (!(w instanceof Integer n) || n < 1 || n > 1000)) {
      throw new InvalidInputException("invalid_setting", "settings.maxConcurrentWrites must be an integer from 1 to 1000", "settings.maxConcurrentWrites");
    }
  }

  @Override
  public MailBackend create(Vertx vertx, BackendSpec spec) {
    validate(spec.settings());
    return new FileBackend(vertx, spec.settings().getString("dir"), spec.settings().getInteger("maxConcurrentWrites", 16));
  }
}

package io.mailgate.backend;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/** A kind of backend ({@code smtp}, {@code file}, ...): validates its settings and builds instances. */
public interface BackendType {

  String name();

  /** Settings that are secrets: stored encrypted, never returned or logged. */
  Set<String> secretSettings();

  /** Throws {@link io.mailgate.error.InvalidInputException} naming the field ({@code settings.port}) if invalid. */
  void validate(JsonObject settings);

  MailBackend create(Vertx vertx, BackendSpec spec);
}

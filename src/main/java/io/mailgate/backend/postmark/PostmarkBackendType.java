package io.mailgate.backend.postmark;

import io.mailgate.backend.BackendSpec;
import io.mailgate.backend.BackendType;
import io.mailgate.backend.MailBackend;
import io.mailgate.error.InvalidInputException;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/** {@code type: "postmark"} (placeholder until its implementation lands). */
public final class PostmarkBackendType implements BackendType {

  @Override
  public String name() {
    return "postmark";
  }

  @Override
  public Set<String> secretSettings() {
    return Set.of();
  }

  @Override
  public void validate(JsonObject settings) {
    throw new InvalidInputException("invalid_backend_type", "the postmark backend is not available yet", "type");
  }

  @Override
  public MailBackend create(Vertx vertx, BackendSpec spec) {
    throw new UnsupportedOperationException("postmark");
  }
}

package io.mailgate.backend.postmark;

import io.mailgate.backend.BackendSpec;
import io.mailgate.backend.BackendType;
import io.mailgate.backend.MailBackend;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/** {@code type: "postmark"}: Postmark's batch email API, one personalised message per recipient, 500 per call. */
public final class PostmarkBackendType implements BackendType {

  @Override
  public String name() {
    return "postmark";
  }

  @Override
  public Set<String> secretSettings() {
    return PostmarkSettings.SECRETS;
  }

  @Override
  public void validate(JsonObject settings) {
    PostmarkSettings.parse(settings);
  }

  @Override
  public MailBackend create(Vertx vertx, BackendSpec spec) {
    return new PostmarkBackend(vertx, PostmarkSettings.parse(spec.settings()));
  }
}

package io.mailgate.backend.postmark;

import io.mailgate.backend.BackendSpec;
import io.mailgate.backend.BackendType;
import io.mailgate.backend.MailBackend;
import io.mailgate.backend.http.ProviderBackend;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/** {@code type: "postmark"}: Postmark's batch email API, one personalised message per recipient, 500 per call. */
public final class PostmarkBackendType implements BackendType {

  /** Why a shared or MIME job is not sent through it (refused at intake, failed for good when routed here later). */
  static final String ONE_MESSAGE = "Postmark's API takes the parts of a message, not a whole MIME message, and sends its To, Cc and Bcc as"
        + " given, so it cannot send a message's To and Cc to part of its recipients";

  @Override
  public String cannotSendOneMessage() {
    return ONE_MESSAGE;
  }

  @Override
  public String name() {
    return "postmark";
  }

  @Override
  public Set<String> secretSettings() {
    return PostmarkSettings.SECRETS;
  }

  /** Postmark processes mail in the US; with a baseUrl override (a proxy) the operator decides. */
  @Override
  public java.util.Optional<String> providerRegion(JsonObject settings) {
    validate(settings);
    return settings.getValue("baseUrl") == null ? java.util.Optional.of("us") : java.util.Optional.empty();
  }

  @Override
  public void validate(JsonObject settings) {
    PostmarkSettings.parse(settings);
  }

  @Override
  public MailBackend create(Vertx vertx, BackendSpec spec) {
    PostmarkSettings settings = PostmarkSettings.parse(spec.settings());
    return ProviderBackend.of(vertx, settings.limits(), new PostmarkProvider(vertx, settings));
  }
}

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

  /**
   * Where the provider processes the mail, as its settings say (Mailgun {@code region}, SES {@code awsRegion}...), or
   * empty when the settings do not say (an SMTP server, a directory). A backend's declared residency region must
   * match it, so an EU backend cannot point at a US endpoint by mistake.
   */
  default java.util.Optional<String> providerRegion(JsonObject settings) {
    return java.util.Optional.empty();
  }

  /**
   * Why this type cannot send one message to several recipients as it is (a shared message with its To and Cc, a
   * caller's whole MIME message), or null when it can: jobs of those shapes are refused for a tenant routed to it.
   */
  default String cannotSendOneMessage() {
    return null;
  }
}

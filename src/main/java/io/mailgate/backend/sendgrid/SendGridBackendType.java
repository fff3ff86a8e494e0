package io.mailgate.backend.sendgrid;

import io.mailgate.backend.BackendSpec;
import io.mailgate.backend.BackendType;
import io.mailgate.backend.MailBackend;
import io.mailgate.backend.http.ProviderBackend;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/** {@code type: "sendgrid"}: SendGrid's v3 Mail Send API, up to 1,000 personalizations per request. */
public final class SendGridBackendType implements BackendType {

  /** Why a shared or MIME job is not sent through it (refused at intake, failed for good when routed here later). */
  static final String ONE_MESSAGE = "SendGrid's Mail Send takes the parts of a message, not a whole MIME message, and sends each"
        + " personalization's to, cc and bcc as given, so it cannot send a message's To and Cc to part of its recipients";

  @Override
  public String cannotSendOneMessage() {
    return ONE_MESSAGE;
  }

  @Override
  public String name() {
    return "sendgrid";
  }

  @Override
  public Set<String> secretSettings() {
    return SendGridSettings.SECRETS;
  }

  @Override
  public void validate(JsonObject settings) {
    SendGridSettings.parse(settings);
  }

  /** SendGrid's global service processes mail in the US; only EU-pinned subusers stay in the EU. */
  @Override
  public java.util.Optional<String> providerRegion(JsonObject settings) {
    return java.util.Optional.of(SendGridSettings.parse(settings).region().equals("eu") ? "eu" : "us");
  }

  @Override
  public MailBackend create(Vertx vertx, BackendSpec spec) {
    SendGridSettings settings = SendGridSettings.parse(spec.settings());
    return ProviderBackend.of(vertx, settings.limits(), new SendGridProvider(vertx, settings));
  }
}

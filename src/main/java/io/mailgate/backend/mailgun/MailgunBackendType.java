package io.mailgate.backend.mailgun;

import io.mailgate.backend.BackendSpec;
import io.mailgate.backend.BackendType;
import io.mailgate.backend.MailBackend;
import io.mailgate.backend.http.ProviderBackend;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/** {@code type: "mailgun"}: Mailgun's HTTP API (EU or US region), batch calls with recipient variables. */
public final class MailgunBackendType implements BackendType {

  @Override
  public String name() {
    return "mailgun";
  }

  @Override
  public Set<String> secretSettings() {
    return MailgunSettings.SECRETS;
  }

  @Override
  public void validate(JsonObject settings) {
    MailgunSettings.parse(settings);
  }

  @Override
  public java.util.Optional<String> providerRegion(JsonObject settings) {
    return java.util.Optional.of(MailgunSettings.parse(settings).region());
  }

  @Override
  public MailBackend create(Vertx vertx, BackendSpec spec) {
    MailgunSettings settings = MailgunSettings.parse(spec.settings());
    return ProviderBackend.of(vertx, settings.limits(), new MailgunProvider(vertx, settings));
  }
}

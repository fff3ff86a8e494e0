package io.mailgate.backend.smtp;

import io.mailgate.backend.BackendSpec;
import io.mailgate.backend.BackendType;
import io.mailgate.backend.MailBackend;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/** {@code type: "smtp"}: delivery to an SMTP server (the customer's own, or a relay). */
public final class SmtpBackendType implements BackendType {

  @Override
  public String name() {
    return "smtp";
  }

  @Override
  public Set<String> secretSettings() {
    return SmtpSettings.SECRETS;
  }

  @Override
  public void validate(JsonObject settings) {
    SmtpSettings.parse(settings);
  }

  @Override
  public MailBackend create(Vertx vertx, BackendSpec spec) {
    return new SmtpBackend(vertx, SmtpSettings.parse(spec.settings()));
  }
}

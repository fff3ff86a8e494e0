package io.mailgate.backend.ses;

import io.mailgate.backend.BackendSpec;
import io.mailgate.backend.BackendType;
import io.mailgate.backend.MailBackend;
import io.mailgate.backend.http.ProviderBackend;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/** {@code type: "ses"}: Amazon SES v2, SendBulkEmail with an inline template (50 per call), else SendEmail. */
public final class SesBackendType implements BackendType {

  @Override
  public String name() {
    return "ses";
  }

  @Override
  public Set<String> secretSettings() {
    return SesSettings.SECRETS;
  }

  @Override
  public void validate(JsonObject settings) {
    SesSettings.parse(settings);
  }

  /** An AWS region's partition prefix: eu-west-1 is "eu", us-east-1 "us", ap-southeast-2 "ap". */
  @Override
  public java.util.Optional<String> providerRegion(JsonObject settings) {
    String aws = SesSettings.parse(settings).awsRegion();
    int dash = aws.indexOf('-');
    return java.util.Optional.of(dash > 0 ? aws.substring(0, dash) : aws);
  }

  @Override
  public MailBackend create(Vertx vertx, BackendSpec spec) {
    SesSettings settings = SesSettings.parse(spec.settings());
    return ProviderBackend.of(vertx, settings.limits(), new SesProvider(vertx, spec, settings));
  }
}

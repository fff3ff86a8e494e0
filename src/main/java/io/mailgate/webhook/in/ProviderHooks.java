package io.mailgate.webhook.in;

import io.mailgate.backend.mailgun.MailgunSettings;
import io.mailgate.backend.postmark.PostmarkSettings;
import io.mailgate.backend.sendgrid.SendGridSettings;
import io.mailgate.backend.ses.SesSettings;
import io.mailgate.config.GatewayConfig.WebhooksInConfig;
import io.mailgate.error.NotFoundException;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.security.GeneralSecurityException;
import java.util.List;

/**
 * The providers whose webhooks come in, and the hook of each for a backend's settings. Holds what the event loops of
 * a process share: the replay cache and the SNS certificates. Adding a provider: one {@link ProviderHook} and one
 * case here.
 */
public final class ProviderHooks {

  /** The {@code {provider}} of {@code /hooks/{provider}/{backendId}}: the backend type of the same name. */
  public static final List<String> PROVIDERS = List.of("mailgun", "sendgrid", "postmark", "ses");

  private final WebhooksInConfig config;
  private final ReplayCache replays;
  private final SnsFetcher sns;

  public ProviderHooks(Vertx vertx, WebhooksInConfig config) {
    this.config = config;
    this.replays = new ReplayCache(config.replayCacheSize(), config.maxAge().toMillis());
    this.sns = new SnsFetcher(vertx, config.certCacheSize(), config.maxCertBytes(), config.fetchTimeout());
  }

  public WebhooksInConfig config() {
    return config;
  }

  /**
   * The hook of a backend of type {@code provider} with these settings (secrets opened). A backend whose settings
   * configure no webhook answers as if it had none: {@link NotFoundException}.
   */
  ProviderHook forBackend(String provider, JsonObject settings) {
    long maxAge = config.maxAge().toMillis();
    int maxEvents = config.maxEvents();
    switch (provider) {
      case "mailgun" -> {
        MailgunSettings s = MailgunSettings.parse(settings);
        if (s.webhookSigningKey() != null) {
          return new MailgunHook(s.webhookSigningKey(), maxAge, replays);
        }
      }
      case "sendgrid" -> {
        SendGridSettings s = SendGridSettings.parse(settings);
        if (s.webhookPublicKey() != null) {
          try {
            return new SendGridHook(SendGridSettings.webhookKey(s.webhookPublicKey()), maxAge, maxEvents);
          } catch (GeneralSecurityException e) {
            throw new IllegalStateException("a checked webhookPublicKey no longer parses", e);
          }
        }
      }
      case "postmark" -> {
        PostmarkSettings s = PostmarkSettings.parse(settings);
        if (s.webhookUser() != null) {
          return new PostmarkHook(s.webhookUser(), s.webhookPassword(), maxEvents);
        }
      }
      case "ses" -> {
        SesSettings s = SesSettings.parse(settings);
        if (!s.snsTopicArns().isEmpty()) {
          return new SnsHook(s.snsTopicArns(), s.snsCertScheme(), s.snsCertHost(), sns, maxEvents);
        }
      }
      default -> throw new NotFoundException("webhook");
    }
    throw new NotFoundException("webhook");
  }

  public void close() {
    sns.close();
  }
}

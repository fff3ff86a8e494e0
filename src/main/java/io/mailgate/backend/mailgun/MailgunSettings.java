package io.mailgate.backend.mailgun;

import io.mailgate.backend.http.CallLimits;
import io.mailgate.backend.SettingsReader;
import io.vertx.core.json.JsonObject;
import java.util.HashSet;
import java.util.Set;

/**
 * Settings of a {@code mailgun} backend. README lists each with its default.
 *
 * @param baseUrl the API's base URL: {@code baseUrl} if set, else the region's ({@link #EU_URL}, {@link #US_URL})
 */
public record MailgunSettings(String apiKey, String domain, String region, String baseUrl, String webhookSigningKey,
                              CallLimits limits) {

  /** Mailgun's limit of recipients in one batch call. */
  public static final int MAX_RECIPIENTS_PER_CALL = 1000;
  public static final String EU_URL = "https://api.eu.mailgun.net";
  public static final String US_URL = "https://api.mailgun.net";

  public static final Set<String> SECRETS = Set.of("apiKey", "webhookSigningKey");
  private static final Set<String> KNOWN = known();

  private static Set<String> known() {
    Set<String> k = new HashSet<>(Set.of("apiKey", "domain", "region", "baseUrl", "webhookSigningKey"));
    k.addAll(CallLimits.KEYS);
    return Set.copyOf(k);
  }

  public static MailgunSettings parse(JsonObject s) {
    SettingsReader r = new SettingsReader(s, "mailgun", KNOWN);
    String apiKey = r.secret("apiKey", true);
    String domain = r.required("domain");
    if (!domain.matches("[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
        || domain.length() > 253) {
      throw SettingsReader.invalid("domain", "must be a domain name such as mg.example.com");
    }
    String region = r.oneOf("region", null, Set.of("eu", "us"));
    String baseUrl = r.baseUrl("baseUrl");
    if (baseUrl == null) {
      baseUrl = region.equals("eu") ? EU_URL : US_URL;
    }
    return new MailgunSettings(apiKey, domain.toLowerCase(java.util.Locale.ROOT), region, baseUrl,
        r.secret("webhookSigningKey", false), CallLimits.parse(r, MAX_RECIPIENTS_PER_CALL));
  }

  /** {@code POST} target for messages of the sending domain. */
  public String messagesUrl() {
    return baseUrl + "/v3/" + domain + "/messages";
  }

  /** {@code POST} target for whole MIME messages (shared and MIME jobs). */
  public String mimeUrl() {
    return messagesUrl() + ".mime";
  }

  @Override
  public String toString() {
    return "MailgunSettings[domain=" + domain + ", region=" + region + ", baseUrl=" + baseUrl + ", " + limits + "]";
  }
}

package io.mailgate.backend.sendgrid;

import io.mailgate.backend.http.CallLimits;
import io.mailgate.backend.SettingsReader;
import io.vertx.core.json.JsonObject;
import java.util.HashSet;
import java.util.Set;

/**
 * Settings of a {@code sendgrid} backend. README lists each with its default.
 *
 * @param region  {@code eu} (an EU-pinned SendGrid subuser, {@link #EU_URL}) or {@code global} ({@link #GLOBAL_URL})
 * @param baseUrl the API's base URL: {@code baseUrl} if set, else the region's
 * @param webhookPublicKey the Signed Event Webhook's verification key (base64 of the DER public key SendGrid shows);
 *     null: the backend takes no event webhook
 */
public record SendGridSettings(String apiKey, String region, String baseUrl, String webhookPublicKey, CallLimits limits) {

  /** SendGrid's limit of personalizations (and recipients) in one request. */
  public static final int MAX_RECIPIENTS_PER_CALL = 1000;
  public static final String EU_URL = "https://api.eu.sendgrid.com";
  public static final String GLOBAL_URL = "https://api.sendgrid.com";

  public static final Set<String> SECRETS = Set.of("apiKey");
  private static final Set<String> KNOWN = known();

  private static Set<String> known() {
    Set<String> k = new HashSet<>(Set.of("apiKey", "region", "baseUrl", "webhookPublicKey"));
    k.addAll(CallLimits.KEYS);
    return Set.copyOf(k);
  }

  public static SendGridSettings parse(JsonObject s) {
    SettingsReader r = new SettingsReader(s, "sendgrid", KNOWN);
    String apiKey = r.secret("apiKey", true);
    String region = r.oneOf("region", "global", Set.of("eu", "global"));
    String baseUrl = r.baseUrl("baseUrl");
    if (baseUrl == null) {
      baseUrl = region.equals("eu") ? EU_URL : GLOBAL_URL;
    }
    String publicKey = r.string("webhookPublicKey", null);
    if (publicKey != null) {
      publicKey = publicKey.replaceAll("\\s", "");
      try {
        webhookKey(publicKey);
      } catch (IllegalArgumentException | java.security.GeneralSecurityException e) {
        throw SettingsReader.invalid("webhookPublicKey",
            "must be the Signed Event Webhook's verification key: base64 of an EC P-256 public key (DER)");
      }
    }
    return new SendGridSettings(apiKey, region, baseUrl, publicKey, CallLimits.parse(r, MAX_RECIPIENTS_PER_CALL));
  }

  /** The Signed Event Webhook's key from its base64 DER form (SubjectPublicKeyInfo), as SendGrid shows it. */
  public static java.security.PublicKey webhookKey(String base64) throws java.security.GeneralSecurityException {
    byte[] der = java.util.Base64.getDecoder().decode(base64);
    java.security.PublicKey k = java.security.KeyFactory.getInstance("EC")
        .generatePublic(new java.security.spec.X509EncodedKeySpec(der));
    if (!(k instanceof java.security.interfaces.ECPublicKey ec) || ec.getParams().getCurve().getField().getFieldSize() != 256) {
      throw new java.security.InvalidKeyException("not a P-256 key");
    }
    return k;
  }

  public String sendUrl() {
    return baseUrl + "/v3/mail/send";
  }

  @Override
  public String toString() {
    return "SendGridSettings[region=" + region + ", baseUrl=" + baseUrl + ", " + limits + "]";
  }
}

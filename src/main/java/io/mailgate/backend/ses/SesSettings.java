package io.mailgate.backend.ses;

import io.mailgate.backend.SettingsReader;
import io.mailgate.backend.http.CallLimits;
import io.vertx.core.json.JsonObject;
import java.util.Set;

/**
 * Settings of an {@code ses} backend (Amazon SES v2). README lists each with its default.
 *
 * @param limits entries per call ({@code maxEntriesPerCall}), calls in flight (the worker pool's size), rate and
 *     timeouts
 * @param snsTopicArns the SNS topics whose notifications the backend's webhook takes (empty: no webhook)
 * @param snsCertHost the pattern the host of an SNS SigningCertURL (and SubscribeURL) must match, whole
 * @param snsCertScheme the scheme those URLs must have: {@code https}; {@code http} only for a loopback host (tests)
 */
public record SesSettings(String accessKeyId, String secretAccessKey, String awsRegion, String endpoint,
                          String configurationSetName, CallLimits limits, java.util.List<String> snsTopicArns,
                          java.util.regex.Pattern snsCertHost, String snsCertScheme) {

  /** Where SNS serves its signing certificates and subscription links: sns.{region}.amazonaws.com. */
  public static final String DEFAULT_SNS_CERT_HOST = "sns\\.[a-z0-9-]+\\.amazonaws\\.com";
  /** SNS topics a webhook takes, at most. */
  static final int MAX_TOPICS = 50;

  /** SES's starting production quota, messages per second. */
  static final double DEFAULT_RATE = 14;

  /** SES's own limit of entries in one SendBulkEmail call. */
  static final int BULK_LIMIT = 50;

  public static final Set<String> SECRETS = Set.of("secretAccessKey");
  private static final Set<String> KNOWN = Set.of("accessKeyId", "secretAccessKey", "awsRegion", "endpoint",
      "configurationSetName", "maxEntriesPerCall", "maxConcurrentCalls", "ratePerSecond", "connectTimeout",
      "requestTimeout", "snsTopicArns", "snsCertHostPattern", "snsCertScheme");

  public static SesSettings parse(JsonObject s) {
    SettingsReader r = new SettingsReader(s, "ses", KNOWN);
    String keyId = r.string("accessKeyId", null);
    if (keyId == null || !keyId.matches("[A-Za-z0-9]{16,128}")) {
      throw SettingsReader.invalid("accessKeyId", "is required: an AWS access key id (16 to 128 letters and digits)");
    }
    String secret = r.string("secretAccessKey", null);
    if (secret == null || !secret.matches("[\\x21-\\x7e]{1,256}")) {
      throw SettingsReader.invalid("secretAccessKey", "is required: the AWS secret access key (printable ASCII)");
    }
    String region = r.string("awsRegion", null);
    if (region == null || !region.matches("[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")) {
      throw SettingsReader.invalid("awsRegion", "is required: an AWS region such as eu-west-1");
    }
    String configSet = r.string("configurationSetName", null);
    if (configSet != null && !configSet.matches("[A-Za-z0-9_-]{1,64}")) {
      throw SettingsReader.invalid("configurationSetName", "must be 1 to 64 letters, digits, '-' or '_'");
    }
    String endpoint = r.baseUrl("endpoint");
    return new SesSettings(keyId, secret, region, endpoint, configSet,
        CallLimits.parse(r, "maxEntriesPerCall", BULK_LIMIT, 64, DEFAULT_RATE), topics(s),
        hostPattern(r.string("snsCertHostPattern", DEFAULT_SNS_CERT_HOST)),
        r.oneOf("snsCertScheme", "https", Set.of("https", "http")));
  }

  /** A list of topic ARNs ({@code arn:aws:sns:region:account:name}), or one as a string. */
  private static java.util.List<String> topics(JsonObject s) {
    Object v = s.getValue("snsTopicArns");
    if (v == null) {
      return java.util.List.of();
    }
    java.util.List<?> items = v instanceof String one ? java.util.List.of(one)
        : v instanceof io.vertx.core.json.JsonArray a ? a.getList() : null;
    if (items == null || items.size() > MAX_TOPICS) {
      throw SettingsReader.invalid("snsTopicArns", "must be a list of at most " + MAX_TOPICS + " SNS topic ARNs");
    }
    java.util.List<String> out = new java.util.ArrayList<>();
    for (Object o : items) {
      if (!(o instanceof String arn) || !arn.matches("arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]{1,256}")) {
        throw SettingsReader.invalid("snsTopicArns", "must hold SNS topic ARNs such as arn:aws:sns:eu-west-1:123456789012:ses-events");
      }
      out.add(arn);
    }
    return java.util.List.copyOf(out);
  }

  private static java.util.regex.Pattern hostPattern(String v) {
    try {
      if (v.length() > 500) {
        throw new java.util.regex.PatternSyntaxException("too long", v, 0);
      }
      return java.util.regex.Pattern.compile(v, java.util.regex.Pattern.CASE_INSENSITIVE);
    } catch (java.util.regex.PatternSyntaxException e) {
      throw SettingsReader.invalid("snsCertHostPattern", "must be a regular expression of at most 500 characters");
    }
  }

  @Override
  public String toString() {
    return "SesSettings[accessKeyId=" + accessKeyId + ", awsRegion=" + awsRegion + ", endpoint=" + endpoint + ", "
        + limits + "]";
  }
}

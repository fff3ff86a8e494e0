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
 */
record SesSettings(String accessKeyId, String secretAccessKey, String awsRegion, String endpoint,
                   String configurationSetName, CallLimits limits) {

  /** SES's starting production quota, messages per second. */
  static final double DEFAULT_RATE = 14;

  /** SES's own limit of entries in one SendBulkEmail call. */
  static final int BULK_LIMIT = 50;

  static final Set<String> SECRETS = Set.of("secretAccessKey");
  private static final Set<String> KNOWN = Set.of("accessKeyId", "secretAccessKey", "awsRegion", "endpoint",
      "configurationSetName", "maxEntriesPerCall", "maxConcurrentCalls", "ratePerSecond", "connectTimeout",
      "requestTimeout");

  static SesSettings parse(JsonObject s) {
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
        CallLimits.parse(r, "maxEntriesPerCall", BULK_LIMIT, 64, DEFAULT_RATE));
  }

  @Override
  public String toString() {
    return "SesSettings[accessKeyId=" + accessKeyId + ", awsRegion=" + awsRegion + ", endpoint=" + endpoint + ", "
        + limits + "]";
  }
}

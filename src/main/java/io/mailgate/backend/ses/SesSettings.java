package io.mailgate.backend.ses;

import io.mailgate.backend.SettingsReader;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Set;

/** Settings of an {@code ses} backend (Amazon SES v2). README lists each with its default. */
record SesSettings(
    String accessKeyId,
    String secretAccessKey,
    String awsRegion,
    String endpoint,
    String configurationSetName,
    int maxEntriesPerCall,
    int maxConcurrentCalls,
    double ratePerSecond,
    Duration connectTimeout,
    Duration requestTimeout) {

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
    return new SesSettings(keyId, secret, region,
        r.baseUrl("endpoint"),
        configSet,
        r.integer("maxEntriesPerCall", BULK_LIMIT, 1, BULK_LIMIT),
        r.integer("maxConcurrentCalls", 4, 1, 64),
        r.number("ratePerSecond", 14, 0, 1_000_000),
        r.duration("connectTimeout", Duration.ofSeconds(10)),
        r.duration("requestTimeout", Duration.ofSeconds(60)));
  }

  @Override
  public String toString() {
    return "SesSettings[accessKeyId=" + accessKeyId + ", awsRegion=" + awsRegion + ", endpoint=" + endpoint
        + ", maxEntriesPerCall=" + maxEntriesPerCall + ", maxConcurrentCalls=" + maxConcurrentCalls + "]";
  }
}

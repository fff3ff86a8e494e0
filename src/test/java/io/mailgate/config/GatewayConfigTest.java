package io.mailgate.config;

import org.junit.jupiter.api.Timeout;
import java.util.concurrent.TimeUnit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.config.GatewayConfig.DispatchConfig;
import io.mailgate.config.GatewayConfig.HttpConfig;
import io.mailgate.config.GatewayConfig.LimitsConfig;
import io.mailgate.config.GatewayConfig.RetryConfig;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@Timeout(value = 5, unit = TimeUnit.MINUTES)
class GatewayConfigTest {

  private static final GatewayConfig DEFAULTS = GatewayConfig.from(Map.of());

  @Test
  void defaultsMatchTheReadme() {
    GatewayConfig c = DEFAULTS;
    assertEquals(Paths.get("./data").toAbsolutePath().normalize(), c.dataDir());
    assertEquals(Optional.empty(), c.dbUrl());
    assertEquals(16, c.dbPoolSize());
    assertEquals(Optional.empty(), c.adminToken());
    assertEquals(Optional.empty(), c.secretKey());
    assertFalse(c.nodeId().isBlank());
  }

  @Test
  void httpDefaults() {
    HttpConfig h = DEFAULTS.http();
    assertEquals("0.0.0.0", h.host());
    assertEquals(8080, h.port());
    assertEquals(Runtime.getRuntime().availableProcessors(), h.instances());
  }

  @Test
  void limitDefaults() {
    LimitsConfig l = DEFAULTS.limits();
    assertEquals(16L * 1024 * 1024, l.maxJsonBodyBytes());
    assertEquals(64 * 1024, l.maxNdjsonLineBytes());
    assertEquals(10_000_000, l.maxRecipientsPerJob());
    assertEquals(1024 * 1024, l.maxTemplateBytes());
    assertEquals(998, l.maxSubjectChars());
    assertEquals(50, l.maxHeaders());
    assertEquals(998, l.maxHeaderValueChars());
    assertEquals(10, l.maxTags());
    assertEquals(128, l.maxTagChars());
    assertEquals(100, l.maxVarsPerRecipient());
    assertEquals(255, l.maxIdempotencyKeyChars());
    assertEquals(4, DEFAULTS.intake().maxStreams());
    assertEquals(0.5, DEFAULTS.intake().tenantShare());
    assertEquals(5000, l.ingestBatchRows());
    assertEquals(2, l.ingestBatchesInFlight());
    assertEquals(1000, l.maxPageSize());
  }

  @Test
  void dispatchDefaults() {
    DispatchConfig d = DEFAULTS.dispatch();
    assertTrue(d.enabled());
    assertEquals(500, d.chunkSize());
    assertEquals(Duration.ofSeconds(60), d.leaseTime());
    assertEquals(8, d.maxChunksInFlight());
    assertEquals(Duration.ofMillis(250), d.pollInterval());
    assertEquals(Duration.ofMillis(500), d.controlPollInterval());
    assertEquals(Duration.ofMillis(100), d.stateFlushInterval());
    assertEquals(500, d.stateFlushBatch());
    assertEquals(Duration.ofSeconds(30), d.shutdownGrace());
    assertEquals(Duration.ofSeconds(5), d.statsInterval());
  }

  @Test
  void retryDefaults() {
    RetryConfig r = DEFAULTS.retry();
    assertEquals(Duration.ofMinutes(1), r.baseDelay());
    assertEquals(Duration.ofHours(1), r.maxDelay());
    assertEquals(10, r.maxAttempts());
    assertEquals(Duration.ofHours(8), r.maxAge());
    assertEquals(0.5, r.jitter());
  }

  @Test
  void generatesADifferentNodeIdPerConfigUnlessGiven() {
    assertNotEquals(DEFAULTS.nodeId(), GatewayConfig.from(Map.of()).nodeId());
    assertEquals("node-a", GatewayConfig.from(Map.of("MAILGATE_NODE_ID", "node-a")).nodeId());
  }

  @Test
  void readsOverridesFromTheEnvironment() {
    GatewayConfig c = GatewayConfig.from(Map.ofEntries(
        Map.entry("MAILGATE_HTTP_PORT", "9090"),
        Map.entry("MAILGATE_HTTP_HOST", "127.0.0.1"),
        Map.entry("MAILGATE_DATA_DIR", "/var/lib/mailgate/../mailgate"),
        Map.entry("MAILGATE_DB_URL", "postgresql://u:p@db:5432/mailgate"),
        Map.entry("MAILGATE_ADMIN_TOKEN", "t0ken"),
        Map.entry("MAILGATE_CHUNK_SIZE", "1000"),
        Map.entry("MAILGATE_LEASE_TIME", "2m"),
        Map.entry("MAILGATE_DISPATCH_ENABLED", "false"),
        Map.entry("MAILGATE_MAX_NDJSON_LINE", "1mb"),
        Map.entry("MAILGATE_MAX_JSON_BODY", "64mb"),
        Map.entry("MAILGATE_RETRY_MAX_AGE", "2d"),
        Map.entry("MAILGATE_RETRY_BASE_DELAY", "250ms")));
    assertEquals(9090, c.http().port());
    assertEquals("127.0.0.1", c.http().host());
    assertEquals(Paths.get("/var/lib/mailgate"), c.dataDir());
    assertEquals(Optional.of("postgresql://u:p@db:5432/mailgate"), c.dbUrl());
    assertEquals(Optional.of("t0ken"), c.adminToken());
    assertEquals(1000, c.dispatch().chunkSize());
    assertEquals(Duration.ofMinutes(2), c.dispatch().leaseTime());
    assertFalse(c.dispatch().enabled());
    assertEquals(1024 * 1024, c.limits().maxNdjsonLineBytes());
    assertEquals(64L * 1024 * 1024, c.limits().maxJsonBodyBytes());
    assertEquals(Duration.ofDays(2), c.retry().maxAge());
    assertEquals(Duration.ofMillis(250), c.retry().baseDelay());
  }

  @ParameterizedTest
  @CsvSource({
      "MAILGATE_HTTP_PORT,            70000",
      "MAILGATE_HTTP_PORT,            http",
      "MAILGATE_HTTP_INSTANCES,       0",
      "MAILGATE_DB_POOL_SIZE,         1",
      "MAILGATE_CHUNK_SIZE,           0",
      "MAILGATE_LEASE_TIME,           60",
      "MAILGATE_DISPATCH_ENABLED,     maybe",
      "MAILGATE_MAX_JSON_BODY,        16 megabytes",
      "MAILGATE_RETRY_MAX_ATTEMPTS,   0",
      "MAILGATE_RETRY_MAX_AGE,        forever",
      "MAILGATE_STATS_INTERVAL,       5"})
  void rejectsBadValuesNamingTheVariable(String name, String value) {
    ConfigException e = assertThrows(ConfigException.class, () -> GatewayConfig.from(Map.of(name, value)));
    assertTrue(e.getMessage().startsWith(name + " "), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({
      "MAILGATE_MAX_NDJSON_LINE,     4gb",
      "MAILGATE_MAX_NDJSON_LINE,     2gb",
      "MAILGATE_MAX_TEMPLATE_BYTES,  3gb"})
  void rejectsSizesTooLargeForTheirLimitNamingTheVariable(String name, String value) {
    ConfigException e = assertThrows(ConfigException.class, () -> GatewayConfig.from(Map.of(name, value)),
        () -> name + "=" + value + " was accepted");
    assertTrue(e.getMessage().startsWith(name + " "), e.getMessage());
  }

  @Test
  void withersReplaceOnlyTheirPart() {
    GatewayConfig c = DEFAULTS.withHttp(new HttpConfig("127.0.0.1", 0, 1));
    assertEquals(0, c.http().port());
    assertEquals(DEFAULTS.limits(), c.limits());
    assertEquals(DEFAULTS.dispatch(), c.dispatch());
    assertEquals(DEFAULTS.retry(), c.retry());
    assertEquals(DEFAULTS.nodeId(), c.nodeId());
  }
}

package io.mailgate.support;

import io.mailgate.Gateway;
import io.mailgate.config.GatewayConfig;
import io.mailgate.store.DbTarget;
import io.mailgate.tenant.SecretBox;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A gateway started in this JVM on a test database, with settings sized for tests (short waits, small chunks). */
public final class TestGateway implements AutoCloseable {

  public static final String ADMIN_TOKEN = "test-admin-token-0123456789";
  public static final String SECRET_KEY = SecretBox.generateKey();

  public final Gateway gateway;
  public final Api api;
  public final DbTarget db;

  private TestGateway(Gateway gateway, DbTarget db) {
    this.gateway = gateway;
    this.db = db;
    this.api = new Api(gateway.httpPort(), ADMIN_TOKEN);
  }

  /** Settings for tests; {@code overrides} are environment variables as an operator would set them. */
  public static Map<String, String> env(Map<String, String> overrides) {
    Map<String, String> env = new HashMap<>();
    env.put("MAILGATE_HTTP_PORT", Integer.toString(freePort()));
    env.put("MAILGATE_HTTP_INSTANCES", "1");
    env.put("MAILGATE_CHUNK_SIZE", "100");
    env.put("MAILGATE_LEASE_TIME", "10s");
    env.put("MAILGATE_DISPATCH_POLL_INTERVAL", "50ms");
    env.put("MAILGATE_CONTROL_POLL_INTERVAL", "100ms");
    env.put("MAILGATE_RETRY_BASE_DELAY", "200ms");
    env.put("MAILGATE_RETRY_MAX_DELAY", "1s");
    env.put("MAILGATE_RETRY_MAX_ATTEMPTS", "5");
    env.put("MAILGATE_STATS_INTERVAL", "200ms");
    env.put("MAILGATE_SHUTDOWN_GRACE", "10s");
    env.put("MAILGATE_CIRCUIT_OPEN_TIME", "1s");
    try {
      env.put("MAILGATE_DATA_DIR", Files.createTempDirectory("mailgate-test").toString());
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    env.putAll(overrides);
    return env;
  }

  public static TestGateway start(DbTarget db) {
    return start(db, Map.of());
  }

  public static TestGateway start(DbTarget db, Map<String, String> overrides) {
    GatewayConfig config = GatewayConfig.from(env(overrides));
    try {
      Gateway g = Gateway.start(config, db, ADMIN_TOKEN, SecretBox.fromBase64(SECRET_KEY))
          .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
      return new TestGateway(g, db);
    } catch (Exception e) {
      throw new IllegalStateException("gateway did not start", e);
    }
  }

  public static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    try {
      gateway.stopAndWait(60);
    } catch (Exception e) {
      throw new IllegalStateException("gateway did not stop", e);
    }
    api.close();
  }

  public static Duration seconds(long s) {
    return Duration.ofSeconds(s);
  }
}

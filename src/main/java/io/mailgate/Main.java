package io.mailgate;

import io.mailgate.config.ConfigException;
import io.mailgate.config.GatewayConfig;
import io.mailgate.store.DbTarget;
import io.mailgate.store.EmbeddedDatabase;
import io.mailgate.store.Migrations;
import io.mailgate.tenant.AdminService;
import io.mailgate.tenant.LocalCredentials;
import io.mailgate.tenant.LocalCredentials.Credential;
import io.mailgate.tenant.SecretBox;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * Starts the gateway: the database (embedded unless MAILGATE_DB_URL names one), migrations, credentials, then
 * the event loops. On a first start with an empty database it creates a demo tenant with a file backend and
 * prints its API key and a curl command. SIGTERM shuts down gracefully.
 */
public final class Main {

  private static final Logger LOG = LoggerFactory.getLogger(Main.class);

  private Main() {}

  public static void main(String[] args) {
    try {
      run();
    } catch (Throwable e) {
      Throwable cause = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
      LOG.atError().setCause(cause).log("mailgate failed to start");
      System.exit(1);
    }
  }

  private static void run() throws Exception {
    GatewayConfig config;
    try {
      config = GatewayConfig.fromEnvironment();
    } catch (ConfigException e) {
      System.err.println("mailgate: " + e.getMessage());
      System.exit(2);
      return;
    }
    Path dataDir = config.dataDir();

    EmbeddedDatabase embedded = null;
    DbTarget db;
    if (config.dbUrl().isPresent()) {
      db = DbTarget.fromUrl(config.dbUrl().get());
    } else {
      LOG.atInfo().addKeyValue("dataDir", dataDir.resolve("pg")).log("starting embedded PostgreSQL");
      embedded = EmbeddedDatabase.start(dataDir.resolve("pg"), true);
      db = embedded.target();
    }
    int applied = Migrations.migrate(db);
    LOG.atInfo().addKeyValue("db", db.describe()).addKeyValue("migrationsApplied", applied).log("database ready");

    Credential admin = LocalCredentials.loadOrCreate(config.adminToken(), dataDir, "admin-token", Main::newToken);
    Credential key = LocalCredentials.loadOrCreate(config.secretKey(), dataDir, "secret.key", SecretBox::generateKey);
    SecretBox secrets = SecretBox.fromBase64(key.value());

    Gateway gateway = await(Gateway.start(config, db, admin.value(), secrets));
    EmbeddedDatabase pg = embedded;
    AtomicBoolean stopping = new AtomicBoolean();
    Runnable shutdown = () -> {
      if (!stopping.compareAndSet(false, true)) {
        return;
      }
      LOG.atInfo().log("shutting down");
      try {
        gateway.stopAndWait(config.dispatch().shutdownGrace().toSeconds() + 15);
      } catch (Exception e) {
        LOG.atWarn().addKeyValue("error", String.valueOf(e.getMessage())).log("shutdown did not finish cleanly");
      }
      if (pg != null) {
        try {
          pg.close();
        } catch (Exception e) {
          LOG.atWarn().addKeyValue("error", e.getMessage()).log("stopping embedded PostgreSQL failed");
        }
      }
      LOG.atInfo().log("stopped");
    };
    // SIGTERM and SIGINT are handled here rather than in a shutdown hook: hooks run concurrently, and the embedded
    // database's own hook would stop PostgreSQL while the dispatcher still releases its chunks
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        Signal.handle(new Signal(name), sig -> new Thread(() -> {
          shutdown.run();
          System.exit(0);
        }, "mailgate-shutdown").start());
      } catch (IllegalArgumentException e) {
        LOG.atDebug().addKeyValue("signal", name).log("signal not available; relying on the shutdown hook");
      }
    }
    Runtime.getRuntime().addShutdownHook(new Thread(shutdown, "mailgate-shutdown-hook"));

    int port = gateway.httpPort();
    LOG.atInfo().addKeyValue("port", port).addKeyValue("node", config.nodeId()).log("mailgate started");
    if (admin.generated()) {
      banner("Operator token (generated, kept in " + admin.file() + "):", admin.value());
    }
    Optional<String> demo = await(bootstrapDemo(gateway.admin(), dataDir));
    demo.ifPresent(apiKey -> printDemo(apiKey, port, dataDir));
  }

  /** A demo tenant on a file backend, on a first start only (no tenant exists yet). */
  private static Future<Optional<String>> bootstrapDemo(AdminService admin, Path dataDir) {
    return admin.tenantCount().compose(n -> {
      if (n > 0) {
        return Future.succeededFuture(Optional.empty());
      }
      JsonObject settings = new JsonObject().put("dir", dataDir.resolve("outbox").toString());
      return admin.createBackend("demo-file", "file", "eu", settings)
          .compose(b -> admin.createTenant("demo", "eu"))
          .compose(t -> admin.setBackend(t.tenant().id(), "demo-file").map(x -> Optional.of(t.apiKey())));
    });
  }

  private static void printDemo(String apiKey, int port, Path dataDir) {
    String body = "{\"from\":\"Demo <demo@example.com>\",\"subject\":\"Hello {{name}}\","
        + "\"text\":\"Hi {{name}}, this is mailgate.\",\"recipients\":[{\"email\":\"ann@example.com\",\"vars\":{\"name\":\"Ann\"}},"
        + "{\"email\":\"bob@example.com\",\"vars\":{\"name\":\"Bob\"}}]}";
    StringBuilder b = new StringBuilder();
    b.append("\n=====================================================================\n");
    b.append(" Demo tenant 'demo' created, routed to the file backend 'demo-file'.\n");
    b.append(" Its API key (shown this once):\n\n   ").append(apiKey).append("\n\n");
    b.append(" Send a first job:\n\n");
    b.append("   curl -s -X POST http://localhost:").append(port).append("/v1/jobs \\\n");
    b.append("     -H 'Authorization: Bearer ").append(apiKey).append("' \\\n");
    b.append("     -H 'Content-Type: application/json' \\\n");
    b.append("     -d '").append(body).append("'\n\n");
    b.append(" Then read it back (use the id from the answer):\n\n");
    b.append("   curl -s http://localhost:").append(port).append("/v1/jobs/<id> -H 'Authorization: Bearer ").append(apiKey).append("'\n\n");
    b.append(" The messages are written to ").append(dataDir.resolve("outbox")).append("/<id>/\n");
    b.append("=====================================================================\n");
    System.out.println(b);
    System.out.flush();
  }

  private static void banner(String title, String value) {
    System.out.println("\n" + title + "\n\n   " + value + "\n");
    System.out.flush();
  }

  private static String newToken() {
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    return "mga_" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  /** Start-up only, on the main thread before any work is handed to the event loops. */
  private static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
  }
}

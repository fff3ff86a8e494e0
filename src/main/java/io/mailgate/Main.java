package io.mailgate;

import io.mailgate.config.ConfigException;
import io.mailgate.config.GatewayConfig;
import io.mailgate.store.DbTarget;
import io.mailgate.store.embedded.EmbeddedDatabase;
import io.mailgate.store.embedded.EmbeddedDatabaseException;
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
 * The {@code mailgate} command. {@code serve} (the default) starts the gateway: the database (embedded and
 * supervised unless MAILGATE_DB_URL names one), migrations, credentials, then the event loops; SIGTERM shuts it
 * down gracefully. {@code backup} and {@code restore} copy the database to and from a file.
 */
public final class Main {

  private static final Logger LOG = LoggerFactory.getLogger(Main.class);

  private Main() {}

  public static void main(String[] args) {
    String command = args.length == 0 ? "serve" : args[0];
    try {
      switch (command) {
        case "serve" -> run();
        case "backup", "restore" -> System.exit(BackupCommands.run(command, args));
        case "help", "--help", "-h" -> usage(System.out);
        default -> {
          usage(System.err);
          System.exit(2);
        }
      }
    } catch (ConfigException | EmbeddedDatabaseException e) {
      System.err.println("mailgate: " + e.getMessage());
      System.exit(2);
    } catch (Throwable e) {
      Throwable cause = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
      LOG.atError().setCause(cause).log("mailgate failed to start");
      System.exit(1);
    }
  }

  private static void usage(java.io.PrintStream out) {
    out.println("""
        usage: java -jar mailgate.jar [serve]        run the gateway (settings: MAILGATE_* environment variables)
               java -jar mailgate.jar backup FILE    write a consistent copy of the database to FILE, also while it runs
               java -jar mailgate.jar restore FILE   load FILE into an empty database (a new MAILGATE_DATA_DIR)""");
  }

  private static void run() throws Exception {
    GatewayConfig config = GatewayConfig.fromEnvironment();
    Path dataDir = config.dataDir();

    EmbeddedDatabase embedded = null;
    DbTarget db;
    if (config.dbUrl().isPresent()) {
      db = DbTarget.fromUrl(config.dbUrl().get());
    } else {
      LOG.atInfo().addKeyValue("dataDir", dataDir.resolve("pg")).log("starting embedded PostgreSQL");
      embedded = EmbeddedDatabase.start(dataDir.resolve("pg"), config.embeddedDb().options());
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
    java.util.function.LongConsumer shutdown = timeoutSeconds -> {
      if (!stopping.compareAndSet(false, true)) {
        return;
      }
      LOG.atInfo().log("shutting down");
      try {
        gateway.stopAndWait(timeoutSeconds);
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
    long graceful = config.dispatch().shutdownGrace().toSeconds() + 15;
    // SIGTERM and SIGINT are handled here rather than in a shutdown hook: hooks run concurrently, and a database
    // stopped by another hook would leave the dispatcher unable to release its chunks
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        Signal.handle(new Signal(name), sig -> new Thread(() -> {
          shutdown.accept(graceful);
          System.exit(0);
        }, "mailgate-shutdown").start());
      } catch (IllegalArgumentException e) {
        LOG.atDebug().addKeyValue("signal", name).log("signal not available; relying on the shutdown hook");
      }
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> shutdown.accept(graceful), "mailgate-shutdown-hook"));
    if (embedded != null) {
      superviseEmbedded(embedded, config, gateway, shutdown);
    }

    int port = gateway.httpPort();
    LOG.atInfo().addKeyValue("port", port).addKeyValue("node", config.nodeId()).log("mailgate started");
    if (admin.generated()) {
      banner("Operator token (generated, kept in " + admin.file() + "):", admin.value());
    }
    boolean demo = switch (config.demo()) {
      case ON -> true;
      case OFF -> false;
      case AUTO -> embedded != null;
    };
    if (demo) {
      try {
        await(bootstrapDemo(gateway.admin(), dataDir)).ifPresent(k -> printDemo(k, port, dataDir));
      } catch (Exception e) {
        // the gateway runs; the demo is tried again at the next start on an empty database
        LOG.atWarn().addKeyValue("error", String.valueOf(e.getMessage())).log("could not create the demo tenant");
      }
    }
  }

  /**
   * The embedded server died under the running gateway: requests answer 503 and dispatch backs off while it is
   * started again; if it cannot be, the gateway exits (status 3) with the reason, for the service manager to act on.
   */
  private static void superviseEmbedded(EmbeddedDatabase embedded, GatewayConfig config, Gateway gateway,
                                        java.util.function.LongConsumer shutdown) {
    var c = config.embeddedDb();
    embedded.supervise(c.restartDelay(), c.restartAttempts(), new EmbeddedDatabase.Supervisor() {
      @Override
      public void down(String why) {
        gateway.databaseDown(why);
      }

      @Override
      public void up() {
        gateway.databaseUp();
      }

      @Override
      public void gaveUp(String why) {
        LOG.atError().log(why + "; mailgate exits so that its service manager can start it again");
        new Thread(() -> {
          shutdown.accept(5);
          System.exit(3);
        }, "mailgate-exit").start();
      }
    });
  }

  /**
   * A demo tenant on a file backend, on a first start only (no tenant exists yet), for the embedded quick start or
   * when MAILGATE_DEMO=true; never on an external database unless asked.
   */
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

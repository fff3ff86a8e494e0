package io.mailgate;

import io.mailgate.config.GatewayConfig;
import io.mailgate.store.Backup;
import io.mailgate.store.DbTarget;
import io.mailgate.store.embedded.EmbeddedDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code mailgate backup FILE} and {@code mailgate restore FILE}, on the database the gateway would use: the one
 * MAILGATE_DB_URL names, or the embedded one in MAILGATE_DATA_DIR (reached while a gateway runs on it, started for
 * the command otherwise).
 */
final class BackupCommands {
  private BackupCommands() {}

  interface Work {
    Backup.Summary on(DbTarget db) throws Exception;
  }

  static int run(String command, String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: java -jar mailgate.jar " + command + " FILE");
      return 2;
    }
    GatewayConfig config = GatewayConfig.fromEnvironment();
    Path file = Path.of(args[1]).toAbsolutePath().normalize();
    Backup.Summary s;
    try {
      s = command.equals("backup") ? backup(config, file) : restore(config, file);
    } catch (java.io.IOException | java.sql.SQLException e) {
      System.err.println("mailgate " + command + ": " + e.getMessage() + " (nothing was changed)");
      return 1;
    }
    if (s == null) {
      return 2;
    }
    s.rows().forEach((t, n) -> System.out.printf("  %-24s %,d%n", t, n));
    return 0;
  }

  private static Backup.Summary backup(GatewayConfig config, Path file) throws Exception {
    Backup.Summary s = onDatabase(config, true, db -> Backup.write(db, file));
    System.out.printf("backup of schema version %s written to %s: %,d rows%n", s.schemaVersion(), file, s.totalRows());
    return s;
  }

  private static Backup.Summary restore(GatewayConfig config, Path file) throws Exception {
    if (!Files.isReadable(file)) {
      System.err.println("mailgate restore: cannot read " + file);
      return null;
    }
    Backup.Summary s = onDatabase(config, false, db -> Backup.restore(db, file));
    System.out.printf("restored %,d rows (schema version %s) from %s into %s%n", s.totalRows(), s.schemaVersion(), file,
        config.dbUrl().isPresent() ? "MAILGATE_DB_URL" : config.dataDir().resolve("pg"));
    return s;
  }

  private static Backup.Summary onDatabase(GatewayConfig config, boolean runningIsFine, Work work) throws Exception {
    if (config.dbUrl().isPresent()) {
      return work.on(DbTarget.fromUrl(config.dbUrl().get()));
    }
    Path dir = config.dataDir().resolve("pg");
    Optional<DbTarget> running = EmbeddedDatabase.running(dir);
    if (running.isPresent() && runningIsFine) {
      return work.on(running.get());
    }
    // not running (or a restore, which refuses a database in use): start the embedded server for this command
    try (EmbeddedDatabase db = EmbeddedDatabase.start(dir, config.embeddedDb().options())) {
      return work.on(db.target());
    }
  }
}

package io.mailgate.store;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/**
 * A real PostgreSQL server started from the binaries on the classpath (io.zonky.test), for running
 * without an external database. Its data directory survives restarts. Blocking: start it before Vert.x.
 */
public final class EmbeddedDatabase implements AutoCloseable {

  private final EmbeddedPostgres postgres;
  private final DbTarget target;

  private EmbeddedDatabase(EmbeddedPostgres postgres, DbTarget target) {
    this.postgres = postgres;
    this.target = target;
  }

  /**
   * @param dataDir the cluster's directory; created by initdb on first start, reused after
   * @param durable {@code true} keeps synchronous_commit on, so a commit (and the 202 that follows it) survives
   *     a crash; tests may turn it off for speed
   */
  public static EmbeddedDatabase start(Path dataDir, boolean durable) throws IOException, SQLException {
    Files.createDirectories(dataDir.getParent());
    EmbeddedPostgres pg = EmbeddedPostgres.builder()
        .setDataDirectory(dataDir.toFile())
        .setCleanDataDirectory(false)
        .setPGStartupWait(Duration.ofSeconds(60))
        .setServerConfig("synchronous_commit", durable ? "on" : "off")
        .setServerConfig("max_connections", "200")
        .setServerConfig("shared_buffers", "128MB")
        .setServerConfig("max_wal_size", "2GB")
        .start();
    try (Connection c = pg.getPostgresDatabase().getConnection();
        Statement st = c.createStatement()) {
      try (ResultSet rs = st.executeQuery("SELECT 1 FROM pg_database WHERE datname = 'mailgate'")) {
        if (!rs.next()) {
          st.execute("CREATE DATABASE mailgate");
        }
      }
    }
    return new EmbeddedDatabase(pg, new DbTarget("127.0.0.1", pg.getPort(), "mailgate", "postgres", ""));
  }

  public DbTarget target() {
    return target;
  }

  @Override
  public void close() throws IOException {
    postgres.close();
  }
}

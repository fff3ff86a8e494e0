package io.mailgate.support;

import io.mailgate.store.DbTarget;
import io.mailgate.store.embedded.EmbeddedDatabase;
import io.mailgate.store.Migrations;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.UUID;

/**
 * Real PostgreSQL for tests: one embedded server per test JVM, or the server named by MAILGATE_TEST_DB_URL
 * ({@code postgresql://user:pass@host:port/db}, a user allowed to CREATE DATABASE). Each caller gets a fresh
 * database built by the real Flyway migrations.
 */
public final class TestDatabase {

  private static EmbeddedDatabase embedded;
  private static DbTarget server;

  private TestDatabase() {}

  public static DbTarget fresh() {
    return freshAt(null);
  }

  /** A fresh database built by the migrations up to {@code version} (all of them when null), to test a migration. */
  public static synchronized DbTarget freshAt(String version) {
    try {
      if (server == null) {
        String url = System.getenv("MAILGATE_TEST_DB_URL");
        if (url != null && !url.isBlank()) {
          server = DbTarget.fromUrl(url);
        } else {
          Path dir = Files.createTempDirectory("mailgate-test-pg");
          embedded = EmbeddedDatabase.start(dir.resolve("data"), false);
          server = embedded.target();
          Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
              embedded.close();
            } catch (Exception e) {
              // the JVM is exiting
            }
          }));
        }
      }
      String name = "mg_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
      try (Connection c = DriverManager.getConnection(server.jdbcUrl(), server.user(), server.password());
          Statement st = c.createStatement()) {
        st.execute("CREATE DATABASE " + name);
      }
      DbTarget db = server.withDatabase(name);
      if (version == null) {
        Migrations.migrate(db);
      } else {
        Migrations.migrate(db, version);
      }
      return db;
    } catch (Exception e) {
      throw new IllegalStateException("cannot set up a test database", e);
    }
  }

  /** A JDBC connection for assertions on what is (and is not) stored. */
  public static Connection jdbc(DbTarget db) throws Exception {
    return DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
  }

  public static long count(DbTarget db, String sql) {
    try (Connection c = jdbc(db); Statement st = c.createStatement(); var rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Records the highest value {@code countSql} ever takes, checked by the database itself after every statement
   * that writes {@code table}: a limit is checked where it is enforced, at each change, not by sampling. Read it
   * with {@link #peak}.
   */
  public static void trackPeak(DbTarget db, String name, String table, String countSql) {
    String fn = "test_peak_" + name;
    execute(db, "CREATE TABLE IF NOT EXISTS test_peaks (name text PRIMARY KEY, peak bigint NOT NULL)");
    execute(db, "INSERT INTO test_peaks VALUES ('" + name + "', 0) ON CONFLICT (name) DO UPDATE SET peak = 0");
    execute(db, "CREATE OR REPLACE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        + "UPDATE test_peaks SET peak = greatest(peak, (" + countSql + ")) WHERE name = '" + name + "'; RETURN NULL; END $$");
    execute(db, "CREATE TRIGGER " + fn + " AFTER INSERT OR UPDATE ON " + table + " FOR EACH STATEMENT EXECUTE FUNCTION " + fn + "()");
  }

  public static long peak(DbTarget db, String name) {
    return count(db, "SELECT peak FROM test_peaks WHERE name = '" + name + "'");
  }

  public static void execute(DbTarget db, String sql) {
    try (Connection c = jdbc(db); Statement st = c.createStatement()) {
      st.execute(sql);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}

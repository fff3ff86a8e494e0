package io.mailgate.store;

import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationVersion;

/** Brings the schema to the newest version with the Flyway migrations in {@code db/migration}. Blocking (JDBC). */
public final class Migrations {
  private Migrations() {}

  public static int migrate(DbTarget db) {
    return flyway(db, null).migrate().migrationsExecuted;
  }

  /** Up to {@code version} and no further (a restore loads rows into the schema they were written from). */
  public static int migrate(DbTarget db, String version) {
    return flyway(db, version).migrate().migrationsExecuted;
  }

  private static Flyway flyway(DbTarget db, String target) {
    var config = Flyway.configure()
        .dataSource(db.jdbcUrl(), db.user(), db.password())
        .locations("classpath:db/migration");
    if (target != null) {
      config.target(MigrationVersion.fromVersion(target));
    }
    return config.load();
  }
}

package io.mailgate.store;

import org.flywaydb.core.Flyway;

/** Brings the schema to the newest version with the Flyway migrations in {@code db/migration}. Blocking (JDBC). */
public final class Migrations {
  private Migrations() {}

  public static int migrate(DbTarget db) {
    Flyway flyway = Flyway.configure()
        .dataSource(db.jdbcUrl(), db.user(), db.password())
        .locations("classpath:db/migration")
        .load();
    return flyway.migrate().migrationsExecuted;
  }
}

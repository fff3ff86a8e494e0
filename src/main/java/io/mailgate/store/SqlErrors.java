package io.mailgate.store;

import io.vertx.pgclient.PgException;

/** Reads SQLSTATEs off database failures, so stores can turn them into domain exceptions. */
public final class SqlErrors {
  private SqlErrors() {}

  public static boolean isUniqueViolation(Throwable t) {
    return t instanceof PgException pg && "23505".equals(pg.getSqlState());
  }

  public static String constraint(Throwable t) {
    return t instanceof PgException pg ? pg.getConstraint() : null;
  }
}

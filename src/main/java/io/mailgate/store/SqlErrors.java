package io.mailgate.store;

import io.vertx.pgclient.PgException;

/** Reads SQLSTATEs off database failures, so stores can turn them into domain exceptions. */
public final class SqlErrors {
  private SqlErrors() {}

  public static boolean isUniqueViolation(Throwable t) {
    return t instanceof PgException pg && "23505".equals(pg.getSqlState());
  }

  /**
   * The database cannot be reached or is going away: refused or reset connections, a connection closed under a
   * query, PostgreSQL shutting down or starting up (SQLSTATE 57P01-57P03), connection failures (class 08), too many
   * connections (53300), or no pooled connection within the wait. The request may be retried; it stored nothing.
   */
  public static boolean isUnavailable(Throwable f) {
    for (Throwable t = f; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof java.io.IOException || t instanceof io.vertx.sqlclient.ClosedConnectionException
          || t instanceof io.netty.channel.ConnectTimeoutException || t instanceof io.vertx.core.http.ConnectionPoolTooBusyException) {
        return true;
      }
      if (t instanceof PgException pg && pg.getSqlState() != null) {
        String s = pg.getSqlState();
        if (s.startsWith("08") || s.equals("57P01") || s.equals("57P02") || s.equals("57P03") || s.equals("53300")) {
          return true;
        }
      }
      String m = t.getMessage();
      if (t instanceof io.vertx.core.VertxException && m != null
          && (m.startsWith("Timeout waiting for connection") || m.startsWith("Connection is not active") || m.contains("onnection closed"))) {
        return true;
      }
    }
    return false;
  }

  public static String constraint(Throwable t) {
    return t instanceof PgException pg ? pg.getConstraint() : null;
  }
}

package io.mailgate.store.embedded;

/**
 * The embedded database cannot be started as asked (another process holds its directory, it was made by another
 * PostgreSQL major version, the server does not come up). The message says what to do; nothing was changed.
 */
public final class EmbeddedDatabaseException extends RuntimeException {
  public EmbeddedDatabaseException(String message) {
    super(message);
  }

  public EmbeddedDatabaseException(String message, Throwable cause) {
    super(message, cause);
  }
}

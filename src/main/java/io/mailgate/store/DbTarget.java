package io.mailgate.store;

import io.mailgate.config.ConfigException;
import io.vertx.pgclient.PgConnectOptions;

/** Where the database is: the same place seen by the async client and by JDBC (Flyway). */
public record DbTarget(String host, int port, String database, String user, String password) {

  /** Parses {@code postgresql://user:pass@host:port/db}. */
  public static DbTarget fromUrl(String url) {
    try {
      PgConnectOptions o = PgConnectOptions.fromUri(url);
      return new DbTarget(o.getHost(), o.getPort(), o.getDatabase(), o.getUser(), o.getPassword());
    } catch (RuntimeException e) {
      // the message of the parser may contain the password; say only what is wrong
      throw new ConfigException("MAILGATE_DB_URL must look like postgresql://user:pass@host:port/db");
    }
  }

  /** The longest statement kept prepared per connection (ours are at most ~10,000 characters). */
  static final int PREPARED_STATEMENT_CACHE_SQL_LIMIT = 64 * 1024;

  public PgConnectOptions connectOptions() {
    return new PgConnectOptions()
        .setHost(host)
        .setPort(port)
        .setDatabase(database)
        .setUser(user)
        .setPassword(password)
        .setCachePreparedStatements(true)
        .setPreparedStatementCacheMaxSize(512)
        // the client keeps prepared only statements of up to 2,048 characters by default: the outcome batch (with its
        // events, counters and webhook outbox), the event intake's batch and the priority claim are longer, so they
        // were parsed and planned anew at every execution (PostgreSQL's log showed them <unnamed>). Kept: the 1M-
        // recipient dispatch went from 6,977 to 7,710 msg/s side by side (BENCHMARKS.md, 2026-12-03 session 16)
        .setPreparedStatementCacheSqlLimit(PREPARED_STATEMENT_CACHE_SQL_LIMIT)
        .setPipeliningLimit(256)
        // the claim and release statements are long: planning each execution anew cost 8 ms, more than running them.
        // Every statement of intake and dispatch is meant to go through an index, and the queue tables grow from
        // empty faster than autovacuum analyses them: a plan made on a fresh database (a few pages) scanned the
        // whole recipients table in every outcome write, and kept doing so once it held 300,000 rows (28 blocks
        // read per outcome, 0.7 ms each). With sequential scans priced out the plans stay on the indexes whatever
        // the statistics say; the few scans that have no index (operator statistics) still run.
        .setProperties(java.util.Map.of("plan_cache_mode", "force_generic_plan", "enable_seqscan", "off"));
  }

  public String jdbcUrl() {
    return "jdbc:postgresql://" + host + ":" + port + "/" + database;
  }

  /** Host, port and database, never the password: safe to log. */
  public String describe() {
    return "postgresql://" + user + "@" + host + ":" + port + "/" + database;
  }

  public DbTarget withDatabase(String db) {
    return new DbTarget(host, port, db, user, password);
  }
}

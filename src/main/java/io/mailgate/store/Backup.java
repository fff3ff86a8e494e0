package io.mailgate.store;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A logical copy of mailgate's tables: one consistent snapshot (a repeatable-read transaction, so it may run while
 * the gateway works), every table streamed with COPY into one zip entry, and a manifest with the schema version.
 * Restoring builds the schema with the same Flyway migrations up to that version, loads the rows in one transaction,
 * then migrates to the newest version; so a backup moves data across PostgreSQL major versions. Memory stays flat.
 * Backend secrets stay sealed with MAILGATE_SECRET_KEY, which is not in the backup: keep that key with it.
 * Blocking (JDBC): a command-line tool, never on an event loop.
 */
public final class Backup {

  private static final Logger LOG = LoggerFactory.getLogger(Backup.class);
  static final String FORMAT = "mailgate-backup";
  static final int FORMAT_VERSION = 1;
  private static final String MANIFEST = "manifest.json";

  /** What a backup or restore moved. */
  public record Summary(String schemaVersion, Map<String, Long> rows) {
    public long totalRows() {
      return rows.values().stream().mapToLong(Long::longValue).sum();
    }
  }

  private Backup() {}

  public static Summary write(DbTarget db, Path file) throws IOException, SQLException {
    Path tmp = file.resolveSibling(file.getFileName() + ".partial");
    Map<String, Long> rows = new LinkedHashMap<>();
    String schema;
    try (Connection c = connect(db)) {
      c.setAutoCommit(false);
      try (Statement st = c.createStatement()) {
        st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      }
      schema = schemaVersion(c);
      List<String> tables = tablesInDependencyOrder(c);
      JsonArray described = new JsonArray();
      CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
      try (OutputStream out = Files.newOutputStream(tmp); ZipOutputStream zip = new ZipOutputStream(out)) {
        for (String t : tables) {
          List<String> cols = columns(c, t);
          zip.putNextEntry(new ZipEntry(t + ".copy"));
          long n = copy.copyOut("COPY (SELECT " + String.join(", ", quoted(cols)) + " FROM " + ident(t) + ") TO STDOUT",
              unclosable(zip));
          zip.closeEntry();
          rows.put(t, n);
          described.add(new JsonObject().put("name", t).put("columns", new JsonArray(cols)).put("rows", n));
        }
        zip.putNextEntry(new ZipEntry(MANIFEST));
        zip.write(new JsonObject().put("format", FORMAT).put("formatVersion", FORMAT_VERSION).put("schemaVersion", schema)
            .put("createdAt", Instant.now().toString()).put("postgresVersion", serverVersion(c)).put("tables", described)
            .encodePrettily().getBytes(StandardCharsets.UTF_8));
        zip.closeEntry();
      }
      c.rollback();
    } catch (IOException | SQLException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    LOG.atInfo().addKeyValue("file", file).addKeyValue("schemaVersion", schema).addKeyValue("rows", rows).log("backup written");
    return new Summary(schema, rows);
  }

  /** Tables whose migration writes their one row (a state, not data): a restore replaces it with the backup's. */
  private static final java.util.Set<String> SEEDED = java.util.Set.of("stats_summarized");

  /**
   * Loads a backup into a database that has none of mailgate's data yet (a new MAILGATE_DATA_DIR, or an empty
   * external database), then migrates it to the newest schema. All or nothing: the rows go in in one transaction.
   */
  public static Summary restore(DbTarget db, Path file) throws IOException, SQLException {
    try (ZipFile zip = new ZipFile(file.toFile())) {
      ZipEntry m = zip.getEntry(MANIFEST);
      if (m == null) {
        throw new IOException(file + " is not a mailgate backup (no " + MANIFEST + ")");
      }
      JsonObject manifest;
      try (InputStream in = zip.getInputStream(m)) {
        manifest = new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
      if (!FORMAT.equals(manifest.getString("format")) || manifest.getInteger("formatVersion", 0) > FORMAT_VERSION) {
        throw new IOException(file + " is not a backup this mailgate can read (format " + manifest.getString("format") + " "
            + manifest.getValue("formatVersion") + ")");
      }
      String schema = manifest.getString("schemaVersion");
      Migrations.migrate(db, schema);
      Map<String, Long> rows = new LinkedHashMap<>();
      try (Connection c = connect(db)) {
        c.setAutoCommit(false);
        for (Object o : manifest.getJsonArray("tables")) {
          String t = ((JsonObject) o).getString("name");
          if (SEEDED.contains(t)) {
            // its one row comes from the migration; the backup's row takes its place
            try (java.sql.Statement st = c.createStatement()) {
              st.execute("DELETE FROM " + ident(t));
            }
          }
          if (hasRows(c, t)) {
            throw new IOException("table " + t + " already has rows: restore goes into an empty database (a new MAILGATE_DATA_DIR)");
          }
        }
        CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
        for (Object o : manifest.getJsonArray("tables")) {
          JsonObject t = (JsonObject) o;
          String name = t.getString("name");
          List<String> cols = new ArrayList<>();
          t.getJsonArray("columns").forEach(x -> cols.add((String) x));
          ZipEntry e = zip.getEntry(name + ".copy");
          if (e == null) {
            throw new IOException(file + " lacks the rows of " + name);
          }
          try (InputStream in = zip.getInputStream(e)) {
            long n = copy.copyIn("COPY " + ident(name) + " (" + String.join(", ", quoted(cols)) + ") FROM STDIN", in);
            if (n != t.getLong("rows")) {
              throw new IOException(name + ": " + n + " rows loaded, the backup says " + t.getLong("rows"));
            }
            rows.put(name, n);
          }
        }
        resetSequences(c);
        c.commit();
      }
      Migrations.migrate(db);
      LOG.atInfo().addKeyValue("file", file).addKeyValue("schemaVersion", schema).addKeyValue("rows", rows).log("backup restored");
      return new Summary(schema, rows);
    }
  }

  private static Connection connect(DbTarget db) throws SQLException {
    return DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
  }

  private static String schemaVersion(Connection c) throws SQLException {
    try (Statement st = c.createStatement();
         ResultSet rs = st.executeQuery("SELECT version FROM flyway_schema_history WHERE success AND version IS NOT NULL"
             + " ORDER BY installed_rank DESC LIMIT 1")) {
      if (!rs.next()) {
        throw new SQLException("the database has no mailgate schema (no flyway_schema_history)");
      }
      return rs.getString(1);
    }
  }

  private static String serverVersion(Connection c) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW server_version")) {
      rs.next();
      return rs.getString(1);
    }
  }

  /** Tables (not partitions) of the public schema, each after the tables its foreign keys point to. */
  static List<String> tablesInDependencyOrder(Connection c) throws SQLException {
    Map<String, Set<String>> deps = new LinkedHashMap<>();
    try (Statement st = c.createStatement();
         ResultSet rs = st.executeQuery("""
             SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND c.relname <> 'flyway_schema_history'
             ORDER BY c.relname""")) {
      while (rs.next()) {
        deps.put(rs.getString(1), new LinkedHashSet<>());
      }
    }
    try (Statement st = c.createStatement();
         ResultSet rs = st.executeQuery("""
             SELECT src.relname, dst.relname FROM pg_constraint k
             JOIN pg_class src ON src.oid = k.conrelid JOIN pg_class dst ON dst.oid = k.confrelid
             JOIN pg_namespace n ON n.oid = src.relnamespace
             WHERE k.contype = 'f' AND n.nspname = 'public'""")) {
      while (rs.next()) {
        Set<String> d = deps.get(rs.getString(1));
        if (d != null && !rs.getString(1).equals(rs.getString(2))) {
          d.add(rs.getString(2));
        }
      }
    }
    List<String> out = new ArrayList<>();
    Set<String> done = new LinkedHashSet<>();
    while (out.size() < deps.size()) {
      boolean progress = false;
      for (var e : deps.entrySet()) {
        if (!done.contains(e.getKey()) && done.containsAll(e.getValue().stream().filter(deps::containsKey).toList())) {
          done.add(e.getKey());
          out.add(e.getKey());
          progress = true;
        }
      }
      if (!progress) {
        throw new SQLException("foreign keys form a cycle among " + deps.keySet());
      }
    }
    return out;
  }

  private static List<String> columns(Connection c, String table) throws SQLException {
    List<String> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("""
        SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname = ? AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attnum""")) {
      ps.setString(1, table);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    }
    return out;
  }

  private static boolean hasRows(Connection c, String table) throws SQLException {
    try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT EXISTS (SELECT 1 FROM " + ident(table) + ")")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }

  /** Sequences behind serial and identity columns continue after the restored rows. */
  private static void resetSequences(Connection c) throws SQLException {
    List<String[]> seqs = new ArrayList<>();
    try (Statement st = c.createStatement();
         ResultSet rs = st.executeQuery("""
             SELECT c.relname, a.attname, pg_get_serial_sequence(quote_ident(c.relname), a.attname)
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
               AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL""")) {
      while (rs.next()) {
        seqs.add(new String[] {rs.getString(1), rs.getString(2), rs.getString(3)});
      }
    }
    for (String[] s : seqs) {
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT setval(?::regclass, coalesce((SELECT max(" + ident(s[1]) + ") FROM " + ident(s[0]) + "), 0) + 1, false)")) {
        ps.setString(1, s[2]);
        ps.execute();
      }
    }
  }

  /** COPY closes the stream it writes to; the zip entry must stay open for closeEntry. */
  private static OutputStream unclosable(OutputStream out) {
    return new FilterOutputStream(out) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
      }

      @Override
      public void close() throws IOException {
        out.flush();
      }
    };
  }

  private static List<String> quoted(List<String> names) {
    return names.stream().map(Backup::ident).toList();
  }

  private static String ident(String name) {
    return "\"" + name.replace("\"", "\"\"") + "\"";
  }
}

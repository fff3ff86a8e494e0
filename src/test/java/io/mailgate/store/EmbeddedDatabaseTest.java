package io.mailgate.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mailgate.store.embedded.EmbeddedDatabase;
import io.mailgate.store.embedded.EmbeddedDatabaseException;
import io.mailgate.support.Api;
import io.mailgate.support.Api.TenantKey;
import io.mailgate.support.TestDatabase;
import io.mailgate.support.TestGateway;
import io.mailgate.support.TestJobs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The embedded PostgreSQL as the user's data store: one owner per directory, its version checked, backups that restore. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class EmbeddedDatabaseTest {

  @Test
  void refusesADataDirectoryMadeByAnotherMajorVersionAndChangesNothing() throws Exception {
    Path dir = Files.createTempDirectory("mailgate-oldpg").resolve("pg");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("PG_VERSION"), "16\n");
    EmbeddedDatabaseException e = assertThrows(EmbeddedDatabaseException.class, () -> EmbeddedDatabase.start(dir, false));
    assertTrue(e.getMessage().contains("made by PostgreSQL 16"), e.getMessage());
    assertTrue(e.getMessage().contains("runs PostgreSQL " + EmbeddedDatabase.binariesVersion()), e.getMessage());
    assertTrue(e.getMessage().contains("mailgate.jar backup") && e.getMessage().contains("restore"), "the upgrade path: " + e.getMessage());
    assertEquals("16\n", Files.readString(dir.resolve("PG_VERSION")));
    try (var files = Files.list(dir)) {
      assertEquals(1, files.count(), "nothing was added to the directory");
    }
  }

  @Test
  void refusesANonEmptyDirectoryThatIsNoDataDirectory() throws Exception {
    Path dir = Files.createTempDirectory("mailgate-notpg").resolve("pg");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("notes.txt"), "mine");
    EmbeddedDatabaseException e = assertThrows(EmbeddedDatabaseException.class, () -> EmbeddedDatabase.start(dir, false));
    assertTrue(e.getMessage().contains("no PG_VERSION"), e.getMessage());
    assertEquals("mine", Files.readString(dir.resolve("notes.txt")));
  }

  @Test
  void secondGatewayOnTheSameDirectoryIsRefusedWhileTheFirstKeepsWorking() throws Exception {
    Path dir = Files.createTempDirectory("mailgate-twice").resolve("pg");
    try (EmbeddedDatabase first = EmbeddedDatabase.start(dir, false)) {
      EmbeddedDatabaseException e = assertThrows(EmbeddedDatabaseException.class, () -> EmbeddedDatabase.start(dir, false));
      assertTrue(e.getMessage().contains("another mailgate process uses the embedded database"), e.getMessage());
      assertEquals(1, count(first.target(), "SELECT 1"));
    }
  }

  @Test
  void usesAGeneratedPasswordAndKeepsItAcrossRestarts() throws Exception {
    Path dir = Files.createTempDirectory("mailgate-pw").resolve("pg");
    String password;
    try (EmbeddedDatabase db = EmbeddedDatabase.start(dir, false)) {
      password = db.target().password();
      assertTrue(password.length() >= 20, "a generated password, not trust authentication");
      DbTarget wrong = new DbTarget("127.0.0.1", db.target().port(), "mailgate", "postgres", "wrong");
      assertThrows(java.sql.SQLException.class, () -> DriverManager.getConnection(wrong.jdbcUrl(), wrong.user(), wrong.password()).close());
    }
    try (EmbeddedDatabase db = EmbeddedDatabase.start(dir, false)) {
      assertEquals(password, db.target().password());
      assertEquals(1, count(db.target(), "SELECT 1"));
    }
  }

  @Test
  void backupTakenWhileTheGatewayRunsRestoresIntoANewDataDirectory() throws Exception {
    Path dir = Files.createTempDirectory("mailgate-backup");
    Path file = dir.resolve("mailgate.backup");
    String jobId;
    TenantKey tenant;
    try (EmbeddedDatabase db = EmbeddedDatabase.start(dir.resolve("a"), false)) {
      Migrations.migrate(db.target());
      try (TestGateway gw = TestGateway.start(db.target(), java.util.Map.of("MAILGATE_DISPATCH_ENABLED", "false"))) {
        tenant = gw.api.createTenant("backed-up", "eu");
        jobId = TestJobs.submit(gw.api, tenant, TestJobs.emails("kept-", 250));
        Backup.Summary s = Backup.write(db.target(), file);
        assertEquals(250L, s.rows().get("recipients"));
        assertEquals(1L, s.rows().get("tenants"));
      }
    }
    try (EmbeddedDatabase restored = EmbeddedDatabase.start(dir.resolve("b"), false)) {
      Backup.Summary s = Backup.restore(restored.target(), file);
      assertEquals(250L, s.rows().get("recipients"));
      try (TestGateway gw = TestGateway.start(restored.target(), java.util.Map.of("MAILGATE_DISPATCH_ENABLED", "false"))) {
        Api.Response job = gw.api.get("/v1/jobs/" + jobId, tenant.apiKey());
        Api.expect(job, 200);
        assertEquals(250, job.json().getInteger("recipients"));
        assertEquals(250, gw.api.recipients(tenant, jobId).size());
      }
      var again = assertThrows(java.io.IOException.class, () -> Backup.restore(restored.target(), file));
      assertTrue(again.getMessage().contains("already has rows"), again.getMessage());
      assertEquals(250, count(restored.target(), "SELECT count(*) FROM recipients"), "a refused restore added nothing");
    }
  }

  @Test
  void restoreOfSomethingElseIsRefusedAndStoresNothing() throws Exception {
    Path file = Files.createTempFile("not-a-backup", ".zip");
    Files.writeString(file, "hello");
    DbTarget db = TestDatabase.fresh();
    assertThrows(Exception.class, () -> Backup.restore(db, file));
    assertEquals(0, count(db, "SELECT count(*) FROM tenants"));
    assertFalse(Files.readString(file).isEmpty());
  }

  private static long count(DbTarget db, String sql) throws Exception {
    try (Connection c = DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
         Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }
}

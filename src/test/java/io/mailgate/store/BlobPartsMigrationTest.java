package io.mailgate.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mailgate.message.Attachment;
import io.mailgate.support.TestDatabase;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * V17 moves the files and MIME messages stored whole (V14, V16) into parts of 256 kB: each is read back by dispatch
 * byte for byte, in as many parts as its size takes, and deleting its job still deletes it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class BlobPartsMigrationTest {

  static final int PART = 256 * 1024;
  static final UUID TENANT = UUID.fromString("00000000-0000-0000-0000-0000000000a1");
  static final UUID JOB = UUID.fromString("00000000-0000-0000-0000-0000000000c1");

  Vertx vertx;

  @AfterEach
  void stop() {
    if (vertx != null) {
      vertx.close();
    }
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @Test
  void filesAndMessagesStoredWholeAreReadBackIdenticalFromTheirPartsAfterTheMigration() throws Exception {
    DbTarget db = TestDatabase.freshAt("16");
    Random random = new Random(17);
    byte[] big = new byte[2 * PART + 12345];
    random.nextBytes(big);
    byte[] exact = new byte[PART];
    random.nextBytes(exact);
    byte[] empty = new byte[0];
    byte[] message = ("From: a@acme.example\r\nSubject: old\r\n\r\n" + "x".repeat(70) + "\r\n").repeat(5000)
        .getBytes(StandardCharsets.US_ASCII);
    TestDatabase.execute(db, "INSERT INTO tenants (id, name, region, api_key_hash) VALUES ('" + TENANT + "', 'old', 'eu', '\\x01')");
    TestDatabase.execute(db, "INSERT INTO jobs (id, tenant_id, spec, recipients, chunk_size) VALUES ('" + JOB + "', '"
        + TENANT + "', '{}', 1, 500)");
    try (Connection c = TestDatabase.jdbc(db);
         PreparedStatement files = c.prepareStatement("INSERT INTO job_attachments (job_id, idx, filename, content_type,"
             + " content_id, data) VALUES (?::uuid, ?, ?, 'application/octet-stream', ?, ?)");
         PreparedStatement mime = c.prepareStatement("INSERT INTO job_messages (job_id, message) VALUES (?::uuid, ?)")) {
      byte[][] data = {big, exact, empty};
      for (int i = 0; i < data.length; i++) {
        files.setString(1, JOB.toString());
        files.setShort(2, (short) i);
        files.setString(3, "f" + i + ".bin");
        files.setString(4, i == 1 ? "f1.bin" : null);
        files.setBytes(5, data[i]);
        files.executeUpdate();
      }
      mime.setString(1, JOB.toString());
      mime.setBytes(2, message);
      mime.executeUpdate();
    }

    Migrations.migrate(db);

    String job = "job_id = '" + JOB + "'";
    assertEquals(3, TestDatabase.count(db, "SELECT count(*) FROM job_attachment_parts WHERE " + job + " AND idx = 0"));
    assertEquals(1, TestDatabase.count(db, "SELECT count(*) FROM job_attachment_parts WHERE " + job + " AND idx = 1"));
    assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM job_attachment_parts WHERE " + job + " AND idx = 2"),
        "an empty file has no part");
    assertEquals((message.length + PART - 1) / PART, TestDatabase.count(db, "SELECT count(*) FROM job_message_parts WHERE " + job));
    assertEquals(PART, TestDatabase.count(db, "SELECT max(length(data)) FROM job_attachment_parts"));
    assertEquals(big.length, TestDatabase.count(db, "SELECT size FROM job_attachments WHERE " + job + " AND idx = 0"));
    assertEquals(message.length, TestDatabase.count(db, "SELECT size FROM job_messages WHERE " + job));

    vertx = Vertx.vertx();
    Pool pool = PgBuilder.pool().connectingTo(db.connectOptions()).with(new PoolOptions().setMaxSize(2)).using(vertx).build();
    DispatchStore store = new DispatchStore(pool, new EventSql(List.of(), 3, 3600));
    List<Attachment> read = await(store.jobAttachments(JOB));
    assertEquals(3, read.size());
    assertArrayEquals(big, read.get(0).data(), "a file of three parts");
    assertArrayEquals(exact, read.get(1).data(), "a file of exactly one part");
    assertEquals("f1.bin", read.get(1).contentId());
    assertArrayEquals(empty, read.get(2).data());
    assertArrayEquals(message, await(store.jobMessage(JOB)).orElseThrow(), "the message");

    TestDatabase.execute(db, "DELETE FROM jobs WHERE id = '" + JOB + "'");
    assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM job_attachment_parts"), "deleted with their job");
    assertEquals(0, TestDatabase.count(db, "SELECT count(*) FROM job_message_parts"));
  }
}

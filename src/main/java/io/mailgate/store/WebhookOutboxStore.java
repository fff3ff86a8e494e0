package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The sender's side of the webhook outbox: claiming due calls (with what their payload needs), recording how they
 * went, and dropping finished ones past their retention. The rows are written by the event statements
 * ({@link EventSql}).
 */
public final class WebhookOutboxStore {

  /** A claimed call: the webhook, the tenant's sealed signing key, and the event as it was written. */
  public record Due(long id, UUID webhookId, UUID tenantId, String url, String format, byte[] sealedKey, int attempts,
                    OffsetDateTime createdAt, Event event) {}

  /** The event of a call; null fields when it is no longer kept (its partition dropped). */
  public record Event(long id, OffsetDateTime at, String email, String type, String severity, Integer attempt,
                      Integer code, String message, String messageId, UUID jobId, Integer seq, String backendType,
                      String senderDomain, String recipientDomain, JsonArray tags, JsonObject metadata, boolean found) {}

  /** How a call went: {@code state} pending (with {@code nextAttemptAt}), delivered or failed. */
  public record Outcome(long id, String state, OffsetDateTime nextAttemptAt, Integer code, String error) {}

  // Due calls, oldest due first, none of them behind an earlier pending call of the same webhook and recipient (that
  // includes one in flight: claiming leaves it pending), at most the webhook's free slots of each webhook. The
  // candidates are read without locks, then locked with SKIP LOCKED (another sender's claim in progress is passed
  // over), and leased by moving next_attempt_at past the lease. The candidates are one materialized set that the
  // lock step reads by primary key (planned inline, the lock step once re-sorted the whole window per row it locked).
  private static final String CLAIM = """
      WITH cand AS MATERIALIZED (
        SELECT x.id FROM (
          SELECT d.id, d.webhook_id, row_number() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS n
          FROM (SELECT d.id, d.webhook_id, d.next_attempt_at FROM webhook_deliveries d
                WHERE d.state = 'pending' AND d.next_attempt_at <= now()
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                                  WHERE p.state = 'pending' AND p.webhook_id = d.webhook_id AND p.email = d.email
                                    AND p.id < d.id)
                ORDER BY d.next_attempt_at LIMIT $1) d
        ) x
        LEFT JOIN unnest($2::uuid[], $3::int[]) AS b(webhook_id, free) ON b.webhook_id = x.webhook_id
        WHERE x.n <= coalesce(b.free, $4)
      ), locked AS (
        SELECT d.id FROM cand c JOIN webhook_deliveries d ON d.id = c.id
        WHERE d.state = 'pending' AND d.next_attempt_at <= now()
        ORDER BY d.id LIMIT $5
        FOR UPDATE OF d SKIP LOCKED
      ), claimed AS (
        UPDATE webhook_deliveries d
        SET next_attempt_at = now() + $6::float8 * interval '1 second', attempts = d.attempts + 1, last_attempt_at = now()
        FROM locked l WHERE d.id = l.id
        RETURNING d.id, d.webhook_id, d.tenant_id, d.event_id, d.event_at, d.email, d.attempts, d.created_at
      )
      SELECT c.id, c.webhook_id, c.tenant_id, c.event_id, c.event_at, c.email AS d_email, c.attempts, c.created_at,
             w.url, w.format, k.sealed, e.id IS NOT NULL AS found, e.type, e.severity, e.attempt, e.code, e.message,
             e.message_id, e.job_id, e.seq, e.sender_domain, e.recipient_domain, b.type AS backend_type,
             CASE WHEN jsonb_typeof(j.spec -> 'tags') = 'array' THEN j.spec -> 'tags' END AS tags,
             CASE WHEN jsonb_typeof(j.spec -> 'metadata') = 'object' THEN j.spec -> 'metadata' END AS metadata
      FROM claimed c
      JOIN webhooks w ON w.id = c.webhook_id
      LEFT JOIN webhook_signing_keys k ON k.tenant_id = c.tenant_id
      LEFT JOIN events e ON e.tenant_id = c.tenant_id AND e.id = c.event_id AND e.at = c.event_at
      LEFT JOIN jobs j ON j.id = e.job_id
      LEFT JOIN backends b ON b.id = e.backend_id
      ORDER BY c.id""";

  private static final String FINISH = """
      UPDATE webhook_deliveries d
      SET state = v.state, next_attempt_at = coalesce(v.next, d.next_attempt_at), last_code = v.code, last_error = v.error,
          finished_at = CASE WHEN v.state = 'pending' THEN NULL ELSE now() END
      FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::int[], $5::text[]) AS v(id, state, next, code, error)
      WHERE d.id = v.id AND d.state = 'pending'""";

  private final Pool pool;

  /**
   * Refreshes the outbox's statistics. The table grows from empty within seconds, faster than autovacuum analyses
   * it, and a claim planned on the estimates of an empty table scans every pending call for each candidate (0.4-0.9 s
   * a claim at 3,000-5,000 pending, against 3.5 ms once analysed); analysing it also replans the cached statements.
   */
  public Future<Void> analyze() {
    return pool.query("ANALYZE webhook_deliveries").execute().mapEmpty();
  }

  public WebhookOutboxStore(Pool pool) {
    this.pool = pool;
  }

  /**
   * Claims at most {@code limit} due calls for {@code leaseSeconds}.
   *
   * @param free the webhooks this sender has calls in flight to, and how many more each may take
   * @param perWebhook how many a webhook not in {@code free} may take
   */
  public Future<List<Due>> claim(int limit, Map<UUID, Integer> free, int perWebhook, double leaseSeconds) {
    UUID[] ids = free.keySet().toArray(UUID[]::new);
    Integer[] slots = new Integer[ids.length];
    for (int i = 0; i < ids.length; i++) {
      slots[i] = free.get(ids[i]);
    }
    return pool.preparedQuery(CLAIM)
        .execute(Tuple.of(limit * 4, ids, slots, perWebhook, limit, leaseSeconds))
        .map(rows -> {
          List<Due> out = new ArrayList<>(rows.size());
          for (Row r : rows) {
            Object tags = r.getValue("tags");
            Object metadata = r.getValue("metadata");
            var sealed = r.getBuffer("sealed");
            Event e = new Event(r.getLong("event_id"), r.getOffsetDateTime("event_at"), r.getString("d_email"),
                r.getString("type"), r.getString("severity"), r.getInteger("attempt"), r.getInteger("code"),
                r.getString("message"), r.getString("message_id"), r.getUUID("job_id"), r.getInteger("seq"),
                r.getString("backend_type"), r.getString("sender_domain"), r.getString("recipient_domain"),
                tags instanceof JsonArray a ? a : new JsonArray(), metadata instanceof JsonObject o ? o : new JsonObject(),
                r.getBoolean("found"));
            out.add(new Due(r.getLong("id"), r.getUUID("webhook_id"), r.getUUID("tenant_id"), r.getString("url"),
                r.getString("format"), sealed == null ? null : sealed.getBytes(), r.getInteger("attempts"),
                r.getOffsetDateTime("created_at"), e));
          }
          return out;
        });
  }

  /** Records how calls went, in one statement. */
  public Future<Void> finish(List<Outcome> outcomes) {
    if (outcomes.isEmpty()) {
      return Future.succeededFuture();
    }
    int n = outcomes.size();
    Long[] id = new Long[n];
    String[] state = new String[n];
    OffsetDateTime[] next = new OffsetDateTime[n];
    Integer[] code = new Integer[n];
    String[] error = new String[n];
    for (int i = 0; i < n; i++) {
      Outcome o = outcomes.get(i);
      id[i] = o.id();
      state[i] = o.state();
      next[i] = o.nextAttemptAt();
      code[i] = o.code();
      error[i] = o.error();
    }
    return pool.preparedQuery(FINISH).execute(Tuple.of(id, state, next, code, error)).mapEmpty();
  }

  /** Drops at most {@code batch} finished calls older than the retention. @return how many */
  public Future<Integer> prune(double retentionSeconds, int batch) {
    return pool.preparedQuery("""
            DELETE FROM webhook_deliveries WHERE id IN (
              SELECT id FROM webhook_deliveries
              WHERE state <> 'pending' AND finished_at < now() - $1::float8 * interval '1 second' LIMIT $2)""")
        .execute(Tuple.of(retentionSeconds, batch)).map(r -> r.rowCount());
  }
}

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
import java.util.UUID;

/**
 * The event log: reads for the tenant API, and the entry point for what happens after the send (provider webhooks,
 * inbound bounces, complaint loops). The dispatcher's own events are written by its state statements
 * ({@link DispatchStore}, {@link ClaimStore}), never here.
 */
public final class EventStore {

  /**
   * An event as read back. {@code tags}, {@code from}, {@code subject} (the job's template) and {@code metadata} are
   * the job's, joined when read; {@code subjectVars} the recipient's vars (maybe none) when the subject has variables, else null.
   */
  public record EventRecord(long id, OffsetDateTime at, UUID jobId, Integer seq, String email, String type, String severity,
                            Integer attempt, Integer code, String message, String messageId, UUID backendId,
                            String backendName, String region, String peer, String tlsName, String senderDomain,
                            String recipientDomain, boolean possibleDuplicate, String source, JsonArray tags,
                            String backendType, String from, String subject, JsonObject metadata,
                            JsonObject subjectVars) {}

  /**
   * Filters of a page of events; null fields do not filter. {@code kinds}: events of any of these kinds (none: no
   * event at all); {@code tags}: of jobs carrying any of them; {@code messageId}: the id with or without its angle
   * brackets.
   */
  public record Query(String type, String recipient, UUID jobId, List<String> tags, OffsetDateTime begin, OffsetDateTime end,
                      Long after, boolean ascending, int limit, String senderDomain, List<Kind> kinds, String messageId) {

    /** The native API's filters. */
    public static Query of(String type, String recipient, UUID jobId, String tag, OffsetDateTime begin, OffsetDateTime end,
                           Long after, boolean ascending, int limit) {
      return new Query(type, recipient, jobId, tag == null ? null : List.of(tag), begin, end, after, ascending, limit, null,
          null, null);
    }
  }

  /**
   * A kind of event: its type, and where given, one of its severities and one of the types of the backend it went
   * through (a {@code sent} through an SMTP server and one handed to a provider's API are different facts), the peer
   * it names ({@code peer}) or does not name ({@code notPeer}): a test-mode send names no real server.
   */
  public record Kind(String type, List<String> severities, List<String> backendTypes, String peer, String notPeer) {
    public Kind(String type, List<String> severities, List<String> backendTypes) {
      this(type, severities, backendTypes, null, null);
    }
  }

  /**
   * Something that happened to a message after the send. {@code jobId}/{@code seq} name the recipient where known
   * (the ids and variables the backends send along); {@code sourceId} is the provider's own id of the event, so a
   * webhook delivered twice is recorded once.
   */
  public record Incoming(UUID tenantId, UUID jobId, Integer seq, String email, String type, String severity, Integer code,
                         String message, String messageId, UUID backendId, String source, String sourceId) {}

  /** What recording a batch did: events written, duplicates skipped, events whose recipient was not found. */
  public record Recorded(int recorded, int duplicates, int unmatched) {}

  /** The types of events that come from later sources; the dispatcher writes the others. */
  public static final List<String> LATER_TYPES = List.of("delivered", "bounced", "complained", "unsubscribed", "opened",
      "clicked");

  /** Every type of event. */
  public static final List<String> TYPES = List.of("sent", "deferred", "failed", "suppressed", "cancelled", "expired",
      "delivered", "bounced", "complained", "unsubscribed", "opened", "clicked");

  private static final String COLUMNS = """
      SELECT e.id, e.at, e.job_id, e.seq, e.email, e.type, e.severity, e.attempt, e.code, e.message, e.message_id,
             e.backend_id, b.name AS backend_name, e.region, e.peer, e.tls_name, e.sender_domain, e.recipient_domain,
             e.possible_duplicate, e.source, CASE WHEN jsonb_typeof(j.spec -> 'tags') = 'array' THEN j.spec -> 'tags' END AS tags,
             b.type AS backend_type, j.spec ->> 'from' AS from_header, j.spec ->> 'subject' AS subject,
             CASE WHEN jsonb_typeof(j.spec -> 'metadata') = 'object' THEN j.spec -> 'metadata' END AS metadata,
             CASE WHEN strpos(j.spec ->> 'subject', '{{') > 0
                  THEN COALESCE((SELECT rc.vars FROM recipients rc WHERE rc.job_id = e.job_id AND rc.seq = e.seq), '{}') END AS subject_vars
      FROM events e
      LEFT JOIN jobs j ON j.id = e.job_id
      LEFT JOIN backends b ON b.id = e.backend_id
      WHERE e.tenant_id = $1""";

  // A batch of later events in one statement: each provider event id once ('seen_source_events'), the recipient's
  // state moved on (sent -> delivered -> bounced/complained; opens, clicks and unsubscribes leave it), the chunk's
  // counters with it, the events, their suppressions and counters. A recipient is matched only within the tenant.
  private static final String RECORD = """
      WITH v AS (
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[],
                             $9::text[], $10::uuid[], $11::text[], $12::text[]) WITH ORDINALITY
                 AS v(tenant_id, job_id, seq, email, type, severity, code, msg, mid, backend_id, source, source_id, ord)
      ), fresh AS (
        INSERT INTO seen_source_events (source, source_id)
        SELECT DISTINCT source, source_id FROM v WHERE source_id IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING source, source_id
      ), k AS (
        -- new events only, and of a provider id given twice in this batch its first
        SELECT DISTINCT ON (coalesce(v.source || '/' || v.source_id, v.ord::text)) v.*
        FROM v
        -- IN, not EXISTS: a hashed lookup (the planner takes the batch for 10 rows and would scan fresh per event)
        WHERE v.source_id IS NULL OR (v.source, v.source_id) IN (SELECT f.source, f.source_id FROM fresh f)
        ORDER BY coalesce(v.source || '/' || v.source_id, v.ord::text), v.ord
      ), m AS (
        SELECT k.*, j.id AS job, j.chunk_size, j.spec ->> 'from' AS from_header, r.seq AS rseq, r.email AS remail,
               r.message_id AS rmid, r.state AS rstate
        FROM k
        LEFT JOIN jobs j ON j.id = k.job_id AND j.tenant_id = k.tenant_id
        -- one primary-key lookup per event (OFFSET 0 keeps the planner, which takes the batch for 10 rows, from
        -- looking up by job alone and filtering the job's recipients by seq)
        LEFT JOIN LATERAL (SELECT r.seq, r.email, r.message_id, r.state FROM recipients r
                           WHERE r.job_id = j.id AND r.seq = k.seq OFFSET 0) r ON true
      ), target AS (
        -- what each matched recipient becomes: the strongest of its events in this batch
        SELECT DISTINCT ON (job, rseq) job, rseq, rstate, chunk_size,
               CASE type WHEN 'complained' THEN 'complained' WHEN 'bounced' THEN 'bounced' ELSE 'delivered' END AS state
        FROM m
        WHERE rseq IS NOT NULL AND type IN ('delivered', 'bounced', 'complained')
        ORDER BY job, rseq, CASE type WHEN 'complained' THEN 3 WHEN 'bounced' THEN 2 ELSE 1 END DESC
      ), locked AS (
        -- concurrent batches lock the recipients they share in one order (job, seq), so they queue, never deadlock
        SELECT r.job_id, r.seq FROM recipients r JOIN target t ON r.job_id = t.job AND r.seq = t.rseq
        ORDER BY r.job_id, r.seq FOR UPDATE OF r
      ), moved AS (
        UPDATE recipients r SET state = t.state, updated_at = now()
        FROM target t
        -- (an init plan: the locks are taken first, without joining the two lists)
        WHERE (SELECT count(*) FROM locked) >= 0
          AND r.job_id = t.job AND r.seq = t.rseq AND r.state = t.rstate
          AND (r.state = 'sent' OR (r.state = 'delivered' AND t.state <> 'delivered'))
        RETURNING r.job_id, r.seq, t.chunk_size, t.rstate AS old, t.state AS new
      ), ev AS (
        INSERT INTO events (tenant_id, job_id, seq, email, type, severity, code, message, message_id, backend_id,
                            sender_domain, recipient_domain, source)
        SELECT tenant_id, job, rseq, lower(coalesce(remail, email)), type, severity, code, msg, coalesce(mid, rmid),
               backend_id, mailgate_domain(from_header), mailgate_domain(coalesce(remail, email)), source
        FROM m ORDER BY ord
        RETURNING id, tenant_id, job_id, email, type, severity, code, message, backend_id, sender_domain, recipient_domain
      )""" + EventSql.consequences(13) + """
      , delta AS (
        -- sent and delivered count as sent, bounced and complained as failed (as a release's recount counts them)
        SELECT job_id, seq / chunk_size AS chunk_no, count(*) AS n FROM moved
        WHERE old IN ('sent', 'delivered') AND new IN ('bounced', 'complained')
        GROUP BY 1, 2
      ), chunks_locked AS (
        -- the chunks too in one order (job, chunk)
        SELECT c.job_id, c.chunk_no FROM chunks c JOIN delta d ON c.job_id = d.job_id AND c.chunk_no = d.chunk_no
        ORDER BY c.job_id, c.chunk_no FOR UPDATE OF c
      ), counted AS (
        UPDATE chunks c SET n_sent = c.n_sent - d.n, n_failed = c.n_failed + d.n
        FROM delta d
        WHERE (SELECT count(*) FROM chunks_locked) >= 0 AND c.job_id = d.job_id AND c.chunk_no = d.chunk_no
      )
      SELECT (SELECT count(*) FROM v) AS given, (SELECT count(*) FROM m) AS recorded,
             (SELECT count(*) FROM m WHERE rseq IS NULL AND (job_id IS NOT NULL OR seq IS NOT NULL)) AS unmatched
      """;

  private final Pool pool;
  private final EventSql events;

  public EventStore(Pool pool, EventSql events) {
    this.pool = pool;
    this.events = events;
  }

  public Future<List<EventRecord>> list(UUID tenantId, Query q) {
    StringBuilder sql = new StringBuilder(COLUMNS);
    Tuple t = Tuple.of(tenantId);
    if (q.type() != null) {
      t.addValue(q.type());
      sql.append(" AND e.type = $").append(t.size());
    }
    if (q.recipient() != null) {
      t.addValue(io.mailgate.message.EmailAddress.asciiLower(q.recipient()));
      sql.append(" AND e.email = $").append(t.size());
    }
    if (q.jobId() != null) {
      t.addValue(q.jobId());
      sql.append(" AND e.job_id = $").append(t.size());
    }
    if (q.tags() != null) {
      t.addValue(q.tags().toArray(String[]::new));
      sql.append(" AND jsonb_typeof(j.spec -> 'tags') = 'array' AND j.spec -> 'tags' ?| $").append(t.size()).append("::text[]");
    }
    if (q.senderDomain() != null) {
      t.addValue(q.senderDomain());
      sql.append(" AND e.sender_domain = $").append(t.size());
    }
    if (q.messageId() != null) {
      String bare = q.messageId().startsWith("<") && q.messageId().endsWith(">")
          ? q.messageId().substring(1, q.messageId().length() - 1) : q.messageId();
      t.addValue(bare).addValue("<" + bare + ">");
      sql.append(" AND e.message_id IN ($").append(t.size() - 1).append(", $").append(t.size()).append(")");
    }
    if (q.kinds() != null) {
      List<String> any = new ArrayList<>();
      for (Kind k : q.kinds()) {
        t.addValue(k.type());
        StringBuilder c = new StringBuilder("(e.type = $").append(t.size());
        if (k.severities() != null) {
          t.addValue(k.severities().toArray(String[]::new));
          c.append(" AND e.severity = ANY($").append(t.size()).append("::text[])");
        }
        if (k.backendTypes() != null) {
          t.addValue(k.backendTypes().toArray(String[]::new));
          c.append(" AND b.type = ANY($").append(t.size()).append("::text[])");
        }
        if (k.peer() != null) {
          t.addValue(k.peer());
          c.append(" AND e.peer = $").append(t.size());
        }
        if (k.notPeer() != null) {
          t.addValue(k.notPeer());
          c.append(" AND e.peer IS DISTINCT FROM $").append(t.size());
        }
        any.add(c.append(")").toString());
      }
      sql.append(any.isEmpty() ? " AND false" : " AND (" + String.join(" OR ", any) + ")");
    }
    if (q.begin() != null) {
      t.addValue(q.begin());
      sql.append(" AND e.at >= $").append(t.size());
    }
    if (q.end() != null) {
      t.addValue(q.end());
      sql.append(" AND e.at < $").append(t.size());
    }
    if (q.after() != null) {
      t.addValue(q.after());
      sql.append(" AND e.id ").append(q.ascending() ? ">" : "<").append(" $").append(t.size());
    }
    t.addValue(q.limit());
    sql.append(" ORDER BY e.id ").append(q.ascending() ? "ASC" : "DESC").append(" LIMIT $").append(t.size());
    return pool.preparedQuery(sql.toString()).execute(t).map(rows -> {
      List<EventRecord> out = new ArrayList<>(rows.size());
      for (Row r : rows) {
        Object tags = r.getValue("tags");
        out.add(new EventRecord(r.getLong("id"), r.getOffsetDateTime("at"), r.getUUID("job_id"), r.getInteger("seq"),
            r.getString("email"), r.getString("type"), r.getString("severity"), r.getInteger("attempt"),
            r.getInteger("code"), r.getString("message"), r.getString("message_id"), r.getUUID("backend_id"),
            r.getString("backend_name"), r.getString("region"), r.getString("peer"), r.getString("tls_name"),
            r.getString("sender_domain"), r.getString("recipient_domain"), r.getBoolean("possible_duplicate"),
            r.getString("source"), tags instanceof JsonArray a ? a : null, r.getString("backend_type"),
            r.getString("from_header"), r.getString("subject"), r.getValue("metadata") instanceof JsonObject m ? m : null,
            r.getValue("subject_vars") instanceof JsonObject v ? v : null));
      }
      return out;
    });
  }

  /** The address of a tenant's recipient, if the tenant has that job and the job that recipient. */
  public Future<java.util.Optional<String>> recipientEmail(UUID tenantId, UUID jobId, int seq) {
    return pool.preparedQuery("SELECT r.email FROM recipients r JOIN jobs j ON j.id = r.job_id"
            + " WHERE j.id = $1 AND j.tenant_id = $2 AND r.seq = $3")
        .execute(Tuple.of(jobId, tenantId, seq))
        .map(rows -> rows.size() == 0 ? java.util.Optional.empty() : java.util.Optional.of(rows.iterator().next().getString(0)));
  }

  /** Those of the ids that name no tenant. */
  public Future<List<UUID>> unknownTenants(List<UUID> ids) {
    return pool.preparedQuery("SELECT x FROM unnest($1::uuid[]) AS x WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = x)")
        .execute(Tuple.of(ids.toArray(UUID[]::new)))
        .map(rows -> {
          List<UUID> out = new ArrayList<>();
          rows.forEach(r -> out.add(r.getUUID(0)));
          return out;
        });
  }

  /** Records later events (checked by the caller), in one statement. */
  public Future<Recorded> record(List<Incoming> in) {
    if (in.isEmpty()) {
      return Future.succeededFuture(new Recorded(0, 0, 0));
    }
    int n = in.size();
    UUID[] tenant = new UUID[n];
    UUID[] job = new UUID[n];
    Integer[] seq = new Integer[n];
    String[] email = new String[n];
    String[] type = new String[n];
    String[] severity = new String[n];
    Integer[] code = new Integer[n];
    String[] msg = new String[n];
    String[] mid = new String[n];
    UUID[] backend = new UUID[n];
    String[] source = new String[n];
    String[] sourceId = new String[n];
    for (int i = 0; i < n; i++) {
      Incoming e = in.get(i);
      tenant[i] = e.tenantId();
      job[i] = e.jobId();
      seq[i] = e.seq();
      email[i] = e.email();
      type[i] = e.type();
      severity[i] = e.severity();
      code[i] = e.code();
      msg[i] = e.message();
      mid[i] = e.messageId();
      backend[i] = e.backendId();
      source[i] = e.source();
      sourceId[i] = e.sourceId();
    }
    return pool.preparedQuery(RECORD)
        .execute(Tuple.tuple(List.of(tenant, job, seq, email, type, severity, code, msg, mid, backend, source, sourceId,
            events.domains(), events.softBounceLimit(), (double) events.softBounceWindowSeconds())))
        .map(rows -> {
          Row r = rows.iterator().next();
          int recorded = r.getLong("recorded").intValue();
          return new Recorded(recorded, r.getLong("given").intValue() - recorded, r.getLong("unmatched").intValue());
        });
  }
}

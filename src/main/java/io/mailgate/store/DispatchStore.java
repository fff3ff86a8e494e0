package io.mailgate.store;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * SQL of the dispatchers: claim a chunk under a lease, mark its due recipients sending, write their outcomes in
 * batches, release the chunk. Every statement touches a chunk or a batch, never one recipient.
 */
public final class DispatchStore {

  /** A recipient to send now. {@code attempt} counts this attempt. */
  public record DueRecipient(int seq, String email, JsonObject vars, int attempt) {}

  /** What the dispatcher needs of a job to send it. */
  public record JobRow(UUID id, UUID tenantId, String state, JsonObject spec, int chunkSize, OffsetDateTime createdAt,
                       OffsetDateTime expiresAt, int priority) {}

  /** What the events of a chunk's outcomes share: whose mail, sent through which backend, from which domain. */
  public record Origin(UUID tenantId, UUID backendId, String region, String senderDomain) {}

  /**
   * A recipient's new state, as the outcome of one attempt; {@code peer} and {@code tlsName} say where it went,
   * {@code severity} what a failure means for the address ({@link io.mailgate.events.BounceClassifier}).
   */
  public record Update(UUID jobId, int seq, int chunkNo, String state, Integer code, String message, String messageId,
                       Long retryInMillis, boolean possibleDuplicate, Origin origin, String peer, String tlsName,
                       String severity) {

    /** The same without its texts (a value the database refused). */
    public Update withoutTexts() {
      return new Update(jobId, seq, chunkNo, state, code, null, null, retryInMillis, possibleDuplicate, origin, null, null,
          severity);
    }
  }

  /** A chunk by position. */
  public record ChunkRef(UUID jobId, int chunkNo, int firstSeq, int endSeq) {}

  // The recipients of a claimed chunk that are due now: new ones, retries whose time has come, and those left
  // 'sending' by a dispatcher that died (or lost its lease). Those the tenant suppressed end 'suppressed' here, with
  // their events, while this dispatcher holds the lease: the suppression list is read once per chunk, an index probe
  // per recipient. The others are only read: they are marked 'sending' in windows, just before the backend takes
  // them (MARK).
  private static final String DUE = """
      WITH lease AS (
        SELECT 1 FROM chunks WHERE job_id = $1 AND chunk_no = $4 AND state = 'leased' AND lease_owner = $5
      ), due AS (
        SELECT seq, email, vars, attempts + 1 AS attempt, state AS old FROM recipients
        WHERE job_id = $1 AND seq >= $2 AND seq < $3
          AND (state IN ('queued', 'sending') OR (state = 'deferred' AND next_attempt_at <= now()))
      ), found AS MATERIALIZED (
        -- a suppression for every job (tag '') or for one of this job's tags ($10). The chunk's addresses go to the
        -- index as one array, in a scan of its own (MATERIALIZED): a probe per recipient cost 5 ms per chunk of 500,
        -- and a plan that joined each recipient to the array scan (500 x 500 key comparisons) 19 ms, both measured
        -- with auto_explain in the 1M benchmark.
        SELECT s.address, s.tag, s.reason FROM suppressions s
        WHERE s.tenant_id = $6 AND s.address = ANY ((SELECT array_agg(lower(email)) FROM due)::text[])
          AND (s.tag = '' OR s.tag = ANY($10::text[]))
      ), hit AS (
        SELECT DISTINCT ON (d.seq) d.seq, d.old, f.reason
        FROM found f JOIN due d ON lower(d.email) = f.address
        WHERE EXISTS (SELECT 1 FROM lease)
        ORDER BY d.seq, f.tag = '' DESC
      ), u AS (
        UPDATE recipients r SET state = 'suppressed', last_message = 'suppressed: ' || hit.reason, next_attempt_at = NULL,
                                updated_at = now()
        FROM hit WHERE r.job_id = $1 AND r.seq = hit.seq AND r.state = hit.old
        RETURNING r.job_id, r.seq, r.email, r.attempts, r.message_id, hit.reason, hit.old
      ), ev AS (
        INSERT INTO events (tenant_id, job_id, seq, email, type, severity, attempt, message, message_id, backend_id, region,
                            sender_domain, recipient_domain)
        SELECT $6, job_id, seq, lower(email), 'suppressed', reason, attempts, 'suppressed: ' || reason, message_id, $7, $8,
               $9, mailgate_domain(email)
        FROM u
        RETURNING id, tenant_id, job_id, email, type, severity, code, message, backend_id, sender_domain, recipient_domain
      )""" + EventSql.consequences(11) + """
      , c AS (
        UPDATE chunks ch SET n_queued = ch.n_queued - (SELECT count(*) FROM u WHERE old = 'queued'),
                             n_deferred = ch.n_deferred - (SELECT count(*) FROM u WHERE old = 'deferred'),
                             n_sending = greatest(ch.n_sending - (SELECT count(*) FROM u WHERE old = 'sending'), 0),
                             n_suppressed = ch.n_suppressed + (SELECT count(*) FROM u)
        WHERE ch.job_id = $1 AND ch.chunk_no = $4 AND EXISTS (SELECT 1 FROM u)
      )
      SELECT seq, email, vars, attempt FROM due WHERE seq NOT IN (SELECT seq FROM u) ORDER BY seq
      """;

  // Marks a window of due recipients 'sending' (counting the attempt), while this dispatcher holds the chunk's lease,
  // and moves the chunk's counters with them. A recipient found 'sending' was left by a dispatcher that died (or
  // stalled) after it may have handed it to the backend: it is sent again, flagged as a possible duplicate. So at
  // most the window plus the sends whose outcome was not yet written are flagged after a crash (see README).
  private static final String MARK = """
      WITH lease AS (
        SELECT 1 FROM chunks WHERE job_id = $1 AND chunk_no = $2 AND state = 'leased' AND lease_owner = $3
      ), m AS (
        SELECT r.seq, r.state AS old FROM recipients r
        WHERE r.job_id = $1 AND r.seq = ANY($4::int[]) AND EXISTS (SELECT 1 FROM lease)
          AND (r.state IN ('queued', 'sending') OR (r.state = 'deferred' AND r.next_attempt_at <= now()))
      ), u AS (
        -- "state = m.old" is checked again on a row changed since m read it (a cancel): then it is skipped
        UPDATE recipients r SET state = 'sending', attempts = r.attempts + 1, updated_at = now(),
                                possible_duplicate = r.possible_duplicate OR m.old = 'sending'
        FROM m WHERE r.job_id = $1 AND r.seq = m.seq AND r.state = m.old
        RETURNING r.seq, m.old
      ), c AS (
        UPDATE chunks ch SET n_queued = ch.n_queued - (SELECT count(*) FROM u WHERE old = 'queued'),
                             n_deferred = ch.n_deferred - (SELECT count(*) FROM u WHERE old = 'deferred'),
                             n_sending = ch.n_sending + (SELECT count(*) FROM u WHERE old <> 'sending')
        WHERE ch.job_id = $1 AND ch.chunk_no = $2 AND EXISTS (SELECT 1 FROM u)
      )
      SELECT EXISTS (SELECT 1 FROM lease) AS held, array(SELECT seq FROM u ORDER BY seq) AS seqs
      """;

  private static final String COUNTS = """
      SELECT r.job_id, c.chunk_no,
             count(*) FILTER (WHERE r.state = 'queued') AS q, count(*) FILTER (WHERE r.state = 'sending') AS sg,
             count(*) FILTER (WHERE r.state IN ('sent', 'delivered')) AS st,
             count(*) FILTER (WHERE r.state = 'deferred') AS d,
             count(*) FILTER (WHERE r.state IN ('failed', 'bounced', 'complained')) AS f,
             count(*) FILTER (WHERE r.state = 'suppressed') AS sp,
             count(*) FILTER (WHERE r.state = 'cancelled') AS x, count(*) FILTER (WHERE r.state = 'expired') AS e,
             min(r.next_attempt_at) FILTER (WHERE r.state = 'deferred') AS next_due
      FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[]) AS c(job_id, chunk_no, first_seq, end_seq)
      -- a chunk's range read through the primary key, chunk by chunk: as a join, with one big job in the table, the
      -- planner could not tell how narrow the range is and read the whole table (520 ms a release with 1,000,000
      -- recipients; "OFFSET 0" keeps the subquery from being flattened into such a join)
      CROSS JOIN LATERAL (SELECT r.job_id, r.state, r.next_attempt_at FROM recipients r
                          WHERE r.job_id = c.job_id AND r.seq >= c.first_seq AND r.seq < c.end_seq OFFSET 0) r
      GROUP BY r.job_id, c.chunk_no
      """;

  private static final String RECOUNT = "WITH s AS (" + COUNTS + """
      )
      UPDATE chunks ch SET n_queued = s.q, n_sending = s.sg, n_sent = s.st, n_deferred = s.d, n_failed = s.f, n_suppressed = s.sp,
                           n_cancelled = s.x, n_expired = s.e
      FROM s WHERE ch.job_id = s.job_id AND ch.chunk_no = s.chunk_no
      """;

  // Release after runs, many chunks at once: recount, then 'done' if nothing is left to send, else 'ready' when the
  // next deferred recipient is due; only the lease holder ($5) may release. The jobs whose last open chunk closed
  // here complete in the same statement (its snapshot still sees the chunks closed by it as open: they are excepted).
  private static final String FINISH = "WITH s AS (" + COUNTS + """
      ), fin AS (
        UPDATE chunks ch SET n_queued = s.q, n_sending = s.sg, n_sent = s.st, n_deferred = s.d, n_failed = s.f, n_suppressed = s.sp,
                             n_cancelled = s.x, n_expired = s.e,
                             state = CASE WHEN s.q + s.sg + s.d = 0 THEN 'done' ELSE 'ready' END,
                             not_before = CASE WHEN s.q + s.sg > 0 OR s.next_due IS NULL THEN now() ELSE s.next_due END,
                             lease_owner = NULL, lease_until = NULL
        FROM s WHERE ch.job_id = s.job_id AND ch.chunk_no = s.chunk_no AND ch.lease_owner = $5
        RETURNING ch.job_id, ch.chunk_no, ch.state
      ), completed AS (
        -- completed when no chunk is left open; else running (a job of the priority lane is still queued until here)
        UPDATE jobs j SET state = CASE WHEN NOT EXISTS (
                            SELECT 1 FROM chunks c WHERE c.job_id = j.id AND c.state <> 'done'
                              AND NOT EXISTS (SELECT 1 FROM fin WHERE fin.job_id = c.job_id AND fin.chunk_no = c.chunk_no
                                              AND fin.state = 'done')) THEN 'completed' ELSE 'running' END,
                          started_at = coalesce(j.started_at, now()), updated_at = now()
        WHERE j.id IN (SELECT job_id FROM fin) AND j.state IN ('queued', 'running')
          AND (j.state = 'queued' OR j.id IN (SELECT job_id FROM fin WHERE state = 'done'))
        RETURNING j.id, j.state
      )
      SELECT fin.job_id, fin.chunk_no, fin.state,
             fin.job_id IN (SELECT id FROM completed WHERE completed.state = 'completed') AS job_completed
      FROM fin
      """;

  // Jobs past their expires_at: their recipients not yet handed to a backend become 'expired' and their chunks close
  // (chunks being sent are stopped by their dispatcher, which then releases them here too); the jobs complete.
  // Jobs past their expires_at: their chunks not being sent (chunks being sent are stopped by their dispatcher, which
  // then releases them with their unsent recipients 'expired'). Through the jobs_expiring index: nothing is scanned
  // when no job has expired.
  private static final String EXPIRED_CHUNKS = """
      WITH e AS (
        SELECT j.id FROM jobs j
        WHERE j.expires_at IS NOT NULL AND j.expires_at <= now() AND j.state IN ('queued', 'running', 'paused')
        ORDER BY j.expires_at
        LIMIT 100
      )
      SELECT c.job_id, c.chunk_no, c.first_seq, c.end_seq
      FROM e JOIN chunks c ON c.job_id = e.id
      WHERE c.state = 'ready' OR (c.state = 'leased' AND c.lease_until < now())
      LIMIT 500
      FOR UPDATE OF c SKIP LOCKED
      """;

  // One chunk's range at a time, by primary key: written as a join of the chunks with recipients, the planner took
  // a whole-table pass over recipients (566 ms with 1,000,000 recipients in the table, once a second)
  private static final String END_RANGE = """
      WITH u AS (
        UPDATE recipients SET state = $4, next_attempt_at = NULL, updated_at = now()
        WHERE job_id = $1 AND seq >= $2 AND seq < $3 AND state = ANY($5::text[])
        RETURNING job_id, seq, email, attempts, message_id
      ), ev AS (
        -- a recipient whose fate ends here ('cancelled', 'expired') gets its event; one put back ('queued') none
        INSERT INTO events (tenant_id, job_id, seq, email, type, attempt, message_id, sender_domain, recipient_domain)
        SELECT j.tenant_id, u.job_id, u.seq, lower(u.email), $4::text, u.attempts, u.message_id, mailgate_domain(j.spec ->> 'from'),
               mailgate_domain(u.email)
        FROM u JOIN jobs j ON j.id = u.job_id
        WHERE $4::text IN ('cancelled', 'expired')
        RETURNING id, tenant_id, job_id, email, type, severity, code, message, backend_id, sender_domain, recipient_domain
      )""" + EventSql.consequences(6) + """
      SELECT count(*) FROM u
      """;

  private static final String UNSTART = """
      WITH u AS (
        UPDATE recipients SET state = $3, attempts = greatest(attempts - 1, 0), updated_at = now()
        WHERE job_id = $1 AND seq = ANY($2::int[]) AND state = 'sending'
        RETURNING job_id, seq, email, attempts, message_id
      ), ev AS (
        -- a recipient whose fate ends here ('cancelled', 'expired') gets its event; one put back ('queued') none
        INSERT INTO events (tenant_id, job_id, seq, email, type, attempt, message_id, sender_domain, recipient_domain)
        SELECT j.tenant_id, u.job_id, u.seq, lower(u.email), $3::text, u.attempts, u.message_id, mailgate_domain(j.spec ->> 'from'),
               mailgate_domain(u.email)
        FROM u JOIN jobs j ON j.id = u.job_id
        WHERE $3::text IN ('cancelled', 'expired')
        RETURNING id, tenant_id, job_id, email, type, severity, code, message, backend_id, sender_domain, recipient_domain
      )""" + EventSql.consequences(4) + """
      SELECT count(*) FROM u
      """;

  // Chunks whose lease expired (their dispatcher died) of jobs in state $1
  private static final String ABANDONED = """
      SELECT c.job_id, c.chunk_no, c.first_seq, c.end_seq
      FROM chunks c JOIN jobs j ON j.id = c.job_id
      WHERE c.state = 'leased' AND c.lease_until < now() AND j.state = $1
      LIMIT 100
      FOR UPDATE OF c SKIP LOCKED
      """;

  private static final String CLOSE_CHUNKS = """
      UPDATE chunks ch SET state = $3, lease_owner = NULL, lease_until = NULL, not_before = now()
      FROM unnest($1::uuid[], $2::int[]) AS k(job_id, chunk_no)
      WHERE ch.job_id = k.job_id AND ch.chunk_no = k.chunk_no
      RETURNING ch.job_id, ch.chunk_no, ch.first_seq, ch.end_seq
      """;

  // Outcomes of a batch of sends in one statement: the recipients' states, an event for each, the suppressions that
  // hard bounces (and repeated soft ones) call for, the hourly counters, and the chunks' counters moved with them. A
  // state change and its event are written together or not at all.
  private static final String APPLY = """
      WITH v AS (
        SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[],
                             $8::bigint[], $9::bool[], $10::uuid[], $11::uuid[], $12::text[], $13::text[], $14::text[],
                             $15::text[], $16::text[])
                 AS v(job_id, seq, chunk_no, state, code, msg, mid, retry_ms, dup, tenant_id, backend_id, region, peer,
                      tls, sender_domain, severity)
      ), u AS (
        UPDATE recipients r
        SET state = v.state, last_code = v.code, last_message = v.msg, message_id = coalesce(v.mid, r.message_id),
            next_attempt_at = CASE WHEN v.retry_ms IS NULL THEN NULL ELSE now() + v.retry_ms * interval '1 millisecond' END,
            possible_duplicate = r.possible_duplicate OR v.dup, updated_at = now()
        FROM v
        WHERE r.job_id = v.job_id AND r.seq = v.seq AND r.state = 'sending'
        RETURNING r.job_id, r.seq, v.chunk_no, r.state, r.email, r.attempts, r.message_id, r.possible_duplicate, v.code,
                  v.msg, v.tenant_id, v.backend_id, v.region, v.peer, v.tls, v.sender_domain, v.severity
      ), ev AS (
        INSERT INTO events (tenant_id, job_id, seq, email, type, severity, attempt, code, message, message_id, backend_id,
                            region, peer, tls_name, sender_domain, recipient_domain, possible_duplicate)
        SELECT tenant_id, job_id, seq, lower(email), state, severity, attempts, code, msg, message_id, backend_id, region,
               peer, tls, sender_domain, lower(split_part(email, '@', 2)), possible_duplicate
        FROM u
        RETURNING id, tenant_id, job_id, email, type, severity, code, message, backend_id, sender_domain, recipient_domain
      )""" + EventSql.consequences(17) + """
      , d AS (
        SELECT job_id, chunk_no, count(*) AS n, count(*) FILTER (WHERE state = 'sent') AS st,
               count(*) FILTER (WHERE state = 'deferred') AS df, count(*) FILTER (WHERE state = 'failed') AS f
        FROM u GROUP BY job_id, chunk_no
      )
      UPDATE chunks c SET n_sending = greatest(c.n_sending - d.n, 0), n_sent = c.n_sent + d.st,
                          n_deferred = c.n_deferred + d.df, n_failed = c.n_failed + d.f
      FROM d WHERE c.job_id = d.job_id AND c.chunk_no = d.chunk_no
      """;

  private final Pool pool;

  private final EventSql events;

  public DispatchStore(Pool pool, EventSql events) {
    this.pool = pool;
    this.events = events;
  }

  public Future<Optional<JobRow>> job(UUID jobId) {
    return pool.preparedQuery("SELECT id, tenant_id, state, spec, chunk_size, created_at, expires_at, priority FROM jobs WHERE id = $1")
        .execute(Tuple.of(jobId))
        .map(rows -> {
          var it = rows.iterator();
          if (!it.hasNext()) {
            return Optional.empty();
          }
          Row r = it.next();
          return Optional.of(new JobRow(r.getUUID("id"), r.getUUID("tenant_id"), r.getString("state"),
              (JsonObject) r.getValue("spec"), r.getInteger("chunk_size"), r.getOffsetDateTime("created_at"),
              r.getOffsetDateTime("expires_at"), r.getInteger("priority")));
        });
  }

  /** Parts read by one statement when a job's file or message is loaded: a few parts held beside the whole. */
  static final int PARTS_PER_READ = 16;

  /**
   * The caller's own message of a MIME job (Mailgun's messages.mime), reassembled from its parts
   * ({@code job_message_parts}) into one array of its stored size, {@link #PARTS_PER_READ} parts a statement.
   */
  public Future<Optional<byte[]>> jobMessage(UUID jobId) {
    return pool.preparedQuery("SELECT size FROM job_messages WHERE job_id = $1")
        .execute(Tuple.of(jobId))
        .compose(rows -> {
          var it = rows.iterator();
          if (!it.hasNext()) {
            return Future.succeededFuture(Optional.empty());
          }
          byte[][] data = {new byte[blobSize(jobId, it.next().getLong("size"))]};
          return readParts(jobId, true, Map.of(0, 0), data, 0, -1, new int[1], new int[1])
              .map(v -> Optional.of(data[0]));
        });
  }

  /**
   * A job's files ({@code job_attachments}), in the order given, each reassembled from its parts
   * ({@code job_attachment_parts}) into one array of its size, {@link #PARTS_PER_READ} parts a statement. A job's
   * files are at most Mailgun's 25 MB request (or MAILGATE_MAX_JSON_ATTACHMENT_BYTES for the job API).
   */
  public Future<List<io.mailgate.message.Attachment>> jobAttachments(UUID jobId) {
    return pool.preparedQuery("SELECT idx, filename, content_type, content_id, size FROM job_attachments WHERE job_id = $1 ORDER BY idx")
        .execute(Tuple.of(jobId))
        .compose(rows -> {
          List<Row> files = new ArrayList<>();
          rows.forEach(files::add);
          byte[][] data = new byte[files.size()][];
          Map<Integer, Integer> positions = new HashMap<>();
          for (int i = 0; i < data.length; i++) {
            data[i] = new byte[blobSize(jobId, files.get(i).getLong("size"))];
            positions.put((int) files.get(i).getShort("idx"), i);
          }
          return readParts(jobId, false, positions, data, -1, -1, new int[data.length], new int[data.length]).map(v -> {
            List<io.mailgate.message.Attachment> out = new ArrayList<>(files.size());
            for (int i = 0; i < data.length; i++) {
              Row r = files.get(i);
              out.add(new io.mailgate.message.Attachment(r.getString("filename"), r.getString("content_type"),
                  r.getString("content_id"), data[i]));
            }
            return out;
          });
        });
  }

  private static int blobSize(UUID jobId, long size) {
    if (size < 0 || size > Integer.MAX_VALUE - 16) {
      throw new IllegalStateException("job " + jobId + " has a stored file of " + size + " bytes");
    }
    return (int) size;
  }

  private static final String MESSAGE_PARTS = """
      SELECT 0::smallint AS idx, part, data FROM job_message_parts WHERE job_id = $1 AND part > $2
      ORDER BY part LIMIT $3""";
  private static final String ATTACHMENT_PARTS = """
      SELECT idx, part, data FROM job_attachment_parts WHERE job_id = $1 AND (idx, part) > ($2, $3)
      ORDER BY idx, part LIMIT $4""";

  /**
   * Reads the parts after ({@code idx}, {@code part}) into the array of their file ({@code positions} maps its idx
   * to its place in {@code data}, {@code filled} how much of it is read, {@code parts} how many parts), and then
   * the next ones, until none is left; each file must then be whole, its parts numbered from 0 without a gap (else
   * it is an error: the job cannot be sent as stored). {@code message}: the job's message, its one array.
   */
  private Future<Void> readParts(UUID jobId, boolean message, Map<Integer, Integer> positions, byte[][] data, int idx,
                                 int part, int[] filled, int[] parts) {
    return pool.preparedQuery(message ? MESSAGE_PARTS : ATTACHMENT_PARTS)
        .execute(message ? Tuple.of(jobId, part, PARTS_PER_READ) : Tuple.of(jobId, (short) idx, part, PARTS_PER_READ))
        .compose(rows -> {
          int lastIdx = idx;
          int lastPart = part;
          for (Row r : rows) {
            int x = r.getShort("idx");
            int p = r.getInteger("part");
            Buffer b = r.getBuffer("data");
            Integer i = positions.get(x);
            if (i == null || p != parts[i] || filled[i] + b.length() > data[i].length) {
              return Future.failedFuture(new IllegalStateException("job " + jobId + ": stored part " + p + " of file "
                  + x + " does not fit its file"));
            }
            b.getBytes(data[i], filled[i]);
            filled[i] += b.length();
            parts[i]++;
            lastIdx = x;
            lastPart = p;
          }
          if (rows.size() == PARTS_PER_READ) {
            return readParts(jobId, message, positions, data, lastIdx, lastPart, filled, parts);
          }
          for (int i = 0; i < data.length; i++) {
            if (filled[i] != data[i].length) {
              return Future.failedFuture(new IllegalStateException("job " + jobId + ": file " + i + " has "
                  + filled[i] + " of its " + data[i].length + " bytes stored"));
            }
          }
          return Future.succeededFuture();
        });
  }

  /**
   * The chunk's recipients that are due now and not suppressed, in seq order; the suppressed ones end 'suppressed'
   * (if {@code owner} still holds the chunk).
   */
  public Future<List<DueRecipient>> due(ClaimStore.Claim c, String owner, String senderDomain, List<String> tags) {
    Tuple t = Tuple.of(c.jobId(), c.firstSeq(), c.endSeq(), c.chunkNo(), owner, c.tenantId(), c.backendId(),
        c.backendRegion(), senderDomain);
    t.addValue(tags == null ? new String[0] : tags.toArray(String[]::new)).addValue(events.domains()).addValue(events.softBounceLimit()).addValue((double) events.softBounceWindowSeconds());
    return pool.preparedQuery(DUE).execute(t).map(rows -> {
      List<DueRecipient> out = new ArrayList<>(rows.size());
      for (Row r : rows) {
        Object vars = r.getValue("vars");
        out.add(new DueRecipient(r.getInteger("seq"), r.getString("email"), vars instanceof JsonObject j ? j : null,
            r.getInteger("attempt")));
      }
      return out;
    });
  }

  /** Which recipients of a window were marked 'sending', and whether the owner still held the chunk's lease. */
  public record Marked(boolean leaseHeld, int[] seqs) {}

  /** Marks those of {@code seqs} that are still due 'sending', if {@code owner} holds the chunk. */
  public Future<Marked> mark(ChunkRef c, String owner, int[] seqs) {
    Integer[] boxed = new Integer[seqs.length];
    for (int i = 0; i < seqs.length; i++) {
      boxed[i] = seqs[i];
    }
    return pool.preparedQuery(MARK).execute(Tuple.of(c.jobId(), c.chunkNo(), owner, boxed)).map(rows -> {
      Row r = rows.iterator().next();
      Integer[] marked = r.getArrayOfIntegers("seqs");
      int[] out = new int[marked == null ? 0 : marked.length];
      for (int i = 0; i < out.length; i++) {
        out[i] = marked[i];
      }
      return new Marked(r.getBoolean("held"), out);
    });
  }

  public Future<Void> apply(List<Update> updates) {
    int n = updates.size();
    UUID[] job = new UUID[n];
    Integer[] seq = new Integer[n];
    Integer[] chunk = new Integer[n];
    String[] state = new String[n];
    Integer[] code = new Integer[n];
    String[] msg = new String[n];
    String[] mid = new String[n];
    Long[] retry = new Long[n];
    Boolean[] dup = new Boolean[n];
    UUID[] tenant = new UUID[n];
    UUID[] backend = new UUID[n];
    String[] region = new String[n];
    String[] peer = new String[n];
    String[] tls = new String[n];
    String[] senderDomain = new String[n];
    String[] severity = new String[n];
    for (int i = 0; i < n; i++) {
      Update u = updates.get(i);
      tenant[i] = u.origin().tenantId();
      backend[i] = u.origin().backendId();
      region[i] = u.origin().region();
      senderDomain[i] = u.origin().senderDomain();
      peer[i] = u.peer();
      tls[i] = u.tlsName();
      severity[i] = u.severity();
      job[i] = u.jobId();
      seq[i] = u.seq();
      chunk[i] = u.chunkNo();
      state[i] = u.state();
      code[i] = u.code();
      msg[i] = u.message();
      mid[i] = u.messageId();
      retry[i] = u.retryInMillis();
      dup[i] = u.possibleDuplicate();
    }
    return pool.preparedQuery(APPLY)
        .execute(Tuple.tuple(List.of(job, seq, chunk, state, code, msg, mid, retry, dup, tenant, backend, region, peer, tls,
            senderDomain, severity, events.domains(), events.softBounceLimit(), (double) events.softBounceWindowSeconds())))
        .mapEmpty();
  }

  /**
   * Puts recipients that were marked 'sending' but never handed to the backend back to {@code toState}
   * ('queued' on pause or shutdown, 'cancelled' on cancel), without counting the attempt.
   */
  public Future<Void> unstart(UUID jobId, int[] seqs, String toState) {
    if (seqs.length == 0) {
      return Future.succeededFuture();
    }
    Integer[] boxed = new Integer[seqs.length];
    for (int i = 0; i < seqs.length; i++) {
      boxed[i] = seqs[i];
    }
    return pool.preparedQuery(UNSTART)
        .execute(events.append(Tuple.of(jobId, boxed, toState)))
        .mapEmpty();
  }

  /** What releasing a chunk did: its new state ('done' or 'ready'), and whether its job completed with it. */
  public record Finished(ChunkRef chunk, String state, boolean jobCompleted) {}

  /**
   * Releases chunks this owner holds, and completes the jobs whose last open chunk they were. @return one entry per
   * chunk still held (a chunk whose lease passed to another dispatcher is left out)
   */
  public Future<List<Finished>> finish(List<ChunkRef> chunks, String owner) {
    if (chunks.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    Map<String, ChunkRef> byKey = new HashMap<>();
    chunks.forEach(c -> byKey.put(c.jobId() + "/" + c.chunkNo(), c));
    return pool.preparedQuery(FINISH).execute(refs(chunks).addString(owner)).map(rows -> {
      List<Finished> out = new ArrayList<>();
      for (Row r : rows) {
        ChunkRef c = byKey.get(r.getUUID("job_id") + "/" + r.getInteger("chunk_no"));
        out.add(new Finished(c, r.getString("state"), r.getBoolean("job_completed")));
      }
      return out;
    });
  }

  /**
   * Expires the recipients not yet handed to a backend of jobs past their {@code expires_at}, and completes those
   * jobs. @return chunks closed
   */
  public Future<Integer> expire() {
    return pool.withTransaction(conn -> conn.preparedQuery(EXPIRED_CHUNKS).execute()
            .compose(rows -> endAndClose(conn, rows, "expired", new String[] {"queued", "deferred", "sending"}, "done")))
        .compose(closed -> closed == 0 ? Future.succeededFuture(0) : pool.query("""
            UPDATE jobs j SET state = 'completed', updated_at = now()
            WHERE j.expires_at IS NOT NULL AND j.expires_at <= now() AND j.state IN ('queued', 'running', 'paused')
              AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.job_id = j.id AND c.state <> 'done')""")
            .execute().map(r -> closed));
  }

  /** Extends the leases this owner still holds. @return the chunks whose lease it still holds */
  public Future<List<ChunkRef>> renew(String owner, long leaseMillis, List<ChunkRef> chunks) {
    if (chunks.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    UUID[] jobs = chunks.stream().map(ChunkRef::jobId).toArray(UUID[]::new);
    Integer[] nos = chunks.stream().map(ChunkRef::chunkNo).toArray(Integer[]::new);
    return pool.preparedQuery("""
            UPDATE chunks c SET lease_until = now() + $2 * interval '1 millisecond'
            FROM unnest($3::uuid[], $4::int[]) AS k(job_id, chunk_no)
            WHERE c.job_id = k.job_id AND c.chunk_no = k.chunk_no AND c.lease_owner = $1 AND c.state = 'leased'
            RETURNING c.job_id, c.chunk_no, c.first_seq, c.end_seq""")
        .execute(Tuple.of(owner, leaseMillis, jobs, nos))
        .map(rows -> {
          List<ChunkRef> out = new ArrayList<>();
          rows.forEach(r -> out.add(new ChunkRef(r.getUUID(0), r.getInteger(1), r.getInteger(2), r.getInteger(3))));
          return out;
        });
  }

  public Future<Map<UUID, String>> jobStates(Collection<UUID> jobIds) {
    if (jobIds.isEmpty()) {
      return Future.succeededFuture(Map.of());
    }
    return pool.preparedQuery("SELECT id, state FROM jobs WHERE id = ANY($1::uuid[])")
        .execute(Tuple.of(jobIds.toArray(new UUID[0])))
        .map(rows -> {
          Map<UUID, String> out = new HashMap<>();
          rows.forEach(r -> out.put(r.getUUID(0), r.getString(1)));
          return out;
        });
  }

  /**
   * Chunks whose holder died while their job was paused or cancelled would never be claimed again (claims skip
   * such jobs): put their recipients back to 'queued' (paused) or 'cancelled', and release them.
   *
   * @return how many chunks were released
   */
  public Future<Integer> reapAbandoned() {
    return pool.withTransaction(conn -> conn.preparedQuery(ABANDONED)
        .execute(Tuple.of("paused"))
        // a paused job's recipients left 'sending' wait again, its chunks too
        .compose(rows -> endAndClose(conn, rows, "queued", new String[] {"sending"}, "ready"))
        .compose(paused -> conn.preparedQuery(ABANDONED)
            .execute(Tuple.of("cancelled"))
            .compose(rows -> endAndClose(conn, rows, "cancelled", new String[] {"sending", "queued", "deferred"}, "done"))
            .map(cancelled -> paused + cancelled)));
  }

  /** Recounts the chunks a statement released (rows of job_id, chunk_no, first_seq, end_seq). @return how many */
  /**
   * The recipients of these chunks (locked by the caller) still in one of {@code from} end {@code state}; the chunks
   * are released as {@code chunkState} and recounted. @return the chunks released
   */
  private Future<Integer> endAndClose(io.vertx.sqlclient.SqlConnection conn, io.vertx.sqlclient.RowSet<Row> chunks,
                                             String state, String[] from, String chunkState) {
    if (chunks.size() == 0) {
      return Future.succeededFuture(0);
    }
    List<Tuple> ranges = new ArrayList<>();
    List<UUID> jobs = new ArrayList<>();
    List<Integer> nos = new ArrayList<>();
    chunks.forEach(r -> {
      ranges.add(events.append(Tuple.of(r.getUUID(0), r.getInteger(2), r.getInteger(3), state, from)));
      jobs.add(r.getUUID(0));
      nos.add(r.getInteger(1));
    });
    return conn.preparedQuery(END_RANGE).executeBatch(ranges)
        .compose(x -> conn.preparedQuery(CLOSE_CHUNKS).execute(Tuple.of(jobs.toArray(new UUID[0]), nos.toArray(new Integer[0]), chunkState)))
        .compose(closed -> recount(conn, closed));
  }

  private static Future<Integer> recount(io.vertx.sqlclient.SqlConnection conn, io.vertx.sqlclient.RowSet<Row> released) {
    List<ChunkRef> refs = new ArrayList<>();
    released.forEach(r -> refs.add(new ChunkRef(r.getUUID(0), r.getInteger(1), r.getInteger(2), r.getInteger(3))));
    return refs.isEmpty() ? Future.succeededFuture(0) : conn.preparedQuery(RECOUNT).execute(refs(refs)).map(refs.size());
  }

  /**
   * Loose ends nothing else revisits: chunks of cancelled jobs that a run released as 'ready' (a send in flight at
   * the cancel came back deferred) get their remaining recipients cancelled and close; running jobs whose every chunk
   * is done (a completion check that failed) complete.
   *
   * @return chunks closed and jobs completed
   */
  public Future<Integer> sweep() {
    return pool.withTransaction(conn -> conn.preparedQuery("""
            SELECT c.job_id, c.chunk_no, c.first_seq, c.end_seq
            FROM chunks c JOIN jobs j ON j.id = c.job_id
            WHERE c.state = 'ready' AND j.state = 'cancelled'
            LIMIT 100
            FOR UPDATE OF c SKIP LOCKED""")
        .execute()
        .compose(rows -> endAndClose(conn, rows, "cancelled", new String[] {"queued", "deferred"}, "done")))
        .compose(closed -> pool.query("""
            UPDATE jobs j SET state = 'completed', updated_at = now()
            WHERE j.state = 'running' AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.job_id = j.id AND c.state <> 'done')""")
            .execute().map(r -> closed + r.rowCount()));
  }

  public static ChunkRef ref(ClaimStore.Claim c) {
    return c.ref();
  }

  private static Tuple refs(List<ChunkRef> refs) {
    return Tuple.of(
        refs.stream().map(ChunkRef::jobId).toArray(UUID[]::new),
        refs.stream().map(ChunkRef::chunkNo).toArray(Integer[]::new),
        refs.stream().map(ChunkRef::firstSeq).toArray(Integer[]::new),
        refs.stream().map(ChunkRef::endSeq).toArray(Integer[]::new));
  }
}

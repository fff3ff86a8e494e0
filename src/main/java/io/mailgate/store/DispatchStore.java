package io.mailgate.store;

import io.vertx.core.Future;
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

  /**
   * A chunk leased to this dispatcher, with its route: the backend to use (the tenant's fallback if
   * {@code viaFallback}), its region, and what the tenant's residency allows. {@code takenOverFrom} names the
   * dispatcher whose expired lease this claim replaced, if any.
   */
  public record Claim(UUID jobId, int chunkNo, int firstSeq, int endSeq, UUID tenantId, UUID backendId, int backendVersion,
                      String backendRegion, String tenantRegion, List<String> allowedRegions, boolean viaFallback,
                      Double tenantRatePerSecond, String takenOverFrom) {

    public boolean residencyAllows() {
      return backendRegion.equals(tenantRegion) || allowedRegions.contains(backendRegion);
    }
  }

  /** A recipient to send now. {@code attempt} counts this attempt. */
  public record DueRecipient(int seq, String email, JsonObject vars, int attempt) {}

  /** What the dispatcher needs of a job to send it. */
  public record JobRow(UUID id, UUID tenantId, String state, JsonObject spec, int chunkSize, OffsetDateTime createdAt) {}

  /** A recipient's new state, as the outcome of one attempt. */
  public record Update(UUID jobId, int seq, int chunkNo, String state, Integer code, String message, String messageId,
                       Long retryInMillis, boolean possibleDuplicate) {}

  /** A chunk by position. */
  public record ChunkRef(UUID jobId, int chunkNo, int firstSeq, int endSeq) {}

  // The tenant's route as a claim sees it: its primary backend, or its fallback while the primary is unavailable to
  // this dispatcher ($3: open circuits) if the fallback is available and in a region the tenant allows.
  private static final String VIA_FALLBACK = """
      (t.backend_id = ANY($3::uuid[]) AND f.id IS NOT NULL AND NOT (f.id = ANY($3::uuid[]))
       AND (f.region = t.region OR f.region = ANY(t.allowed_regions)))""";

  // The lease itself, and the bookkeeping of every claim: the job starts running, job and tenant were served now
  // (fairness), and a chunk whose previous lease had expired records the takeover.
  private static final String LEASE = """
      , leased AS (
        UPDATE chunks c SET state = 'leased', lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond',
                            claims = c.claims + 1, last_owner = $1, last_claimed_at = now(),
                            taken_over_from = CASE WHEN c.state = 'leased' THEN c.lease_owner ELSE c.taken_over_from END,
                            taken_over_at = CASE WHEN c.state = 'leased' THEN now() ELSE c.taken_over_at END,
                            taken_over_lease_until = CASE WHEN c.state = 'leased' THEN c.lease_until ELSE c.taken_over_lease_until END
        FROM pick WHERE c.job_id = pick.job_id AND c.chunk_no = pick.chunk_no
        RETURNING c.taken_over_from AS taken_from, c.taken_over_at = now() AS taken_now
      ), served_job AS (
        UPDATE jobs SET last_served_at = clock_timestamp(), started_at = coalesce(jobs.started_at, now()),
                        state = CASE WHEN jobs.state = 'queued' THEN 'running' ELSE jobs.state END, updated_at = now()
        FROM pick WHERE jobs.id = pick.job_id
      ), served_tenant AS (
        UPDATE tenants SET last_served_at = clock_timestamp() FROM pick WHERE tenants.id = pick.tenant_id
      )
      -- the data-modifying CTEs run whether or not they are read (PostgreSQL runs each exactly once)
      SELECT pick.*, CASE WHEN leased.taken_now THEN leased.taken_from END AS taken_over_from FROM pick, leased
      """;

  // Fair claim: tenants least recently served first, then their jobs least recently served first, then the
  // lowest open chunk of that job. The candidates are ordered before the lateral lookup, and the nested loop
  // stops at the first job with a chunk that is due and not locked by another dispatcher.
  // Tenants whose route has no available backend, whose backend is full here ($4), or who reached
  // max_concurrent_chunks wait.
  private static final String CLAIM = """
      WITH cand AS (
        SELECT x.*, e.version AS backend_version, e.region AS backend_region
        FROM (
          SELECT j.id AS job_id, j.tenant_id, t.region AS tenant_region, t.allowed_regions, t.max_rate_per_second,
                 t.max_concurrent_chunks, t.last_served_at AS tls, j.last_served_at AS jls,
                 """ + VIA_FALLBACK + """
       AS via_fallback,
                 t.backend_id AS primary_id, f.id AS fallback_id
          FROM jobs j JOIN tenants t ON t.id = j.tenant_id LEFT JOIN backends f ON f.id = t.fallback_backend_id
          WHERE j.state IN ('queued', 'running') AND t.backend_id IS NOT NULL
        ) x0
        CROSS JOIN LATERAL (SELECT x0.*, CASE WHEN x0.via_fallback THEN x0.fallback_id ELSE x0.primary_id END AS backend_id) x
        JOIN backends e ON e.id = x.backend_id
        WHERE NOT (x.backend_id = ANY($4::uuid[])) AND NOT (x.backend_id = ANY($3::uuid[]))
          -- only jobs with something due now: jobs waiting for retries must not fill the candidate window
          AND EXISTS (SELECT 1 FROM chunks c WHERE c.job_id = x.job_id AND c.state <> 'done'
                      AND ((c.state = 'ready' AND c.not_before <= now()) OR (c.state = 'leased' AND c.lease_until < now())))
          AND (x.max_concurrent_chunks IS NULL OR (
                SELECT count(*) FROM jobs j2 JOIN chunks c2 ON c2.job_id = j2.id
                WHERE j2.tenant_id = x.tenant_id AND j2.state IN ('queued', 'running')
                  AND c2.state = 'leased' AND c2.lease_until > now()) < x.max_concurrent_chunks)
        ORDER BY x.tls NULLS FIRST, x.jls NULLS FIRST, x.job_id
        LIMIT $5
      ), pick AS (
        SELECT ch.job_id, ch.chunk_no, ch.first_seq, ch.end_seq, cand.tenant_id, cand.backend_id, cand.backend_version,
               cand.backend_region, cand.tenant_region, cand.allowed_regions, cand.via_fallback, cand.max_rate_per_second
        FROM cand CROSS JOIN LATERAL (
          SELECT c.job_id, c.chunk_no, c.first_seq, c.end_seq FROM chunks c
          WHERE c.job_id = cand.job_id AND c.state <> 'done'
            AND ((c.state = 'ready' AND c.not_before <= now()) OR (c.state = 'leased' AND c.lease_until < now()))
          ORDER BY c.chunk_no
          LIMIT 1
          FOR UPDATE SKIP LOCKED) ch
        LIMIT 1
      )""" + LEASE;

  // Takeover: the chunk whose lease expired longest ago, whatever its job's turn in the fair order and however busy
  // its backend is here: it was being sent by a dispatcher that died (or stalled), and its recipients have waited a
  // whole lease already. Only unavailable backends (open circuits) stop it.
  private static final String TAKE_OVER = """
      WITH pick AS (
        SELECT c.job_id, c.chunk_no, c.first_seq, c.end_seq, j.tenant_id, r.backend_id, e.version AS backend_version,
               e.region AS backend_region, t.region AS tenant_region, t.allowed_regions, r.via_fallback,
               t.max_rate_per_second
        FROM chunks c
        JOIN jobs j ON j.id = c.job_id
        JOIN tenants t ON t.id = j.tenant_id
        LEFT JOIN backends f ON f.id = t.fallback_backend_id
        CROSS JOIN LATERAL (SELECT v.via_fallback, CASE WHEN v.via_fallback THEN f.id ELSE t.backend_id END AS backend_id
                            FROM (SELECT """ + VIA_FALLBACK + """
       AS via_fallback) v) r
        JOIN backends e ON e.id = r.backend_id
        WHERE c.state = 'leased' AND c.lease_until < now() AND j.state IN ('queued', 'running')
          AND t.backend_id IS NOT NULL AND NOT (r.backend_id = ANY($3::uuid[]))
        ORDER BY c.lease_until
        LIMIT 1
        FOR UPDATE OF c SKIP LOCKED
      )""" + LEASE;

  // The recipients of a claimed chunk that are due now: new ones, retries whose time has come, and those left
  // 'sending' by a dispatcher that died (or lost its lease). Read only: they are marked 'sending' in windows, just
  // before the backend takes them (MARK).
  private static final String DUE = """
      SELECT seq, email, vars, attempts + 1 AS attempt FROM recipients
      WHERE job_id = $1 AND seq >= $2 AND seq < $3
        AND (state IN ('queued', 'sending') OR (state = 'deferred' AND next_attempt_at <= now()))
      ORDER BY seq
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
             count(*) FILTER (WHERE r.state IN ('failed', 'bounced', 'complained', 'suppressed')) AS f,
             count(*) FILTER (WHERE r.state = 'cancelled') AS x,
             min(r.next_attempt_at) FILTER (WHERE r.state = 'deferred') AS next_due
      FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[]) AS c(job_id, chunk_no, first_seq, end_seq)
      JOIN recipients r ON r.job_id = c.job_id AND r.seq >= c.first_seq AND r.seq < c.end_seq
      GROUP BY r.job_id, c.chunk_no
      """;

  private static final String RECOUNT = "WITH s AS (" + COUNTS + """
      )
      UPDATE chunks ch SET n_queued = s.q, n_sending = s.sg, n_sent = s.st, n_deferred = s.d, n_failed = s.f,
                           n_cancelled = s.x
      FROM s WHERE ch.job_id = s.job_id AND ch.chunk_no = s.chunk_no
      """;

  // Release after a run: recount, then 'done' if nothing is left to send, else 'ready' when the next deferred
  // recipient is due. Only the lease holder may release.
  private static final String FINISH = "WITH s AS (" + COUNTS + """
      )
      UPDATE chunks ch SET n_queued = s.q, n_sending = s.sg, n_sent = s.st, n_deferred = s.d, n_failed = s.f,
                           n_cancelled = s.x,
                           state = CASE WHEN s.q + s.sg + s.d = 0 THEN 'done' ELSE 'ready' END,
                           not_before = CASE WHEN s.q + s.sg > 0 OR s.next_due IS NULL THEN now() ELSE s.next_due END,
                           lease_owner = NULL, lease_until = NULL
      FROM s WHERE ch.job_id = s.job_id AND ch.chunk_no = s.chunk_no AND ch.lease_owner = $5
      RETURNING ch.state
      """;

  // Outcomes of a batch of sends, and the chunks' counters moved with them, in one statement.
  private static final String APPLY = """
      WITH v AS (
        SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[],
                             $8::bigint[], $9::bool[])
                 AS v(job_id, seq, chunk_no, state, code, msg, mid, retry_ms, dup)
      ), u AS (
        UPDATE recipients r
        SET state = v.state, last_code = v.code, last_message = v.msg, message_id = coalesce(v.mid, r.message_id),
            next_attempt_at = CASE WHEN v.retry_ms IS NULL THEN NULL ELSE now() + v.retry_ms * interval '1 millisecond' END,
            possible_duplicate = r.possible_duplicate OR v.dup, updated_at = now()
        FROM v
        WHERE r.job_id = v.job_id AND r.seq = v.seq AND r.state = 'sending'
        RETURNING r.job_id, v.chunk_no, r.state
      ), d AS (
        SELECT job_id, chunk_no, count(*) AS n, count(*) FILTER (WHERE state = 'sent') AS st,
               count(*) FILTER (WHERE state = 'deferred') AS df, count(*) FILTER (WHERE state = 'failed') AS f
        FROM u GROUP BY job_id, chunk_no
      )
      UPDATE chunks c SET n_sending = greatest(c.n_sending - d.n, 0), n_sent = c.n_sent + d.st,
                          n_deferred = c.n_deferred + d.df, n_failed = c.n_failed + d.f
      FROM d WHERE c.job_id = d.job_id AND c.chunk_no = d.chunk_no
      """;

  private final Pool pool;

  public DispatchStore(Pool pool) {
    this.pool = pool;
  }

  /**
   * Leases the fairest due chunk whose route leads to a backend that is neither full here ({@code fullBackends})
   * nor unavailable to this dispatcher ({@code unavailableBackends}, open circuits).
   */
  public Future<Optional<Claim>> claim(String owner, long leaseMillis, Collection<UUID> fullBackends,
                                       Collection<UUID> unavailableBackends, int candidates) {
    return pool.preparedQuery(CLAIM)
        .execute(Tuple.of(owner, leaseMillis, unavailableBackends.toArray(new UUID[0]), fullBackends.toArray(new UUID[0]),
            candidates))
        .map(DispatchStore::claimOf);
  }

  /** Leases the chunk whose lease expired longest ago (its dispatcher died), if its backend is available here. */
  public Future<Optional<Claim>> takeOver(String owner, long leaseMillis, Collection<UUID> unavailableBackends) {
    return pool.preparedQuery(TAKE_OVER)
        .execute(Tuple.of(owner, leaseMillis, unavailableBackends.toArray(new UUID[0])))
        .map(DispatchStore::claimOf);
  }

  private static Optional<Claim> claimOf(io.vertx.sqlclient.RowSet<Row> rows) {
    var it = rows.iterator();
    if (!it.hasNext()) {
      return Optional.empty();
    }
    Row r = it.next();
    String[] allowed = r.getArrayOfStrings("allowed_regions");
    return Optional.of(new Claim(r.getUUID("job_id"), r.getInteger("chunk_no"), r.getInteger("first_seq"),
        r.getInteger("end_seq"), r.getUUID("tenant_id"), r.getUUID("backend_id"), r.getInteger("backend_version"),
        r.getString("backend_region"), r.getString("tenant_region"), allowed == null ? List.of() : List.of(allowed),
        r.getBoolean("via_fallback"), r.getDouble("max_rate_per_second"), r.getString("taken_over_from")));
  }

  public Future<Optional<JobRow>> job(UUID jobId) {
    return pool.preparedQuery("SELECT id, tenant_id, state, spec, chunk_size, created_at FROM jobs WHERE id = $1")
        .execute(Tuple.of(jobId))
        .map(rows -> {
          var it = rows.iterator();
          if (!it.hasNext()) {
            return Optional.empty();
          }
          Row r = it.next();
          return Optional.of(new JobRow(r.getUUID("id"), r.getUUID("tenant_id"), r.getString("state"),
              (JsonObject) r.getValue("spec"), r.getInteger("chunk_size"), r.getOffsetDateTime("created_at")));
        });
  }

  /** The chunk's recipients that are due now, in seq order (nothing is changed). */
  public Future<List<DueRecipient>> due(Claim c) {
    return pool.preparedQuery(DUE).execute(Tuple.of(c.jobId(), c.firstSeq(), c.endSeq())).map(rows -> {
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
    for (int i = 0; i < n; i++) {
      Update u = updates.get(i);
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
        .execute(Tuple.tuple(List.of(job, seq, chunk, state, code, msg, mid, retry, dup)))
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
    return pool.preparedQuery("""
            UPDATE recipients SET state = $3, attempts = greatest(attempts - 1, 0), updated_at = now()
            WHERE job_id = $1 AND seq = ANY($2::int[]) AND state = 'sending'""")
        .execute(Tuple.of(jobId, boxed, toState))
        .mapEmpty();
  }

  /**
   * Releases a chunk this owner holds. @return the chunk's new state ('done' or 'ready'), or empty if the lease
   * had passed to another dispatcher
   */
  public Future<Optional<String>> finish(ChunkRef c, String owner) {
    Tuple t = refs(List.of(c)).addString(owner);
    return pool.preparedQuery(FINISH).execute(t).map(rows -> {
      var it = rows.iterator();
      return it.hasNext() ? Optional.of(it.next().getString(0)) : Optional.empty();
    });
  }

  /** Marks the job completed if it runs and no chunk is open. @return true if it did */
  public Future<Boolean> completeIfDone(UUID jobId) {
    return pool.preparedQuery("""
            UPDATE jobs SET state = 'completed', updated_at = now()
            WHERE id = $1 AND state IN ('queued', 'running')
              AND NOT EXISTS (SELECT 1 FROM chunks WHERE job_id = $1 AND state <> 'done')""")
        .execute(Tuple.of(jobId)).map(r -> r.rowCount() == 1);
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
    return pool.withTransaction(conn -> conn.preparedQuery("""
            WITH c AS (
              SELECT c.job_id, c.chunk_no, c.first_seq, c.end_seq, j.state AS job_state
              FROM chunks c JOIN jobs j ON j.id = c.job_id
              WHERE c.state = 'leased' AND c.lease_until < now() AND j.state IN ('paused', 'cancelled')
              LIMIT 100
              FOR UPDATE OF c SKIP LOCKED
            ), r AS (
              UPDATE recipients r
              SET state = CASE WHEN c.job_state = 'paused' THEN 'queued' ELSE 'cancelled' END, updated_at = now()
              FROM c
              WHERE r.job_id = c.job_id AND r.seq >= c.first_seq AND r.seq < c.end_seq
                AND (r.state = 'sending' OR (c.job_state = 'cancelled' AND r.state IN ('queued', 'deferred')))
              RETURNING r.job_id
            )
            UPDATE chunks ch
            SET state = CASE WHEN c.job_state = 'paused' THEN 'ready' ELSE 'done' END,
                lease_owner = NULL, lease_until = NULL, not_before = now()
            FROM c WHERE ch.job_id = c.job_id AND ch.chunk_no = c.chunk_no
            RETURNING ch.job_id, ch.chunk_no, ch.first_seq, ch.end_seq, (SELECT count(*) FROM r) AS moved""")
        .execute()
        .compose(rows -> recount(conn, rows)));
  }

  /** Recounts the chunks a statement released (rows of job_id, chunk_no, first_seq, end_seq). @return how many */
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
            WITH c AS (
              SELECT c.job_id, c.chunk_no, c.first_seq, c.end_seq
              FROM chunks c JOIN jobs j ON j.id = c.job_id
              WHERE c.state = 'ready' AND j.state = 'cancelled'
              LIMIT 100
              FOR UPDATE OF c SKIP LOCKED
            ), r AS (
              UPDATE recipients r SET state = 'cancelled', next_attempt_at = NULL, updated_at = now()
              FROM c
              WHERE r.job_id = c.job_id AND r.seq >= c.first_seq AND r.seq < c.end_seq AND r.state IN ('queued', 'deferred')
              RETURNING r.job_id
            )
            UPDATE chunks ch SET state = 'done', not_before = now()
            FROM c WHERE ch.job_id = c.job_id AND ch.chunk_no = c.chunk_no
            RETURNING ch.job_id, ch.chunk_no, ch.first_seq, ch.end_seq, (SELECT count(*) FROM r) AS moved""")
        .execute()
        .compose(rows -> recount(conn, rows)))
        .compose(closed -> pool.query("""
            UPDATE jobs j SET state = 'completed', updated_at = now()
            WHERE j.state = 'running' AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.job_id = j.id AND c.state <> 'done')""")
            .execute().map(r -> closed + r.rowCount()));
  }

  public static ChunkRef ref(Claim c) {
    return new ChunkRef(c.jobId(), c.chunkNo(), c.firstSeq(), c.endSeq());
  }

  private static Tuple refs(List<ChunkRef> refs) {
    return Tuple.of(
        refs.stream().map(ChunkRef::jobId).toArray(UUID[]::new),
        refs.stream().map(ChunkRef::chunkNo).toArray(Integer[]::new),
        refs.stream().map(ChunkRef::firstSeq).toArray(Integer[]::new),
        refs.stream().map(ChunkRef::endSeq).toArray(Integer[]::new));
  }
}

package io.mailgate.store;

import io.mailgate.store.DispatchStore.DueRecipient;
import io.mailgate.store.DispatchStore.JobRow;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * How dispatchers take work: chunks leased under a lease ({@code FOR UPDATE SKIP LOCKED}, {@code lease_until}), in
 * two lanes. The campaign lane (priority normal and low) claims one chunk at a time in fair order; the priority lane
 * (high: transactional mail) claims many chunks in one statement and marks the recipients of its small chunks
 * 'sending' in the same statement; a chunk whose lease expired is taken over first. Jobs past their
 * {@code expires_at} are never claimed.
 */
public final class ClaimStore {

  /** Chunk priority of the priority lane. */
  public static final int HIGH = 2;

  /**
   * A chunk leased to this dispatcher, with its route: the backend to use (the tenant's fallback if
   * {@code viaFallback}), its region, and what the tenant's residency allows. {@code takenOverFrom} names the
   * dispatcher whose expired lease this claim replaced, if any; {@code highPriority} its lane.
   */
  public record Claim(UUID jobId, int chunkNo, int firstSeq, int endSeq, UUID tenantId, UUID backendId, int backendVersion,
                      String backendRegion, String tenantRegion, List<String> allowedRegions, boolean viaFallback,
                      Double tenantRatePerSecond, String takenOverFrom, boolean highPriority) {

    public boolean residencyAllows() {
      return backendRegion.equals(tenantRegion) || allowedRegions.contains(backendRegion);
    }

    public DispatchStore.ChunkRef ref() {
      return new DispatchStore.ChunkRef(jobId, chunkNo, firstSeq, endSeq);
    }
  }

  /**
   * A chunk of the priority lane with what sending it needs: its job, and its recipients already marked 'sending'
   * when the chunk was small enough ({@code premarked}; null when they are to be read and marked as usual).
   */
  public record PriorityClaim(Claim claim, JobRow job, List<DueRecipient> premarked) {}

  // The tenant's route as a claim sees it: its primary backend, or its fallback while the primary is unavailable to
  // this dispatcher ($3: open circuits) if the fallback is available and in a region the tenant allows.
  private static final String VIA_FALLBACK = """
      (t.backend_id = ANY($3::uuid[]) AND f.id IS NOT NULL AND NOT (f.id = ANY($3::uuid[]))
       AND (f.region = t.region OR f.region = ANY(t.allowed_regions)))""";

  // The backend a chunk goes to (r.backend_id, r.via_fallback; e its row), for a query that has the tenant as t
  private static final String ROUTE_JOINS = """
        LEFT JOIN backends f ON f.id = t.fallback_backend_id
        CROSS JOIN LATERAL (SELECT v.via_fallback, CASE WHEN v.via_fallback THEN f.id ELSE t.backend_id END AS backend_id
                            FROM (SELECT """ + VIA_FALLBACK + """
       AS via_fallback) v) r
        JOIN backends e ON e.id = r.backend_id
      """;

  private static final String JOB_CLAIMABLE = " j.state IN ('queued', 'running') AND (j.expires_at IS NULL OR j.expires_at > now()) ";

  // The bookkeeping of every claim: the job starts running, job and tenant were served now (fairness).
  private static final String SERVED = """
      , served_job AS (
        UPDATE jobs SET last_served_at = clock_timestamp(), started_at = coalesce(jobs.started_at, now()),
                        state = CASE WHEN jobs.state = 'queued' THEN 'running' ELSE jobs.state END, updated_at = now()
        FROM (SELECT DISTINCT job_id FROM pick) p WHERE jobs.id = p.job_id
      ), served_tenant AS (
        UPDATE tenants SET last_served_at = clock_timestamp()
        FROM (SELECT DISTINCT tenant_id FROM pick) p WHERE tenants.id = p.tenant_id
      )
      """;

  // The lease of a single claim; a chunk whose previous lease had expired records the takeover.
  private static final String LEASE = """
      , leased AS (
        UPDATE chunks c SET state = 'leased', lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond',
                            claims = c.claims + 1, last_owner = $1, last_claimed_at = now(),
                            taken_over_from = CASE WHEN c.state = 'leased' THEN c.lease_owner ELSE c.taken_over_from END,
                            taken_over_at = CASE WHEN c.state = 'leased' THEN now() ELSE c.taken_over_at END,
                            taken_over_lease_until = CASE WHEN c.state = 'leased' THEN c.lease_until ELSE c.taken_over_lease_until END
        FROM pick WHERE c.job_id = pick.job_id AND c.chunk_no = pick.chunk_no
        RETURNING c.taken_over_from AS taken_from, c.taken_over_at = now() AS taken_now, c.priority
      )""" + SERVED + """
      -- the data-modifying CTEs run whether or not they are read (PostgreSQL runs each exactly once)
      SELECT pick.*, CASE WHEN leased.taken_now THEN leased.taken_from END AS taken_over_from, leased.priority
      FROM pick, leased
      """;

  // Fair claim of the campaign lane: tenants least recently served first, then their jobs least recently served
  // first, then the lowest open chunk of that job. The candidates are ordered before the lateral lookup, and the
  // nested loop stops at the first job with a chunk that is due and not locked by another dispatcher.
  // Tenants whose route has no available backend, whose backend is full here ($4), or who reached
  // max_concurrent_chunks wait.
  private static final String CLAIM = """
      WITH cj AS MATERIALIZED (
        -- the campaign jobs open now, from their partial index: planned on their own, so the queue of small jobs
        -- (any number of chunks) is never scanned to find them; measured 115 ms per claim with 27,000 small chunks
        -- waiting when this was a semi-join over chunks, against well under 1 ms now
        SELECT j.id, j.tenant_id, j.last_served_at FROM jobs j
        WHERE""" + JOB_CLAIMABLE + """
       AND j.priority < 2
      ), cand AS (
        SELECT x.*, e.version AS backend_version, e.region AS backend_region
        FROM (
          SELECT j.id AS job_id, j.tenant_id, t.region AS tenant_region, t.allowed_regions, t.max_rate_per_second,
                 t.max_concurrent_chunks, t.last_served_at AS tls, j.last_served_at AS jls,
                 """ + VIA_FALLBACK + """
       AS via_fallback,
                 t.backend_id AS primary_id, f.id AS fallback_id
          FROM cj j JOIN tenants t ON t.id = j.tenant_id LEFT JOIN backends f ON f.id = t.fallback_backend_id
          WHERE t.backend_id IS NOT NULL AND t.hold_reason IS NULL
        ) x0
        CROSS JOIN LATERAL (SELECT x0.*, CASE WHEN x0.via_fallback THEN x0.fallback_id ELSE x0.primary_id END AS backend_id) x
        JOIN backends e ON e.id = x.backend_id
        -- only jobs with something due now (jobs waiting for retries must not fill the candidate window); a lateral
        -- probe per job through chunks_open, never a pass over all chunks
        CROSS JOIN LATERAL (SELECT 1 FROM chunks c WHERE c.job_id = x.job_id AND c.state <> 'done'
                      AND ((c.state = 'ready' AND c.not_before <= now()) OR (c.state = 'leased' AND c.lease_until < now()))
                      LIMIT 1) due
        WHERE NOT (x.backend_id = ANY($4::uuid[])) AND NOT (x.backend_id = ANY($3::uuid[]))
          AND (x.max_concurrent_chunks IS NULL OR (
                SELECT count(*) FROM chunks c2
                WHERE c2.tenant_id = x.tenant_id AND c2.state = 'leased' AND c2.lease_until > now()) < x.max_concurrent_chunks)
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

  // Takeover: the chunk whose lease expired longest ago, in either lane, whatever its job's turn in the fair order
  // and however busy its backend is here: it was being sent by a dispatcher that died (or stalled), and its
  // recipients have waited a whole lease already. Only unavailable backends (open circuits) stop it.
  private static final String TAKE_OVER = """
      WITH pick AS (
        SELECT c.job_id, c.chunk_no, c.first_seq, c.end_seq, j.tenant_id, r.backend_id, e.version AS backend_version,
               e.region AS backend_region, t.region AS tenant_region, t.allowed_regions, r.via_fallback,
               t.max_rate_per_second
        FROM chunks c
        JOIN jobs j ON j.id = c.job_id
        JOIN tenants t ON t.id = j.tenant_id
      """ + ROUTE_JOINS + """
        WHERE c.state = 'leased' AND c.lease_until < now() AND""" + JOB_CLAIMABLE + """
       AND t.backend_id IS NOT NULL AND t.hold_reason IS NULL AND NOT (r.backend_id = ANY($3::uuid[]))
        ORDER BY c.lease_until
        LIMIT 1
        FOR UPDATE OF c SKIP LOCKED
      )""" + LEASE;

  // The priority lane: up to $6 due chunks of high priority in one statement (the source CTE "due", below), each
  // backend up to its room here ($4/$5, else $7), each tenant up to its max_concurrent_chunks. The recipients of
  // chunks of at most $8 recipients are marked 'sending' in the same statement and returned with the job, so a small
  // job costs no further read before it is sent. The job rows are not written: a job of this lane goes from queued to
  // completed when its chunks are released (or to running, when one is left with recipients to retry).
  private static final String PRIORITY_ROUTE = """
               r.backend_id, e.version AS backend_version, e.region AS backend_region, t.region AS tenant_region,
               t.allowed_regions, r.via_fallback, t.max_rate_per_second,
               CASE WHEN t.max_concurrent_chunks IS NULL THEN NULL ELSE t.max_concurrent_chunks - (SELECT count(*) FROM chunks b
                 WHERE b.tenant_id = t.id AND b.state = 'leased' AND b.lease_until > now()) END AS tenant_room,
               t.last_served_at AS tls""";

  private static final String PRIORITY_JOINS = """
        JOIN jobs j ON j.id = c.job_id
      """ + ROUTE_JOINS + """
        WHERE""" + JOB_CLAIMABLE + """
       AND t.backend_id IS NOT NULL AND t.hold_reason IS NULL AND NOT (r.backend_id = ANY($3::uuid[]))""";

  // by scan: each tenant's oldest due chunks (one index range per tenant), tenants taking turns
  private static final String DUE_BY_SCAN = """
      WITH due AS (
        SELECT c.job_id, c.chunk_no, c.first_seq, c.end_seq, t.id AS tenant_id,""" + PRIORITY_ROUTE + """
      ,
               row_number() OVER (PARTITION BY t.id ORDER BY c.not_before, c.job_id, c.chunk_no) AS turn
        FROM tenants t
        CROSS JOIN LATERAL (
          SELECT c.job_id, c.chunk_no, c.first_seq, c.end_seq, c.not_before FROM chunks c
          WHERE c.tenant_id = t.id AND c.state = 'ready' AND c.priority = 2 AND c.not_before <= now()
          ORDER BY c.not_before
          LIMIT $6) c
      """ + PRIORITY_JOINS + """
      )""";

  // by id ($9, $10): the chunks this process just accepted, in the order given (a primary-key lookup each: no scan
  // of the queue, whose head is dead rows until vacuum comes by)
  private static final String DUE_BY_ID = """
      WITH due AS (
        SELECT c.job_id, c.chunk_no, c.first_seq, c.end_seq, t.id AS tenant_id,""" + PRIORITY_ROUTE + """
      ,
               k.ord AS turn
        FROM unnest($9::uuid[], $10::int[]) WITH ORDINALITY AS k(job_id, chunk_no, ord)
        JOIN chunks c ON c.job_id = k.job_id AND c.chunk_no = k.chunk_no AND c.state = 'ready' AND c.not_before <= now()
        JOIN tenants t ON t.id = c.tenant_id
      """ + PRIORITY_JOINS + """
      )""";

  private static String priorityRest(int d) {
    return """
      , room AS (
        SELECT * FROM unnest($4::uuid[], $5::int[]) AS room(backend_id, room)
      ), ordered AS (
        SELECT * FROM due WHERE tenant_room IS NULL OR turn <= tenant_room
        ORDER BY turn, tls NULLS FIRST, job_id, chunk_no
        LIMIT $6 * 2
      ), locked AS (
        -- no job row is locked or written here, so a cancel (which locks the job row, then the recipients) cannot
        -- deadlock with this claim (which locks chunks, then recipients)
        SELECT o.* FROM ordered o JOIN chunks c ON c.job_id = o.job_id AND c.chunk_no = o.chunk_no
        WHERE c.state = 'ready'
        FOR NO KEY UPDATE OF c SKIP LOCKED
      ), ranked AS (
        SELECT l.*, row_number() OVER (ORDER BY turn, tls NULLS FIRST, job_id, chunk_no) AS n,
               row_number() OVER (PARTITION BY l.backend_id ORDER BY turn, tls NULLS FIRST, job_id, chunk_no) AS nb
        FROM locked l
      ), pick AS (
        SELECT ranked.* FROM ranked LEFT JOIN room ON room.backend_id = ranked.backend_id
        WHERE n <= $6 AND nb <= coalesce(room.room, $7)
      ), cur AS (
        -- each chunk's range through the primary key (a join could read the whole table: see DispatchStore COUNTS);
        -- "reason": the tenant suppressed the address (probed only for tenants that have suppressions)
        SELECT r.job_id, r.seq, r.state AS old, p.chunk_no, p.tenant_id, p.backend_id, p.backend_region,
               CASE WHEN p.has_suppressions THEN mailgate_suppressed(p.tenant_id, r.email, r.job_id) END AS reason
        FROM (SELECT pick.*, EXISTS (SELECT 1 FROM suppressions s WHERE s.tenant_id = pick.tenant_id) AS has_suppressions
              FROM pick) p
        CROSS JOIN LATERAL (
          SELECT r.job_id, r.seq, r.state, r.email FROM recipients r
          WHERE r.job_id = p.job_id AND r.seq >= p.first_seq AND r.seq < p.end_seq AND p.end_seq - p.first_seq <= $8
            AND (r.state IN ('queued', 'sending') OR (r.state = 'deferred' AND r.next_attempt_at <= now()))
          OFFSET 0) r
      ), marked AS (
        -- "state = cur.old" is checked again on a row changed since cur read it (a cancel): then it is skipped;
        -- a suppressed recipient ends here, never handed out
        UPDATE recipients r SET state = CASE WHEN cur.reason IS NULL THEN 'sending' ELSE 'suppressed' END,
                                attempts = r.attempts + CASE WHEN cur.reason IS NULL THEN 1 ELSE 0 END,
                                updated_at = now(),
                                possible_duplicate = r.possible_duplicate OR (cur.old = 'sending' AND cur.reason IS NULL),
                                last_message = CASE WHEN cur.reason IS NULL THEN r.last_message ELSE 'suppressed: ' || cur.reason END,
                                next_attempt_at = CASE WHEN cur.reason IS NULL THEN r.next_attempt_at END
        FROM cur WHERE r.job_id = cur.job_id AND r.seq = cur.seq AND r.state = cur.old
        RETURNING r.job_id, cur.chunk_no, r.seq, r.email, r.vars, r.attempts, r.message_id, cur.old, cur.reason,
                  cur.tenant_id, cur.backend_id, cur.backend_region
      ), moved AS (
        SELECT job_id, chunk_no, count(*) FILTER (WHERE old = 'queued') AS q, count(*) FILTER (WHERE old = 'deferred') AS d,
               count(*) FILTER (WHERE old <> 'sending' AND reason IS NULL) AS s,
               count(*) FILTER (WHERE old = 'sending' AND reason IS NOT NULL) AS unsent,
               count(*) FILTER (WHERE reason IS NOT NULL) AS sp,
               coalesce(json_agg(json_build_object('seq', seq, 'email', email, 'vars', vars, 'attempt', attempts) ORDER BY seq)
                        FILTER (WHERE reason IS NULL), '[]'::json) AS rs
        FROM marked GROUP BY job_id, chunk_no
      ), ev AS (
        INSERT INTO events (tenant_id, job_id, seq, email, type, severity, attempt, message, message_id, backend_id, region,
                            sender_domain, recipient_domain)
        SELECT m.tenant_id, m.job_id, m.seq, lower(m.email), 'suppressed', m.reason, m.attempts, 'suppressed: ' || m.reason,
               m.message_id, m.backend_id, m.backend_region, mailgate_domain(j.spec ->> 'from'), mailgate_domain(m.email)
        FROM marked m JOIN jobs j ON j.id = m.job_id
        WHERE m.reason IS NOT NULL
        RETURNING id, tenant_id, job_id, email, type, severity, code, message, backend_id, sender_domain, recipient_domain
      )""" + EventSql.consequences(d) + """
      , leased AS (
        UPDATE chunks c SET state = 'leased', lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond',
                            claims = c.claims + 1, last_owner = $1, last_claimed_at = now(),
                            n_sending = c.n_sending + coalesce(m.s, 0) - coalesce(m.unsent, 0),
                            n_queued = c.n_queued - coalesce(m.q, 0),
                            n_deferred = c.n_deferred - coalesce(m.d, 0), n_suppressed = c.n_suppressed + coalesce(m.sp, 0)
        FROM pick LEFT JOIN moved m ON m.job_id = pick.job_id AND m.chunk_no = pick.chunk_no
        WHERE c.job_id = pick.job_id AND c.chunk_no = pick.chunk_no
      ), served_tenant AS (
        UPDATE tenants SET last_served_at = clock_timestamp()
        FROM (SELECT DISTINCT tenant_id FROM pick) p WHERE tenants.id = p.tenant_id
      )
      SELECT pick.*, j.state AS job_state, j.spec, j.chunk_size, j.created_at, j.expires_at, j.priority AS job_priority,
             (pick.end_seq - pick.first_seq <= $8) AS premarked, m.rs AS recipients
      FROM pick JOIN jobs j ON j.id = pick.job_id
      LEFT JOIN moved m ON m.job_id = pick.job_id AND m.chunk_no = pick.chunk_no
      ORDER BY pick.n
      """;
  }

  private static final String CLAIM_PRIORITY = DUE_BY_SCAN + priorityRest(9);
  private static final String CLAIM_PRIORITY_BY_ID = DUE_BY_ID + priorityRest(11);

  private final Pool pool;
  private final EventSql events;

  public ClaimStore(Pool pool, EventSql events) {
    this.pool = pool;
    this.events = events;
  }

  /**
   * Leases the fairest due chunk of the campaign lane whose route leads to a backend that is neither full here
   * ({@code fullBackends}) nor unavailable to this dispatcher ({@code unavailableBackends}, open circuits).
   */
  public Future<Optional<Claim>> claim(String owner, long leaseMillis, Collection<UUID> fullBackends,
                                       Collection<UUID> unavailableBackends, int candidates) {
    return pool.preparedQuery(CLAIM)
        .execute(Tuple.of(owner, leaseMillis, unavailableBackends.toArray(new UUID[0]), fullBackends.toArray(new UUID[0]),
            candidates))
        .map(ClaimStore::single);
  }

  /** Leases the chunk whose lease expired longest ago (its dispatcher died), if its backend is available here. */
  public Future<Optional<Claim>> takeOver(String owner, long leaseMillis, Collection<UUID> unavailableBackends) {
    return pool.preparedQuery(TAKE_OVER)
        .execute(Tuple.of(owner, leaseMillis, unavailableBackends.toArray(new UUID[0])))
        .map(ClaimStore::single);
  }

  /**
   * Leases up to {@code max} due chunks of the priority lane. {@code backendRoom} gives the room left here of the
   * backends that have less than {@code perBackend}; chunks of at most {@code premarkUpTo} recipients come with
   * their recipients marked.
   */
  public Future<List<PriorityClaim>> claimPriority(String owner, long leaseMillis, Collection<UUID> unavailableBackends,
                                                   Map<UUID, Integer> backendRoom, int max, int perBackend, int premarkUpTo) {
    return pool.preparedQuery(CLAIM_PRIORITY)
        .execute(withEventArgs(priorityArgs(owner, leaseMillis, unavailableBackends, backendRoom, max, perBackend, premarkUpTo)))
        .map(ClaimStore::priorityClaims);
  }

  /** Like {@link #claimPriority}, of the given chunks only (those this process just accepted), in their order. */
  public Future<List<PriorityClaim>> claimPriorityById(String owner, long leaseMillis, Collection<UUID> unavailableBackends,
                                                       Map<UUID, Integer> backendRoom, int perBackend, int premarkUpTo,
                                                       List<DispatchStore.ChunkRef> chunks) {
    Tuple t = priorityArgs(owner, leaseMillis, unavailableBackends, backendRoom, chunks.size(), perBackend, premarkUpTo);
    t.addValue(chunks.stream().map(DispatchStore.ChunkRef::jobId).toArray(UUID[]::new));
    t.addValue(chunks.stream().map(DispatchStore.ChunkRef::chunkNo).toArray(Integer[]::new));
    return pool.preparedQuery(CLAIM_PRIORITY_BY_ID).execute(withEventArgs(t)).map(ClaimStore::priorityClaims);
  }

  private Tuple withEventArgs(Tuple t) {
    return t.addValue(events.domains()).addValue(events.softBounceLimit()).addValue((double) events.softBounceWindowSeconds());
  }

  private static Tuple priorityArgs(String owner, long leaseMillis, Collection<UUID> unavailableBackends,
                                    Map<UUID, Integer> backendRoom, int max, int perBackend, int premarkUpTo) {
    UUID[] ids = backendRoom.keySet().toArray(new UUID[0]);
    Integer[] room = new Integer[ids.length];
    for (int i = 0; i < ids.length; i++) {
      room[i] = backendRoom.get(ids[i]);
    }
    return Tuple.of(owner, leaseMillis, unavailableBackends.toArray(new UUID[0]), ids, room, max, perBackend, premarkUpTo);
  }

  /**
   * Due, unclaimed chunks of the priority lane per tenant, the first {@code upTo} of them counted (through their
   * partial index).
   */
  public Future<Map<UUID, Integer>> dueHighPriority(int upTo) {
    return pool.preparedQuery("""
            SELECT d.tenant_id, count(*) FROM (
              SELECT c.tenant_id FROM chunks c WHERE c.state = 'ready' AND c.priority = 2 AND c.not_before <= now()
              LIMIT $1) d
            GROUP BY d.tenant_id""")
        .execute(Tuple.of(upTo))
        .map(rows -> {
          Map<UUID, Integer> out = new java.util.HashMap<>();
          rows.forEach(r -> {
            if (r.getUUID(0) != null) {
              out.put(r.getUUID(0), r.getLong(1).intValue());
            }
          });
          return out;
        });
  }

  private static List<PriorityClaim> priorityClaims(RowSet<Row> rows) {
    List<PriorityClaim> out = new ArrayList<>(rows.size());
    for (Row r : rows) {
      Claim c = claimOf(r, null, true);
      JobRow job = new JobRow(c.jobId(), c.tenantId(), r.getString("job_state"), (JsonObject) r.getValue("spec"),
          r.getInteger("chunk_size"), r.getOffsetDateTime("created_at"), r.getOffsetDateTime("expires_at"),
          r.getInteger("job_priority"));
      List<DueRecipient> marked = null;
      if (r.getBoolean("premarked")) {
        marked = new ArrayList<>();
        Object rs = r.getValue("recipients");
        if (rs != null) {
          JsonArray a = rs instanceof JsonArray ja ? ja : new JsonArray(rs.toString());
          for (Object o : a) {
            JsonObject x = (JsonObject) o;
            Object vars = x.getValue("vars");
            marked.add(new DueRecipient(x.getInteger("seq"), x.getString("email"), vars instanceof JsonObject v ? v : null,
                x.getInteger("attempt")));
          }
        }
      }
      out.add(new PriorityClaim(c, job, marked));
    }
    return out;
  }

  private static Optional<Claim> single(RowSet<Row> rows) {
    var it = rows.iterator();
    if (!it.hasNext()) {
      return Optional.empty();
    }
    Row r = it.next();
    return Optional.of(claimOf(r, r.getString("taken_over_from"), r.getInteger("priority") == HIGH));
  }

  private static Claim claimOf(Row r, String takenOverFrom, boolean high) {
    String[] allowed = r.getArrayOfStrings("allowed_regions");
    return new Claim(r.getUUID("job_id"), r.getInteger("chunk_no"), r.getInteger("first_seq"), r.getInteger("end_seq"),
        r.getUUID("tenant_id"), r.getUUID("backend_id"), r.getInteger("backend_version"), r.getString("backend_region"),
        r.getString("tenant_region"), allowed == null ? List.of() : List.of(allowed), r.getBoolean("via_fallback"),
        r.getDouble("max_rate_per_second"), takenOverFrom, high);
  }
}

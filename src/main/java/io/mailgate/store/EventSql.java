package io.mailgate.store;

import io.mailgate.config.GatewayConfig.EventsConfig;
import io.vertx.sqlclient.Tuple;
import java.util.List;

/**
 * What every statement that records events does with them, in the same statement: the suppressions they call for and
 * the hourly counters. A statement using it names its new events {@code ev} (id, tenant_id, job_id, email, type,
 * severity, code, message, backend_id, sender_domain, recipient_domain) and passes three parameters: the recipient
 * domains the counters keep apart ({@link #domains()}), the soft-bounce limit and its window in seconds. The
 * tenant's webhooks for those events get their calls in the same statement (the outbox, {@code webhook_deliveries}).
 *
 * <p>Lock order: these inserts run after the statement's own updates (PostgreSQL runs data-modifying WITH
 * sub-statements that nothing reads at the end, in order), and their rows are inserted in key order, so two
 * statements counting into the same hour wait for each other, never deadlock.
 */
public final class EventSql {

  /** The backend column of the counters for events that went through no backend. */
  public static final String NO_BACKEND = "00000000-0000-0000-0000-000000000000";

  private final String[] domains;
  private final int softBounceLimit;
  private final long softBounceWindowSeconds;

  public EventSql(EventsConfig config) {
    this(config.statsRecipientDomains(), config.softBounceLimit(), config.softBounceWindow().toSeconds());
  }

  public EventSql(List<String> domains, int softBounceLimit, long softBounceWindowSeconds) {
    this.domains = domains.toArray(String[]::new);
    this.softBounceLimit = softBounceLimit;
    this.softBounceWindowSeconds = softBounceWindowSeconds;
  }

  public String[] domains() {
    return domains;
  }

  public int softBounceLimit() {
    return softBounceLimit;
  }

  public long softBounceWindowSeconds() {
    return softBounceWindowSeconds;
  }

  /** Appends the three parameters {@link #consequences} reads. */
  public Tuple append(Tuple t) {
    return t.addValue(domains).addValue(softBounceLimit).addValue((double) softBounceWindowSeconds);
  }

  /**
   * The writing connection's shard of a counter row: 1-15, never 0. Shard 0 holds what the folding pass moved there,
   * so a row of shard 0 was never written by a writer, and whatever a late writer adds to a folded hour is a shard row
   * that the next pass folds and adds to the summaries ({@link StatsStore#foldHour}).
   */
  static final String SHARD = "1 + pg_backend_pid() % 15";

  /**
   * The upsert of the events' counts (grouped once, in {@code evg}) into a counter table keyed by {@code timeColumn} =
   * {@code timeValue}.
   */
  private static String domainCounters(String table, String timeColumn, String timeValue) {
    return """

          INSERT INTO TABLE AS s (tenant_id, TIME, backend_id, sender_domain, recipient_domain, event, severity, shard, n)
          SELECT tenant_id, VALUE, backend_id, sender_domain, recipient_domain, type, severity, WRITER_SHARD, n
          FROM evg ORDER BY 1, 3, 4, 5, 6, 7
          ON CONFLICT (tenant_id, TIME, backend_id, sender_domain, recipient_domain, event, severity, shard)
          DO UPDATE SET n = s.n + excluded.n""".replace("TABLE", table).replace("TIME", timeColumn).replace("VALUE", timeValue)
        .replace("WRITER_SHARD", SHARD);
  }

  /** The WITH sub-statements (each starting with a comma) for parameters {@code $d}, {@code $d+1}, {@code $d+2}. */
  public static String consequences(int d) {
    return ("""
        , sup AS (
          -- an address that does not exist (hard bounce), that bounced softly too often within the window, that
          -- complained or unsubscribed: the tenant's mail is not sent to it again (enforced at dispatch)
          INSERT INTO suppressions (tenant_id, address, tag, reason, code, detail, source_event)
          SELECT DISTINCT ON (tenant_id, email) tenant_id, email, '',
                 CASE type WHEN 'complained' THEN 'complaint' WHEN 'unsubscribed' THEN 'unsubscribe' ELSE 'hard_bounce' END,
                 code, left(message, 500), id
          FROM ev
          WHERE (type IN ('failed', 'bounced') AND severity = 'hard') OR type IN ('complained', 'unsubscribed')
             OR (type IN ('failed', 'bounced') AND severity = 'soft'
                 AND 1 + (SELECT count(*) FROM events e
                          WHERE e.tenant_id = ev.tenant_id AND e.email = ev.email AND e.type IN ('failed', 'bounced')
                            AND e.severity = 'soft' AND e.at > now() - $W::float8 * interval '1 second') >= $L::int)
          ORDER BY tenant_id, email, id
          ON CONFLICT DO NOTHING
        ), evg AS (
          -- the events by counter key, once for the hourly and the daily counters
          SELECT tenant_id, coalesce(backend_id, 'NO_BACKEND') AS backend_id, coalesce(sender_domain, '') AS sender_domain,
                 CASE WHEN recipient_domain = ANY($D::text[]) THEN recipient_domain ELSE 'other' END AS recipient_domain,
                 type, coalesce(severity, '') AS severity, count(*) AS n
          FROM ev GROUP BY 1, 2, 3, 4, 5, 6
        ), roll AS (""" + domainCounters("stats_hourly", "hour", "date_trunc('hour', now(), 'UTC')") + """
        ), droll AS (""" + domainCounters("stats_daily", "day", "(now() AT TIME ZONE 'UTC')::date") + """
        ), troll AS (
          -- per tag of the job (tags stay on the job; a job's events are counted once per tag it carries)
          INSERT INTO stats_tags_hourly AS s (tenant_id, hour, tag, event, severity, shard, n)
          SELECT g.tenant_id, date_trunc('hour', now(), 'UTC'), t.tag, g.type, g.severity, WRITER_SHARD, sum(g.n)
          FROM (SELECT tenant_id, job_id, type, coalesce(severity, '') AS severity, count(*) AS n
                FROM ev WHERE job_id IS NOT NULL GROUP BY 1, 2, 3, 4) g
          JOIN jobs j ON j.id = g.job_id
          CROSS JOIN LATERAL jsonb_array_elements_text(
              CASE WHEN jsonb_typeof(j.spec -> 'tags') = 'array' THEN j.spec -> 'tags' ELSE '[]'::jsonb END) AS t(tag)
          GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
          ON CONFLICT (tenant_id, hour, tag, event, severity, shard) DO UPDATE SET n = s.n + excluded.n
        ), hooks AS (
          -- the outbox: each event becomes a call to each of the tenant's webhooks that wants it, in this statement.
          -- A tenant without webhooks costs one probe of an empty index range per event; with no webhook at all
          -- (the one-time filter) not even that. A webhook matches an event by its type, "type:severity", or for
          -- "sent" by "sent:<backend type>" (a domain's webhook only events of mail from that domain).
          INSERT INTO webhook_deliveries (webhook_id, tenant_id, event_id, event_at, email)
          SELECT w.id, ev.tenant_id, ev.id, now(), ev.email
          FROM ev JOIN webhooks w ON w.tenant_id = ev.tenant_id
          WHERE EXISTS (SELECT 1 FROM webhooks)
            AND (w.domain IS NULL OR w.domain = ev.sender_domain)
            AND w.match && ARRAY[ev.type, ev.type || ':' || coalesce(ev.severity, ''),
                                 CASE WHEN ev.type = 'sent' THEN 'sent:' || coalesce(
                                   (SELECT b.type FROM backends b WHERE b.id = ev.backend_id), '') END]
          ORDER BY ev.id, w.id
        )""")
        .replace("NO_BACKEND", NO_BACKEND).replace("WRITER_SHARD", SHARD)
        .replace("$D", "$" + d).replace("$L", "$" + (d + 1)).replace("$W", "$" + (d + 2));
  }
}

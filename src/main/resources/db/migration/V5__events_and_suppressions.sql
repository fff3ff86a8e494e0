-- What happened to each message (events), the addresses a tenant must not send to (suppressions), and hourly
-- counters kept in the same writes (rollups), so no statistic scans recipients or events.

-- Events: one row per change of a recipient's fate, written in the statement that changes its state. Partitioned by
-- day on "at"; retention drops whole partitions (EventPartitions). Ids come from one sequence: in insertion order,
-- so newest-first pages follow time. Job-level data (tags, variables) stays on the job and is joined when read.
CREATE SEQUENCE event_ids;

CREATE TABLE events (
    id                  bigint NOT NULL DEFAULT nextval('event_ids'),
    at                  timestamptz NOT NULL DEFAULT now(),
    tenant_id           uuid NOT NULL,
    job_id              uuid,
    seq                 integer,
    -- lower case: events, suppressions and statistics compare addresses without regard to case
    email               text NOT NULL,
    type                text NOT NULL CHECK (type IN ('sent', 'deferred', 'failed', 'suppressed', 'cancelled', 'expired',
                                                      'delivered', 'bounced', 'complained', 'unsubscribed', 'opened',
                                                      'clicked')),
    -- failed/bounced: 'hard' or 'soft' (BounceClassifier); suppressed: the suppression's reason
    severity            text,
    attempt             smallint,
    code                integer,
    message             text,
    -- the message's own Message-ID (or the backend's id for it)
    message_id          text,
    backend_id          uuid,
    region              text,
    -- the server actually connected to for the send (host:port as resolved), and the TLS server name where TLS was used
    peer                text,
    tls_name            text,
    sender_domain       text,
    recipient_domain    text,
    possible_duplicate  boolean NOT NULL DEFAULT false,
    -- 'dispatch', or where a later event came from ('webhook:mailgun', 'inbound', 'api', ...)
    source              text NOT NULL DEFAULT 'dispatch'
) PARTITION BY RANGE (at);

-- Rows outside every daily partition (a clock far off) land here rather than fail the state write they belong to.
CREATE TABLE events_default PARTITION OF events DEFAULT;

CREATE INDEX events_by_tenant ON events (tenant_id, id);
CREATE INDEX events_by_job ON events (job_id, id);
CREATE INDEX events_by_recipient ON events (tenant_id, email, id);

-- A provider event delivered twice (webhooks are retried) is recorded once: its id is kept for the retention.
CREATE TABLE seen_source_events (
    source      text NOT NULL,
    source_id   text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, source_id)
);
CREATE INDEX seen_source_events_at ON seen_source_events (at);

-- Suppressions: addresses a tenant's mail is not sent to. tag '' covers every job; another tag only the jobs that
-- carry it (an unsubscribe from one list).
CREATE TABLE suppressions (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    address       text NOT NULL CHECK (address = lower(address)),
    tag           text NOT NULL DEFAULT '',
    reason        text NOT NULL CHECK (reason IN ('hard_bounce', 'complaint', 'unsubscribe', 'manual')),
    code          integer,
    detail        text,
    source_event  bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, address, tag)
);

-- A chunk counts its suppressed recipients apart from its failed ones.
ALTER TABLE chunks ADD COLUMN n_suppressed integer NOT NULL DEFAULT 0;

-- Hourly counters per tenant x backend x sender domain x recipient domain x event type x severity. Recipient
-- domains outside MAILGATE_STATS_RECIPIENT_DOMAINS count as 'other', so the table stays bounded.
CREATE TABLE stats_hourly (
    tenant_id         uuid NOT NULL,
    hour              timestamptz NOT NULL,
    backend_id        uuid NOT NULL,
    sender_domain     text NOT NULL,
    recipient_domain  text NOT NULL,
    event             text NOT NULL,
    severity          text NOT NULL,
    -- the writing connection's slot (its backend pid mod 16): concurrent batches of the same hour count into
    -- different rows instead of waiting for each other's row lock until commit; readers sum the slots
    shard             smallint NOT NULL,
    n                 bigint NOT NULL,
    PRIMARY KEY (tenant_id, hour, backend_id, sender_domain, recipient_domain, event, severity, shard)
);

-- The same per UTC day, for long ranges (30 days of reputation read 30 rows per key, not 720).
CREATE TABLE stats_daily (
    tenant_id         uuid NOT NULL,
    day               date NOT NULL,
    backend_id        uuid NOT NULL,
    sender_domain     text NOT NULL,
    recipient_domain  text NOT NULL,
    event             text NOT NULL,
    severity          text NOT NULL,
    shard             smallint NOT NULL,
    n                 bigint NOT NULL,
    PRIMARY KEY (tenant_id, day, backend_id, sender_domain, recipient_domain, event, severity, shard)
);
-- The operators' view across tenants reads a day range of every tenant.
CREATE INDEX stats_daily_by_day ON stats_daily (day);

-- The same per tag of the job.
CREATE TABLE stats_tags_hourly (
    tenant_id  uuid NOT NULL,
    hour       timestamptz NOT NULL,
    tag        text NOT NULL,
    event      text NOT NULL,
    severity   text NOT NULL,
    shard      smallint NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (tenant_id, hour, tag, event, severity, shard)
);

-- The domain of an address or of a From header ("Name <user@example.com>"), lower case; null without one.
CREATE FUNCTION mailgate_domain(p_addr text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lower(substring(p_addr from '@([^@<>[:space:]]+)>?[[:space:]]*$')) $$;

-- The suppression that keeps an address of a job's from being sent: one for every job (tag '') or for one of the
-- job's tags; null if none.
CREATE FUNCTION mailgate_suppressed(p_tenant uuid, p_address text, p_job uuid) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT s.reason FROM suppressions s
          WHERE s.tenant_id = p_tenant AND s.address = lower(p_address)
            AND (s.tag = '' OR s.tag IN (SELECT jsonb_array_elements_text(j.spec -> 'tags') FROM jobs j
                                         WHERE j.id = p_job AND jsonb_typeof(j.spec -> 'tags') = 'array'))
          ORDER BY s.tag = '' DESC
          LIMIT 1 $$;

-- A tenant hold: the gateway stops claiming the tenant's chunks (nothing is failed or expired by it) until an
-- operator resumes it. Set by the reputation guard ('reputation') when a rate reaches its critical level; after a
-- resume, the tenant is judged afresh on the mail sent since (resumed_at).
ALTER TABLE tenants ADD COLUMN hold_reason text CHECK (hold_reason IN ('reputation'));
ALTER TABLE tenants ADD COLUMN hold_detail text;
ALTER TABLE tenants ADD COLUMN held_at timestamptz;
ALTER TABLE tenants ADD COLUMN resumed_at timestamptz;

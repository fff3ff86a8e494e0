-- mailgate core schema: tenants, backends, jobs, their recipients and dispatch chunks.

CREATE TABLE backends (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    type        text NOT NULL,
    region      text NOT NULL,
    -- settings without secrets, as given by the operator
    settings    jsonb NOT NULL DEFAULT '{}',
    -- secret settings (passwords, API keys), AES-GCM encrypted JSON; never returned by the API
    secrets     bytea,
    -- bumped on every change, so dispatchers rebuild their client for the backend
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenants (
    id              uuid PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    region          text NOT NULL,
    -- SHA-256 of the tenant's API key; the key itself is shown once and never stored
    api_key_hash    bytea NOT NULL UNIQUE,
    backend_id      uuid REFERENCES backends (id),
    -- round-robin fairness between tenants when dispatchers claim chunks
    last_served_at  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id              uuid PRIMARY KEY,           -- UUIDv7: time ordered, so keyset pages follow creation order
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'paused', 'completed', 'cancelled')),
    -- from, replyTo, subject, text, html, headers, tags: the job as accepted
    spec            jsonb NOT NULL,
    recipients      integer NOT NULL,
    chunk_size      integer NOT NULL CHECK (chunk_size > 0),
    started_at      timestamptz,
    last_served_at  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX jobs_by_tenant ON jobs (tenant_id, id);
CREATE INDEX jobs_active ON jobs (tenant_id) WHERE state IN ('queued', 'running');

-- One row per recipient of a job. seq is the 0-based position in the submitted list;
-- chunk k of a job holds seq in [k * chunk_size, (k + 1) * chunk_size).
-- No foreign key to jobs: the row is written a million times per big job and the job row is
-- inserted in the same transaction, so the check would cost without protecting anything.
CREATE TABLE recipients (
    job_id              uuid NOT NULL,
    seq                 integer NOT NULL,
    email               text NOT NULL,
    vars                jsonb,
    state               text NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'cancelled',
                                         'suppressed', 'delivered', 'bounced', 'complained')),
    attempts            smallint NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz,
    last_code           integer,
    last_message        text,
    message_id          text,
    -- a send that timed out after the final "." of DATA may have been delivered
    possible_duplicate  boolean NOT NULL DEFAULT false,
    updated_at          timestamptz,
    PRIMARY KEY (job_id, seq)
) WITH (fillfactor = 80);   -- room on each page for HOT updates of the state columns

-- The unit of dispatch. A dispatcher leases a chunk (lease_owner, lease_until), sends its due
-- recipients and releases it; a chunk whose lease ran out is taken over by another dispatcher.
-- The n_* columns count the chunk's recipients by state, so job counts need no scan of recipients.
CREATE TABLE chunks (
    job_id       uuid NOT NULL REFERENCES jobs (id),
    chunk_no     integer NOT NULL,
    first_seq    integer NOT NULL,
    end_seq      integer NOT NULL,               -- exclusive
    state        text NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'leased', 'done')),
    not_before   timestamptz NOT NULL DEFAULT now(),
    lease_owner  text,
    lease_until  timestamptz,
    claims       integer NOT NULL DEFAULT 0,
    n_queued     integer NOT NULL DEFAULT 0,
    n_sending    integer NOT NULL DEFAULT 0,
    n_sent       integer NOT NULL DEFAULT 0,
    n_deferred   integer NOT NULL DEFAULT 0,
    n_failed     integer NOT NULL DEFAULT 0,
    n_cancelled  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, chunk_no)
);

CREATE INDEX chunks_open ON chunks (job_id, chunk_no) WHERE state <> 'done';

-- Idempotency-Key per tenant: the request's body hash and the job it created.
CREATE TABLE idempotency_keys (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    job_id        uuid NOT NULL REFERENCES jobs (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

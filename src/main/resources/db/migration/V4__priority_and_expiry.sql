-- Priority lanes and expiry. A job's priority (2 high, 1 normal, 0 low) is copied onto its chunks, so the
-- dispatcher finds due high-priority chunks through one small index; it never changes after intake.
ALTER TABLE jobs ADD COLUMN priority smallint NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 2);
-- Recipients not handed to a backend by then end 'expired' (a final state).
ALTER TABLE jobs ADD COLUMN expires_at timestamptz;
ALTER TABLE chunks ADD COLUMN priority smallint NOT NULL DEFAULT 1;
ALTER TABLE chunks ADD COLUMN n_expired integer NOT NULL DEFAULT 0;

ALTER TABLE recipients DROP CONSTRAINT recipients_state_check;
ALTER TABLE recipients ADD CONSTRAINT recipients_state_check
    CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'cancelled', 'expired',
                     'suppressed', 'delivered', 'bounced', 'complained'));

CREATE INDEX chunks_ready_priority ON chunks (not_before) WHERE state = 'ready' AND priority = 2;
CREATE INDEX jobs_expiring ON jobs (expires_at) WHERE expires_at IS NOT NULL AND state IN ('queued', 'running', 'paused');

-- The priority lane claims per tenant, tenants taking turns: a chunk knows its tenant (copied at intake), so the
-- due chunks of each tenant are one index range, however many small jobs another tenant has waiting.
ALTER TABLE chunks ADD COLUMN tenant_id uuid;
UPDATE chunks c SET tenant_id = j.tenant_id FROM jobs j WHERE j.id = c.job_id;
DROP INDEX chunks_ready_priority;
CREATE INDEX chunks_priority_due ON chunks (tenant_id, not_before) WHERE state = 'ready' AND priority = 2;
-- The campaign lane looks only at campaign jobs: thousands of small jobs waiting must not slow its claims.
CREATE INDEX jobs_campaign_active ON jobs (tenant_id) WHERE state IN ('queued', 'running') AND priority < 2;

-- Room on each page for HOT updates: a chunk's counters change with every batch of outcomes, a job's state a few
-- times; without free room every such update also writes an entry into each of the table's indexes.
ALTER TABLE chunks SET (fillfactor = 70);
ALTER TABLE jobs SET (fillfactor = 80);
-- Queue tables churn: vacuum them after a few thousand dead rows, not after a fifth of the table.
ALTER TABLE chunks SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 2000);
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 2000);
ALTER TABLE recipients SET (autovacuum_vacuum_scale_factor = 0.05);
DROP INDEX jobs_active;

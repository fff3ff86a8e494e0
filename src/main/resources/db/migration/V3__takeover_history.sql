-- Who claimed a chunk last, and its last takeover: a chunk claimed while another dispatcher's lease on it had
-- expired (that dispatcher died or stalled). Operators see takeovers; tests check their latency from these columns.
ALTER TABLE chunks ADD COLUMN last_owner text;
ALTER TABLE chunks ADD COLUMN last_claimed_at timestamptz;
ALTER TABLE chunks ADD COLUMN taken_over_from text;
ALTER TABLE chunks ADD COLUMN taken_over_at timestamptz;
ALTER TABLE chunks ADD COLUMN taken_over_lease_until timestamptz;

-- Expired leases are found without scanning the open chunks of every job.
CREATE INDEX chunks_leased ON chunks (lease_until) WHERE state = 'leased';

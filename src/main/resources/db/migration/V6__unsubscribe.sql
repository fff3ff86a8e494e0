-- One-click unsubscribe (RFC 8058): a tenant's default for its jobs, and the address its List-Unsubscribe also
-- names (mailto:). A job's own "unsubscribe" field overrides the default; what applies is kept in the job's spec.
ALTER TABLE tenants ADD COLUMN unsubscribe_default boolean NOT NULL DEFAULT false;
ALTER TABLE tenants ADD COLUMN unsubscribe_mailto text;

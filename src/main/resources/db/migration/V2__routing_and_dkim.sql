-- Routing policy (residency, fallback, per-tenant limits), backend health, tenant domains and DKIM keys.

-- A tenant may be routed to backends of its own region and of the regions it explicitly allows.
ALTER TABLE tenants ADD COLUMN allowed_regions text[] NOT NULL DEFAULT '{}';
-- Where new chunks go while the primary backend is unhealthy (only if residency allows it).
ALTER TABLE tenants ADD COLUMN fallback_backend_id uuid REFERENCES backends (id);
-- Per-tenant limits on top of the backend's: messages per second (per dispatcher) and chunks sent at once (all dispatchers).
ALTER TABLE tenants ADD COLUMN max_rate_per_second double precision CHECK (max_rate_per_second > 0);
ALTER TABLE tenants ADD COLUMN max_concurrent_chunks integer CHECK (max_concurrent_chunks > 0);

-- What dispatchers last saw of a backend: 'healthy', 'open' (circuit open after consecutive failures),
-- 'unhealthy' (credentials refused: stays until an operator changes the backend).
ALTER TABLE backends ADD COLUMN health text NOT NULL DEFAULT 'healthy' CHECK (health IN ('healthy', 'open', 'unhealthy'));
ALTER TABLE backends ADD COLUMN health_reason text;
ALTER TABLE backends ADD COLUMN health_changed_at timestamptz;

-- Domains a tenant owns (asserted by an operator); one tenant per domain. DKIM keys and signing are limited to them.
CREATE TABLE tenant_domains (
    domain      text PRIMARY KEY CHECK (domain = lower(domain)),
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_domains_by_tenant ON tenant_domains (tenant_id);

-- DKIM signing keys. The private key is sealed like backend secrets and never returned.
CREATE TABLE dkim_keys (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    domain              text NOT NULL REFERENCES tenant_domains (domain),
    selector            text NOT NULL,
    algorithm           text NOT NULL CHECK (algorithm IN ('rsa-sha256', 'ed25519-sha256')),
    private_key_sealed  bytea NOT NULL,
    -- the p= value of the DNS record: base64 SubjectPublicKeyInfo (RSA) or the raw 32-byte key (Ed25519)
    public_key          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (domain, selector)
);
CREATE INDEX dkim_keys_by_tenant ON dkim_keys (tenant_id, domain, created_at DESC);

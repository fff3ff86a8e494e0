-- Tenant webhooks out: the URLs a tenant wants called for its events, the key their calls are signed with, and the
-- outbox of calls (one row per event x webhook), written in the statement that writes the event (EventSql).

-- A webhook: one URL, the events it wants (as registered, in "names"; expanded to the keys the outbox statement
-- matches, in "match": an event type, "type:severity", or "sent:<backend type>"), and the payload's format. A
-- webhook registered through the Mailgun API has a domain: it gets only the events of mail sent from that domain.
CREATE TABLE webhooks (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    domain      text CHECK (domain = lower(domain)),
    url         text NOT NULL,
    format      text NOT NULL CHECK (format IN ('mailgun', 'native')),
    names       text[] NOT NULL,
    match       text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_by_tenant ON webhooks (tenant_id);

-- The key a tenant's webhook calls are signed with (HMAC-SHA256), sealed like backend secrets.
CREATE TABLE webhook_signing_keys (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id),
    sealed      bytea NOT NULL,
    rotated_at  timestamptz NOT NULL DEFAULT now()
);

-- The outbox. event_at is the event's "at" (both are the writing transaction's now()), so the sender finds the
-- event in its day's partition. A pending row is due at next_attempt_at; claiming moves next_attempt_at past the
-- lease, so a crashed sender's calls come back; a later row of the same webhook and recipient waits while an earlier
-- one is pending (per-recipient order).
CREATE SEQUENCE webhook_delivery_ids;
CREATE TABLE webhook_deliveries (
    id               bigint PRIMARY KEY DEFAULT nextval('webhook_delivery_ids'),
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant_id        uuid NOT NULL,
    event_id         bigint NOT NULL,
    event_at         timestamptz NOT NULL,
    email            text NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    last_code        integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, email, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE state <> 'pending';

-- The caller's whole MIME message of a job sent through Mailgun's POST /v3/{domain}/messages.mime: stored with the
-- job in its intake transaction (at most MAILGATE_MAX_MIME_MESSAGE bytes), sent as is to every recipient, and
-- deleted with it.
CREATE TABLE job_messages (
    job_id   uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    message  bytea NOT NULL
);

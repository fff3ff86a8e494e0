-- The files of a job (Mailgun's attachment and inline parts, the job API's attachments): stored with the job in its
-- intake transaction, sent with every message of it, and deleted with it. content_id is set for inline parts only
-- (the html refers to them as cid:<content_id>). idx keeps the order they were given in.
CREATE TABLE job_attachments (
    job_id        uuid     NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx           smallint NOT NULL,
    filename      text     NOT NULL,
    content_type  text     NOT NULL,
    content_id    text,
    data          bytea    NOT NULL,
    PRIMARY KEY (job_id, idx)
);

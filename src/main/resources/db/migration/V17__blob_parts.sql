-- A job's files and MIME message in parts of at most MAILGATE_BLOB_CHUNK_BYTES (256 kB by default), so intake writes
-- an upload a part at a time as it reads it back from its temporary file, never holding it whole. job_attachments and
-- job_messages keep a file's (a message's) metadata and its size; its bytes are its parts, numbered from 0 in order.
-- A part refers to its file's row, which intake writes at commit with the job row (the parts are written before,
-- as they are read): the foreign key is checked at COMMIT. Deleting a job deletes its files, and their parts.
CREATE TABLE job_attachment_parts (
    job_id  uuid     NOT NULL,
    idx     smallint NOT NULL,
    part    integer  NOT NULL,
    data    bytea    NOT NULL,
    PRIMARY KEY (job_id, idx, part),
    FOREIGN KEY (job_id, idx) REFERENCES job_attachments (job_id, idx) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE job_message_parts (
    job_id  uuid    NOT NULL REFERENCES job_messages (job_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    part    integer NOT NULL,
    data    bytea   NOT NULL,
    PRIMARY KEY (job_id, part)
);

-- the rows stored so far, cut in parts of 256 kB (an empty file has no part); checked at once, not at this
-- migration's commit, so the tables they refer to may be altered below
SET CONSTRAINTS ALL IMMEDIATE;
INSERT INTO job_attachment_parts (job_id, idx, part, data)
SELECT a.job_id, a.idx, p.n - 1, substring(a.data FROM (p.n - 1) * 262144 + 1 FOR 262144)
FROM job_attachments a, generate_series(1, (length(a.data) + 262143) / 262144) AS p(n);

INSERT INTO job_message_parts (job_id, part, data)
SELECT m.job_id, p.n - 1, substring(m.message FROM (p.n - 1) * 262144 + 1 FOR 262144)
FROM job_messages m, generate_series(1, (length(m.message) + 262143) / 262144) AS p(n);

ALTER TABLE job_attachments ADD COLUMN size bigint;
UPDATE job_attachments SET size = length(data);
ALTER TABLE job_attachments ALTER COLUMN size SET NOT NULL, DROP COLUMN data;

ALTER TABLE job_messages ADD COLUMN size bigint;
UPDATE job_messages SET size = length(message);
ALTER TABLE job_messages ALTER COLUMN size SET NOT NULL, DROP COLUMN message;

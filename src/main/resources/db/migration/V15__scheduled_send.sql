-- A job's sendAt (Mailgun's o:deliverytime): its chunks are written with not_before = send_at, so the dispatcher,
-- which claims only chunks whose not_before has come, holds them until then. Kept on the job for its view.
ALTER TABLE jobs ADD COLUMN send_at timestamptz;

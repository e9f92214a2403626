-- A plan import is a durable job: the uploaded file is kept with it until it ends, and
-- the API process running it holds a lease that it renews; a job whose lease ran out (its
-- process died) is taken over by another process and run again from the file. The file
-- is dropped once the import ends. `attempts` counts the leases taken: a file that kills
-- every process reading it is failed rather than taken over for ever.

ALTER TABLE plan_import
    ADD COLUMN content bytea,
    -- The limits it was accepted under ({unpacked_bytes, rows, cells}), kept for a rerun.
    ADD COLUMN limits jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN leased_by text,
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN attempts int NOT NULL DEFAULT 0;

-- Imports that were running when this arrived had their file only in their process's
-- memory: they cannot be taken over, and the customer sends the file again.
UPDATE plan_import SET status = 'failed', finished_at = now(),
    errors = '[{"row": 0, "column": null, "reason": "the import stopped before it finished: send the file again"}]'
WHERE status = 'running';

-- What a process looks for: the running imports, whose lease may have run out.
CREATE INDEX plan_import_running_idx ON plan_import (lease_until) WHERE status = 'running';

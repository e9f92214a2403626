-- Records fed by the mill's own systems (ERP, MES, TMS): the version each key was last
-- applied at, and each batch with its progress and its rejected records.

-- One row per (kind, key) ever applied: the source's version decides whether a record is
-- newer than what is stored (an older one never overwrites), and the digest of its data
-- tells a replay (same version, same data: nothing changes) from a conflict.
CREATE TABLE feed_record (
    kind        text NOT NULL,
    key         text NOT NULL,
    version     bigint NOT NULL,
    digest      bytea NOT NULL,
    retired     boolean NOT NULL DEFAULT false,
    batch_id    uuid,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);

CREATE TABLE feed_batch (
    id          uuid PRIMARY KEY,
    submitted_by text NOT NULL,
    -- all: nothing is written unless every record is accepted; each: per record.
    mode        text NOT NULL CHECK (mode IN ('all', 'each')),
    dry_run     boolean NOT NULL DEFAULT false,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN
                ('running', 'committed', 'rejected', 'checked', 'failed')),
    lines_read  int NOT NULL DEFAULT 0,
    applied     int NOT NULL DEFAULT 0,
    unchanged   int NOT NULL DEFAULT 0,
    stale       int NOT NULL DEFAULT 0,
    retired     int NOT NULL DEFAULT 0,
    rejected    int NOT NULL DEFAULT 0,
    -- The first rejections (line, kind, key, field, reason); `rejected` counts them all.
    rejections  jsonb NOT NULL DEFAULT '[]'::jsonb,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX feed_batch_started_idx ON feed_batch (started_at DESC);

-- Inspections have no number of their own at the mill's side in the foundation schema:
-- the source's id is their key.
ALTER TABLE inspection ADD COLUMN source_key text UNIQUE;

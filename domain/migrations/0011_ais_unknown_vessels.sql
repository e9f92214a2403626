-- AIS gateways hear every ship that passes, most of them nobody's: a message from a
-- vessel the registry lacks is counted here, one row per MMSI, and only a sample of
-- them (at most one per MMSI an hour, `sampled_at`) is kept in rejected_message.
-- Rows of vessels not heard for 30 days are deleted by the ingester as it goes.
CREATE TABLE ais_unknown_vessel (
    mmsi            bigint PRIMARY KEY,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    -- AIS readings (position reports, static and voyage data) heard from it.
    messages        bigint NOT NULL CHECK (messages > 0),
    -- The gateway (device code) that heard it last.
    gateway         text,
    -- When one of its messages was last kept in rejected_message.
    sampled_at      timestamptz NOT NULL
);
CREATE INDEX ais_unknown_vessel_last_seen_idx ON ais_unknown_vessel (last_seen);

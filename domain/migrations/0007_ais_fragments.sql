-- Sentences of multi-sentence AIS messages (type 5 static and voyage data spans two)
-- that reached an ingester without the rest of their group. Any ingester of the shared
-- group may receive the next sentence, so the group is completed here rather than in one
-- process's memory. Rows of a completed group stay a while, so that a redelivered
-- sentence is known as such; a group that stays incomplete becomes a rejected message.
CREATE TABLE ais_fragment (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_code     text NOT NULL,
    channel         text NOT NULL,
    seq_id          smallint NOT NULL,  -- -1: the sentence carries no sequence id
    frag_count      smallint NOT NULL CHECK (frag_count BETWEEN 2 AND 9),
    frag_num        smallint NOT NULL CHECK (frag_num BETWEEN 1 AND frag_count),
    sentence        text NOT NULL,
    received_at     timestamptz NOT NULL,
    assembled       boolean NOT NULL DEFAULT false,
    -- The MQTT message that carried it, for the rejection if the group never completes.
    topic           text NOT NULL,
    payload         bytea NOT NULL
);
CREATE INDEX ais_fragment_group_idx ON ais_fragment (device_code, channel, seq_id);
CREATE INDEX ais_fragment_received_idx ON ais_fragment (received_at);

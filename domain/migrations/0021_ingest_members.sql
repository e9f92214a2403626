-- The ingesters of each shared-subscription group, one row a broker session: written when
-- an ingester connects, its heartbeat kept fresh while it runs, removed once its session
-- is ended at the broker (a clean stop that left the group, or `keylink ingest --drain`).
-- A row left behind names a session the broker still queues messages for: an instance
-- that crashed or stopped as the group's last member. The last row of a group is never
-- given up, so that the group always keeps a subscribed session and a message published
-- while no ingester runs waits at the broker instead of being dropped.
CREATE TABLE ingest_member (
    client_id text PRIMARY KEY CHECK (length(client_id) BETWEEN 1 AND 256),
    group_name text NOT NULL CHECK (length(group_name) BETWEEN 1 AND 256),
    host text NOT NULL,
    pid integer,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at timestamptz NOT NULL DEFAULT now(),
    -- Set while the member leaves the group (unsubscribing, draining): it no longer counts
    -- as a session that holds the group's subscription.
    leaving_since timestamptz,
    stopped_at timestamptz
);
CREATE INDEX ingest_member_group_idx ON ingest_member (group_name);

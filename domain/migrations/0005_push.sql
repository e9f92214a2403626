-- Push delivery: rules, webhook subscriptions, deliveries (queued -> delivered, with
-- retries and a dead letter), the inbox, bulletins and the worker's durable cursor.

-- Where a webhook channel posts, and the secret its deliveries are signed with.
CREATE TABLE webhook_subscription (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      bigint NOT NULL REFERENCES organization (id),
    url         text NOT NULL CHECK (url ~ '^https?://'),
    secret      text NOT NULL,
    description text,
    enabled     boolean NOT NULL DEFAULT true,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_subscription_org_idx ON webhook_subscription (org_id, id);

-- A push rule: which events (types and filters) reach whom, through which channel, when.
CREATE TABLE push_rule (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The owner: a customer, or the mill for its staff's rules.
    org_id          bigint NOT NULL REFERENCES organization (id),
    -- NULL: the whole organization; else the one user (token subject) it is for.
    user_subject    text,
    -- Whose events it follows: the owner's own for a customer; a customer or NULL (all)
    -- for the mill's staff.
    watch_org_id    bigint REFERENCES organization (id),
    name            text NOT NULL,
    -- Exact types ('shipment.delayed') or a whole area ('shipment.*').
    event_types     text[] NOT NULL CHECK (cardinality(event_types) > 0),
    contracts       text[] NOT NULL DEFAULT '{}',
    grades          text[] NOT NULL DEFAULT '{}',
    transport_modes text[] NOT NULL DEFAULT '{}',
    destinations    text[] NOT NULL DEFAULT '{}',
    min_delay_hours numeric(8, 2) CHECK (min_delay_hours >= 0),
    channel         text NOT NULL CHECK (channel IN ('inbox', 'webhook', 'email')),
    webhook_id      bigint REFERENCES webhook_subscription (id) ON DELETE CASCADE,
    email_to        text,
    -- Local times in the recipient's time zone; deliveries wait for the end.
    quiet_start     time,
    quiet_end       time,
    cadence         text NOT NULL DEFAULT 'instant' CHECK (cadence IN ('instant', 'hourly', 'daily')),
    enabled         boolean NOT NULL DEFAULT true,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((channel = 'webhook') = (webhook_id IS NOT NULL)),
    CHECK ((channel = 'email') = (email_to IS NOT NULL)),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
);
CREATE INDEX push_rule_org_idx ON push_rule (org_id, id);

-- Workers keep an index of the rules in memory, keyed by (watched organization, event
-- type); this counter tells them when to reload it.
CREATE TABLE push_rule_version (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL
);
INSERT INTO push_rule_version VALUES (true, 0);
CREATE FUNCTION push_rule_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE push_rule_version SET version = version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER push_rule_touch AFTER INSERT OR UPDATE OR DELETE ON push_rule
    FOR EACH STATEMENT EXECUTE FUNCTION push_rule_touch();
CREATE TRIGGER webhook_subscription_touch AFTER UPDATE OR DELETE ON webhook_subscription
    FOR EACH STATEMENT EXECUTE FUNCTION push_rule_touch();

-- One delivery of one event (or one digest) to one recipient through one channel.
-- held: waiting for its digest; queued: due at next_attempt_at (also the lease of a
-- worker sending it); delivered; dead: the last try failed; digested: sent in a digest.
CREATE TABLE push_delivery (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    rule_id         bigint REFERENCES push_rule (id) ON DELETE SET NULL,
    event_seq       bigint REFERENCES domain_event (seq),
    org_id          bigint REFERENCES organization (id),
    user_subject    text,
    channel         text NOT NULL CHECK (channel IN ('inbox', 'webhook', 'email')),
    webhook_id      bigint REFERENCES webhook_subscription (id) ON DELETE CASCADE,
    email_to        text,
    event_type      text NOT NULL,
    title           text NOT NULL,
    body            text NOT NULL,
    data            jsonb NOT NULL DEFAULT '{}'::jsonb,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('held', 'queued', 'delivered', 'dead', 'digested')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    response_status int,
    digest_id       bigint REFERENCES push_delivery (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
-- A rule sends an event once, whichever worker matched it.
CREATE UNIQUE INDEX push_delivery_once_idx ON push_delivery (rule_id, event_seq)
    WHERE rule_id IS NOT NULL AND event_seq IS NOT NULL;
CREATE INDEX push_delivery_due_idx ON push_delivery (next_attempt_at) WHERE status = 'queued';
CREATE INDEX push_delivery_held_idx ON push_delivery (rule_id, created_at) WHERE status = 'held';
CREATE INDEX push_delivery_webhook_idx ON push_delivery (webhook_id, id);
CREATE INDEX push_delivery_org_idx ON push_delivery (org_id, id);

-- The inbox. Addressed to a user (user_subject) or to a whole organization (NULL).
CREATE TABLE notification (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The recipient's organization; NULL with a user_subject: that user, wherever.
    org_id      bigint REFERENCES organization (id),
    user_subject text,
    delivery_id bigint UNIQUE REFERENCES push_delivery (id),
    event_seq   bigint REFERENCES domain_event (seq),
    event_type  text NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz,
    CHECK (org_id IS NOT NULL OR user_subject IS NOT NULL)
);
CREATE INDEX notification_org_idx ON notification (org_id, id) WHERE user_subject IS NULL;
CREATE INDEX notification_user_idx ON notification (user_subject, id);
CREATE INDEX notification_unread_idx ON notification (org_id, user_subject) WHERE read_at IS NULL;

-- Subscribers follow the inbox by id like the outbox by sequence: wake them through the
-- same channel when notifications commit (one notify per statement).
CREATE FUNCTION notification_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('domain_event', 'notification');
    RETURN NULL;
END $$;
CREATE TRIGGER notification_notify AFTER INSERT ON notification
    FOR EACH STATEMENT EXECUTE FUNCTION notification_notify();

-- Where each worker loop stands in the outbox; locked while a worker matches.
CREATE TABLE push_cursor (
    name    text PRIMARY KEY,
    seq     bigint NOT NULL
);
-- Start from the end: events of the past are not pushed when push is first switched on.
INSERT INTO push_cursor SELECT 'match', coalesce(max(seq), 0) FROM domain_event;

-- When each periodic job last ran (its lock, too, so one worker runs it at a time).
CREATE TABLE push_job (
    name    text PRIMARY KEY,
    last_run timestamptz
);

-- Notes from the mill's staff on new materials and techniques.
CREATE TABLE bulletin (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    grades      text[] NOT NULL DEFAULT '{}',
    topics      text[] NOT NULL DEFAULT '{}',
    published_by text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bulletin_grades_idx ON bulletin USING gin (grades);
CREATE INDEX bulletin_topics_idx ON bulletin USING gin (topics);

-- What a customer wants to hear about: a bulletin matches when it shares a grade or a
-- topic with these.
CREATE TABLE bulletin_interest (
    org_id      bigint PRIMARY KEY REFERENCES organization (id),
    grades      text[] NOT NULL DEFAULT '{}',
    topics      text[] NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

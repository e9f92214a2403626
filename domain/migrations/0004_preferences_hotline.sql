-- Each key customer's own way of working (preferences, transport per site, saved views,
-- a landing view per user), the numbering of contracts entered through the API, and the
-- hotline: urge tickets, their history, and the escalation chain.

CREATE TABLE customer_preference (
    org_id          bigint PRIMARY KEY REFERENCES organization (id),
    default_delivery_site_id bigint REFERENCES site (id),
    -- How the customer's front end shows quantities; the API always speaks tonnes and mm.
    units           text NOT NULL DEFAULT 'metric' CHECK (units IN ('metric', 'imperial')),
    -- BCP 47 language tag, e.g. `zh-CN`, `de-DE`.
    language        text NOT NULL DEFAULT 'zh-CN'
                    CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    time_zone       text NOT NULL DEFAULT 'Asia/Shanghai',
    currency        char(3) NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text
);

-- The preferred way to each delivery site: one customer takes coil by waterway to a
-- port, another by rail to its station.
CREATE TABLE transport_preference (
    org_id          bigint NOT NULL REFERENCES organization (id),
    site_id         bigint NOT NULL REFERENCES site (id),
    transport_mode  text NOT NULL CHECK (transport_mode IN ('road', 'rail', 'water')),
    transit_days    int NOT NULL CHECK (transit_days BETWEEN 0 AND 120),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      text,
    PRIMARY KEY (org_id, site_id)
);

-- A named filter over contracts or shipments, kept per user (a token subject) of an
-- organization. `filter` is the GraphQL filter input as JSON, ready to send back.
CREATE TABLE saved_view (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          bigint NOT NULL REFERENCES organization (id),
    owner           text NOT NULL,
    name            text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    target          text NOT NULL CHECK (target IN ('contracts', 'shipments')),
    filter          jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(filter) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, owner, name)
);
CREATE INDEX saved_view_owner_idx ON saved_view (org_id, owner, id);

CREATE TABLE user_preference (
    org_id          bigint NOT NULL REFERENCES organization (id),
    subject         text NOT NULL,
    landing_view_id bigint REFERENCES saved_view (id) ON DELETE SET NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, subject)
);

-- Contract numbers `BSC-<year>-<n>` restart every year; the counter starts from the
-- highest number already used that year, so numbers never collide with loaded data.
CREATE TABLE contract_number_counter (
    year            int PRIMARY KEY,
    last_no         int NOT NULL CHECK (last_no > 0)
);

-- Who hears of an urge when the one before did not answer in time: level 0 is the
-- contract's sales owner, then level 1, 2, ... A row for a customer overrides the
-- general row (customer_org_id NULL) of the same level.
CREATE TABLE escalation_contact (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_org_id bigint REFERENCES organization (id),
    level           int NOT NULL CHECK (level BETWEEN 1 AND 20),
    subject         text NOT NULL CHECK (length(btrim(subject)) > 0)
);
CREATE UNIQUE INDEX escalation_contact_customer_idx
    ON escalation_contact (customer_org_id, level) WHERE customer_org_id IS NOT NULL;
CREATE UNIQUE INDEX escalation_contact_general_idx
    ON escalation_contact (level) WHERE customer_org_id IS NULL;

-- The customer hotline: `open -> acknowledged -> promised -> resolved`.
CREATE TABLE urge_ticket (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_id         bigint NOT NULL REFERENCES contract_line (id),
    contract_id     bigint NOT NULL REFERENCES contract (id),
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'acknowledged', 'promised', 'resolved')),
    reason          text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
    needed_by       date NOT NULL,
    opened_by       text NOT NULL,
    opened_at       timestamptz NOT NULL,
    -- The mill user who must answer now; NULL when nobody is named for the contract.
    assignee        text,
    level           int NOT NULL DEFAULT 0 CHECK (level >= 0),
    -- Time each person has to give the next answer (copied from the setting at opening).
    answer_within   interval NOT NULL CHECK (answer_within > interval '0'),
    -- When the next answer is owed; past it the ticket escalates. NULL once resolved.
    due_at          timestamptz,
    promised_date   date,
    resolution      text,
    acknowledged_at timestamptz,
    promised_at     timestamptz,
    resolved_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
-- One unresolved ticket per line: urging again adds to it.
CREATE UNIQUE INDEX urge_ticket_open_line_idx ON urge_ticket (line_id) WHERE status <> 'resolved';
CREATE INDEX urge_ticket_line_idx ON urge_ticket (line_id, id);
CREATE INDEX urge_ticket_customer_idx ON urge_ticket (customer_org_id, id);
CREATE INDEX urge_ticket_assignee_idx ON urge_ticket (assignee, id) WHERE status <> 'resolved';
CREATE INDEX urge_ticket_due_idx ON urge_ticket (due_at) WHERE due_at IS NOT NULL;

-- Every step of a ticket, kept: who, when, what, and who held it afterwards.
CREATE TABLE urge_step (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id       bigint NOT NULL REFERENCES urge_ticket (id) ON DELETE CASCADE,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    action          text NOT NULL CHECK (action IN
                    ('opened', 'urged_again', 'acknowledged', 'promised', 'resolved', 'escalated')),
    actor           text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    note            text,
    needed_by       date,
    promised_date   date,
    assignee        text,
    level           int NOT NULL
);
CREATE INDEX urge_step_ticket_idx ON urge_step (ticket_id, id);

-- Where a contract entered through the API came from (e.g. the purchase plan it converts).
ALTER TABLE contract ADD COLUMN source jsonb
    CHECK (source IS NULL OR jsonb_typeof(source) = 'object');

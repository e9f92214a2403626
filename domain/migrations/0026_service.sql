-- Service quality: satisfaction surveys and their answers, key-customer tiers from each
-- customer's contribution, and the service levels each tier is owed.

-- A survey sent to a customer about one subject: a completed dispute, a resolved urge,
-- or a quarter. One per customer and subject, however often its occasion is read.
CREATE TABLE survey (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    area            text NOT NULL CHECK (area IN ('dispute', 'hotline', 'quarterly')),
    -- What it asks about: a dispute's number, an urge's (URG-000042), a quarter (2026-Q3).
    subject         text NOT NULL CHECK (length(subject) BETWEEN 1 AND 40),
    -- The dispute or urge ticket; NULL for a quarter.
    subject_id      bigint,
    question        text NOT NULL CHECK (length(question) BETWEEN 1 AND 500),
    sent_at         timestamptz NOT NULL DEFAULT now(),
    closes_at       timestamptz NOT NULL,
    UNIQUE (customer_org_id, area, subject)
);
CREATE INDEX survey_customer_idx ON survey (customer_org_id, id);

-- One answer per survey and contact (the token's subject); answering again replaces it
-- while the survey is open.
CREATE TABLE survey_answer (
    survey_id       bigint NOT NULL REFERENCES survey (id) ON DELETE CASCADE,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    contact         text NOT NULL CHECK (length(btrim(contact)) BETWEEN 1 AND 200),
    rating          smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment         text CHECK (length(comment) <= 2000),
    answered_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (survey_id, contact)
);
CREATE INDEX survey_answer_customer_idx ON survey_answer (customer_org_id, answered_at);

-- Surveys follow the outbox (completed disputes, resolved urges) from their own cursor.
INSERT INTO push_cursor (name, seq) SELECT 'surveys', coalesce(max(seq), 0) FROM domain_event;

-- The mill's tiers, best first: the rule that ranks customers into them (the share of
-- customers, by contribution, each takes after the tiers above it; NULL: every customer
-- left) and the service each is owed (NULL: the global setting).
CREATE TABLE service_tier (
    code            text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,29}$'),
    -- Unique when a change commits: replacing the tiers moves them past each other.
    position        smallint NOT NULL CHECK (position BETWEEN 1 AND 20)
                    CONSTRAINT service_tier_position_key UNIQUE DEFERRABLE INITIALLY DEFERRED,
    share_pct       numeric(5, 2) CHECK (share_pct > 0 AND share_pct <= 100),
    urge_answer_minutes int CHECK (urge_answer_minutes BETWEEN 1 AND 100000),
    dispute_response_hours int CHECK (dispute_response_hours BETWEEN 1 AND 10000),
    dispute_resolution_days int CHECK (dispute_resolution_days BETWEEN 1 AND 1000),
    updated_by      text NOT NULL DEFAULT 'keylink:migration',
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO service_tier (code, position, share_pct, urge_answer_minutes,
                          dispute_response_hours, dispute_resolution_days) VALUES
    ('key', 1, 20, 60, 8, 20),
    ('major', 2, 30, 90, 16, 25),
    ('standard', 3, NULL, NULL, NULL, NULL);

-- What the mill pays to move a tonne by each mode: the platform keeps no freight cost per
-- shipment, so a customer's freight is its shipped tonnes times these rates.
CREATE TABLE freight_rate (
    transport_mode  text PRIMARY KEY CHECK (transport_mode IN ('road', 'rail', 'water')),
    per_tonne       numeric(12, 2) NOT NULL CHECK (per_tonne >= 0),
    currency        char(3) NOT NULL,
    updated_by      text NOT NULL DEFAULT 'keylink:migration',
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Each customer's tier as last computed, with the figures it was computed from.
CREATE TABLE customer_tier (
    customer_org_id bigint PRIMARY KEY REFERENCES organization (id),
    tier            text NOT NULL REFERENCES service_tier (code) ON UPDATE CASCADE,
    rank            int NOT NULL CHECK (rank >= 1),
    revenue         numeric(18, 2) NOT NULL,
    claims          numeric(18, 2) NOT NULL,
    freight         numeric(18, 2) NOT NULL,
    contribution    numeric(18, 2) NOT NULL,
    currency        char(3) NOT NULL,
    period_from     date NOT NULL,
    period_to       date NOT NULL,
    computed_by     text NOT NULL,
    computed_at     timestamptz NOT NULL DEFAULT now()
);

-- The escalation chain may be a tier's: a customer's own contacts come first, then its
-- tier's, then the general ones.
ALTER TABLE escalation_contact
    ADD COLUMN tier text REFERENCES service_tier (code) ON UPDATE CASCADE ON DELETE CASCADE,
    ADD CHECK (customer_org_id IS NULL OR tier IS NULL);
DROP INDEX escalation_contact_general_idx;
CREATE UNIQUE INDEX escalation_contact_general_idx
    ON escalation_contact (level) WHERE customer_org_id IS NULL AND tier IS NULL;
CREATE UNIQUE INDEX escalation_contact_tier_idx
    ON escalation_contact (tier, level) WHERE tier IS NOT NULL;

-- Quality disputes (8D-aligned), their steps, evidence files, claims and the claim
-- deductions on settlements. Money is exact NUMERIC; every step is kept.

CREATE TABLE quality_dispute (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    status          text NOT NULL DEFAULT 'established' CHECK (status IN
                    ('established', 'processing', 'claiming', 'correcting', 'completed',
                     'rejected', 'withdrawn')),
    defect_kind     text NOT NULL CHECK (defect_kind IN
                    ('surface', 'dimension', 'shape', 'mechanical', 'coating', 'chemistry',
                     'packaging', 'other')),
    description     text NOT NULL CHECK (length(description) BETWEEN 1 AND 8000),
    affected_t      numeric(12, 3) NOT NULL CHECK (affected_t > 0),
    -- Where the customer found the defect.
    found_during    text NOT NULL CHECK (found_during IN
                    ('incoming_inspection', 'storage', 'processing', 'finished_product',
                     'end_customer')),
    found_site_id   bigint REFERENCES site (id),
    opened_by       text NOT NULL,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- The 8D record as it stands; each entry is also a step in dispute_step.
    containment     text,
    root_cause      text,
    corrective_action text,
    preventive_action text,
    verification    text,
    closed_at       timestamptz
);
CREATE INDEX quality_dispute_customer_idx ON quality_dispute (customer_org_id, id);
CREATE INDEX quality_dispute_status_idx ON quality_dispute (status, id);

-- The coils a dispute names: only the customer's own, delivered coils.
CREATE TABLE dispute_coil (
    dispute_id      bigint NOT NULL REFERENCES quality_dispute (id) ON DELETE CASCADE,
    coil_id         bigint NOT NULL REFERENCES coil (id),
    PRIMARY KEY (dispute_id, coil_id)
);
CREATE INDEX dispute_coil_coil_idx ON dispute_coil (coil_id);

CREATE TABLE quality_claim (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    dispute_id      bigint NOT NULL REFERENCES quality_dispute (id),
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    -- The contract whose settlement an agreed amount is deducted from.
    contract_id     bigint NOT NULL REFERENCES contract (id),
    status          text NOT NULL DEFAULT 'submitted' CHECK (status IN
                    ('submitted', 'assessed', 'agreed', 'partially_agreed', 'rejected',
                     'credited')),
    basis           text NOT NULL CHECK (basis IN ('replacement', 'downgrade', 'credit')),
    currency        char(3) NOT NULL,
    amount          numeric(16, 2) NOT NULL CHECK (amount > 0),
    agreed_amount   numeric(16, 2) CHECK (agreed_amount >= 0 AND agreed_amount <= amount),
    -- The settlement the agreed amount was deducted on; NULL until the contract has one.
    settlement_id   bigint REFERENCES settlement (id),
    credit_note     text,
    submitted_by    text NOT NULL,
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((agreed_amount IS NOT NULL) = (status IN ('agreed', 'partially_agreed', 'credited')))
);
CREATE INDEX quality_claim_dispute_idx ON quality_claim (dispute_id, id);
CREATE INDEX quality_claim_customer_idx ON quality_claim (customer_org_id, id);
CREATE INDEX quality_claim_contract_idx ON quality_claim (contract_id) WHERE agreed_amount IS NOT NULL;
CREATE INDEX quality_claim_settlement_idx ON quality_claim (settlement_id);

-- Every step of a dispute and of its claims: who, when, what and why.
CREATE TABLE dispute_step (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dispute_id      bigint NOT NULL REFERENCES quality_dispute (id) ON DELETE CASCADE,
    claim_id        bigint REFERENCES quality_claim (id),
    -- What happened: a transition ('opened', 'processing', ...), a record ('containment',
    -- 'root_cause', ...), a claim step ('claim_submitted', ...) or 'evidence_added'.
    action          text NOT NULL,
    from_status     text,
    to_status       text,
    actor           text NOT NULL,
    actor_org_id    bigint NOT NULL REFERENCES organization (id),
    note            text,
    detail          jsonb NOT NULL DEFAULT '{}'::jsonb,
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX dispute_step_dispute_idx ON dispute_step (dispute_id, id);

-- Evidence files (photos, measurement reports). The bytes live in the database so that
-- every API replica serves them; files are small and capped by KEYLINK_EVIDENCE_MAX_BYTES.
CREATE TABLE dispute_evidence (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dispute_id      bigint NOT NULL REFERENCES quality_dispute (id) ON DELETE CASCADE,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    filename        text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    -- The type found in the content (magic bytes), not the one the client declared.
    content_type    text NOT NULL,
    size_bytes      int NOT NULL CHECK (size_bytes > 0),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    description     text,
    content         bytea NOT NULL,
    uploaded_by     text NOT NULL,
    uploaded_by_org_id bigint NOT NULL REFERENCES organization (id),
    uploaded_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (octet_length(content) = size_bytes)
);
CREATE INDEX dispute_evidence_dispute_idx ON dispute_evidence (dispute_id, id);

-- The exchange centre: each partner's address per document type (how and in which format
-- its system takes or sends the document), and every document sent or received, with
-- each attempt, kept as it went over the wire.

CREATE TABLE exchange_address (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- What a sender names: the platform, or a system through the API.
    code            text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9._-]{0,63}$'),
    -- The partner whose address it is (a customer, a carrier, the mill's own ERP).
    org_id          bigint NOT NULL REFERENCES organization (id),
    document_type   text NOT NULL CHECK (document_type IN (
                        'order_response', 'dispatch_advice', 'invoice', 'certificate',
                        'contract', 'delivery_schedule', 'receiving_advice')),
    transport       text NOT NULL CHECK (transport IN ('https', 'sftp', 'as2')),
    format          text NOT NULL CHECK (format IN ('json', 'edifact', 'csv', 'xlsx')),
    -- https://..., sftp://host[:port]/directory, or the AS2 station's URL.
    url             text NOT NULL CHECK (length(url) <= 2000),
    -- Secrets the transport needs (a signing secret, a password or key, certificates);
    -- written, never read back through the API.
    credentials     jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(credentials) = 'object'),
    -- The format's settings: EDIFACT interchange ids, a mapping for CSV/XLSX, AS2 ids.
    options         jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(options) = 'object'),
    enabled         boolean NOT NULL DEFAULT true,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- The exchange resolves a document to its partner's one address of that type.
    UNIQUE (org_id, document_type)
);

CREATE TABLE exchange_document (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address_id      bigint NOT NULL REFERENCES exchange_address (id),
    org_id          bigint NOT NULL REFERENCES organization (id),
    document_type   text NOT NULL,
    direction       text NOT NULL CHECK (direction IN ('out', 'in')),
    -- The business event it carries ('leg:42:departed'): never twice to one address.
    business_key    text NOT NULL,
    format          text NOT NULL,
    name            text NOT NULL,
    content_type    text NOT NULL,
    -- As sent or as received, and its SHA-256.
    body            bytea NOT NULL,
    body_sha256     text NOT NULL CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
    status          text NOT NULL CHECK (status IN (
                        'pending', 'sent', 'acknowledged', 'failed', 'dead',
                        'accepted', 'refused')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    -- What the peer acknowledged (an MDN, a status, a path), or why it was refused.
    receipt         jsonb,
    -- The domain event it came from, for outbound documents.
    event_seq       bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (address_id, direction, business_key)
);
CREATE INDEX exchange_document_due_idx ON exchange_document (next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX exchange_document_org_idx ON exchange_document (org_id, id);

CREATE TABLE exchange_attempt (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id     bigint NOT NULL REFERENCES exchange_document (id),
    at              timestamptz NOT NULL DEFAULT now(),
    outcome         text NOT NULL CHECK (outcome IN ('sent', 'acknowledged', 'failed', 'dead')),
    detail          text,
    receipt         jsonb
);
CREATE INDEX exchange_attempt_document_idx ON exchange_attempt (document_id, id);

-- The exchange's place in the outbox: events are read forward from here.
INSERT INTO push_cursor (name, seq) SELECT 'exchange', coalesce(max(seq), 0) FROM domain_event;

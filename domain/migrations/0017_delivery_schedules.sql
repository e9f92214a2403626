-- A customer's delivery schedule as its own systems send it (DELFOR): per spec, the
-- tonnes it wants delivered in each period and how firm each is, in versions (a schedule
-- replaces the one before it), beside the car build plans its steel demand is computed
-- from.
CREATE TABLE delivery_schedule (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    version         int NOT NULL,
    document_number text NOT NULL,
    issued_at       timestamptz NOT NULL,
    ship_to_site_id bigint REFERENCES site (id),
    -- The exchange document it came in (or the API call).
    source          text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_org_id, version)
);

CREATE TABLE delivery_schedule_line (
    schedule_id     bigint NOT NULL REFERENCES delivery_schedule (id) ON DELETE CASCADE,
    spec_id         bigint NOT NULL REFERENCES steel_spec (id),
    period_start    date NOT NULL,
    period_end      date NOT NULL,
    quantity_t      numeric(12, 3) NOT NULL CHECK (quantity_t >= 0),
    firmness        text NOT NULL CHECK (firmness IN ('firm', 'commitment_production',
                                                      'commitment_material', 'forecast')),
    CHECK (period_end >= period_start)
);
CREATE INDEX delivery_schedule_line_idx ON delivery_schedule_line (schedule_id, spec_id);

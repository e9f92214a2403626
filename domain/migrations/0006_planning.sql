-- Production-plan collaboration: the customer's car build plan, the consumption table,
-- the planning parameters per spec, plan imports in the customer's own file format, and
-- purchase plans with their lines, the differences a changed car plan makes, and the
-- change requests it raises against converted lines.

-- Per customer: how far ahead a period is firm, committed or a forecast, and how wide a
-- delivery window is before the day the steel is needed.
CREATE TABLE planning_profile (
    customer_org_id bigint PRIMARY KEY REFERENCES organization (id),
    firm_days       int NOT NULL DEFAULT 28 CHECK (firm_days >= 0),
    production_days int NOT NULL DEFAULT 56,
    material_days   int NOT NULL DEFAULT 91,
    window_days     int NOT NULL DEFAULT 3 CHECK (window_days >= 0),
    CHECK (firm_days <= production_days AND production_days <= material_days)
);

-- Planning parameters of one spec for one customer. The coil nominal weight is the
-- spec's own (steel_spec.coil_nominal_weight_t).
CREATE TABLE planning_spec (
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    spec_id         bigint NOT NULL REFERENCES steel_spec (id),
    safety_days     numeric(6, 2) NOT NULL DEFAULT 5 CHECK (safety_days >= 0),
    min_order_t     numeric(12, 3) NOT NULL DEFAULT 0 CHECK (min_order_t >= 0),
    -- NULL: the customer's preferences choose the site and the mode.
    delivery_site_id bigint REFERENCES site (id),
    transport_mode  text CHECK (transport_mode IN ('road', 'rail', 'water')),
    PRIMARY KEY (customer_org_id, spec_id)
);

-- The replenishment cycle to a delivery site by a mode: days from leaving the mill to
-- being usable at the site (7 days by rail to Changchun).
CREATE TABLE transport_cycle (
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    site_id         bigint NOT NULL REFERENCES site (id),
    transport_mode  text NOT NULL CHECK (transport_mode IN ('road', 'rail', 'water')),
    cycle_days      int NOT NULL CHECK (cycle_days >= 0),
    PRIMARY KEY (customer_org_id, site_id, transport_mode)
);

-- Kilograms of a spec per car of a model, before the yield allowance (blanking scrap).
CREATE TABLE consumption_rate (
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    model_code      text NOT NULL CHECK (model_code <> ''),
    spec_id         bigint NOT NULL REFERENCES steel_spec (id),
    kg_per_car      numeric(10, 3) NOT NULL CHECK (kg_per_car > 0),
    yield_allowance_pct numeric(5, 2) NOT NULL DEFAULT 0 CHECK (yield_allowance_pct BETWEEN 0 AND 100),
    PRIMARY KEY (customer_org_id, model_code, spec_id)
);

-- The car build plan, versioned: each change is a new version; the newest is current.
CREATE TABLE production_plan (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    version         int NOT NULL CHECK (version > 0),
    horizon_start   date NOT NULL,
    horizon_end     date NOT NULL,
    source          text NOT NULL CHECK (source IN ('api', 'upload', 'demo')),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_org_id, version),
    CHECK (horizon_end >= horizon_start)
);

CREATE TABLE production_plan_entry (
    plan_id         bigint NOT NULL REFERENCES production_plan (id) ON DELETE CASCADE,
    model_code      text NOT NULL,
    period_start    date NOT NULL,
    period_days     int NOT NULL CHECK (period_days BETWEEN 1 AND 31),
    units           int NOT NULL CHECK (units >= 0),
    PRIMARY KEY (plan_id, model_code, period_start)
);

-- What the customer reports of its warehouse: tonnes consumed (summed) and tonnes
-- allocated to other uses (the latest report counts).
CREATE TABLE stock_report (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    spec_id         bigint NOT NULL REFERENCES steel_spec (id),
    reported_on     date NOT NULL,
    consumed_t      numeric(12, 3) NOT NULL DEFAULT 0 CHECK (consumed_t >= 0),
    allocated_t     numeric(12, 3) CHECK (allocated_t >= 0),
    reported_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_report_spec_idx ON stock_report (customer_org_id, spec_id, id);

-- The format conversion: how a customer's plan file names things. `columns` maps each
-- standard field (model, date, units, period_days) to the customer's column heading;
-- `models` maps the customer's model names to model codes (absent: used as they are).
CREATE TABLE plan_format (
    customer_org_id bigint PRIMARY KEY REFERENCES organization (id),
    columns         jsonb NOT NULL CHECK (jsonb_typeof(columns) = 'object'),
    models          jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(models) = 'object'),
    date_format     text NOT NULL DEFAULT '%Y-%m-%d',
    default_period_days int NOT NULL DEFAULT 7 CHECK (default_period_days BETWEEN 1 AND 31),
    updated_by      text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One file import: its progress while it runs, and every bad row when it fails.
CREATE TABLE plan_import (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    kind            text NOT NULL CHECK (kind IN ('plan', 'consumption')),
    filename        text NOT NULL,
    status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'imported', 'failed')),
    rows_total      int NOT NULL DEFAULT 0,
    rows_done       int NOT NULL DEFAULT 0,
    -- [{row, column, reason}], row numbers as the customer's file counts them.
    errors          jsonb NOT NULL DEFAULT '[]'::jsonb,
    plan_id         bigint REFERENCES production_plan (id),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX plan_import_customer_idx ON plan_import (customer_org_id, id);

CREATE TABLE purchase_plan (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    production_plan_id bigint NOT NULL REFERENCES production_plan (id),
    status          text NOT NULL DEFAULT 'computed' CHECK (status IN
                    ('computed', 'submitted', 'approved', 'converted', 'rejected')),
    -- The day the plan was computed for: firmness and lateness are judged from it.
    as_of           date NOT NULL,
    computed_at     timestamptz NOT NULL DEFAULT now(),
    submitted_at    timestamptz,
    submitted_by    text,
    decided_at      timestamptz,
    decided_by      text,
    reject_reason   text,
    CHECK (status <> 'rejected' OR reject_reason IS NOT NULL)
);
CREATE INDEX purchase_plan_customer_idx ON purchase_plan (customer_org_id, id);
-- At most one plan of a customer is being worked on (computed, submitted or rejected).
CREATE UNIQUE INDEX purchase_plan_open_idx ON purchase_plan (customer_org_id)
    WHERE status IN ('computed', 'submitted', 'rejected');

CREATE TABLE purchase_plan_line (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id         bigint NOT NULL REFERENCES purchase_plan (id) ON DELETE CASCADE,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    spec_id         bigint NOT NULL REFERENCES steel_spec (id),
    period_start    date NOT NULL,
    period_end      date NOT NULL,
    gross_t         numeric(12, 3) NOT NULL,
    daily_t         numeric(12, 3) NOT NULL,
    safety_t        numeric(12, 3) NOT NULL,
    lead_time_t     numeric(12, 3) NOT NULL,
    available_t     numeric(12, 3) NOT NULL,
    net_t           numeric(12, 3) NOT NULL CHECK (net_t >= 0),
    quantity_t      numeric(12, 3) NOT NULL CHECK (quantity_t >= 0),
    coils           int NOT NULL CHECK (coils >= 0),
    need_date       date,
    release_date    date,
    firmness        text NOT NULL CHECK (firmness IN ('firm', 'commitment_production', 'commitment_material', 'forecast')),
    delivery_site_id bigint REFERENCES site (id),
    transport_mode  text NOT NULL CHECK (transport_mode IN ('road', 'rail', 'water')),
    transit_days    int NOT NULL CHECK (transit_days >= 0),
    contract_line_id bigint REFERENCES contract_line (id),
    UNIQUE (plan_id, spec_id, period_start)
);
CREATE INDEX purchase_plan_line_plan_idx ON purchase_plan_line (plan_id, spec_id, period_start);
CREATE INDEX purchase_plan_line_contract_line_idx ON purchase_plan_line (contract_line_id);

-- The projected stock, day by day, of each spec of a plan (a jsonb array per spec).
CREATE TABLE purchase_plan_curve (
    plan_id         bigint NOT NULL REFERENCES purchase_plan (id) ON DELETE CASCADE,
    spec_id         bigint NOT NULL REFERENCES steel_spec (id),
    inventory_position jsonb NOT NULL,
    days            jsonb NOT NULL,
    PRIMARY KEY (plan_id, spec_id)
);

-- What a changed car plan did to an approved plan, line by line: an unconverted line
-- changed in place; a converted one raised a change request to sales.
CREATE TABLE purchase_plan_change (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id         bigint NOT NULL REFERENCES purchase_plan (id) ON DELETE CASCADE,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    production_plan_id bigint NOT NULL REFERENCES production_plan (id),
    spec_id         bigint NOT NULL REFERENCES steel_spec (id),
    period_start    date NOT NULL,
    before_t        numeric(12, 3) NOT NULL,
    after_t         numeric(12, 3) NOT NULL,
    -- The coils and need date the new car plan gives the line (none when it needs nothing):
    -- what an accepted request brings the contract line to.
    after_coils     int NOT NULL DEFAULT 0,
    after_need_date date,
    action          text NOT NULL CHECK (action IN ('changed', 'added', 'change_requested')),
    contract_line_id bigint REFERENCES contract_line (id),
    -- superseded: a later car plan raised a newer request for the same contract line.
    request_status  text CHECK (request_status IN ('open', 'accepted', 'declined', 'superseded')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((action = 'change_requested') = (request_status IS NOT NULL))
);
CREATE INDEX purchase_plan_change_plan_idx ON purchase_plan_change (plan_id, id);
CREATE INDEX purchase_plan_change_open_idx ON purchase_plan_change (customer_org_id)
    WHERE request_status = 'open';

-- Foundation: organizations, sites, specs, contracts, production, quality, settlements
-- and the domain-event outbox. Money and weights are exact NUMERIC; times are timestamptz.

CREATE TABLE organization (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]*$'),
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('mill', 'customer', 'carrier')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE site (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('plant', 'port', 'rail_station', 'customer_warehouse')),
    -- NULL for shared infrastructure (ports, rail stations) that every party may see.
    org_id      bigint REFERENCES organization (id),
    latitude    double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude   double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    -- GeoJSON geometry (Polygon or MultiPolygon); when NULL the fence is a circle of
    -- geofence_radius_m around (latitude, longitude).
    geofence    jsonb,
    geofence_radius_m double precision CHECK (geofence_radius_m > 0),
    time_zone   text NOT NULL DEFAULT 'Asia/Shanghai',
    CHECK (geofence IS NOT NULL OR geofence_radius_m IS NOT NULL)
);
CREATE INDEX site_org_idx ON site (org_id);

CREATE TABLE steel_spec (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    grade           text NOT NULL,
    standard        text NOT NULL,
    product         text NOT NULL CHECK (product IN ('hot_rolled', 'cold_rolled', 'galvanized', 'electrogalvanized', 'galvannealed', 'tinplate', 'electrical')),
    thickness_mm    numeric(6, 3) NOT NULL CHECK (thickness_mm > 0),
    width_mm        numeric(7, 1) NOT NULL CHECK (width_mm > 0),
    coating         text,
    -- A spec with a customer part number belongs to that customer; NULL = catalogue spec.
    customer_org_id bigint REFERENCES organization (id),
    customer_part_number text,
    coil_nominal_weight_t numeric(8, 3) NOT NULL DEFAULT 12 CHECK (coil_nominal_weight_t > 0),
    CHECK ((customer_org_id IS NULL) = (customer_part_number IS NULL))
);
CREATE INDEX steel_spec_customer_idx ON steel_spec (customer_org_id);

CREATE TABLE contract (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN
                    ('draft', 'confirmed', 'in_production', 'partially_shipped', 'shipped', 'settled', 'closed', 'cancelled')),
    currency        char(3) NOT NULL DEFAULT 'CNY',
    incoterm        text NOT NULL DEFAULT 'DAP',
    signed_on       date,
    confirmed_at    timestamptz,
    -- The mill-side owner (a token subject) who answers for this contract.
    sales_owner     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contract_customer_idx ON contract (customer_org_id, id);
CREATE INDEX contract_status_idx ON contract (status, id);

CREATE TABLE contract_line (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contract_id     bigint NOT NULL REFERENCES contract (id) ON DELETE CASCADE,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    line_no         int NOT NULL CHECK (line_no > 0),
    spec_id         bigint NOT NULL REFERENCES steel_spec (id),
    quantity_t      numeric(12, 3) NOT NULL CHECK (quantity_t > 0),
    unit_price      numeric(14, 2) NOT NULL CHECK (unit_price >= 0),
    delivery_from   date NOT NULL,
    delivery_to     date NOT NULL,
    delivery_site_id bigint REFERENCES site (id),
    transport_mode  text NOT NULL CHECK (transport_mode IN ('road', 'rail', 'water')),
    -- Days from leaving the mill to arriving at the delivery site, used to judge lateness.
    transit_days    int NOT NULL DEFAULT 3 CHECK (transit_days >= 0),
    firmness        text NOT NULL DEFAULT 'firm' CHECK (firmness IN ('firm', 'commitment_production', 'commitment_material', 'forecast')),
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN
                    ('draft', 'confirmed', 'in_production', 'partially_shipped', 'shipped', 'settled', 'closed', 'cancelled')),
    shipped_t       numeric(12, 3) NOT NULL DEFAULT 0 CHECK (shipped_t >= 0),
    UNIQUE (contract_id, line_no),
    CHECK (delivery_to >= delivery_from)
);
CREATE INDEX contract_line_contract_idx ON contract_line (contract_id, line_no);
CREATE INDEX contract_line_customer_idx ON contract_line (customer_org_id);
CREATE INDEX contract_line_spec_idx ON contract_line (spec_id);

CREATE TABLE production_stage (
    code    text PRIMARY KEY,
    seq     int NOT NULL UNIQUE
);
INSERT INTO production_stage (code, seq) VALUES
    ('steelmaking', 1), ('casting', 2), ('hot_rolling', 3), ('pickling', 4), ('cold_rolling', 5),
    ('annealing', 6), ('coating', 7), ('finishing', 8), ('inspection', 9), ('packing', 10),
    ('warehoused', 11);

CREATE TABLE production_order (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_no        text NOT NULL UNIQUE,
    line_id         bigint NOT NULL UNIQUE REFERENCES contract_line (id) ON DELETE CASCADE,
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    quantity_t      numeric(12, 3) NOT NULL CHECK (quantity_t > 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- The route of an order through the stages, with the planned dates and tonnes of each.
CREATE TABLE production_stage_plan (
    order_id        bigint NOT NULL REFERENCES production_order (id) ON DELETE CASCADE,
    stage           text NOT NULL REFERENCES production_stage (code),
    planned_start   date NOT NULL,
    planned_end     date NOT NULL,
    planned_t       numeric(12, 3) NOT NULL CHECK (planned_t > 0),
    PRIMARY KEY (order_id, stage),
    CHECK (planned_end >= planned_start)
);

CREATE TABLE progress_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES production_order (id) ON DELETE CASCADE,
    stage           text NOT NULL,
    tonnes          numeric(12, 3) NOT NULL CHECK (tonnes >= 0),
    completes_stage boolean NOT NULL DEFAULT false,
    occurred_at     timestamptz NOT NULL,
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    note            text,
    FOREIGN KEY (order_id, stage) REFERENCES production_stage_plan (order_id, stage)
);
CREATE INDEX progress_event_order_idx ON progress_event (order_id, stage);

-- The mill's calendar day: dates in plans and promises are the mill's (China) days, whatever
-- the server's time zone.
CREATE FUNCTION mill_today() RETURNS date LANGUAGE sql STABLE
    AS $$ SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date $$;

-- Stage by stage: planned against actual. A stage is complete once an event says so.
CREATE VIEW production_stage_status AS
SELECT o.id AS order_id, o.line_id, o.customer_org_id, p.stage, st.seq,
       p.planned_start, p.planned_end, p.planned_t,
       a.actual_start, a.actual_end, coalesce(a.actual_t, 0) AS actual_t,
       (a.actual_end IS NOT NULL) AS completed,
       CASE
           WHEN a.actual_end IS NOT NULL THEN (a.actual_end AT TIME ZONE 'Asia/Shanghai')::date - p.planned_end
           WHEN p.planned_end < mill_today() THEN mill_today() - p.planned_end
       END AS delay_days
FROM production_order o
JOIN production_stage_plan p ON p.order_id = o.id
JOIN production_stage st ON st.code = p.stage
LEFT JOIN LATERAL (
    SELECT min(e.occurred_at) AS actual_start,
           max(e.occurred_at) FILTER (WHERE e.completes_stage) AS actual_end,
           sum(e.tonnes) AS actual_t
    FROM progress_event e
    WHERE e.order_id = o.id AND e.stage = p.stage
) a ON true;

-- One row per line with a production order: where it stands and when it will be done.
-- The slip is the larger of the last finished stage's delay and the first unfinished
-- stage's overdue days (later stages say nothing yet); carried forward to the planned
-- finish, it gives the predicted finish.
-- Written as a LATERAL per order so that a filter on line_id reaches the indexes and a
-- page of lines costs only its own rows.
CREATE VIEW contract_line_schedule AS
SELECT l.id AS line_id, l.customer_org_id, o.id AS order_id, p.planned_finish, p.current_stage,
       p.stage_count, p.stages_done, p.share_done, f.predicted_finish,
       f.predicted_finish + l.transit_days AS predicted_delivery,
       greatest(0, f.predicted_finish + l.transit_days - l.delivery_to) AS late_days,
       -- Late: leaving the mill on its predicted finish it would arrive after its promised
       -- window; only lines still to be delivered count.
       (f.predicted_finish + l.transit_days > l.delivery_to
        AND l.status IN ('confirmed', 'in_production', 'partially_shipped')) AS is_late,
       l.delivery_from, l.delivery_to, l.transit_days
FROM contract_line l
JOIN production_order o ON o.line_id = l.id
CROSS JOIN LATERAL (
    SELECT max(s.planned_end) AS planned_finish,
           count(*) AS stage_count,
           count(*) FILTER (WHERE s.completed) AS stages_done,
           (array_agg(s.stage ORDER BY s.seq) FILTER (WHERE NOT s.completed))[1] AS current_stage,
           max(s.actual_end) AS last_actual_end,
           coalesce(greatest(
               (array_agg(s.delay_days ORDER BY s.seq DESC) FILTER (WHERE s.completed))[1],
               (array_agg(s.delay_days ORDER BY s.seq) FILTER (WHERE NOT s.completed))[1]
           ), 0) AS slip_days,
           round(sum(CASE WHEN s.completed THEN 1
                          ELSE least(0.99, s.actual_t / s.planned_t) END) / count(*), 4)
               AS share_done
    FROM production_stage_status s
    WHERE s.order_id = o.id
) p
CROSS JOIN LATERAL (
    SELECT CASE WHEN p.stages_done = p.stage_count
                THEN (p.last_actual_end AT TIME ZONE 'Asia/Shanghai')::date
                ELSE greatest(p.planned_finish + p.slip_days, mill_today())
           END AS predicted_finish
) f
WHERE p.stage_count > 0;

CREATE TABLE heat (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    heat_no         text NOT NULL UNIQUE,
    grade           text NOT NULL,
    site_id         bigint REFERENCES site (id),
    tapped_at       timestamptz NOT NULL,
    weight_t        numeric(10, 3) NOT NULL CHECK (weight_t > 0),
    -- Element symbol -> mass percent as a decimal string ("0.0020"): exact, never a float.
    chemistry       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(chemistry) = 'object')
);

CREATE TABLE slab (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slab_no         text NOT NULL UNIQUE,
    heat_id         bigint NOT NULL REFERENCES heat (id),
    weight_kg       numeric(10, 1) NOT NULL CHECK (weight_kg > 0),
    thickness_mm    numeric(7, 1) NOT NULL,
    width_mm        numeric(7, 1) NOT NULL,
    length_mm       numeric(8, 1) NOT NULL,
    cast_at         timestamptz NOT NULL
);
CREATE INDEX slab_heat_idx ON slab (heat_id);

CREATE TABLE coil (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    coil_no         text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('hot_rolled', 'pickled', 'cold_rolled', 'annealed', 'coated', 'slit', 'sheet_pack')),
    heat_id         bigint NOT NULL REFERENCES heat (id),
    slab_id         bigint REFERENCES slab (id),
    spec_id         bigint REFERENCES steel_spec (id),
    -- Set when the coil is allocated to a contract line; the customer then sees it.
    line_id         bigint REFERENCES contract_line (id),
    customer_org_id bigint REFERENCES organization (id),
    thickness_mm    numeric(6, 3) NOT NULL CHECK (thickness_mm > 0),
    width_mm        numeric(7, 1) NOT NULL CHECK (width_mm > 0),
    weight_kg       numeric(10, 1) NOT NULL CHECK (weight_kg > 0),
    quality_status  text NOT NULL DEFAULT 'pending' CHECK (quality_status IN ('pending', 'released', 'blocked', 'downgraded')),
    produced_at     timestamptz NOT NULL,
    CHECK ((line_id IS NULL) = (customer_org_id IS NULL))
);
CREATE INDEX coil_heat_idx ON coil (heat_id, id);
CREATE INDEX coil_line_idx ON coil (line_id, id);
CREATE INDEX coil_customer_idx ON coil (customer_org_id, id);

-- How material became other material: slab -> coil by rolling, coil -> coil by
-- rolling, slitting or cutting, with the weights that went in and came out.
CREATE TABLE genealogy_edge (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_slab_id  bigint REFERENCES slab (id),
    parent_coil_id  bigint REFERENCES coil (id),
    child_coil_id   bigint NOT NULL REFERENCES coil (id),
    operation       text NOT NULL CHECK (operation IN ('roll', 'slit', 'cut')),
    input_weight_kg numeric(10, 1) NOT NULL CHECK (input_weight_kg > 0),
    output_weight_kg numeric(10, 1) NOT NULL CHECK (output_weight_kg > 0),
    occurred_at     timestamptz NOT NULL,
    CHECK ((parent_slab_id IS NULL) <> (parent_coil_id IS NULL)),
    CHECK (parent_coil_id IS DISTINCT FROM child_coil_id)
);
CREATE INDEX genealogy_child_idx ON genealogy_edge (child_coil_id);
CREATE INDEX genealogy_parent_coil_idx ON genealogy_edge (parent_coil_id);
CREATE INDEX genealogy_parent_slab_idx ON genealogy_edge (parent_slab_id);

-- EN 10204 type 3.1 inspection certificate. `content` is the certified document as
-- canonical JSON; `content_hash` its SHA-256, so that a copy can be verified.
CREATE TABLE quality_certificate (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cert_no         text NOT NULL UNIQUE,
    certificate_type text NOT NULL DEFAULT '3.1' CHECK (certificate_type IN ('2.2', '3.1', '3.2')),
    coil_id         bigint UNIQUE REFERENCES coil (id),
    heat_id         bigint NOT NULL REFERENCES heat (id),
    customer_org_id bigint REFERENCES organization (id),
    chemistry       jsonb NOT NULL CHECK (jsonb_typeof(chemistry) = 'object'),
    yield_strength_mpa   numeric(7, 1) NOT NULL CHECK (yield_strength_mpa > 0),
    tensile_strength_mpa numeric(7, 1) NOT NULL CHECK (tensile_strength_mpa > 0),
    elongation_pct  numeric(5, 1) NOT NULL CHECK (elongation_pct > 0),
    coating_designation text,
    coating_mass_g_m2 numeric(7, 1),
    issued_at       timestamptz NOT NULL DEFAULT now(),
    issued_by       text NOT NULL,
    content         jsonb NOT NULL,
    content_hash    text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX quality_certificate_heat_idx ON quality_certificate (heat_id);

CREATE TABLE inspection (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    coil_id         bigint NOT NULL REFERENCES coil (id),
    kind            text NOT NULL CHECK (kind IN ('surface', 'dimension', 'mechanical', 'coating', 'flatness')),
    result          text NOT NULL CHECK (result IN ('pass', 'fail', 'conditional')),
    inspected_at    timestamptz NOT NULL,
    inspector       text NOT NULL,
    findings        text
);
CREATE INDEX inspection_coil_idx ON inspection (coil_id, inspected_at);

-- What the customer saw when it processed the coil on its own lines.
CREATE TABLE processing_feedback (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    coil_id         bigint NOT NULL REFERENCES coil (id),
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    process         text NOT NULL CHECK (process IN ('shearing', 'slitting', 'punching', 'stamping', 'welding', 'painting', 'forming')),
    result          text NOT NULL CHECK (result IN ('ok', 'minor_issue', 'failed')),
    notes           text,
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processing_feedback_coil_idx ON processing_feedback (coil_id, recorded_at);

CREATE TABLE settlement (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    contract_id     bigint NOT NULL REFERENCES contract (id),
    customer_org_id bigint NOT NULL REFERENCES organization (id),
    currency        char(3) NOT NULL,
    theoretical_weight_t numeric(12, 3) NOT NULL CHECK (theoretical_weight_t >= 0),
    actual_weight_t numeric(12, 3) NOT NULL CHECK (actual_weight_t >= 0),
    unit_price      numeric(14, 2) NOT NULL CHECK (unit_price >= 0),
    goods_amount    numeric(16, 2) NOT NULL,
    surcharges      numeric(16, 2) NOT NULL DEFAULT 0,
    freight         numeric(16, 2) NOT NULL DEFAULT 0,
    claim_deductions numeric(16, 2) NOT NULL DEFAULT 0 CHECK (claim_deductions >= 0),
    total_amount    numeric(16, 2) GENERATED ALWAYS AS (goods_amount + surcharges + freight - claim_deductions) STORED,
    invoice_status  text NOT NULL DEFAULT 'draft' CHECK (invoice_status IN ('draft', 'issued', 'paid', 'overdue', 'void')),
    issued_on       date,
    due_on          date,
    paid_on         date,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX settlement_customer_idx ON settlement (customer_org_id, id);
CREATE INDEX settlement_contract_idx ON settlement (contract_id);

-- The outbox: every state change writes its event here in the same transaction.
-- `seq` orders all events; push and subscriptions read forward from a sequence number.
CREATE TABLE domain_event (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_type      text NOT NULL,
    -- The customer the event concerns; NULL for the mill's internal events.
    org_id          bigint REFERENCES organization (id),
    aggregate_type  text NOT NULL,
    aggregate_id    bigint NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    actor           text,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX domain_event_org_idx ON domain_event (org_id, seq);
CREATE INDEX domain_event_type_idx ON domain_event (event_type, seq);
CREATE INDEX domain_event_aggregate_idx ON domain_event (aggregate_type, aggregate_id, seq);

-- Wake listeners (push delivery, subscriptions) when an event commits; they read the
-- table from their last sequence, so a missed notification loses nothing.
CREATE FUNCTION domain_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('domain_event', NEW.seq::text);
    RETURN NULL;
END $$;
CREATE TRIGGER domain_event_notify AFTER INSERT ON domain_event
    FOR EACH ROW EXECUTE FUNCTION domain_event_notify();

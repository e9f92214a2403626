-- The mill's capacity per production stage and week, and what the check of capacity and
-- time found for each contract line when it was confirmed.

-- Tonnes a stage can take in a week (Monday to Sunday, the mill's days), as the
-- mill's planning sets them. A week without a row is not bounded: nobody has said.
CREATE TABLE stage_capacity (
    stage       text NOT NULL REFERENCES production_stage (code),
    week_start  date NOT NULL CHECK (extract(isodow FROM week_start) = 1),
    capacity_t  numeric(12, 3) NOT NULL CHECK (capacity_t >= 0),
    set_by      text NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stage, week_start)
);

-- A line checked at confirmation: whether its production plan fits the stages' capacity
-- left and arrives within its window, when it could arrive at the earliest, and who
-- confirmed it although it could not (NULL when it could).
CREATE TABLE contract_line_feasibility (
    line_id           bigint PRIMARY KEY REFERENCES contract_line (id) ON DELETE CASCADE,
    customer_org_id   bigint NOT NULL REFERENCES organization (id),
    feasible          boolean NOT NULL,
    earliest_delivery date,
    reason            text,
    accepted_by       text,
    checked_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (feasible = (reason IS NULL)),
    CHECK (NOT feasible OR accepted_by IS NULL)
);
CREATE INDEX contract_line_feasibility_customer_idx
    ON contract_line_feasibility (customer_org_id) WHERE NOT feasible;

-- The load still to come: unfinished stages by their planned days.
CREATE INDEX production_stage_plan_end_idx ON production_stage_plan (planned_end);

-- The quality enquiry reads a spec's coils made in a period.
CREATE INDEX coil_spec_idx ON coil (spec_id, produced_at);

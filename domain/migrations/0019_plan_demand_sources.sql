-- Where a purchase plan's demand came from. A customer's current delivery schedule
-- (DELFOR) states the steel it wants per spec and period, with its firmness; within the
-- schedule's horizon a plan line takes its tonnes and firmness from it, elsewhere from the
-- car build plan x the consumption table. The plan remembers the schedule version it
-- was computed from, so a newer one shows the plan is stale, as a newer car plan does.
ALTER TABLE purchase_plan
    ADD COLUMN delivery_schedule_id bigint REFERENCES delivery_schedule (id);

ALTER TABLE purchase_plan_line
    ADD COLUMN demand_source text NOT NULL DEFAULT 'build_plan'
        CHECK (demand_source IN ('build_plan', 'delivery_schedule')),
    ADD COLUMN delivery_schedule_id bigint REFERENCES delivery_schedule (id),
    ADD CONSTRAINT purchase_plan_line_schedule_named
        CHECK ((demand_source = 'delivery_schedule') = (delivery_schedule_id IS NOT NULL));

-- The delivery schedule in force when a change was made (a new schedule version makes
-- changes as a new car plan version does).
ALTER TABLE purchase_plan_change
    ADD COLUMN delivery_schedule_id bigint REFERENCES delivery_schedule (id);

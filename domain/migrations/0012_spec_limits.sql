-- The limits a spec's standard sets, and the revision of them each certificate was
-- checked against.
--
-- Chemistry limits are element symbol -> {"min": "...", "max": "..."} in mass percent,
-- each bound a decimal string or null (exact, like heat.chemistry). Mechanical limits
-- are columns. `limits_revision` is 0 while a spec has no limits; the trigger below
-- raises it by one, and stamps `limits_changed_at`, whenever an update changes any
-- limit, so no writer can change limits without a new revision.
ALTER TABLE steel_spec
    ADD COLUMN chemistry_limits jsonb NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(chemistry_limits) = 'object'),
    ADD COLUMN yield_min_mpa numeric(7, 1) CHECK (yield_min_mpa > 0),
    ADD COLUMN yield_max_mpa numeric(7, 1) CHECK (yield_max_mpa > 0),
    ADD COLUMN tensile_min_mpa numeric(7, 1) CHECK (tensile_min_mpa > 0),
    ADD COLUMN tensile_max_mpa numeric(7, 1) CHECK (tensile_max_mpa > 0),
    ADD COLUMN elongation_min_pct numeric(5, 1) CHECK (elongation_min_pct > 0 AND elongation_min_pct <= 100),
    ADD COLUMN coating_min_g_m2 numeric(7, 1) CHECK (coating_min_g_m2 > 0),
    ADD COLUMN limits_revision int NOT NULL DEFAULT 0 CHECK (limits_revision >= 0),
    ADD COLUMN limits_changed_at timestamptz,
    ADD COLUMN limits_changed_by text,
    ADD CONSTRAINT steel_spec_yield_range CHECK (yield_min_mpa <= yield_max_mpa),
    ADD CONSTRAINT steel_spec_tensile_range CHECK (tensile_min_mpa <= tensile_max_mpa),
    ADD CONSTRAINT steel_spec_limits_stamped CHECK ((limits_revision = 0) = (limits_changed_at IS NULL));

CREATE FUNCTION steel_spec_limits_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.chemistry_limits, NEW.yield_min_mpa, NEW.yield_max_mpa, NEW.tensile_min_mpa,
        NEW.tensile_max_mpa, NEW.elongation_min_pct, NEW.coating_min_g_m2)
       IS DISTINCT FROM
       (OLD.chemistry_limits, OLD.yield_min_mpa, OLD.yield_max_mpa, OLD.tensile_min_mpa,
        OLD.tensile_max_mpa, OLD.elongation_min_pct, OLD.coating_min_g_m2) THEN
        NEW.limits_revision := OLD.limits_revision + 1;
        NEW.limits_changed_at := now();
    ELSE
        NEW.limits_revision := OLD.limits_revision;
        NEW.limits_changed_at := OLD.limits_changed_at;
        NEW.limits_changed_by := OLD.limits_changed_by;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER steel_spec_limits_revision BEFORE UPDATE ON steel_spec
    FOR EACH ROW EXECUTE FUNCTION steel_spec_limits_revision();

-- What a certificate was checked against: the spec's limits as they stood (the same
-- document the certified content carries) and their revision. Both NULL for a
-- certificate issued without limits (its spec had none, or it predates them).
ALTER TABLE quality_certificate
    ADD COLUMN limits jsonb CHECK (jsonb_typeof(limits) = 'object'),
    ADD COLUMN limits_revision int CHECK (limits_revision > 0),
    ADD CONSTRAINT quality_certificate_limits_revision
        CHECK ((limits IS NULL) = (limits_revision IS NULL));

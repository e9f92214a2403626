-- A spec created with its limits (a plant's record, a demo) starts at revision 1, as one
-- whose limits are set later does: the revision trigger now runs on INSERT too. A row
-- that names its own revision (a copy of another database's) keeps it.
CREATE OR REPLACE FUNCTION steel_spec_limits_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.limits_revision = 0 AND (NEW.chemistry_limits <> '{}'::jsonb
            OR num_nonnulls(NEW.yield_min_mpa, NEW.yield_max_mpa, NEW.tensile_min_mpa,
                            NEW.tensile_max_mpa, NEW.elongation_min_pct,
                            NEW.coating_min_g_m2) > 0) THEN
            NEW.limits_revision := 1;
            NEW.limits_changed_at := now();
        END IF;
        RETURN NEW;
    END IF;
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
DROP TRIGGER steel_spec_limits_revision ON steel_spec;
CREATE TRIGGER steel_spec_limits_revision BEFORE INSERT OR UPDATE ON steel_spec
    FOR EACH ROW EXECUTE FUNCTION steel_spec_limits_revision();

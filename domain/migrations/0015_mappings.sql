-- Exchange mappings: how a partner's CSV or XLSX files hold one type of document, as
-- data (domain/exchange/mapping.py reads `definition`). The plan formats become the
-- mappings of the document types `production_plan` and `consumption`; `plan_format`
-- stays as a view over them, for what reads or writes plan formats by that name.

CREATE TABLE exchange_mapping (
    partner_org_id  bigint NOT NULL REFERENCES organization (id),
    document        text NOT NULL CHECK (document ~ '^[a-z][a-z0-9_]{0,39}$'),
    definition      jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'
                                          AND jsonb_typeof(definition -> 'fields') = 'array'),
    updated_by      text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_org_id, document),
    CHECK (definition ->> 'document' = document)
);

-- A plan format as the mapping of one document type; PlanFormat.mapping in
-- domain/planning/imports.py makes the same.
CREATE FUNCTION plan_format_mapping(document text, columns jsonb, models jsonb,
                                    date_format text, default_period_days int)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'document', document,
        'fields', CASE document
            WHEN 'production_plan' THEN jsonb_build_array(
                jsonb_build_object('field', 'model', 'type', 'text',
                                   'column', coalesce(columns ->> 'model', 'model'),
                                   'codes', 'models'),
                jsonb_build_object('field', 'period_start', 'type', 'date',
                                   'column', coalesce(columns ->> 'period_start', 'period_start'),
                                   'formats', jsonb_build_array(date_format)),
                jsonb_build_object('field', 'units', 'type', 'integer',
                                   'column', coalesce(columns ->> 'units', 'units'), 'min', 0),
                jsonb_build_object('field', 'period_days', 'type', 'integer',
                                   'column', coalesce(columns ->> 'period_days', 'period_days'),
                                   'required', false, 'default', default_period_days,
                                   'min', 1, 'max', 31))
            ELSE jsonb_build_array(
                jsonb_build_object('field', 'model', 'type', 'text',
                                   'column', coalesce(columns ->> 'model', 'model'),
                                   'codes', 'models'),
                jsonb_build_object('field', 'part_number', 'type', 'text',
                                   'column', coalesce(columns ->> 'part_number', 'part_number')),
                jsonb_build_object('field', 'kg_per_car', 'type', 'decimal',
                                   'column', coalesce(columns ->> 'kg_per_car', 'kg_per_car')),
                jsonb_build_object('field', 'yield_allowance_pct', 'type', 'decimal',
                                   'column', coalesce(columns ->> 'yield_allowance_pct',
                                                      'yield_allowance_pct'),
                                   'required', false, 'default', '0', 'min', '0', 'max', '100'))
        END,
        'codes', jsonb_build_object('models', models))
$$;

INSERT INTO exchange_mapping (partner_org_id, document, definition, updated_by, updated_at)
SELECT f.customer_org_id, d.document,
       plan_format_mapping(d.document, f.columns, f.models, f.date_format,
                           f.default_period_days),
       f.updated_by, f.updated_at
FROM plan_format f CROSS JOIN (VALUES ('production_plan'), ('consumption')) AS d (document);

DROP TABLE plan_format;

-- The plan format of each customer with a car plan mapping: the headings of both
-- mappings by field, the model names, the date format and the default period.
CREATE VIEW plan_format AS
SELECT m.partner_org_id AS customer_org_id,
       coalesce((SELECT jsonb_object_agg(f ->> 'field', f -> 'column')
                 FROM exchange_mapping x, jsonb_array_elements(x.definition -> 'fields') f
                 WHERE x.partner_org_id = m.partner_org_id
                   AND x.document IN ('production_plan', 'consumption')
                   AND jsonb_typeof(f -> 'column') = 'string'), '{}'::jsonb) AS columns,
       coalesce(m.definition -> 'codes' -> 'models', '{}'::jsonb) AS models,
       coalesce((SELECT f -> 'formats' ->> 0
                 FROM jsonb_array_elements(m.definition -> 'fields') f
                 WHERE f ->> 'field' = 'period_start'), '%Y-%m-%d') AS date_format,
       coalesce((SELECT (f ->> 'default')::int
                 FROM jsonb_array_elements(m.definition -> 'fields') f
                 WHERE f ->> 'field' = 'period_days'), 7) AS default_period_days,
       m.updated_by,
       m.updated_at
FROM exchange_mapping m
WHERE m.document = 'production_plan';

-- Writing a plan format writes both mappings, with the old table's checks.
CREATE FUNCTION plan_format_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM exchange_mapping WHERE partner_org_id = OLD.customer_org_id
            AND document IN ('production_plan', 'consumption');
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF jsonb_typeof(NEW.columns) IS DISTINCT FROM 'object'
            OR jsonb_typeof(coalesce(NEW.models, '{}'::jsonb)) <> 'object'
            OR coalesce(NEW.default_period_days, 7) NOT BETWEEN 1 AND 31
            OR NEW.updated_by IS NULL THEN
        RAISE check_violation USING MESSAGE = 'not a plan format';
    END IF;
    INSERT INTO exchange_mapping (partner_org_id, document, definition, updated_by,
                                  updated_at)
    SELECT NEW.customer_org_id, d.document,
           plan_format_mapping(d.document, NEW.columns, coalesce(NEW.models, '{}'::jsonb),
                               coalesce(NEW.date_format, '%Y-%m-%d'),
                               coalesce(NEW.default_period_days, 7)),
           NEW.updated_by, coalesce(NEW.updated_at, now())
    FROM (VALUES ('production_plan'), ('consumption')) AS d (document);
    RETURN NEW;
END
$$;

CREATE TRIGGER plan_format_write INSTEAD OF INSERT OR UPDATE OR DELETE ON plan_format
    FOR EACH ROW EXECUTE FUNCTION plan_format_write();

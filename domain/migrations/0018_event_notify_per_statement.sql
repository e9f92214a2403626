-- The outbox wakes its listeners once per statement, not once per event: a batch of a
-- plant's records appends its events in one statement, and its listeners read forward
-- from the last sequence they saw anyway (the payload, the statement's last sequence, is
-- for people watching the channel).
CREATE OR REPLACE FUNCTION domain_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('domain_event', (SELECT max(seq)::text FROM appended));
    RETURN NULL;
END $$;
DROP TRIGGER domain_event_notify ON domain_event;
CREATE TRIGGER domain_event_notify AFTER INSERT ON domain_event
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION domain_event_notify();

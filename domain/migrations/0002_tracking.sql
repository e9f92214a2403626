-- Tracking: vehicles, devices, shipments with legs and manifests, positions (partitioned
-- by day), scans, detected shipment events, coil custody and rejected messages.

CREATE TABLE vehicle (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('truck', 'rail_wagon', 'ship')),
    name            text NOT NULL,
    -- Trucks: licence plate; wagons: wagon number; ships: MMSI and IMO.
    plate           text,
    mmsi            bigint UNIQUE CHECK (mmsi BETWEEN 100000000 AND 999999999),
    imo             int CHECK (imo BETWEEN 1000000 AND 9999999),
    carrier_org_id  bigint REFERENCES organization (id),
    -- What a ship last said of its voyage in AIS static data (message type 5): the
    -- destination as the crew typed it and their ETA, with when it was heard.
    reported_destination text,
    reported_eta    timestamptz,
    voyage_heard_at timestamptz,
    CHECK (kind <> 'ship' OR mmsi IS NOT NULL)
);

-- A device publishes over MQTT as user `code`; its topics name that code.
CREATE TABLE device (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,64}$'),
    kind            text NOT NULL CHECK (kind IN ('gps_unit', 'ais_gateway', 'scanner')),
    vehicle_id      bigint REFERENCES vehicle (id),
    site_id         bigint REFERENCES site (id),
    -- OwnTracks publishes on owntracks/{user}/{device}: this device's "{user}/{device}".
    owntracks_id    text UNIQUE,
    -- PBKDF2 hash in Mosquitto's password-file format; NULL: no broker login yet.
    password_hash   text,
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_vehicle_idx ON device (vehicle_id);

CREATE TABLE shipment (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    status          text NOT NULL DEFAULT 'planned' CHECK (status IN
                    ('planned', 'loading', 'departed', 'in_transit', 'arrived', 'unloaded',
                     'received', 'exception', 'cancelled')),
    carrier_org_id  bigint REFERENCES organization (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipment_status_idx ON shipment (status, id);

CREATE TABLE shipment_leg (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shipment_id     bigint NOT NULL REFERENCES shipment (id) ON DELETE CASCADE,
    seq             int NOT NULL CHECK (seq > 0),
    mode            text NOT NULL CHECK (mode IN ('road', 'rail', 'water')),
    vehicle_id      bigint REFERENCES vehicle (id),
    origin_site_id  bigint NOT NULL REFERENCES site (id),
    destination_site_id bigint NOT NULL REFERENCES site (id),
    planned_departure timestamptz NOT NULL,
    planned_arrival timestamptz NOT NULL,
    -- The promised delivery window of the contract lines this leg serves (the latest
    -- end of them), against which the ETA is judged.
    promised_by     timestamptz,
    status          text NOT NULL DEFAULT 'planned' CHECK (status IN
                    ('planned', 'loading', 'departed', 'in_transit', 'arrived', 'unloaded',
                     'received', 'exception', 'cancelled')),
    actual_departure timestamptz,
    actual_arrival  timestamptz,
    eta             timestamptz,
    -- 0..1: how sure the ETA is (recent speed steady, fix fresh, distance short).
    eta_confidence  numeric(4, 3) CHECK (eta_confidence BETWEEN 0 AND 1),
    delayed         boolean NOT NULL DEFAULT false,
    UNIQUE (shipment_id, seq),
    CHECK (planned_arrival >= planned_departure),
    CHECK (origin_site_id <> destination_site_id)
);
CREATE INDEX shipment_leg_vehicle_idx ON shipment_leg (vehicle_id, status);

-- The manifest: which coils travel on which leg.
CREATE TABLE leg_coil (
    leg_id          bigint NOT NULL REFERENCES shipment_leg (id) ON DELETE CASCADE,
    coil_id         bigint NOT NULL REFERENCES coil (id),
    PRIMARY KEY (leg_id, coil_id)
);
CREATE INDEX leg_coil_coil_idx ON leg_coil (coil_id);

-- Which customers a shipment carries coils for: a customer sees a shipment exactly when
-- it is listed here. Maintained by the domain layer with the manifest.
CREATE TABLE shipment_customer (
    shipment_id     bigint NOT NULL REFERENCES shipment (id) ON DELETE CASCADE,
    org_id          bigint NOT NULL REFERENCES organization (id),
    PRIMARY KEY (shipment_id, org_id)
);
CREATE INDEX shipment_customer_org_idx ON shipment_customer (org_id, shipment_id);

-- Every accepted fix. Partitioned by day of fix time; old partitions are dropped after
-- the retention period. (vehicle, fix time, device) is the idempotency key: a redelivered
-- or republished message is stored once, and an AIS gateway relaying several vessels in
-- the same second keeps each vessel's fix. It also serves a vehicle's track.
CREATE TABLE position (
    device_id       bigint NOT NULL,
    vehicle_id      bigint NOT NULL,
    fix_time        timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    latitude        double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude       double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    speed_kmh       real CHECK (speed_kmh >= 0),
    heading         real CHECK (heading >= 0 AND heading < 360),
    accuracy_m      real CHECK (accuracy_m >= 0),
    source          text NOT NULL CHECK (source IN ('native', 'owntracks', 'ais')),
    PRIMARY KEY (vehicle_id, fix_time, device_id)
) PARTITION BY RANGE (fix_time);
-- Fixes outside every daily partition (far past, clock errors) land here rather than fail.
CREATE TABLE position_default PARTITION OF position DEFAULT;

-- Creates the daily partitions covering [from_day, from_day + days).
CREATE FUNCTION ensure_position_partitions(from_day date, days int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    created int := 0;
    name text;
BEGIN
    FOR i IN 0 .. days - 1 LOOP
        d := from_day + i;
        name := 'position_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF position FOR VALUES FROM (%L) TO (%L)',
                name, d::timestamptz AT TIME ZONE 'UTC', (d + 1)::timestamptz AT TIME ZONE 'UTC');
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END $$;

-- Drops the daily partitions wholly older than keep_days; returns how many.
CREATE FUNCTION drop_position_partitions(keep_days int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    dropped int := 0;
BEGIN
    FOR r IN SELECT c.relname FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'position'::regclass AND c.relname ~ '^position_\d{8}$'
    LOOP
        IF to_date(substr(r.relname, 10), 'YYYYMMDD') < (now() AT TIME ZONE 'UTC')::date - keep_days THEN
            EXECUTE format('DROP TABLE %I', r.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    RETURN dropped;
END $$;

SELECT ensure_position_partitions((now() AT TIME ZONE 'UTC')::date - 2, 10);

CREATE TABLE scan_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id       bigint NOT NULL REFERENCES device (id),
    code            text NOT NULL,
    -- The coil the code names, when it names one this registry knows.
    coil_id         bigint REFERENCES coil (id),
    step            text NOT NULL CHECK (step IN
                    ('loading', 'departing', 'arriving', 'unloading', 'receiving', 'transshipping')),
    site_id         bigint REFERENCES site (id),
    vehicle_id      bigint REFERENCES vehicle (id),
    scanned_at      timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    -- What the code said, parsed: GS1 application identifiers and their values.
    parsed          jsonb NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (device_id, scanned_at, code)
);
CREATE INDEX scan_event_coil_idx ON scan_event (coil_id, scanned_at);

-- Where each coil is now, from its latest scan: on a vehicle, or at a site.
CREATE TABLE coil_location (
    coil_id         bigint PRIMARY KEY REFERENCES coil (id),
    vehicle_id      bigint REFERENCES vehicle (id),
    site_id         bigint REFERENCES site (id),
    since           timestamptz NOT NULL,
    scan_id         bigint REFERENCES scan_event (id),
    CHECK ((vehicle_id IS NULL) <> (site_id IS NULL))
);
-- "Which coils are aboard this vehicle", for custody checks and the live page.
CREATE INDEX coil_location_vehicle_idx ON coil_location (vehicle_id) WHERE vehicle_id IS NOT NULL;

-- What detection found: departed, arrived, delayed, back on time, geofence enter and
-- exit, scan anomalies. `dedupe_key` makes a detection idempotent under redelivery.
CREATE TABLE shipment_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shipment_id     bigint REFERENCES shipment (id),
    leg_id          bigint REFERENCES shipment_leg (id),
    vehicle_id      bigint REFERENCES vehicle (id),
    kind            text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    dedupe_key      text NOT NULL UNIQUE,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipment_event_shipment_idx ON shipment_event (shipment_id, occurred_at);
CREATE INDEX shipment_event_leg_idx ON shipment_event (leg_id, occurred_at);
CREATE INDEX shipment_event_vehicle_idx ON shipment_event (vehicle_id, occurred_at);

-- A vehicle's state against each fence it is near: inside since when, and whether the
-- dwell threshold has confirmed the entry.
CREATE TABLE geofence_presence (
    vehicle_id      bigint NOT NULL REFERENCES vehicle (id),
    site_id         bigint NOT NULL REFERENCES site (id),
    entered_at      timestamptz NOT NULL,
    confirmed       boolean NOT NULL DEFAULT false,
    last_fix        timestamptz NOT NULL,
    PRIMARY KEY (vehicle_id, site_id)
);

-- Every message the ingester could not accept, with why: nothing disappears.
CREATE TABLE rejected_message (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    topic           text NOT NULL,
    -- The first 4 KiB; `payload_bytes` tells the whole size.
    payload         bytea NOT NULL,
    payload_bytes   int NOT NULL,
    reason          text NOT NULL,
    detail          text,
    device_code     text,
    -- SHA-256 of topic and payload: a redelivered message is recorded once.
    digest          bytea NOT NULL UNIQUE
);
CREATE INDEX rejected_message_reason_idx ON rejected_message (reason, received_at);

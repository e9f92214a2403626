"""The statements detection runs besides the shipment write side: each answers for a
whole batch in one round trip."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.db import Executor, Record
from domain.shipments.eta import SPEED_SAMPLES, SPEED_WINDOW
from tracking.detect.model import StoredFix, StoredScan
from tracking.geofence import Presence

# A vehicle's position counts as "where it is" at a scan when its fix is at most this old
# (or this little ahead, clocks differ); an older one proves nothing.
POSITION_BEFORE_SCAN = timedelta(hours=1)
POSITION_AFTER_SCAN = timedelta(minutes=5)


async def site_rows(tx: Executor) -> list[Record]:
    return await tx.fetch(
        "SELECT id, kind, latitude, longitude, geofence, geofence_radius_m FROM site")


async def lock_vehicles(tx: Executor, vehicle_ids: Sequence[int]) -> None:
    """Serialize detection per vehicle across ingesters (a device's messages may reach
    any of them), in id order so that two batches never wait on each other in a circle.
    NO KEY UPDATE leaves the foreign-key checks of concurrent inserts unblocked."""
    if not vehicle_ids:
        return
    await tx.execute(
        "SELECT 1 FROM (SELECT id FROM vehicle WHERE id = ANY($1) ORDER BY id"
        " FOR NO KEY UPDATE) v", sorted(set(vehicle_ids)))


async def presences(tx: Executor, vehicle_ids: Sequence[int]) -> dict[int, dict[int, Presence]]:
    rows = await tx.fetch(
        "SELECT vehicle_id, site_id, entered_at, last_fix, confirmed FROM geofence_presence"
        " WHERE vehicle_id = ANY($1)", list(vehicle_ids))
    out: dict[int, dict[int, Presence]] = {v: {} for v in vehicle_ids}
    for r in rows:
        out[r["vehicle_id"]][r["site_id"]] = Presence(r["entered_at"], r["last_fix"],
                                                      r["confirmed"])
    return out


async def save_presences(
    tx: Executor,
    before: Mapping[int, Mapping[int, Presence]],
    after: Mapping[int, Mapping[int, Presence]],
) -> None:
    """Write what changed: rows for new or moved presences, deletions for the ended."""
    upserts = [(v, s, p.entered_at, p.confirmed, p.last_fix)
               for v, sites in after.items() for s, p in sites.items()
               if before.get(v, {}).get(s) != p]
    gone = [(v, s) for v, sites in before.items() for s in sites if s not in after.get(v, {})]
    # One statement each over arrays, rather than one execution a row.
    if upserts:
        await tx.execute(
            "INSERT INTO geofence_presence (vehicle_id, site_id, entered_at, confirmed, last_fix)"
            " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::bool[],"
            " $5::timestamptz[]) ON CONFLICT (vehicle_id, site_id) DO UPDATE SET"
            " entered_at = EXCLUDED.entered_at, confirmed = EXCLUDED.confirmed,"
            " last_fix = EXCLUDED.last_fix", *map(list, zip(*upserts, strict=True)))
    if gone:
        await tx.execute(
            "DELETE FROM geofence_presence g USING unnest($1::bigint[], $2::bigint[])"
            " AS d(vehicle_id, site_id)"
            " WHERE g.vehicle_id = d.vehicle_id AND g.site_id = d.site_id",
            *map(list, zip(*gone, strict=True)))


async def newest_elsewhere(tx: Executor, fixes: Sequence[StoredFix]) -> dict[int, datetime]:
    """Per vehicle, its newest stored fix that is not one of these. Another ingester's
    batch may have committed newer fixes first; this one's older fixes, which its own
    ingester could not know to flag, are then history as well."""
    rows = await tx.fetch(
        "SELECT v.id, (SELECT max(p.fix_time) FROM position p WHERE p.vehicle_id = v.id"
        "  AND (p.device_id, p.fix_time) NOT IN (SELECT b.device_id, b.fix_time"
        "   FROM unnest($2::bigint[], $3::timestamptz[]) AS b(device_id, fix_time))) AS newest"
        " FROM unnest($1::bigint[]) AS v(id)",
        sorted({f.vehicle_id for f in fixes}), [f.device_id for f in fixes],
        [f.fix.fix_time for f in fixes])
    return {r["id"]: r["newest"] for r in rows if r["newest"] is not None}


async def recent_speeds(tx: Executor, latest: Mapping[int, datetime]) -> dict[int, list[float]]:
    """Each vehicle's reported speeds just before its latest fix, newest first."""
    vehicles = list(latest)
    rows = await tx.fetch(
        "SELECT v.id, array(SELECT p.speed_kmh::float8 FROM position p"
        "  WHERE p.vehicle_id = v.id AND p.fix_time <= v.latest"
        "  AND p.fix_time > v.latest - $3::interval"
        "  AND p.speed_kmh IS NOT NULL ORDER BY p.fix_time DESC LIMIT $4::int) AS speeds"
        " FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, latest)",
        vehicles, [latest[v] for v in vehicles], SPEED_WINDOW, SPEED_SAMPLES)
    return {r["id"]: list(r["speeds"]) for r in rows}


@dataclass(frozen=True, slots=True)
class ScanPlace:
    """Where a scan happened (its site, else the scanner's own site) and where its
    vehicle was then, as far as the vehicle's fixes tell."""

    site_id: int | None
    site_lat: float | None
    site_lon: float | None
    vehicle_lat: float | None
    vehicle_lon: float | None
    coil_blocked: bool = False  # the scanned coil is on quality hold
    site_code: str | None = None
    # A customer's warehouse: the customer it belongs to (else None).
    warehouse_of: int | None = None
    coil_owner: int | None = None  # the customer the scanned coil is for
    scanner_site_id: int | None = None  # the site the scanner is installed at, if any
    # The scanner's own site is a customer's warehouse: that customer (else None).
    scanner_warehouse_of: int | None = None


async def scan_places(tx: Executor, scans: Sequence[StoredScan]) -> dict[int, ScanPlace]:
    rows = await tx.fetch(
        "SELECT s.scan_id, st.id AS site_id, st.latitude AS site_lat, st.longitude AS site_lon,"
        " p.latitude AS vehicle_lat, p.longitude AS vehicle_lon,"
        " coalesce(c.quality_status = 'blocked', false) AS coil_blocked,"
        " st.code AS site_code, c.customer_org_id AS coil_owner, d.site_id AS scanner_site_id,"
        " CASE WHEN st.kind = 'customer_warehouse' THEN st.org_id END AS warehouse_of,"
        " CASE WHEN sd.kind = 'customer_warehouse' THEN sd.org_id END AS scanner_warehouse_of"
        " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],"
        "             $5::timestamptz[], $8::bigint[])"
        "  AS s(scan_id, device_id, site_id, vehicle_id, at, coil_id)"
        " LEFT JOIN device d ON d.id = s.device_id"
        " LEFT JOIN coil c ON c.id = s.coil_id"
        " LEFT JOIN site st ON st.id = coalesce(s.site_id, d.site_id)"
        " LEFT JOIN site sd ON sd.id = d.site_id"
        " LEFT JOIN LATERAL (SELECT latitude, longitude FROM position p"
        "  WHERE p.vehicle_id = s.vehicle_id"
        "  AND p.fix_time BETWEEN s.at - $6::interval AND s.at + $7::interval"
        "  ORDER BY p.fix_time DESC LIMIT 1) p ON true",
        [s.scan_id for s in scans], [s.device_id for s in scans], [s.site_id for s in scans],
        [s.vehicle_id for s in scans], [s.scan.scanned_at for s in scans],
        POSITION_BEFORE_SCAN, POSITION_AFTER_SCAN, [s.coil_id for s in scans])
    return {r["scan_id"]: ScanPlace(r["site_id"], r["site_lat"], r["site_lon"],
                                    r["vehicle_lat"], r["vehicle_lon"], r["coil_blocked"],
                                    r["site_code"], r["warehouse_of"], r["coil_owner"],
                                    r["scanner_site_id"], r["scanner_warehouse_of"])
            for r in rows}


@dataclass(frozen=True, slots=True)
class Manifest:
    """How far a leg's manifest has come off at its destination."""

    coils: int
    at_destination: int  # coils whose current location is the destination site
    received: int  # coils with a receiving scan since the leg set out
    handled: bool  # any unloading or receiving scan of a manifest coil since then


async def manifests(tx: Executor, leg_ids: Sequence[int]) -> dict[int, Manifest]:
    rows = await tx.fetch(
        "WITH m AS (SELECT lc.leg_id, lc.coil_id, l.destination_site_id AS dest,"
        "  coalesce(l.actual_departure, l.planned_departure) AS since"
        "  FROM leg_coil lc JOIN shipment_leg l ON l.id = lc.leg_id WHERE lc.leg_id = ANY($1))"
        " SELECT m.leg_id, count(*) AS coils,"
        "  count(*) FILTER (WHERE cl.site_id = m.dest AND cl.since >= m.since) AS at_destination,"
        "  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM scan_event s WHERE s.coil_id = m.coil_id"
        "   AND s.step = 'receiving' AND s.scanned_at >= m.since)) AS received,"
        "  bool_or(EXISTS (SELECT 1 FROM scan_event s WHERE s.coil_id = m.coil_id"
        "   AND s.step IN ('unloading', 'receiving') AND s.scanned_at >= m.since)) AS handled"
        " FROM m LEFT JOIN coil_location cl ON cl.coil_id = m.coil_id GROUP BY m.leg_id",
        list(leg_ids))
    return {r["leg_id"]: Manifest(r["coils"], r["at_destination"], r["received"],
                                  r["handled"]) for r in rows}

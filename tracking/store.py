"""Batch writes of what the ingester accepted, each idempotent under redelivery.

A batch is written in a handful of statements whatever its size: positions go through
COPY into a per-connection temporary table and one ``INSERT ... SELECT ... ON CONFLICT
DO NOTHING RETURNING``, so a fix the broker redelivers (or a device republishes) is
stored once, and the caller learns which rows are new: only those may fire detection.
Scans, vessel data and rejections are one ``unnest`` statement each.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

from domain.db import Executor, Transaction, json_dumps
from tracking.model import Fix, Scan, Source, VoyageData

log = logging.getLogger("keylink.tracking.store")

# The first 4 KiB of a rejected payload is kept: enough to see what was wrong.
REJECTED_PAYLOAD_BYTES = 4096

_POSITION_COLUMNS = (
    "device_id", "vehicle_id", "fix_time", "received_at", "latitude", "longitude",
    "speed_kmh", "heading", "accuracy_m", "source",
)
_COLUMNS = ", ".join(_POSITION_COLUMNS)


@dataclass(frozen=True, slots=True)
class PositionRow:
    device_id: int
    vehicle_id: int
    fix: Fix
    received_at: datetime

    @property
    def key(self) -> tuple[int, int, datetime]:
        return self.device_id, self.vehicle_id, self.fix.fix_time


@dataclass(frozen=True, slots=True)
class ScanRow:
    device_id: int
    scan: Scan
    site_id: int | None
    vehicle_id: int | None
    received_at: datetime

    @property
    def key(self) -> tuple[int, datetime, str]:
        return self.device_id, self.scan.scanned_at, self.scan.code


@dataclass(frozen=True, slots=True)
class StoredScanRow:
    row: ScanRow
    scan_id: int
    coil_id: int | None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    topic: str
    payload: bytes
    received_at: datetime
    reason: str
    detail: str
    device_code: str | None

    @property
    def digest(self) -> bytes:
        return message_digest(self.topic, self.payload)


def message_digest(topic: str, payload: bytes) -> bytes:
    # MQTT forbids U+0000 in topic names, so the separator keeps ("a", "bc") and
    # ("ab", "c") apart.
    return hashlib.sha256(topic.encode() + b"\x00" + payload).digest()


async def insert_positions(
    tx: Transaction, rows: list[PositionRow]
) -> set[tuple[int, int, datetime]]:
    """Store the rows; returns the (device id, vehicle id, fix time) keys that were not
    there yet."""
    if not rows:
        return set()
    unique = {row.key: row for row in rows}
    await tx.execute(
        "CREATE TEMP TABLE IF NOT EXISTS incoming_position"
        " (LIKE position INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    records = [
        (r.device_id, r.vehicle_id, r.fix.fix_time, r.received_at, r.fix.latitude,
         r.fix.longitude, r.fix.speed_kmh, r.fix.heading, r.fix.accuracy_m, r.fix.source.value)
        for r in unique.values()
    ]
    await tx.connection.copy_records_to_table(
        "incoming_position", records=records, columns=_POSITION_COLUMNS)
    stored = await tx.fetch(
        f"INSERT INTO position ({_COLUMNS}) SELECT {_COLUMNS} FROM incoming_position"
        " ON CONFLICT (vehicle_id, fix_time, device_id) DO NOTHING"
        " RETURNING device_id, vehicle_id, fix_time"
    )
    return {(r["device_id"], r["vehicle_id"], r["fix_time"]) for r in stored}


_INSERT_SCANS = """
INSERT INTO scan_event (device_id, code, coil_id, step, site_id, vehicle_id, scanned_at,
                        received_at, parsed)
SELECT s.device_id, s.code, c.id, s.step, s.site_id, s.vehicle_id, s.scanned_at,
       s.received_at, s.parsed::jsonb
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
            $7::timestamptz[], $8::timestamptz[], $9::text[])
     AS s(device_id, code, coil_number, step, site_id, vehicle_id, scanned_at, received_at,
          parsed)
LEFT JOIN coil c ON c.coil_no = s.coil_number
ON CONFLICT (device_id, scanned_at, code) DO NOTHING
RETURNING id, device_id, scanned_at, code, coil_id
"""


async def insert_scans(tx: Executor, rows: list[ScanRow]) -> list[StoredScanRow]:
    """Store the scans, naming the coil where the code is a known coil number; returns
    the scans that were not there yet."""
    if not rows:
        return []
    unique = {row.key: row for row in rows}
    values = list(unique.values())
    stored = await tx.fetch(
        _INSERT_SCANS,
        [r.device_id for r in values], [r.scan.code for r in values],
        [r.scan.coil_number for r in values], [r.scan.step.value for r in values],
        [r.site_id for r in values], [r.vehicle_id for r in values],
        [r.scan.scanned_at for r in values], [r.received_at for r in values],
        [json_dumps(r.scan.parsed) for r in values],
    )
    return [
        StoredScanRow(unique[(s["device_id"], s["scanned_at"], s["code"])], s["id"], s["coil_id"])
        for s in stored
    ]


async def update_vessels(
    tx: Executor, voyages: list[VoyageData], heard_at: datetime
) -> None:
    """Keep each vessel's name, IMO number, reported destination and ETA as its AIS
    static and voyage data reports them."""
    latest = {v.mmsi: v for v in voyages}
    if not latest:
        return
    values = list(latest.values())
    # Rewriting an unchanged row would only churn: a ship repeats its static data
    # every six minutes.
    await tx.execute(
        """UPDATE vehicle v SET name = coalesce(u.name, v.name), imo = coalesce(u.imo, v.imo),
                  reported_destination = u.destination, reported_eta = u.eta,
                  voyage_heard_at = $6
           FROM unnest($1::bigint[], $2::text[], $3::int[], $4::text[], $5::timestamptz[])
                AS u(mmsi, name, imo, destination, eta)
           WHERE v.mmsi = u.mmsi
             AND (v.name IS DISTINCT FROM coalesce(u.name, v.name)
                  OR v.imo IS DISTINCT FROM coalesce(u.imo, v.imo)
                  OR v.reported_destination IS DISTINCT FROM u.destination
                  OR v.reported_eta IS DISTINCT FROM u.eta)""",
        [v.mmsi for v in values], [v.name or None for v in values],
        [v.imo if v.imo is not None and 1000000 <= v.imo <= 9999999 else None for v in values],
        [v.destination or None for v in values], [v.eta for v in values], heard_at,
    )


async def insert_rejections(tx: Executor, rows: list[RejectedRow]) -> None:
    """Record rejected messages, each once however often it is redelivered."""
    unique = {row.digest: row for row in rows}
    if not unique:
        return
    values = list(unique.items())
    await tx.execute(
        """INSERT INTO rejected_message (received_at, topic, payload, payload_bytes, reason,
                                         detail, device_code, digest)
           SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::bytea[], $4::int[],
                                $5::text[], $6::text[], $7::text[], $8::bytea[])
           ON CONFLICT (digest) DO NOTHING""",
        [r.received_at for _, r in values], [r.topic for _, r in values],
        [r.payload[:REJECTED_PAYLOAD_BYTES] for _, r in values],
        [len(r.payload) for _, r in values], [r.reason for _, r in values],
        [r.detail or None for _, r in values], [r.device_code for _, r in values],
        [digest for digest, _ in values],
    )


# A vehicle serves a shipment from loading until it is unloaded: its customers follow
# it from then on.
_SERVING = """
SELECT l.vehicle_id, l.shipment_id,
       coalesce(array_agg(c.org_id) FILTER (WHERE c.org_id IS NOT NULL), '{}') AS org_ids
FROM shipment_leg l LEFT JOIN shipment_customer c USING (shipment_id)
WHERE l.vehicle_id = ANY($1)
  AND l.status IN ('loading', 'departed', 'in_transit', 'arrived', 'exception')
GROUP BY l.vehicle_id, l.shipment_id
"""


async def serving_shipments(
    tx: Executor, vehicle_ids: Iterable[int]
) -> dict[int, list[tuple[int, list[int]]]]:
    """vehicle id -> [(shipment id, customer org ids)] of the shipments it carries now."""
    ids = list(vehicle_ids)
    serving: dict[int, list[tuple[int, list[int]]]] = {}
    if ids:
        for r in await tx.fetch(_SERVING, ids):
            serving.setdefault(r["vehicle_id"], []).append((r["shipment_id"], r["org_ids"]))
    return serving


async def shipment_customers(tx: Executor, shipment_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = list(shipment_ids)
    if not ids:
        return {}
    rows = await tx.fetch(
        "SELECT shipment_id, array_agg(org_id) AS org_ids FROM shipment_customer"
        " WHERE shipment_id = ANY($1) GROUP BY shipment_id", ids)
    return {r["shipment_id"]: r["org_ids"] for r in rows}


class Partitions:
    """Makes sure the daily position partitions a batch needs exist, once per day and
    process.

    Only days inside the retention window get a partition: a fix older than that would
    be dropped within the hour, and it is kept in the default partition instead.
    """

    def __init__(self, retention_days: int, *, ahead_days: int = 3) -> None:
        self.retention_days = retention_days
        self.ahead_days = ahead_days
        self._known: set[date] = set()

    async def ensure(self, db: Executor, days: Iterable[date]) -> None:
        today = datetime.now(UTC).date()
        first = today - timedelta(days=self.retention_days)
        wanted = sorted({d for d in days if d not in self._known and first <= d})
        for day in wanted:
            await self._create(db, day)

    async def ensure_ahead(self, db: Executor) -> None:
        today = datetime.now(UTC).date()
        await self.ensure(db, (today + timedelta(days=i) for i in range(-1, self.ahead_days + 1)))

    async def _create(self, db: Executor, day: date) -> None:
        # On a connection of its own, not in the batch's transaction (which has touched
        # no position row yet): creating a partition locks the whole table, and two
        # ingesters racing to create the same one must not fail a batch.
        try:
            await db.fetchval("SELECT ensure_position_partitions($1::date, 1)", day)
        except (asyncpg.DuplicateTableError, asyncpg.UniqueViolationError):
            pass  # another ingester made it a moment ago
        except asyncpg.CheckViolationError:
            # The default partition already holds rows of that day, so it cannot get
            # its own; its fixes keep going to the default partition.
            log.warning("position partition for %s not created: the default partition "
                        "holds rows of that day", day)
        self._known.add(day)


# The newest stored fix of each vehicle, looked at in recent partitions only: an older
# one says nothing a filter could use.
_LATEST = """
SELECT v.id AS vehicle_id, p.fix_time, p.latitude, p.longitude, p.speed_kmh, p.heading,
       p.accuracy_m, p.source
FROM unnest($1::bigint[]) AS v(id)
CROSS JOIN LATERAL (
    SELECT * FROM position
    WHERE vehicle_id = v.id AND fix_time > now() - interval '7 days'
    ORDER BY fix_time DESC LIMIT 1
) p
"""


async def latest_positions(db: Executor, vehicle_ids: Iterable[int]) -> dict[int, Fix]:
    ids = list(vehicle_ids)
    if not ids:
        return {}
    return {
        r["vehicle_id"]: Fix(
            device="", fix_time=r["fix_time"], latitude=r["latitude"], longitude=r["longitude"],
            speed_kmh=r["speed_kmh"], heading=r["heading"], accuracy_m=r["accuracy_m"],
            source=Source(r["source"]),
        )
        for r in await db.fetch(_LATEST, ids)
    }


async def drop_old_positions(db: Executor, keep_days: int) -> int:
    """Drop the daily partitions past the retention period; returns how many."""
    dropped: int = await db.fetchval("SELECT drop_position_partitions($1)", keep_days)
    return dropped

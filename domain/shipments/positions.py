"""Vehicles and where they are: the latest fix (live state in Redis, the database behind
it) and a shipment's track, thinned in SQL.

The ingester keeps each vehicle's latest fix in Redis, field ``{id}`` of its group's hash
``vehicles:{g<n>}:latest`` (see ``tracking/live.py``). When Redis is not configured,
holds nothing for a vehicle or is down, the newest row of ``position`` stands in.
Visibility follows ``domain/tenancy.py``: a customer sees the vehicles put on legs of
its shipments, where one is only while it carries the customer's coils, and a
shipment's positions only within the time each leg's vehicle had them aboard.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import struct
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from domain.actor import Permissions
from domain.db import Executor
from domain.tenancy import CARRYING, Scope

log = logging.getLogger(__name__)

# A track never returns more points than this, whatever the client asks.
MAX_TRACK_POINTS = 5000

# Every vehicle's position at once is the mill's logistics staff's view; a customer sees
# the vehicles of its own shipments only (through the shipments' reads).
PERMISSIONS = Permissions({
    "watch_fleet": ("logistics", "admin"),
})


@dataclass(frozen=True, slots=True)
class Fix:
    vehicle_id: int
    fix_time: datetime
    latitude: float
    longitude: float
    speed_kmh: float | None
    heading: float | None
    accuracy_m: float | None


@dataclass(frozen=True, slots=True)
class Vehicle:
    id: int
    code: str
    kind: str
    name: str
    plate: str | None
    mmsi: int | None
    imo: int | None
    carrier_org_id: int | None
    reported_destination: str | None
    reported_eta: datetime | None
    voyage_heard_at: datetime | None


VEHICLE_COLS = (
    "x.id, x.code, x.kind, x.name, x.plate, x.mmsi, x.imo, x.carrier_org_id,"
    " x.reported_destination, x.reported_eta, x.voyage_heard_at"
)


async def vehicles_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Vehicle]:
    rows = await db.fetch(
        f"SELECT {VEHICLE_COLS} FROM vehicle x WHERE x.id = ANY($2::bigint[])"
        f" AND {Scope.vehicle('x')}", scope.org_id, list(ids))
    return [Vehicle(**dict(r)) for r in rows]


async def vehicles_by_codes(db: Executor, scope: Scope, codes: Sequence[str]) -> list[Vehicle]:
    rows = await db.fetch(
        f"SELECT {VEHICLE_COLS} FROM vehicle x WHERE x.code = ANY($2::text[])"
        f" AND {Scope.vehicle('x')}", scope.org_id, list(codes))
    return [Vehicle(**dict(r)) for r in rows]


async def carried_shipments(
    db: Executor, scope: Scope, vehicle_ids: Sequence[int]
) -> dict[int, list[int]]:
    """The shipments (the scope sees) that each vehicle has aboard now."""
    rows = await db.fetch(
        "SELECT DISTINCT l.vehicle_id, l.shipment_id FROM shipment_leg l"
        " JOIN shipment s ON s.id = l.shipment_id WHERE l.vehicle_id = ANY($2::bigint[])"
        f" AND l.status IN {CARRYING} AND {Scope.shipment('s')}"
        " ORDER BY l.vehicle_id, l.shipment_id", scope.org_id, list(vehicle_ids))
    out: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        out[r["vehicle_id"]].append(r["shipment_id"])
    return out


_SINGLE = struct.Struct("<f")


def float4(value: float | None) -> float | None:
    """A speed, heading or accuracy as the ``real`` (float4) column keeps it, written with
    the fewest digits that read back to the same float4 (as PostgreSQL prints it):
    ``77.7`` rather than ``77.69999694824219``. The live messages carry the same value, so
    a subscription and a query agree on every fix."""
    if value is None or not math.isfinite(value):
        return value
    if value == 0:
        return float(value)  # a zero keeps its sign
    return _shortest(value)


# Every fix read or published passes three values here, and they repeat (speeds and
# headings to a tenth, a few accuracies): each is worked out once.
@functools.lru_cache(maxsize=16384)
def _shortest(value: float) -> float:
    try:
        single = _SINGLE.unpack(_SINGLE.pack(value))[0]
    except OverflowError:
        return value
    for digits in range(1, 10):
        text = f"{single:.{digits}g}"
        if _SINGLE.unpack(_SINGLE.pack(float(text)))[0] == single:
            return float(text)
    return float(single)


# The live state's layout (tracking/live.py writes it). Vehicles fall into LIVE_GROUPS
# groups by id; a group's latest position messages are one hash and its places one GEO
# set, both under the group's hash tag, so that one script updates both on one cluster
# node, and the groups spread the load over every node of a cluster.
LIVE_GROUPS = 128


def live_group(vehicle_id: int) -> int:
    return vehicle_id % LIVE_GROUPS


def latest_key(group: int) -> str:
    """The hash of the group's latest position messages: field ``{id}`` the message,
    ``{id}:ms`` its fix time in epoch milliseconds."""
    return f"vehicles:{{g{group}}}:latest"


def geo_key(group: int) -> str:
    """The GEO set of the group's vehicles' newest positions, member = vehicle id."""
    return f"vehicles:{{g{group}}}:geo"


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float4(float(value))


def parse_live_fix(data: Mapping[str, Any]) -> Fix | None:
    """A fix from a live position message (``tracking/live.py``); None if it is not one."""
    try:
        return Fix(
            vehicle_id=int(data["vehicle_id"]),
            fix_time=datetime.fromisoformat(str(data["fix_time"]).replace("Z", "+00:00")),
            latitude=float(data["lat"]), longitude=float(data["lon"]),
            speed_kmh=_number(data.get("speed_kmh")), heading=_number(data.get("heading")),
            accuracy_m=_number(data.get("accuracy_m")),
        )
    except (KeyError, TypeError, ValueError):
        return None


async def read_live_messages(redis: Any, vehicle_ids: Sequence[int]) -> list[Any]:
    """Each vehicle's latest position message as Redis holds it (None where it holds
    none), in order: one HMGET per group, in one pipeline (on a cluster, one round trip
    per node). Raises what Redis raises."""
    groups: dict[int, list[int]] = defaultdict(list)
    for vid in vehicle_ids:
        groups[live_group(vid)].append(vid)
    async with redis.pipeline(transaction=False) as pipe:
        for group, ids in groups.items():
            pipe.hmget(latest_key(group), [str(v) for v in ids])
        replies = await pipe.execute()
    found: dict[int, Any] = {}
    for ids, values in zip(groups.values(), replies, strict=True):
        found.update(zip(ids, values, strict=True))
    return [found[v] for v in vehicle_ids]


async def read_live(redis: Any, vehicle_ids: Sequence[int]) -> dict[int, Fix]:
    """The latest fixes Redis holds for these vehicles (their fields of their groups'
    hashes). Empty when Redis is not configured or away."""
    if redis is None or not vehicle_ids:
        return {}
    try:
        found = await read_live_messages(redis, vehicle_ids)
    except (OSError, RedisError) as exc:
        # The database still knows where everything was; live state is a shortcut.
        log.warning("live state unavailable: %s", exc)
        return {}
    out: dict[int, Fix] = {}
    for vid, text in zip(vehicle_ids, found, strict=True):
        try:
            fix = parse_live_fix(json.loads(text)) if text else None
        except ValueError:
            fix = None
        if fix is not None and fix.vehicle_id == vid:
            out[vid] = fix
    return out


_FIX_COLS = "p.fix_time, p.latitude, p.longitude, p.speed_kmh, p.heading, p.accuracy_m"


def _fix(vehicle_id: int, r: Any) -> Fix:
    """A fix as read from ``position``: its float4 columns as they were published."""
    return Fix(vehicle_id, r["fix_time"], r["latitude"], r["longitude"],
               float4(r["speed_kmh"]), float4(r["heading"]), float4(r["accuracy_m"]))


async def latest_fixes(
    db: Executor, redis: Any, scope: Scope, vehicle_ids: Sequence[int]
) -> dict[int, Fix]:
    """The latest fix of each vehicle whose position the scope may see now."""
    ids = list(vehicle_ids)
    if scope.org_id is not None:
        rows = await db.fetch(
            f"SELECT x.id FROM vehicle x WHERE x.id = ANY($2::bigint[])"
            f" AND {Scope.vehicle_now('x')}", scope.org_id, ids)
        ids = [r["id"] for r in rows]
    out = await read_live(redis, ids)
    missing = [v for v in ids if v not in out]
    if missing:
        rows = await db.fetch(
            f"SELECT v.id, {_FIX_COLS} FROM unnest($1::bigint[]) v(id) CROSS JOIN LATERAL"
            " (SELECT * FROM position p WHERE p.vehicle_id = v.id"
            " ORDER BY p.fix_time DESC LIMIT 1) p", missing)
        out.update({r["id"]: _fix(r["id"], r) for r in rows})
    return out


def current_legs(shipments: str) -> str:
    """Each shipment's current leg (of those where ``shipments`` holds of ``l``): the
    first that carries its coils now, else the last one that set off. Its window is when
    the vehicle had them aboard (open while it still does). ``$1`` is the scope."""
    return f"""
    SELECT DISTINCT ON (l.shipment_id) l.shipment_id, l.vehicle_id,
           l.status IN {CARRYING} AS carrying,
           coalesce(l.actual_departure, l.planned_departure) AS t0,
           CASE WHEN l.status IN {CARRYING} THEN 'infinity'::timestamptz
                ELSE coalesce(l.actual_arrival, l.planned_arrival) END AS t1
    FROM shipment_leg l JOIN shipment s ON s.id = l.shipment_id
    WHERE {shipments} AND l.vehicle_id IS NOT NULL
      AND (l.status IN {CARRYING} OR l.actual_departure IS NOT NULL) AND {Scope.shipment('s')}
    ORDER BY l.shipment_id, l.status IN {CARRYING} DESC,
             CASE WHEN l.status IN {CARRYING} THEN l.seq ELSE -l.seq END
"""


_CURRENT_LEG = current_legs("l.shipment_id = ANY($2::bigint[])")


def stored_fix(shipment: str) -> str:
    """The statement of one shipment's latest stored position (``shipment`` is its id):
    its current leg's vehicle's latest fix while it had the shipment aboard, as
    :func:`shipment_fixes` reads it from the database, under the shipment's rule."""
    return (f"SELECT p.* FROM ({current_legs(f'l.shipment_id = {shipment}')}) w"
            " CROSS JOIN LATERAL (SELECT * FROM position p WHERE p.vehicle_id = w.vehicle_id"
            " AND p.fix_time BETWEEN w.t0 AND w.t1 ORDER BY p.fix_time DESC LIMIT 1) p")


async def shipment_fixes(
    db: Executor, redis: Any, scope: Scope, shipment_ids: Sequence[int]
) -> dict[int, Fix]:
    """Each shipment's latest position: its current leg's vehicle, while it had the
    shipment aboard. Live state serves legs under way; finished ones read the database."""
    legs = await db.fetch(_CURRENT_LEG, scope.org_id, list(shipment_ids))
    live = await read_live(redis, [r["vehicle_id"] for r in legs if r["carrying"]])
    out: dict[int, Fix] = {}
    fallback = []
    for r in legs:
        fix = live.get(r["vehicle_id"]) if r["carrying"] else None
        if fix is not None and fix.fix_time >= r["t0"]:
            out[r["shipment_id"]] = fix
        else:
            fallback.append(r)
    if fallback:
        rows = await db.fetch(
            f"SELECT w.shipment_id, w.vehicle_id, {_FIX_COLS} FROM unnest($1::bigint[],"
            " $2::bigint[], $3::timestamptz[], $4::timestamptz[]) w(shipment_id, vehicle_id,"
            " t0, t1) CROSS JOIN LATERAL (SELECT * FROM position p"
            " WHERE p.vehicle_id = w.vehicle_id AND p.fix_time BETWEEN w.t0 AND w.t1"
            " ORDER BY p.fix_time DESC LIMIT 1) p",
            [r["shipment_id"] for r in fallback], [r["vehicle_id"] for r in fallback],
            [r["t0"] for r in fallback], [r["t1"] for r in fallback])
        out.update({r["shipment_id"]: _fix(r["vehicle_id"], r) for r in rows})
    return out


async def tracks(
    db: Executor, scope: Scope, shipment_ids: Sequence[int], start: datetime | None,
    end: datetime | None, max_points: int,
) -> dict[int, list[Fix]]:
    """Each shipment's path between ``start`` and ``end``, oldest first, in one statement:
    the fixes of each leg's vehicle while it had the shipment aboard. Longer than
    ``max_points``, a path is thinned to the first fix of each of ``max_points - 1``
    equal time buckets, plus the last fix: the first and the last always stay."""
    if not 2 <= max_points <= MAX_TRACK_POINTS:
        raise ValueError(f"max_points must be between 2 and {MAX_TRACK_POINTS}")
    rows = await db.fetch(
        f"""
        WITH windows AS (
            SELECT l.shipment_id, l.vehicle_id,
                   greatest(coalesce(l.actual_departure, l.planned_departure),
                            coalesce($3, '-infinity'::timestamptz)) AS t0,
                   least(CASE WHEN l.status IN {CARRYING} THEN 'infinity'::timestamptz
                              ELSE coalesce(l.actual_arrival, l.planned_arrival) END,
                         coalesce($4, 'infinity'::timestamptz)) AS t1
            FROM shipment_leg l JOIN shipment s ON s.id = l.shipment_id
            WHERE l.shipment_id = ANY($2::bigint[]) AND l.vehicle_id IS NOT NULL
              AND (l.status IN {CARRYING} OR l.actual_departure IS NOT NULL)
              AND {Scope.shipment('s')}
        ), fixes AS (
            SELECT w.shipment_id, p.vehicle_id, {_FIX_COLS},
                   count(*) OVER w AS n, min(p.fix_time) OVER w AS first_at,
                   max(p.fix_time) OVER w AS last_at
            FROM windows w JOIN position p ON p.vehicle_id = w.vehicle_id
             AND p.fix_time BETWEEN w.t0 AND w.t1
            WINDOW w AS (PARTITION BY w.shipment_id)
        ), bucketed AS (
            SELECT *, CASE
                WHEN n <= $5 THEN row_number() OVER (PARTITION BY shipment_id ORDER BY fix_time)
                WHEN fix_time = last_at THEN $5 - 1
                ELSE least($5 - 2, floor(extract(epoch FROM fix_time - first_at) * ($5 - 1)
                                         / extract(epoch FROM last_at - first_at)))
                END AS bucket
            FROM fixes
        )
        SELECT shipment_id, vehicle_id, fix_time, latitude, longitude, speed_kmh, heading,
               accuracy_m
        FROM (SELECT *, row_number() OVER (PARTITION BY shipment_id, bucket ORDER BY fix_time)
                        AS k FROM bucketed) t
        WHERE k = 1 ORDER BY shipment_id, fix_time
        """,
        scope.org_id, list(shipment_ids), start, end, max_points)
    out: dict[int, list[Fix]] = defaultdict(list)
    for r in rows:
        out[r["shipment_id"]].append(_fix(r["vehicle_id"], r))
    return out


async def vehicle_ids_with_fixes(db: Executor) -> list[int]:
    """Every vehicle that has reported: what a fleet-wide live view starts from (staff)."""
    rows = await db.fetch("SELECT x.id FROM vehicle x WHERE EXISTS"
                          " (SELECT 1 FROM position p WHERE p.vehicle_id = x.id) ORDER BY x.id")
    return [r["id"] for r in rows]

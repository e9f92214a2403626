"""Legs as detection sees them, and every change of a leg's status or timing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.db import Executor, Record
from domain.errors import NotFound
from domain.shipments.states import (
    ACTIVE,
    UNLOADED_WATCH,
    check_transition,
    path_to,
    shipment_status,
)


@dataclass(frozen=True, slots=True)
class Leg:
    """A leg of a shipment as stored."""

    id: int
    shipment_id: int
    seq: int
    mode: str
    vehicle_id: int | None
    origin_site_id: int
    destination_site_id: int
    planned_departure: datetime
    planned_arrival: datetime
    promised_by: datetime | None
    status: str
    actual_departure: datetime | None
    actual_arrival: datetime | None
    eta: datetime | None
    eta_confidence: Decimal | None
    delayed: bool


@dataclass(frozen=True, slots=True)
class ActiveLeg(Leg):
    """A leg as detection keeps it while it is watched: with the coils it carries. Its
    ETA is the one stored when it was read; detection writes ETAs, never reads them here."""

    coil_ids: frozenset[int]


LEG_COLS = (
    "l.id, l.shipment_id, l.seq, l.mode, l.vehicle_id, l.origin_site_id,"
    " l.destination_site_id, l.planned_departure, l.planned_arrival, l.promised_by, l.status,"
    " l.actual_departure, l.actual_arrival, l.eta, l.eta_confidence, l.delayed"
)
_ACTIVE_LEG_COLS = (
    f"{LEG_COLS}, array(SELECT lc.coil_id FROM leg_coil lc WHERE lc.leg_id = l.id) AS coil_ids"
)
# Legs under way, then legs still waiting, then legs delivered, each by plan: a vehicle's
# current leg first.
_LEG_ORDER = ("l.vehicle_id, (l.status = 'unloaded'), (l.status = 'planned'),"
              " l.planned_departure, l.id")
_WATCHED = ("l.status = ANY($2) AND (l.status <> 'unloaded'"
            " OR coalesce(l.actual_arrival, l.planned_arrival) > now() - $3::interval)")


# Legs in these states are over: their vehicle no longer has the coils.
_ENDED = "('unloaded', 'received', 'cancelled')"


def current_leg_id(shipment: str) -> str:
    """The id of a shipment's current leg: its first leg (by seq) not yet over."""
    return (f"(SELECT g.id FROM shipment_leg g WHERE g.shipment_id = {shipment}"
            f" AND g.status NOT IN {_ENDED} ORDER BY g.seq LIMIT 1)")


def current_leg_eta(shipment: str) -> str:
    return (f"(SELECT g.eta FROM shipment_leg g WHERE g.shipment_id = {shipment}"
            f" AND g.status NOT IN {_ENDED} ORDER BY g.seq LIMIT 1)")


def any_leg_delayed(shipment: str) -> str:
    return (f"coalesce((SELECT bool_or(g.delayed) FROM shipment_leg g"
            f" WHERE g.shipment_id = {shipment}), false)")


def _leg(row: Record) -> ActiveLeg:
    values = dict(row)
    values["coil_ids"] = frozenset(values["coil_ids"])
    return ActiveLeg(**values)


async def active_legs_for_vehicles(
    tx: Executor, vehicle_ids: Sequence[int]
) -> dict[int, list[ActiveLeg]]:
    """Each vehicle's unfinished legs, its current one first."""
    rows = await tx.fetch(
        f"SELECT {_ACTIVE_LEG_COLS} FROM shipment_leg l"
        f" WHERE l.vehicle_id = ANY($1) AND {_WATCHED}"
        f" ORDER BY {_LEG_ORDER}", list(vehicle_ids), list(ACTIVE), UNLOADED_WATCH)
    out: dict[int, list[ActiveLeg]] = {}
    for r in rows:
        out.setdefault(r["vehicle_id"], []).append(_leg(r))
    return out


async def active_legs_for_coils(tx: Executor, coil_ids: Sequence[int]) -> list[ActiveLeg]:
    """The unfinished legs carrying any of these coils."""
    rows = await tx.fetch(
        f"SELECT {_ACTIVE_LEG_COLS} FROM shipment_leg l WHERE {_WATCHED} AND EXISTS ("
        " SELECT 1 FROM leg_coil lc WHERE lc.leg_id = l.id AND lc.coil_id = ANY($1))"
        f" ORDER BY {_LEG_ORDER}", list(coil_ids), list(ACTIVE), UNLOADED_WATCH)
    return [_leg(r) for r in rows]


async def set_leg_status(
    tx: Executor, leg_id: int, status: str, *, at: datetime
) -> str:
    """One transition of the state machine; returns the shipment's status after it.
    Departure and arrival times are the times of those transitions."""
    current = await tx.fetchval(
        "SELECT status FROM shipment_leg WHERE id = $1 FOR UPDATE", leg_id)
    if current is None:
        raise NotFound("no such leg", field="legId")
    check_transition(current, status)
    return await _write_status(tx, leg_id, status, at)


async def advance_leg(tx: Executor, leg_id: int, target: str, *, at: datetime) -> list[str]:
    """Move a leg forward to ``target`` through every state between (see :func:`path_to`);
    the states entered, empty when the leg is already there or beyond."""
    current = await tx.fetchval(
        "SELECT status FROM shipment_leg WHERE id = $1 FOR UPDATE", leg_id)
    if current is None:
        raise NotFound("no such leg", field="legId")
    steps = path_to(current, target)
    for status in steps:
        await _write_status(tx, leg_id, status, at)
    return steps


async def _write_status(tx: Executor, leg_id: int, status: str, at: datetime) -> str:
    shipment_id = await tx.fetchval(
        "UPDATE shipment_leg SET status = $2,"
        " actual_departure = CASE WHEN $2 = 'departed' THEN $3 ELSE actual_departure END,"
        " actual_arrival = CASE WHEN $2 = 'arrived' THEN $3 ELSE actual_arrival END"
        " WHERE id = $1 RETURNING shipment_id", leg_id, status, at)
    statuses = await tx.fetch(
        "SELECT status FROM shipment_leg WHERE shipment_id = $1 ORDER BY seq", shipment_id)
    derived = shipment_status([r["status"] for r in statuses])
    await tx.execute(
        "UPDATE shipment SET status = $2, updated_at = now() WHERE id = $1 AND status <> $2",
        shipment_id, derived)
    return derived


async def write_etas(tx: Executor, etas: Sequence[tuple[int, datetime, float, bool]]) -> None:
    """(leg id, eta, confidence, delayed) for each leg, in one statement (an
    ``executemany`` would have the server execute one update a leg)."""
    if not etas:
        return
    legs, times, confidences, delays = zip(*etas, strict=True)
    await tx.execute(
        "UPDATE shipment_leg l SET eta = e.eta, eta_confidence = e.confidence,"
        " delayed = e.delayed FROM unnest($1::bigint[], $2::timestamptz[], $3::float8[],"
        " $4::bool[]) AS e(id, eta, confidence, delayed) WHERE l.id = e.id",
        list(legs), list(times), [round(c, 3) for c in confidences], list(delays))

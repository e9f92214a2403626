"""What each event of a batch is about (contracts, grades, transport modes, destinations,
delay), read in one statement per kind of aggregate for the whole batch.

Events carry little in their payload; their aggregate (a contract, line, coil or
shipment) says the rest. Payload keys ``contract``, ``grade``, ``transport_mode``,
``destination`` and ``delay_hours`` add to (or, for events of later areas, stand in for)
what the aggregate tells.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.db import Executor
from domain.events import DomainEvent
from domain.push.matching import Facets

_LINE_FACETS = """
SELECT l.id, l.contract_id, c.number, s.grade, l.transport_mode, st.code AS destination
  FROM contract_line l JOIN contract c ON c.id = l.contract_id
  JOIN steel_spec s ON s.id = l.spec_id LEFT JOIN site st ON st.id = l.delivery_site_id
"""


class _Acc:
    __slots__ = ("contracts", "delay", "destinations", "grades", "modes")

    def __init__(self) -> None:
        self.contracts: set[str] = set()
        self.grades: set[str] = set()
        self.modes: set[str] = set()
        self.destinations: set[str] = set()
        self.delay: float | None = None

    def add_row(self, row: Any) -> None:
        self.contracts.add(row["number"])
        self.grades.add(row["grade"])
        self.modes.add(row["transport_mode"])
        if row["destination"] is not None:
            self.destinations.add(row["destination"])

    def facets(self) -> Facets:
        return Facets(frozenset(self.contracts), frozenset(self.grades),
                      frozenset(self.modes), frozenset(self.destinations), self.delay)


async def facets_of(db: Executor, batch: Sequence[DomainEvent]) -> dict[int, Facets]:
    acc: dict[int, _Acc] = {e.seq: _Acc() for e in batch}
    by_kind: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for e in batch:
        by_kind[e.aggregate_type][e.aggregate_id].append(e.seq)
        _from_payload(acc[e.seq], e)
    lines = by_kind.get("contract_line", {})
    if lines:
        for row in await db.fetch(_LINE_FACETS + " WHERE l.id = ANY($1)", list(lines)):
            for seq in lines[row["id"]]:
                acc[seq].add_row(row)
    contracts = by_kind.get("contract", {})
    if contracts:
        for row in await db.fetch(_LINE_FACETS + " WHERE l.contract_id = ANY($1)",
                                  list(contracts)):
            for seq in contracts[row["contract_id"]]:
                acc[seq].add_row(row)
    coils = by_kind.get("coil", {})
    if coils:
        for row in await db.fetch(
                "SELECT k.id AS coil_id, f.* FROM coil k JOIN LATERAL ("
                f"{_LINE_FACETS} WHERE l.id = k.line_id) f ON true WHERE k.id = ANY($1)",
                list(coils)):
            for seq in coils[row["coil_id"]]:
                acc[seq].add_row(row)
    shipments = by_kind.get("shipment", {})
    if shipments:
        await _shipments(db, shipments, acc)
    return {seq: a.facets() for seq, a in acc.items()}


async def _shipments(db: Executor, shipments: dict[int, list[int]], acc: dict[int, _Acc]) -> None:
    ids = list(shipments)
    for row in await db.fetch(
            "SELECT DISTINCT sl.shipment_id, f.number, f.grade, f.transport_mode, f.destination"
            " FROM shipment_leg sl JOIN leg_coil lc ON lc.leg_id = sl.id"
            " JOIN coil k ON k.id = lc.coil_id"
            f" JOIN LATERAL ({_LINE_FACETS} WHERE l.id = k.line_id) f ON true"
            " WHERE sl.shipment_id = ANY($1)", ids):
        for seq in shipments[row["shipment_id"]]:
            a = acc[seq]
            a.contracts.add(row["number"])
            a.grades.add(row["grade"])
    for row in await db.fetch(
            "SELECT sl.shipment_id, sl.mode, st.code FROM shipment_leg sl"
            " JOIN site st ON st.id = sl.destination_site_id WHERE sl.shipment_id = ANY($1)",
            ids):
        for seq in shipments[row["shipment_id"]]:
            acc[seq].modes.add(row["mode"])
            acc[seq].destinations.add(row["code"])


def _from_payload(a: _Acc, e: DomainEvent) -> None:
    p = e.payload
    for key, target in (("contract", a.contracts), ("grade", a.grades),
                        ("transport_mode", a.modes), ("destination", a.destinations)):
        value = p.get(key)
        if isinstance(value, str):
            target.add(value)
        elif isinstance(value, list):
            target.update(v for v in value if isinstance(v, str))
    if e.aggregate_type == "contract" and isinstance(p.get("number"), str):
        a.contracts.add(p["number"])
    a.delay = _delay_hours(e)


def _delay_hours(e: DomainEvent) -> float | None:
    p = e.payload
    if isinstance(p.get("delay_hours"), int | float | str):
        try:
            return float(p["delay_hours"])
        except ValueError:
            return None
    if isinstance(p.get("late_days"), int | float):
        return float(p["late_days"]) * 24
    details = p.get("details")
    if isinstance(details, dict) and "eta" in details and "promised_by" in details:
        try:
            eta = datetime.fromisoformat(str(details["eta"]))
            promised = datetime.fromisoformat(str(details["promised_by"]))
        except ValueError:
            return None
        return max(0.0, (eta - promised).total_seconds() / 3600)
    return None

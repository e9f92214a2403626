"""Demo quality disputes, written through the domain's own operations so that they carry
their steps, events, claims and deductions exactly as real ones do.

FAW-VW has one dispute being corrected (two sibling coils slit from one mother coil where
the data has such, the suspects contained, a claim partially agreed and deducted on the
contract's settlement) and one just processed with a claim submitted; GALANZ has one just
opened. Behind them, a year of closed ones (:func:`history`): each customer's disputes of
the past twelve months, from opening through the claim agreed (in full or in part) and
credited, to the correction verified and completed, dated when they happened.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, cast

from domain.actor import Actor
from domain.db import Database, Transaction
from domain.disputes import claims
from domain.disputes import writes as disputes
from domain.disputes.writes import DisputeInput
from domain.tenancy import Scope

from .catalogue import FAW_VW, GALANZ, MILL


class _Savepoints:
    """The seed's transaction, offering `transaction()` as a savepoint within it, so that
    the domain's operations run inside the one seed transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._tx.connection.transaction():
            yield self._tx


async def _org(tx: Transaction, code: str) -> int:
    org_id: int = await tx.fetchval("SELECT id FROM organization WHERE code = $1", code)
    return org_id


async def _delivered(tx: Transaction, org_id: int, *, siblings: bool,
                     besides: Sequence[int] = ()) -> list[int]:
    """Delivered coils of a customer: with ``siblings``, two slit from one mother coil
    where there are such, else the latest one not among ``besides``."""
    if siblings:
        rows = await tx.fetch(
            "SELECT array_agg(c.id ORDER BY c.id) AS ids FROM coil c JOIN genealogy_edge g"
            " ON g.child_coil_id = c.id WHERE g.parent_coil_id IS NOT NULL"
            f" AND {Scope.delivered('c')} GROUP BY g.parent_coil_id HAVING count(*) >= 2"
            " ORDER BY min(c.id) LIMIT 1", org_id)
        if rows:
            return list(rows[0]["ids"][:2])
    rows = await tx.fetch(f"SELECT c.id FROM coil c WHERE {Scope.delivered('c')}"
                          " AND NOT c.id = ANY($2::bigint[]) ORDER BY c.id DESC LIMIT 1",
                          org_id, list(besides))
    return [r["id"] for r in rows]


async def _affected(tx: Transaction, coils: Sequence[int], tonnes: str) -> Decimal:
    """The tonnes a dispute says are affected, never more than its coils weigh."""
    weighed: Decimal = await tx.fetchval(
        "SELECT sum(weight_kg) / 1000 FROM coil WHERE id = ANY($1::bigint[])", list(coils))
    return min(Decimal(tonnes), weighed).quantize(Decimal("0.001"), rounding=ROUND_DOWN)


async def write(tx: Transaction) -> int:
    """Write the demo disputes; returns how many."""
    db = cast(Database, _Savepoints(tx))
    mill = await _org(tx, MILL)
    quality = Actor("qa.li", mill, frozenset({"quality"}), False)
    finance = Actor("finance.wang", mill, frozenset({"finance"}), False)
    faw = Actor("sqe.zhang", await _org(tx, FAW_VW), frozenset({"customer"}), True)
    galanz = Actor("iqc.chen", await _org(tx, GALANZ), frozenset({"customer"}), True)
    written = 0
    pair = await _delivered(tx, faw.org_id, siblings=True)
    if pair:
        d = await disputes.open_dispute(db, faw, DisputeInput(
            pair, "surface", "Periodic roll marks every 1.57 m on the top side, visible "
            "after e-coating on door outer panels.", await _affected(tx, pair, "8.400"),
            "processing"))
        await disputes.transition(db, quality, d.id, "process", "samples requested")
        await disputes.record(db, quality, d.id, "containment",
                              "Suspect coils of the heat held at Baoshan and in transit; "
                              "customer stock sorted by 100% visual check.")
        await disputes.record(db, quality, d.id, "root_cause",
                              "Work roll of stand 5 chipped; inspection camera threshold "
                              "too coarse to flag it.")
        c = await claims.submit(db, faw, claims.ClaimInput(
            d.id, Decimal("18650.00"), "CNY", "downgrade", note="panels scrapped and sorting"))
        await claims.transition(db, quality, claims.ClaimStep(c.id, "assess"))
        await claims.transition(db, finance, claims.ClaimStep(
            c.id, "partially_agree", Decimal("12400.50"), note="sorting hours not agreed"))
        await disputes.transition(db, quality, d.id, "correct", None)
        await disputes.record(db, quality, d.id, "corrective_action",
                              "Roll changed; camera threshold lowered to 0.2 mm.")
        written += 1
    single = await _delivered(tx, faw.org_id, siblings=False, besides=pair)
    if single:
        d = await disputes.open_dispute(db, faw, DisputeInput(
            single, "dimension", "Thickness 0.06 mm under tolerance at the tail end.",
            await _affected(tx, single, "4.100"), "incoming_inspection"))
        await disputes.transition(db, quality, d.id, "process", None)
        await claims.submit(db, faw, claims.ClaimInput(d.id, Decimal("3200.00"), "CNY",
                                                       "replacement"))
        written += 1
    single = await _delivered(tx, galanz.org_id, siblings=False)
    if single:
        await disputes.open_dispute(db, galanz, DisputeInput(
            single, "coating", "White rust spots on the outer laps after storage.",
            await _affected(tx, single, "2.000"), "storage"))
        written += 1
    return written


# A year of closed disputes: customer, months ago, defect, found during, what was seen,
# tonnes affected, claimed, agreed (None: in full), days to close.
_HISTORY: tuple[tuple[str, int, str, str, str, str, str, str | None, int], ...] = (
    (FAW_VW, 11, "surface", "incoming_inspection", "Scratches along the strip edge.",
     "6.000", "9800.00", None, 18),
    (FAW_VW, 10, "shape", "processing", "Edge wave beyond 3 mm on the blanking line.",
     "10.500", "15200.00", "9600.00", 26),
    (FAW_VW, 8, "coating", "finished_product", "Zinc peeling at the door hem after "
     "e-coating.", "4.200", "21400.00", None, 33),
    (FAW_VW, 6, "dimension", "incoming_inspection", "Width 2 mm under the ordered 1250.",
     "8.000", "6400.00", "4100.00", 14),
    (FAW_VW, 4, "mechanical", "processing", "Splits at the wheel-arch draw: elongation "
     "low.", "12.000", "28600.00", "17250.00", 41),
    (FAW_VW, 2, "surface", "storage", "Oil stains on the inner laps.", "3.500",
     "2900.00", None, 9),
    (GALANZ, 9, "coating", "storage", "White rust on the outer laps after the monsoon.",
     "5.000", "7300.00", "5000.00", 21),
    (GALANZ, 5, "surface", "incoming_inspection", "Roll marks every 1.2 m.", "2.500",
     "3600.00", None, 12),
    (GALANZ, 3, "shape", "processing", "Coil set too strong for the cut-to-length line.",
     "7.000", "8800.00", "6200.00", 19),
)


async def history(tx: Transaction, now: datetime) -> int:
    """Each customer's closed disputes of the past year, through the domain's own steps
    and then dated when they happened; returns how many."""
    db = cast(Database, _Savepoints(tx))
    mill = await _org(tx, MILL)
    quality = Actor("qa.li", mill, frozenset({"quality"}), False)
    finance = Actor("finance.wang", mill, frozenset({"finance"}), False)
    people = {FAW_VW: "sqe.zhang", GALANZ: "iqc.chen"}
    used: list[int] = []
    written = 0
    for n, (code, months, defect, found, seen, tonnes, claimed, agreed,
            days) in enumerate(_HISTORY):
        customer = Actor(people[code], await _org(tx, code), frozenset({"customer"}), True)
        coils = await _delivered(tx, customer.org_id, siblings=False, besides=used)
        if not coils:
            continue
        used += coils
        d = await disputes.open_dispute(db, customer, DisputeInput(
            coils, defect, seen, await _affected(tx, coils, tonnes), found))
        await disputes.transition(db, quality, d.id, "process", None)
        await disputes.record(db, quality, d.id, "root_cause", "Found at the line that "
                              "made it; its settings corrected.")
        c = await claims.submit(db, customer, claims.ClaimInput(
            d.id, Decimal(claimed), "CNY", "credit"))
        await claims.transition(db, quality, claims.ClaimStep(c.id, "assess"))
        c = await claims.transition(db, finance, claims.ClaimStep(
            c.id, "agree" if agreed is None else "partially_agree",
            None if agreed is None else Decimal(agreed),
            note=None if agreed is None else "sorting and freight not agreed"))
        if c.settlement_id is None:  # its invoice was issued: a credit note
            await claims.transition(db, finance, claims.ClaimStep(
                c.id, "credit", credit_note=f"CN-DEMO-{n + 1:04d}"))
        await disputes.transition(db, quality, d.id, "correct", None)
        await disputes.record(db, quality, d.id, "corrective_action", "Line inspection "
                              "tightened for the defect.")
        await disputes.record(db, quality, d.id, "verification", "Three following "
                              "deliveries checked without the defect.")
        await disputes.transition(db, customer, d.id, "complete", None)
        opened = now - timedelta(days=30 * months + n % 7)
        closed = opened + timedelta(days=days)
        await tx.execute(
            "UPDATE quality_dispute SET opened_at = $2, updated_at = $3, closed_at = $3"
            " WHERE id = $1", d.id, opened, closed)
        await tx.execute(
            "UPDATE quality_claim SET submitted_at = $2::timestamptz + interval '2 days',"
            " updated_at = $3"
            " WHERE dispute_id = $1", d.id, opened, closed)
        # The steps spread over the days the dispute took, in the order they were taken.
        await tx.execute(
            "UPDATE dispute_step s SET occurred_at = $2::timestamptz"
            " + ($3::timestamptz - $2::timestamptz) * o.k / greatest(o.n, 1)"
            " FROM (SELECT id, row_number() OVER (ORDER BY occurred_at, id) - 1 AS k,"
            "       count(*) OVER () - 1 AS n FROM dispute_step WHERE dispute_id = $1) o"
            " WHERE s.id = o.id", d.id, opened, closed)
        written += 1
    return written

"""Demo quality disputes, written through the domain's own operations so that they carry
their steps, events, claims and deductions exactly as real ones do.

FAW-VW has one dispute being corrected (two sibling coils slit from one mother coil where
the data has such, the suspects contained, a claim partially agreed and deducted on the
contract's settlement) and one just processed with a claim submitted; GALANZ has one just
opened.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
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

"""Reading quality disputes and their timelines. Every statement binds the viewer's scope
as ``$1``: a customer reads its own disputes, the mill's staff all of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.db import Executor
from domain.tenancy import Scope


@dataclass(frozen=True, slots=True)
class Dispute:
    id: int
    number: str
    customer_org_id: int
    status: str
    defect_kind: str
    description: str
    affected_t: Decimal
    found_during: str
    found_site_id: int | None
    opened_by: str
    opened_at: datetime
    updated_at: datetime
    containment: str | None
    root_cause: str | None
    corrective_action: str | None
    preventive_action: str | None
    verification: str | None
    closed_at: datetime | None
    coil_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Step:
    id: int
    dispute_id: int
    claim_id: int | None
    action: str
    from_status: str | None
    to_status: str | None
    actor: str
    actor_org_id: int
    note: str | None
    detail: dict[str, Any]
    occurred_at: datetime


_COLS = (
    "d.id, d.number, d.customer_org_id, d.status, d.defect_kind, d.description, d.affected_t,"
    " d.found_during, d.found_site_id, d.opened_by, d.opened_at, d.updated_at, d.containment,"
    " d.root_cause, d.corrective_action, d.preventive_action, d.verification, d.closed_at,"
    " ARRAY(SELECT dc.coil_id FROM dispute_coil dc WHERE dc.dispute_id = d.id"
    " ORDER BY dc.coil_id) AS coil_ids"
)
_STEP_COLS = ("s.id, s.dispute_id, s.claim_id, s.action, s.from_status, s.to_status, s.actor,"
              " s.actor_org_id, s.note, s.detail, s.occurred_at")


def _dispute(row: Any) -> Dispute:
    values = dict(row)
    values["coil_ids"] = list(values["coil_ids"])
    return Dispute(**values)


async def disputes_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Dispute]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM quality_dispute d WHERE d.id = ANY($2::bigint[])"
        f" AND {Scope.owned('d.customer_org_id')}", scope.org_id, list(ids))
    return [_dispute(r) for r in rows]


async def disputes_by_numbers(
    db: Executor, scope: Scope, numbers: Sequence[str]
) -> list[Dispute]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM quality_dispute d WHERE d.number = ANY($2::text[])"
        f" AND {Scope.owned('d.customer_org_id')}", scope.org_id, list(numbers))
    return [_dispute(r) for r in rows]


async def list_disputes(
    db: Executor, scope: Scope, *, statuses: Sequence[str], coil_id: int | None, limit: int,
    after_id: int | None,
) -> list[Dispute]:
    """Newest first: the id keyset runs downwards."""
    rows = await db.fetch(
        f"SELECT {_COLS} FROM quality_dispute d WHERE {Scope.owned('d.customer_org_id')}"
        " AND (cardinality($2::text[]) = 0 OR d.status = ANY($2::text[]))"
        " AND ($3::bigint IS NULL OR EXISTS (SELECT 1 FROM dispute_coil x"
        " WHERE x.dispute_id = d.id AND x.coil_id = $3))"
        " AND d.id < $4 ORDER BY d.id DESC LIMIT $5",
        scope.org_id, list(statuses), coil_id, after_id or 2**63 - 1, limit)
    return [_dispute(r) for r in rows]


async def timeline(db: Executor, scope: Scope, dispute_ids: Sequence[int]
                   ) -> dict[int, list[Step]]:
    """Every step of these disputes and their claims, in the order they happened."""
    rows = await db.fetch(
        f"SELECT {_STEP_COLS} FROM dispute_step s JOIN quality_dispute d ON d.id = s.dispute_id"
        f" WHERE s.dispute_id = ANY($2::bigint[]) AND {Scope.owned('d.customer_org_id')}"
        " ORDER BY s.dispute_id, s.id", scope.org_id, list(dispute_ids))
    out: dict[int, list[Step]] = {}
    for r in rows:
        out.setdefault(r["dispute_id"], []).append(Step(**dict(r)))
    return out


async def dispute_pages_by_coil(
    db: Executor, scope: Scope, coil_ids: Sequence[int], limit: int, after_id: int | None
) -> dict[int, list[Dispute]]:
    """A page of the disputes naming each coil, newest first, in one statement."""
    rows = await db.fetch(
        f"SELECT x.coil AS for_coil, p.* FROM unnest($2::bigint[]) AS x(coil)"
        f" CROSS JOIN LATERAL (SELECT {_COLS} FROM dispute_coil n"
        f" JOIN quality_dispute d ON d.id = n.dispute_id WHERE n.coil_id = x.coil"
        f" AND {Scope.owned('d.customer_org_id')} AND d.id < $3"
        " ORDER BY d.id DESC LIMIT $4) p",
        scope.org_id, list(coil_ids), after_id or 2**63 - 1, limit)
    out: dict[int, list[Dispute]] = {}
    for r in rows:
        values = dict(r)
        out.setdefault(values.pop("for_coil"), []).append(_dispute(values))
    return out

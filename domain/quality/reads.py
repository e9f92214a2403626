"""Reading a coil's quality records within the viewer's scope."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from domain.db import Executor
from domain.quality.limits import SpecLimits
from domain.quality.model import (
    _CERT_COLS,
    _CERT_OWNER,
    _FEEDBACK_COLS,
    _INSPECTION_COLS,
    _SPEC_LIMIT_COLS,
    Certificate,
    Inspection,
    ProcessingFeedback,
    SpecLimitsState,
    _certificate,
    _spec_limits,
)
from domain.tenancy import Scope


async def certificates_by_ids(
    db: Executor, scope: Scope, ids: Sequence[int]
) -> list[Certificate]:
    rows = await db.fetch(
        f"SELECT {_CERT_COLS} FROM quality_certificate q"
        f" {_CERT_OWNER} WHERE q.id = ANY($2::bigint[])"
        f" AND {Scope.owned('o.customer_org_id')}",
        scope.org_id, list(ids),
    )
    return [_certificate(r) for r in rows]


async def contents_by_ids(
    db: Executor, scope: Scope, ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """The certified documents (canonical JSON) of these certificates."""
    rows = await db.fetch(
        "SELECT q.id, q.content FROM quality_certificate q"
        f" {_CERT_OWNER} WHERE q.id = ANY($2::bigint[])"
        f" AND {Scope.owned('o.customer_org_id')}",
        scope.org_id, list(ids),
    )
    return {r["id"]: r["content"] for r in rows}


async def limits_by_certificate_ids(
    db: Executor, scope: Scope, ids: Sequence[int]
) -> dict[int, SpecLimits]:
    """The spec limits these certificates were checked against (those issued without
    limits are absent)."""
    rows = await db.fetch(
        "SELECT q.id, q.limits FROM quality_certificate q"
        f" {_CERT_OWNER} WHERE q.id = ANY($2::bigint[]) AND q.limits IS NOT NULL"
        f" AND {Scope.owned('o.customer_org_id')}",
        scope.org_id, list(ids),
    )
    return {r["id"]: SpecLimits.from_document(r["limits"]) for r in rows}


async def certificates_by_coil_ids(
    db: Executor, scope: Scope, coil_ids: Sequence[int]
) -> dict[int, Certificate]:
    rows = await db.fetch(
        f"SELECT {_CERT_COLS} FROM quality_certificate q"
        f" {_CERT_OWNER} WHERE q.coil_id = ANY($2::bigint[])"
        f" AND {Scope.owned('o.customer_org_id')}",
        scope.org_id, list(coil_ids),
    )
    return {r["coil_id"]: _certificate(r) for r in rows}


async def spec_limits_by_spec_ids(
    db: Executor, scope: Scope, spec_ids: Sequence[int]
) -> dict[int, SpecLimitsState]:
    """The current limits of these specs, as the viewer may see the specs themselves."""
    rows = await db.fetch(
        f"SELECT s.id, {_SPEC_LIMIT_COLS} FROM steel_spec s WHERE s.id = ANY($2::bigint[])"
        f" AND {Scope.spec('s')}",
        scope.org_id, list(spec_ids),
    )
    return {r["id"]: _limits_state(r) for r in rows}


def _limits_state(row: Any) -> SpecLimitsState:
    return SpecLimitsState(spec_id=row["id"], revision=row["limits_revision"],
                           changed_at=row["limits_changed_at"],
                           changed_by=row["limits_changed_by"], limits=_spec_limits(row))


async def inspections_by_coil_ids(
    db: Executor, scope: Scope, coil_ids: Sequence[int]
) -> dict[int, list[Inspection]]:
    rows = await db.fetch(
        f"SELECT {_INSPECTION_COLS} FROM inspection i JOIN coil c ON c.id = i.coil_id"
        f" WHERE i.coil_id = ANY($2::bigint[]) AND {Scope.owned('c.customer_org_id')}"
        " ORDER BY i.coil_id, i.inspected_at, i.id",
        scope.org_id, list(coil_ids),
    )
    out: dict[int, list[Inspection]] = defaultdict(list)
    for r in rows:
        out[r["coil_id"]].append(Inspection(**dict(r)))
    return out


async def feedback_by_ids(
    db: Executor, scope: Scope, ids: Sequence[int]
) -> list[ProcessingFeedback]:
    rows = await db.fetch(
        f"SELECT {_FEEDBACK_COLS} FROM processing_feedback f WHERE f.id = ANY($2::bigint[])"
        f" AND {Scope.owned('f.customer_org_id')}",
        scope.org_id, list(ids),
    )
    return [ProcessingFeedback(**dict(r)) for r in rows]


async def feedback_by_coil_ids(
    db: Executor, scope: Scope, coil_ids: Sequence[int]
) -> dict[int, list[ProcessingFeedback]]:
    rows = await db.fetch(
        f"SELECT {_FEEDBACK_COLS} FROM processing_feedback f WHERE f.coil_id = ANY($2::bigint[])"
        f" AND {Scope.owned('f.customer_org_id')} ORDER BY f.coil_id, f.recorded_at, f.id",
        scope.org_id, list(coil_ids),
    )
    out: dict[int, list[ProcessingFeedback]] = defaultdict(list)
    for r in rows:
        out[r["coil_id"]].append(ProcessingFeedback(**dict(r)))
    return out


async def spec_catalogue(db: Executor, scope: Scope, *, after_code: str | None, limit: int,
                         product: str | None = None) -> list[int]:
    """Ids of the specs the viewer may see (the catalogue and its own), in code order."""
    rows = await db.fetch(
        f"SELECT s.id FROM steel_spec s WHERE {Scope.spec('s')}"
        " AND ($2::text IS NULL OR s.code > $2) AND ($4::text IS NULL OR s.product = $4)"
        " ORDER BY s.code LIMIT $3", scope.org_id, after_code, limit, product)
    return [r["id"] for r in rows]


async def spec_id_by_code(db: Executor, scope: Scope, code: str) -> int | None:
    """The id of the spec of this code, if the viewer may see it."""
    found: int | None = await db.fetchval(
        f"SELECT s.id FROM steel_spec s WHERE s.code = $2 AND {Scope.spec('s')}",
        scope.org_id, code)
    return found

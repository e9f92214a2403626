"""A customer's delivery schedule, as its systems send it (DELFOR): per spec, the tonnes
wanted in each period and how firm each is. Each schedule is a new version of the
customer's; what it names must be known (its part numbers or specs, its ship-to site),
or the schedule is refused whole with every reason.

The current schedule feeds the customer's purchase plan (within its horizon, its tonnes
and firmness per spec and period take precedence over the car plan's: see
``calc.with_schedule``), so a new version is followed through as a new car plan is
(``changes.follow_schedule``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain import events
from domain.db import Executor
from domain.errors import Invalid
from domain.exchange import messages as m
from domain.planning import changes
from domain.tenancy import Scope

__all__ = ["Schedule", "ScheduleLine", "ScheduleLineRow", "StoredSchedule", "UnknownCodes",
           "current_schedule", "current_schedule_ids", "store_schedule"]


class UnknownCodes(Invalid):
    """Codes the schedule names that the platform does not know: every one is listed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), field="lines")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ScheduleLineRow:
    spec_id: int
    period_start: date
    period_end: date
    quantity_t: Decimal
    firmness: str


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    id: int
    version: int
    lines: int
    firm_t: Decimal
    total_t: Decimal


async def store_schedule(tx: Executor, org_id: int, schedule: m.DeliverySchedule, *,
                         source: str, actor: str) -> StoredSchedule:
    """The customer's next schedule version, from ``schedule``, and the purchase plans
    following it, in ``tx``; UnknownCodes when a part number, spec or site is not the
    customer's."""
    parts = await tx.fetch(
        "SELECT id, code, customer_part_number FROM steel_spec"
        " WHERE customer_org_id = $1 OR customer_org_id IS NULL", org_id)
    by_part = {r["customer_part_number"]: r["id"] for r in parts if r["customer_part_number"]}
    by_code = {r["code"]: r["id"] for r in parts}
    problems: list[str] = []
    site_id = None
    if schedule.ship_to_site_code is not None:
        site_id = await tx.fetchval("SELECT id FROM site WHERE code = $1 AND org_id = $2",
                                    schedule.ship_to_site_code, org_id)
        if site_id is None:
            problems.append(f"ship-to {schedule.ship_to_site_code!r} is not one of the "
                            "customer's delivery sites")
    rows: list[ScheduleLineRow] = []
    for n, line in enumerate(schedule.lines, start=1):
        spec = (by_part.get(line.customer_part_number or "") if line.customer_part_number
                else by_code.get(line.spec_code or ""))
        if spec is None:
            problems.append(f"line {line.line_no or n}: part "
                            f"{line.customer_part_number or line.spec_code!r} is not known")
            continue
        rows += [ScheduleLineRow(spec, e.delivery_from, e.delivery_to, e.quantity_t,
                                 e.firmness) for e in line.entries]
    if problems:
        raise UnknownCodes(problems)
    await tx.execute("SELECT 1 FROM organization WHERE id = $1 FOR NO KEY UPDATE", org_id)
    version = await tx.fetchval("SELECT coalesce(max(version), 0) + 1 FROM delivery_schedule"
                                " WHERE customer_org_id = $1", org_id)
    schedule_id = await tx.fetchval(
        "INSERT INTO delivery_schedule (customer_org_id, version, document_number, issued_at,"
        " ship_to_site_id, source) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        org_id, version, schedule.document_number, schedule.issued_at, site_id, source)
    await tx.executemany(
        "INSERT INTO delivery_schedule_line (schedule_id, spec_id, period_start, period_end,"
        " quantity_t, firmness) VALUES ($1, $2, $3, $4, $5, $6)",
        [(schedule_id, r.spec_id, r.period_start, r.period_end, r.quantity_t, r.firmness)
         for r in rows])
    firm = sum((r.quantity_t for r in rows if r.firmness == "firm"), Decimal(0))
    total = sum((r.quantity_t for r in rows), Decimal(0))
    await events.append(
        tx, "production_plan.delivery_schedule_received", org_id=org_id,
        aggregate_type="delivery_schedule", aggregate_id=schedule_id, actor=actor,
        payload={"number": schedule.document_number, "version": version,
                 "lines": len(rows), "firm_t": str(firm), "total_t": str(total)})
    await changes.follow_schedule(tx, org_id, version=version, actor=actor)
    return StoredSchedule(schedule_id, version, len(rows), firm, total)


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    spec_id: int
    spec_code: str
    customer_part_number: str | None
    period_start: date
    period_end: date
    quantity_t: Decimal
    firmness: str


@dataclass(frozen=True, slots=True)
class Schedule:
    id: int
    customer_org_id: int
    version: int
    document_number: str
    issued_at: datetime
    received_at: datetime
    source: str
    lines: tuple[ScheduleLine, ...]


async def current_schedule(db: Executor, org_id: int) -> Schedule | None:
    """The customer's latest delivery schedule, its lines by period and part."""
    row = await db.fetchrow(
        "SELECT id, customer_org_id, version, document_number, issued_at, received_at, source"
        " FROM delivery_schedule WHERE customer_org_id = $1 ORDER BY version DESC LIMIT 1",
        org_id)
    if row is None:
        return None
    lines = await db.fetch(
        "SELECT l.spec_id, s.code AS spec_code, s.customer_part_number, l.period_start,"
        " l.period_end, l.quantity_t, l.firmness FROM delivery_schedule_line l"
        " JOIN steel_spec s ON s.id = l.spec_id WHERE l.schedule_id = $1"
        " ORDER BY l.period_start, s.code", row["id"])
    return Schedule(**dict(row), lines=tuple(ScheduleLine(**dict(r)) for r in lines))


async def current_schedule_ids(db: Executor, scope: Scope, org_ids: Sequence[int]
                               ) -> dict[int, int]:
    """Each customer's newest delivery schedule id, for a loader."""
    rows = await db.fetch(
        "SELECT DISTINCT ON (customer_org_id) customer_org_id, id FROM delivery_schedule"
        f" WHERE customer_org_id = ANY($2::bigint[]) AND {Scope.owned('customer_org_id')}"
        " ORDER BY customer_org_id, version DESC", scope.org_id, list(org_ids))
    return {r["customer_org_id"]: r["id"] for r in rows}

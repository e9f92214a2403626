"""Production progress of contract lines, stage by stage, and its prediction.

The prediction itself lives in the ``contract_line_schedule`` view (migrations), so
that the ``lateOnly`` filter and the progress shown agree by construction.

Progress follows the line's route (:func:`check_step`): a stage takes progress only once
every earlier stage of the plan has started, and completes only once every earlier one
has completed, never at a time before theirs; and a stage records at most its planned
tonnes plus a tolerance (``KEYLINK_PROGRESS_TOLERANCE``, :data:`PROGRESS_TOLERANCE` by
default). Plans hold each stage's input tonnes, yield losses included, so a stage that
needs more than the tolerance is a wrong report, not a heavy day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from domain import events
from domain.actor import Actor
from domain.calendar import MILL_TZ
from domain.checks import aware, bounded
from domain.contracts.model import PERMISSIONS
from domain.db import Database, Executor
from domain.errors import Invalid, NotFound, OutOfSequence, OverTolerance
from domain.shipments import shipping
from domain.tenancy import Scope

# A clock a few minutes fast at the mill is not an error; a date tomorrow is.
CLOCK_SKEW = timedelta(minutes=5)
# What numeric(12, 3) holds.
MAX_TONNES = Decimal(10) ** 9
# How far a stage's recorded tonnes may exceed its planned tonnes (0.10 = 10 %); the
# API passes KEYLINK_PROGRESS_TOLERANCE, whose default this is.
PROGRESS_TOLERANCE = Decimal("0.10")
_TONNE = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class StageStatus:
    stage: str
    seq: int
    planned_start: date
    planned_end: date
    planned_t: Decimal
    actual_start: datetime | None
    actual_end: datetime | None
    actual_t: Decimal
    completed: bool
    delay_days: int | None


@dataclass(frozen=True, slots=True)
class LineSchedule:
    line_id: int
    order_id: int
    planned_finish: date
    current_stage: str | None
    stage_count: int
    stages_done: int
    share_done: Decimal
    predicted_finish: date
    predicted_delivery: date
    late_days: int
    is_late: bool
    delivery_from: date
    delivery_to: date
    transit_days: int


@dataclass(frozen=True, slots=True)
class LineProgress:
    schedule: LineSchedule
    stages: list[StageStatus]


_SCHEDULE_COLS = (
    "line_id, order_id, planned_finish, current_stage, stage_count, stages_done, share_done,"
    " predicted_finish, predicted_delivery, late_days, is_late, delivery_from, delivery_to,"
    " transit_days"
)
_STAGE_COLS = (
    "stage, seq, planned_start, planned_end, planned_t, actual_start, actual_end, actual_t,"
    " completed, delay_days"
)


async def progress_by_line_ids(
    db: Executor, scope: Scope, line_ids: Sequence[int]
) -> dict[int, LineProgress]:
    """Progress of each line that has a production order; lines without one are absent."""
    schedules = await db.fetch(
        f"SELECT {_SCHEDULE_COLS} FROM contract_line_schedule"
        f" WHERE line_id = ANY($2::bigint[]) AND {Scope.owned('customer_org_id')}",
        scope.org_id, list(line_ids),
    )
    if not schedules:
        return {}
    stage_rows = await db.fetch(
        f"SELECT line_id, {_STAGE_COLS} FROM production_stage_status"
        " WHERE line_id = ANY($1::bigint[]) ORDER BY line_id, seq",
        [r["line_id"] for r in schedules],
    )
    stages: dict[int, list[StageStatus]] = defaultdict(list)
    for r in stage_rows:
        values = dict(r)
        stages[values.pop("line_id")].append(StageStatus(**values))
    return {
        r["line_id"]: LineProgress(LineSchedule(**dict(r)), stages[r["line_id"]])
        for r in schedules
    }


@dataclass(frozen=True)
class ProgressInput:
    line_id: int
    stage: str
    tonnes: Decimal
    completes_stage: bool
    occurred_at: datetime | None = None
    note: str | None = None


PRODUCING = ("confirmed", "in_production", "partially_shipped")


async def record_progress(
    db: Database, data: ProgressInput, *, actor: Actor,
    tolerance: Decimal = PROGRESS_TOLERANCE,
) -> LineProgress:
    """Record what a stage did; the contract moves to in_production on the first event.

    Refused, with nothing written, when the step leaves the route's order
    (:class:`OutOfSequence`) or takes the stage past its planned tonnes plus
    ``tolerance`` (:class:`OverTolerance`): see :func:`check_step`.

    Writes ``production.progress_recorded``, ``production.milestone_reached`` when a stage
    completes, and ``contract_line.predicted_late`` when this event makes the line late.
    """
    PERMISSIONS.check(actor, "record_progress")
    if not tolerance.is_finite() or tolerance < 0:
        raise ValueError(f"the progress tolerance must be a share >= 0, not {tolerance}")
    occurred_at = aware(data.occurred_at or datetime.now(UTC), "occurredAt")
    if occurred_at > datetime.now(UTC) + CLOCK_SKEW:
        raise Invalid("progress cannot be recorded in the future", field="occurredAt")
    bounded(data.tonnes, "tonnes", below=MAX_TONNES)
    async with db.transaction() as tx:
        line = await tx.fetchrow(
            "SELECT l.id, l.contract_id, l.customer_org_id, l.status, c.status AS contract_status,"
            " c.number, o.id AS order_id"
            " FROM contract_line l JOIN contract c ON c.id = l.contract_id"
            " LEFT JOIN production_order o ON o.line_id = l.id WHERE l.id = $1 FOR UPDATE OF c",
            data.line_id,
        )
        if line is None:
            raise NotFound("no such contract line", field="lineId")
        # The rest of a contract is still made while its first coils are on their way.
        if line["order_id"] is None or line["status"] not in PRODUCING \
                or line["contract_status"] not in PRODUCING:
            raise Invalid(
                f"a {line['status']} line takes no production progress", field="lineId"
            )
        route = [StageStatus(**dict(r)) for r in await tx.fetch(
            f"SELECT {_STAGE_COLS} FROM production_stage_status WHERE order_id = $1"
            " ORDER BY seq", line["order_id"],
        )]
        if not any(s.stage == data.stage for s in route):
            raise Invalid(f"stage {data.stage} is not on this line's route", field="stage")
        # The contract row is locked above: concurrent steps of a line are judged in turn.
        check_step(route, data.stage, data.tonnes, completes=data.completes_stage,
                   occurred_at=occurred_at, tolerance=tolerance)
        was_late = await _is_late(tx, data.line_id)
        await tx.execute(
            "INSERT INTO progress_event (order_id, stage, tonnes, completes_stage, occurred_at,"
            " recorded_by, note) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            line["order_id"], data.stage, data.tonnes, data.completes_stage, occurred_at,
            actor.subject, data.note,
        )
        await _start_production(tx, line["contract_id"], line["contract_status"], actor.subject)
        common = {"aggregate_type": "contract_line", "aggregate_id": data.line_id,
                  "org_id": line["customer_org_id"], "actor": actor.subject,
                  "occurred_at": occurred_at}
        payload = {"contract": line["number"], "stage": data.stage, "tonnes": data.tonnes}
        await events.append(tx, "production.progress_recorded", payload=payload, **common)
        if data.completes_stage:
            await events.append(tx, "production.milestone_reached", payload=payload, **common)
        progress = (await progress_by_line_ids(tx, Scope.everything(), [data.line_id]))[
            data.line_id
        ]
        if progress.schedule.is_late and not was_late:
            await events.append(
                tx, "contract_line.predicted_late", **common,
                payload={"contract": line["number"], "late_days": progress.schedule.late_days,
                         "predicted_delivery": progress.schedule.predicted_delivery.isoformat()},
            )
        return progress


def check_step(route: Sequence[StageStatus], stage: str, tonnes: Decimal, *, completes: bool,
               occurred_at: datetime, tolerance: Decimal) -> None:
    """Whether a step of ``stage`` may be recorded on a line whose planned stages stand
    as ``route`` (any order; ``seq`` orders them). Raises :class:`OutOfSequence` when an
    earlier stage has not started (or, to complete, not completed), or did so after
    ``occurred_at``; :class:`OverTolerance` when the stage would hold more than its
    planned tonnes times ``1 + tolerance``. Pure: the state in, a refusal or nothing out.
    """
    here = next(s for s in route if s.stage == stage)
    earlier = sorted((s for s in route if s.seq < here.seq), key=lambda s: s.seq)
    for before in earlier:
        if before.actual_start is None:
            raise OutOfSequence(
                f"{before.stage} has not started: {stage} follows it on this line's route",
                field="stage")
        if occurred_at < before.actual_start:
            raise OutOfSequence(
                f"{stage} cannot have happened at {_when(occurred_at)}, before {before.stage}"
                f" started at {_when(before.actual_start)}", field="occurredAt")
    if completes:
        for before in earlier:
            if before.actual_end is None:
                raise OutOfSequence(
                    f"{stage} cannot complete while {before.stage} is not complete",
                    field="completesStage")
            if occurred_at < before.actual_end:
                raise OutOfSequence(
                    f"{stage} cannot have completed at {_when(occurred_at)}, before"
                    f" {before.stage} completed at {_when(before.actual_end)}",
                    field="occurredAt")
    allowed = (here.planned_t * (1 + tolerance)).quantize(_TONNE, rounding=ROUND_DOWN)
    if here.actual_t + tonnes > allowed:
        left = max(allowed - here.actual_t, Decimal(0))
        share = format((tolerance * 100).normalize(), "f")
        raise OverTolerance(
            f"{stage} may record at most {allowed} t ({here.planned_t} t planned, +{share} %);"
            f" {here.actual_t} t are recorded, so at most {left} t more", field="tonnes")


def _when(moment: datetime) -> str:
    """A time as the mill reads it."""
    return moment.astimezone(MILL_TZ).isoformat(timespec="minutes")


async def _is_late(tx: Executor, line_id: int) -> bool:
    late = await tx.fetchval(
        "SELECT is_late FROM contract_line_schedule WHERE line_id = $1", line_id
    )
    return bool(late)


async def _start_production(tx: Executor, contract_id: int, status: str, actor: str) -> None:
    if status != "confirmed":
        return
    await tx.execute(
        "UPDATE contract SET status = 'in_production', updated_at = now() WHERE id = $1",
        contract_id,
    )
    lines = await tx.fetch(
        "UPDATE contract_line SET status = 'in_production'"
        " WHERE contract_id = $1 AND status = 'confirmed' RETURNING id",
        contract_id,
    )
    # Coils that left before any progress was recorded count from now on.
    moved = await shipping.follow_lines(tx, [r["id"] for r in lines])
    org_id = await tx.fetchval("SELECT customer_org_id FROM contract WHERE id = $1", contract_id)
    await events.append(
        tx, "contract.in_production", org_id=org_id, aggregate_type="contract",
        aggregate_id=contract_id, payload={}, actor=actor,
    )
    await shipping.announce(tx, moved, actor=actor)

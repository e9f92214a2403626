"""Plan files in the customer's own format (CSV or XLSX), converted to the standard form
by the customer's `plan_format` (the format conversion the mill's staff configure).

A file is read whole and every row checked; a bad row is reported with its row number
(as the customer's spreadsheet shows it, the heading being row 1), its column and the
reason, and a file with any bad row imports nothing. An import is a `plan_import` row
whose `rows_done` / `rows_total` a client reads while it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.actor import Actor
from domain.db import Database, Executor
from domain.errors import DomainError, Invalid
from domain.planning import changes, inputs, permissions
from domain.planning.calc import PlanEntry
from domain.planning.tables import MAX_FILE_BYTES as MAX_FILE_BYTES
from domain.planning.tables import BadFile as BadFile
from domain.planning.tables import FileTooLarge as FileTooLarge
from domain.planning.tables import Limits as Limits
from domain.planning.tables import Table, check_file, read_table

MAX_REPORTED = 200
# How often a running import writes its progress.
PROGRESS_EVERY = 500

# Standard fields of each kind of file, and whether a file must have them.
FIELDS: dict[str, dict[str, bool]] = {
    "plan": {"model": True, "period_start": True, "units": True, "period_days": False},
    "consumption": {"model": True, "part_number": True, "kg_per_car": True,
                    "yield_allowance_pct": False},
}


@dataclass(frozen=True, slots=True)
class PlanFormat:
    # Standard field -> the customer's column heading.
    columns: dict[str, str] = field(default_factory=dict)
    # The customer's model names -> model codes.
    models: dict[str, str] = field(default_factory=dict)
    date_format: str = "%Y-%m-%d"
    default_period_days: int = 7

    def heading(self, standard: str) -> str:
        return self.columns.get(standard, standard)


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class PlanImport:
    id: int
    customer_org_id: int
    kind: str
    filename: str
    status: str
    rows_total: int
    rows_done: int
    errors: list[dict[str, Any]]
    plan_id: int | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None


# An import takes seconds; one still running after this long lost its process (a restart)
# and reads as failed, so that the customer knows to send the file again.
ABANDONED_AFTER = "30 minutes"
_ABANDONED = f"(status = 'running' AND created_at < now() - interval '{ABANDONED_AFTER}')"
_IMPORT_COLS = (
    f"id, customer_org_id, kind, filename, CASE WHEN {_ABANDONED} THEN 'failed' ELSE status"
    f" END AS status, rows_total, rows_done, CASE WHEN {_ABANDONED} THEN jsonb_build_array("
    " jsonb_build_object('row', 0, 'column', NULL, 'reason', 'the import stopped before it"
    " finished: send the file again')) ELSE errors END AS errors, plan_id, created_by,"
    " created_at, finished_at"
)


# Converting rows ------------------------------------------------------------------------

def _columns(kind: str, fmt: PlanFormat, heading: Sequence[str],
             heading_row: int = 1) -> tuple[dict[str, int], list[RowError]]:
    where: dict[str, int] = {}
    errors = []
    for standard, required in FIELDS[kind].items():
        name = fmt.heading(standard)
        if name in heading:
            where[standard] = heading.index(name)
        elif required:
            errors.append(RowError(heading_row, name, f"the column {name!r} is missing"))
    return where, errors


def _cell(cells: list[Any], where: dict[str, int], standard: str) -> Any:
    i = where.get(standard)
    if i is None or i >= len(cells):
        return None
    value = cells[i]
    return value.strip() if isinstance(value, str) else value


def _date(value: Any, fmt: PlanFormat) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.strptime(str(value), fmt.date_format).date()


def _whole(value: Any) -> int:
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise ValueError
    return int(number)


def plan_rows(
    fmt: PlanFormat, heading: Sequence[str], body: Sequence[tuple[int, list[Any]]],
    models: set[str], heading_row: int = 1,
) -> tuple[list[PlanEntry], list[RowError]]:
    where, errors = _columns("plan", fmt, heading, heading_row)
    if errors:
        return [], errors
    entries: list[PlanEntry] = []
    seen: dict[tuple[str, date], int] = {}
    for number, cells in body:
        def bad(standard: str, reason: str, n: int = number) -> None:
            errors.append(RowError(n, fmt.heading(standard), reason))
        raw_model = _cell(cells, where, "model")
        model = fmt.models.get(str(raw_model), str(raw_model)) if raw_model else None
        if not model:
            bad("model", "no car model")
        elif model not in models:
            bad("model", f"car model {raw_model!r} is not in the consumption table")
        try:
            start = _date(_cell(cells, where, "period_start"), fmt)
        except (TypeError, ValueError):
            bad("period_start", f"not a date like {fmt.date_format}")
            start = None
        try:
            units = _whole(_cell(cells, where, "units"))
            if units < 0:
                raise ValueError
        except (InvalidOperation, ValueError, TypeError):
            bad("units", "not a whole number of cars, 0 or more")
            units = None
        days = fmt.default_period_days
        raw_days = _cell(cells, where, "period_days")
        if raw_days not in (None, ""):
            try:
                days = _whole(raw_days)
                if not 1 <= days <= 31:
                    raise ValueError
            except (InvalidOperation, ValueError, TypeError):
                bad("period_days", "not a whole number of days from 1 to 31")
        if model and start and units is not None:
            key = (model, start)
            if key in seen:
                bad("period_start", f"{model} on {start} is already on row {seen[key]}")
            seen[key] = number
            entries.append(PlanEntry(model, start, days, units))
    errors.extend(_overlaps(entries, seen, fmt))
    return entries, errors


def _overlaps(entries: list[PlanEntry], rows: dict[tuple[str, date], int],
              fmt: PlanFormat) -> list[RowError]:
    errors = []
    last: dict[str, PlanEntry] = {}
    for e in sorted(entries, key=lambda e: (e.model, e.period_start)):
        before = last.get(e.model)
        if before and before.period_start + timedelta(days=before.period_days) > e.period_start:
            errors.append(RowError(rows[(e.model, e.period_start)], fmt.heading("period_start"),
                                   f"overlaps the period of {e.model} from"
                                   f" {before.period_start}"))
        last[e.model] = e
    return errors


def consumption_rows(
    fmt: PlanFormat, heading: Sequence[str], body: Sequence[tuple[int, list[Any]]],
    specs: dict[str, int], heading_row: int = 1,
) -> tuple[list[inputs.ConsumptionRow], list[RowError]]:
    where, errors = _columns("consumption", fmt, heading, heading_row)
    if errors:
        return [], errors
    out = []
    for number, cells in body:
        def bad(standard: str, reason: str, n: int = number) -> None:
            errors.append(RowError(n, fmt.heading(standard), reason))
        raw_model = _cell(cells, where, "model")
        model = fmt.models.get(str(raw_model), str(raw_model)) if raw_model else ""
        if not model:
            bad("model", "no car model")
        part = str(_cell(cells, where, "part_number") or "")
        if part not in specs:
            bad("part_number", f"part number {part!r} is not one of your steel specs")
        try:
            kg = Decimal(str(_cell(cells, where, "kg_per_car")))
            if not kg.is_finite() or kg <= 0:
                raise ValueError
        except (InvalidOperation, ValueError):
            bad("kg_per_car", "not a number of kilograms above 0")
            kg = None
        allowance = Decimal(0)
        raw = _cell(cells, where, "yield_allowance_pct")
        if raw not in (None, ""):
            try:
                allowance = Decimal(str(raw))
                if not 0 <= allowance <= 100:
                    raise ValueError
            except (InvalidOperation, ValueError):
                bad("yield_allowance_pct", "not a percentage from 0 to 100")
        if model and part in specs and kg is not None:
            out.append(inputs.ConsumptionRow(model, part, kg, allowance))
    return out, errors


# Jobs -----------------------------------------------------------------------------------

async def plan_format(db: Executor, org_id: int) -> PlanFormat:
    row = await db.fetchrow(
        "SELECT columns, models, date_format, default_period_days FROM plan_format"
        " WHERE customer_org_id = $1", org_id)
    if row is None:
        return PlanFormat()
    return PlanFormat(dict(row["columns"]), dict(row["models"]), row["date_format"],
                      row["default_period_days"])


async def set_plan_format(
    tx: Executor, org_id: int, fmt: PlanFormat, *, actor: Actor
) -> None:
    permissions.check(actor, "set_plan_format", org_id)
    unknown = set(fmt.columns) - {f for fields in FIELDS.values() for f in fields}
    if unknown:
        raise Invalid(f"unknown standard fields: {', '.join(sorted(unknown))}", field="columns")
    try:
        datetime.now().strftime(fmt.date_format)
    except ValueError:
        raise Invalid("not a date format", field="dateFormat") from None
    if not 1 <= fmt.default_period_days <= 31:
        raise Invalid("a period is 1 to 31 days", field="defaultPeriodDays")
    await tx.execute(
        "INSERT INTO plan_format (customer_org_id, columns, models, date_format,"
        " default_period_days, updated_by) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (customer_org_id) DO UPDATE SET columns = $2, models = $3,"
        " date_format = $4, default_period_days = $5, updated_by = $6, updated_at = now()",
        org_id, fmt.columns, fmt.models, fmt.date_format, fmt.default_period_days,
        actor.subject)


async def imports_by_ids(
    db: Executor, org_id: int | None, ids: Sequence[int]
) -> list[PlanImport]:
    rows = await db.fetch(
        f"SELECT {_IMPORT_COLS} FROM plan_import WHERE id = ANY($2::bigint[])"
        " AND ($1::bigint IS NULL OR customer_org_id = $1)", org_id, list(ids))
    return [PlanImport(**dict(r)) for r in rows]


async def start(db: Database, org_id: int, kind: str, filename: str, *, actor: Actor) -> int:
    """The import's job; it runs on under ``actor``'s name (:func:`run`)."""
    permissions.check(actor, "import", org_id)
    if kind not in FIELDS:
        raise Invalid("an import is of a plan or a consumption table", field="kind")
    if not filename.lower().endswith((".csv", ".txt", ".xlsx")):
        raise BadFile("send a .csv or .xlsx file", field="file")
    job: int = await db.fetchval(
        "INSERT INTO plan_import (customer_org_id, kind, filename, created_by)"
        " VALUES ($1, $2, $3, $4) RETURNING id", org_id, kind, filename, actor.subject)
    return job


async def accept(filename: str, content: bytes, limits: Limits) -> None:
    """Refuse, before an import starts, a file that is no CSV or XLSX or over the limits
    that can be told without reading its rows (its size, what an XLSX unpacks to)."""
    await asyncio.to_thread(check_file, filename, content, limits)


async def run(db: Database, job: int, org_id: int, kind: str, filename: str, content: bytes,
              *, actor: str, limits: Limits = Limits(), accepted: bool = False) -> None:
    """Read, check and import the file; the job row says how far it got and what failed.
    ``accepted``: :func:`accept` passed it already, so it is not measured again."""
    try:
        # Reading and checking are CPU work: off the event loop, which serves requests.
        fmt = await plan_format(db, org_id)
        wanted = [fmt.heading(f) for f, required in FIELDS[kind].items() if required]
        table = await asyncio.to_thread(read_table, filename, content, wanted, limits,
                                        checked=accepted)
        body = table.body
        await db.execute("UPDATE plan_import SET rows_total = $2 WHERE id = $1", job, len(body))
        errors = await _check(db, job, org_id, kind, fmt, table)
        if errors:
            await _finish(db, job, "failed", errors, len(body))
            return
        plan_id = await _save(db, org_id, kind, fmt, table, actor)
    except DomainError as exc:
        await _finish(db, job, "failed", [RowError(0, None, exc.message)], 0)
        return
    await db.execute(
        "UPDATE plan_import SET status = 'imported', rows_done = rows_total, plan_id = $2,"
        " finished_at = now() WHERE id = $1", job, plan_id)


async def fail_internally(db: Executor, job: int) -> None:
    """The import broke for a reason of the mill's, not of the file: the customer is told
    only that, the log has the rest."""
    await db.execute(
        "UPDATE plan_import SET status = 'failed', finished_at = now(),"
        " errors = '[{\"row\": 0, \"column\": null, \"reason\": \"internal error\"}]'"
        " WHERE id = $1", job)


async def _check(db: Database, job: int, org_id: int, kind: str, fmt: PlanFormat,
                 table: Table) -> list[RowError]:
    """Check the rows a chunk at a time, writing the progress after each chunk."""
    heading, body, at = table.heading, table.body, table.heading_row
    errors: list[RowError] = []
    if kind == "plan":
        models = await inputs.known_models(db, org_id)
        for i in range(0, max(len(body), 1), PROGRESS_EVERY):
            _, found = await asyncio.to_thread(
                plan_rows, fmt, heading, body[i:i + PROGRESS_EVERY], models, at)
            errors.extend(found)
            await _progress(db, job, min(i + PROGRESS_EVERY, len(body)))
        # Duplicates and overlaps across chunks: the whole file once more.
        _, found = await asyncio.to_thread(plan_rows, fmt, heading, body, models, at)
        errors = sorted(set(errors) | set(found), key=lambda e: (e.row, e.column or ""))
    else:
        specs = await _part_specs(db, org_id, fmt, heading, body)
        _, errors = await asyncio.to_thread(consumption_rows, fmt, heading, body, specs, at)
        await _progress(db, job, len(body))
    return errors


async def _part_specs(db: Executor, org_id: int, fmt: PlanFormat, heading: Sequence[str],
                      body: Sequence[tuple[int, list[Any]]]) -> dict[str, int]:
    """The customer's part numbers (or spec codes) the file names, to spec ids."""
    where, _ = _columns("consumption", fmt, heading)
    parts = {str(_cell(c, where, "part_number")) for _, c in body}
    return await inputs.spec_ids_by_code(db, org_id, sorted(parts))


async def _save(db: Database, org_id: int, kind: str, fmt: PlanFormat, table: Table,
                actor: str) -> int | None:
    heading, body = table.heading, table.body
    if kind == "plan":
        models = await inputs.known_models(db, org_id)
        entries, _ = await asyncio.to_thread(plan_rows, fmt, heading, body, models)
        plan = await changes.store_plan(db, org_id, entries, source="upload", actor=actor)
        return plan.id
    specs = await _part_specs(db, org_id, fmt, heading, body)
    rows, _ = consumption_rows(fmt, heading, body, specs)
    async with db.transaction() as tx:
        await inputs.store_consumption(tx, org_id, rows, actor=actor)
    return None


async def _progress(db: Database, job: int, done: int) -> None:
    await db.execute("UPDATE plan_import SET rows_done = $2 WHERE id = $1", job, done)


async def _finish(db: Database, job: int, status: str, errors: list[RowError],
                  total: int) -> None:
    await db.execute(
        "UPDATE plan_import SET status = $2, errors = $3, finished_at = now() WHERE id = $1",
        job, status,
        [{"row": e.row, "column": e.column, "reason": e.reason} for e in errors[:MAX_REPORTED]])

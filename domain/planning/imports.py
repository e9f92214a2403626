"""Plan files in the customer's own format (CSV or XLSX), converted to the standard form
by the customer's plan format (the format conversion the mill's staff configure).

A plan format is an exchange mapping (`domain.exchange.mapping`) of the document types
`production_plan` and `consumption`, stored as the customer's mappings of them: the
file is read through the mapping, and what a plan adds (models known to the consumption
table, periods that do not overlap, part numbers of the customer's specs) is checked on
the values it gives.

A file is read whole and every row checked; a bad row is reported with its row number
(as the customer's spreadsheet shows it, the heading being row 1), its column and the
reason, and a file with any bad row imports nothing. An import is a `plan_import` row
whose `rows_done` / `rows_total` a client reads while it runs. The row keeps the file
until the import ends, and whichever API process runs it holds a lease on it
(`domain.planning.jobs`): an import whose process died is run again from the file by
another, and what it stores is stored once, in the transaction that marks it imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.actor import Actor
from domain.db import Database, Executor
from domain.errors import DomainError, Invalid
from domain.exchange.mapping import (
    Column,
    Field,
    Mapped,
    MappedRow,
    Mapping,
    Problem,
    Target,
    check_targets,
    is_date_format,
    map_table,
    mapping_of,
    read_file,
    store_mapping,
)
from domain.planning import changes, inputs, permissions
from domain.planning.calc import PlanEntry
from domain.planning.tables import MAX_FILE_BYTES as MAX_FILE_BYTES
from domain.planning.tables import BadFile as BadFile
from domain.planning.tables import FileTooLarge as FileTooLarge
from domain.planning.tables import Limits as Limits
from domain.planning.tables import Table, check_file

MAX_REPORTED = 200
# How often a running import writes its progress.
PROGRESS_EVERY = 500

# Standard fields of each kind of file, and whether a file must have them.
FIELDS: dict[str, dict[str, bool]] = {
    "plan": {"model": True, "period_start": True, "units": True, "period_days": False},
    "consumption": {"model": True, "part_number": True, "kg_per_car": True,
                    "yield_allowance_pct": False},
}
# The exchange document type each kind of file is, and the type of each of its fields.
DOCUMENTS = {"plan": "production_plan", "consumption": "consumption"}
_TYPES = {"model": "text", "period_start": "date", "units": "integer",
          "period_days": "integer", "part_number": "text", "kg_per_car": "decimal",
          "yield_allowance_pct": "decimal"}
TARGETS: dict[str, dict[str, Target]] = {
    kind: {f: Target(_TYPES[f], required) for f, required in fields.items()}
    for kind, fields in FIELDS.items()}
# What a planner is told of a value that does not read, as before plan formats were
# mappings (a date is told its format).
WORDS = {
    "model": "no car model",
    "units": "not a whole number of cars, 0 or more",
    "period_days": "not a whole number of days from 1 to 31",
    "kg_per_car": "not a number of kilograms above 0",
    "yield_allowance_pct": "not a percentage from 0 to 100",
}
# A plan without a period column and without a default: weekly.
PERIOD_DAYS = 7


@dataclass(frozen=True, slots=True)
class PlanFormat:
    """The plan format as staff set it (`setPlanFormat`); :meth:`mapping` is what it is
    as data."""

    # Standard field -> the customer's column heading.
    columns: dict[str, str] = field(default_factory=dict)
    # The customer's model names -> model codes.
    models: dict[str, str] = field(default_factory=dict)
    date_format: str = "%Y-%m-%d"
    default_period_days: int = PERIOD_DAYS

    def heading(self, standard: str) -> str:
        return self.columns.get(standard, standard)

    def mapping(self, kind: str) -> Mapping:
        """The customer's mapping of the document a ``kind`` of file holds. The SQL
        function `plan_format_mapping` (migration 0015) makes the same."""
        def at(standard: str) -> Column:
            return Column(heading=self.heading(standard))

        model = Field("text", at("model"), codes="models")
        if kind == "plan":
            fields = {
                "model": model,
                "period_start": Field("date", at("period_start"),
                                      formats=(self.date_format,)),
                "units": Field("integer", at("units"), min=Decimal(0)),
                "period_days": Field("integer", at("period_days"), required=False,
                                     default=self.default_period_days, min=Decimal(1),
                                     max=Decimal(31)),
            }
        else:
            fields = {
                "model": model,
                "part_number": Field("text", at("part_number")),
                "kg_per_car": Field("decimal", at("kg_per_car")),
                "yield_allowance_pct": Field("decimal", at("yield_allowance_pct"),
                                             required=False, default=Decimal(0),
                                             min=Decimal(0), max=Decimal(100)),
            }
        return Mapping(DOCUMENTS[kind], fields, {"models": dict(self.models)})


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


_IMPORT_COLS = ("id, customer_org_id, kind, filename, status, rows_total, rows_done, errors,"
                " plan_id, created_by, created_at, finished_at")


class LeaseLost(Exception):
    """Another process took the import over (this one let its lease run out): what this
    one did is rolled back, the other's run counts."""


# Converting rows ------------------------------------------------------------------------

def _mapped(kind: str, fmt: PlanFormat | Mapping, heading: Sequence[str],
            body: Sequence[tuple[int, list[Any]]], heading_row: int
            ) -> tuple[Mapping, Mapped]:
    mapping = fmt if isinstance(fmt, Mapping) else fmt.mapping(kind)
    return mapping, map_table(mapping, Table(heading_row, list(heading), list(body)))


def _reason(mapping: Mapping, problem: Problem) -> str:
    # A code table's own problems are the mapping's to word.
    if problem.code not in ("empty", "invalid", "out_of_range") or problem.field is None:
        return problem.reason
    f = mapping.fields[problem.field]
    if f.type == "date":
        return "not a date like " + " or ".join(f.formats)
    return WORDS.get(problem.field, problem.reason)


class _Row:
    """One mapped row and the errors found in it, in the order of its columns."""

    def __init__(self, mapping: Mapping, row: MappedRow, errors: list[RowError]) -> None:
        self.mapping, self.row, self.errors = mapping, row, errors
        self.problems = {p.field: p for p in row.problems}

    def value(self, standard: str) -> Any:
        return self.row.values.get(standard)

    def bad(self, standard: str, reason: str | None = None) -> bool:
        """Report the field's problem (or ``reason``); whether there was one to report."""
        if reason is None:
            problem = self.problems.get(standard)
            if problem is None:
                return False
            reason = _reason(self.mapping, problem)
        self.errors.append(RowError(self.row.row, _column_of(self.mapping, standard), reason))
        return True


def _days(mapping: Mapping, row: _Row) -> int:
    days = row.value("period_days")
    if days is None:
        f = mapping.fields.get("period_days")
        days = f.default if f is not None and f.default is not None else PERIOD_DAYS
    return int(days)


def _column_of(mapping: Mapping, standard: str) -> str | None:
    column = mapping.fields[standard].column
    return column.label if column else None


def plan_rows(
    fmt: PlanFormat | Mapping, heading: Sequence[str], body: Sequence[tuple[int, list[Any]]],
    models: set[str], heading_row: int = 1,
) -> tuple[list[PlanEntry], list[RowError]]:
    mapping, mapped = _mapped("plan", fmt, heading, body, heading_row)
    if not mapped.rows and mapped.problems:
        return [], [RowError(p.row, p.column, p.reason) for p in mapped.problems]
    errors: list[RowError] = []
    entries: list[PlanEntry] = []
    seen: dict[tuple[str, date], int] = {}
    for mapped_row in mapped.rows:
        row = _Row(mapping, mapped_row, errors)
        model = row.value("model")
        if not row.bad("model") and model not in models:
            row.bad("model", f"car model {mapped_row.raw['model']!r} is not in the"
                    " consumption table")
        start = row.value("period_start")
        row.bad("period_start")
        units = row.value("units")
        row.bad("units")
        if "period_days" in mapping.fields:
            row.bad("period_days")
        days = _days(mapping, row)
        if model and start and units is not None:
            key = (model, start)
            if key in seen:
                row.bad("period_start", f"{model} on {start} is already on row {seen[key]}")
            seen[key] = mapped_row.row
            entries.append(PlanEntry(model, start, days, units))
    errors.extend(_overlaps(entries, seen, _column_of(mapping, "period_start")))
    return entries, errors


def _overlaps(entries: list[PlanEntry], rows: dict[tuple[str, date], int],
              column: str | None) -> list[RowError]:
    errors = []
    last: dict[str, PlanEntry] = {}
    for e in sorted(entries, key=lambda e: (e.model, e.period_start)):
        before = last.get(e.model)
        if before and before.period_start + timedelta(days=before.period_days) > e.period_start:
            errors.append(RowError(rows[(e.model, e.period_start)], column,
                                   f"overlaps the period of {e.model} from"
                                   f" {before.period_start}"))
        last[e.model] = e
    return errors


def consumption_rows(
    fmt: PlanFormat | Mapping, heading: Sequence[str], body: Sequence[tuple[int, list[Any]]],
    specs: dict[str, int], heading_row: int = 1,
) -> tuple[list[inputs.ConsumptionRow], list[RowError]]:
    mapping, mapped = _mapped("consumption", fmt, heading, body, heading_row)
    return _consumption(mapping, mapped, specs)


def _consumption(mapping: Mapping, mapped: Mapped, specs: dict[str, int]
                 ) -> tuple[list[inputs.ConsumptionRow], list[RowError]]:
    if not mapped.rows and mapped.problems:
        return [], [RowError(p.row, p.column, p.reason) for p in mapped.problems]
    errors: list[RowError] = []
    out = []
    for mapped_row in mapped.rows:
        row = _Row(mapping, mapped_row, errors)
        model = row.value("model") or ""
        row.bad("model")
        part = row.value("part_number") or ""
        problem = row.problems.get("part_number")
        if problem is not None and problem.code != "empty":
            row.bad("part_number")
        elif part not in specs:
            raw = mapped_row.raw.get("part_number")
            row.bad("part_number", f"part number {str(raw or '')!r} is not one of your"
                    " steel specs")
        kg = row.value("kg_per_car")
        if not row.bad("kg_per_car") and (kg is None or kg <= 0):
            row.bad("kg_per_car", WORDS["kg_per_car"])
            kg = None
        allowance = Decimal(0)
        if "yield_allowance_pct" in mapping.fields and not row.bad("yield_allowance_pct"):
            allowance = row.value("yield_allowance_pct") or Decimal(0)
        if model and part in specs and kg is not None:
            out.append(inputs.ConsumptionRow(model, part, kg, allowance))
    return out, errors


# Jobs -----------------------------------------------------------------------------------

async def plan_mapping(db: Executor, org_id: int, kind: str) -> Mapping:
    """The customer's mapping of a ``kind`` of file; without one, the standard
    headings. A stored mapping that does not give the file's fields is refused
    (:class:`domain.exchange.mapping.BadMapping`)."""
    found = await mapping_of(db, org_id, DOCUMENTS[kind])
    if found is None:
        return PlanFormat().mapping(kind)
    check_targets(found, TARGETS[kind])
    return found


async def set_plan_format(
    tx: Executor, org_id: int, fmt: PlanFormat, *, actor: Actor
) -> None:
    permissions.check(actor, "set_plan_format", org_id)
    unknown = set(fmt.columns) - {f for fields in FIELDS.values() for f in fields}
    if unknown:
        raise Invalid(f"unknown standard fields: {', '.join(sorted(unknown))}", field="columns")
    if not is_date_format(fmt.date_format):
        raise Invalid("not a date format", field="dateFormat")
    if not 1 <= fmt.default_period_days <= 31:
        raise Invalid("a period is 1 to 31 days", field="defaultPeriodDays")
    for kind in FIELDS:
        await store_mapping(tx, org_id, fmt.mapping(kind), actor=actor.subject)


async def imports_by_ids(
    db: Executor, org_id: int | None, ids: Sequence[int]
) -> list[PlanImport]:
    rows = await db.fetch(
        f"SELECT {_IMPORT_COLS} FROM plan_import WHERE id = ANY($2::bigint[])"
        " AND ($1::bigint IS NULL OR customer_org_id = $1)", org_id, list(ids))
    return [PlanImport(**dict(r)) for r in rows]


async def start(db: Database, org_id: int, kind: str, filename: str, *, actor: Actor,
                content: bytes | None = None, limits: Limits = Limits(),
                owner: str | None = None, lease_s: float = 30.0) -> int:
    """The import's job; it runs on under ``actor``'s name (:func:`run`). With
    ``content`` the file is kept with the job, so that any process can run it; with
    ``owner`` too, that process holds it for ``lease_s`` seconds from now."""
    permissions.check(actor, "import", org_id)
    if kind not in FIELDS:
        raise Invalid("an import is of a plan or a consumption table", field="kind")
    if not filename.lower().endswith((".csv", ".txt", ".xlsx")):
        raise BadFile("send a .csv or .xlsx file", field="file")
    job: int = await db.fetchval(
        "INSERT INTO plan_import (customer_org_id, kind, filename, created_by, content,"
        " limits, leased_by, lease_until, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7,"
        " CASE WHEN $7::text IS NOT NULL THEN now() + make_interval(secs => $8) END,"
        " CASE WHEN $7::text IS NOT NULL THEN 1 ELSE 0 END) RETURNING id",
        org_id, kind, filename, actor.subject, content, limits_json(limits), owner,
        float(lease_s))
    return job


def limits_json(limits: Limits) -> dict[str, int]:
    return {"unpacked_bytes": limits.unpacked_bytes, "rows": limits.rows,
            "cells": limits.cells}


def limits_of(stored: dict[str, Any]) -> Limits:
    """The limits a job was accepted under (the defaults for what it does not say)."""
    return Limits(**{k: int(v) for k, v in stored.items()
                     if k in ("unpacked_bytes", "rows", "cells")})


async def accept(filename: str, content: bytes, limits: Limits) -> None:
    """Refuse, before an import starts, a file that is no CSV or XLSX or over the limits
    that can be told without reading its rows (its size, what an XLSX unpacks to)."""
    await asyncio.to_thread(check_file, filename, content, limits)


async def run(db: Database, job: int, org_id: int, kind: str, filename: str, content: bytes,
              *, actor: str, limits: Limits = Limits(), accepted: bool = False,
              owner: str | None = None) -> None:
    """Read, check and import the file; the job row says how far it got and what failed.
    ``accepted``: :func:`accept` passed it already, so it is not measured again.
    ``owner``: the lease holder running it; its outcome is written only while the job is
    still running under that lease (:class:`LeaseLost` otherwise). Running a job again
    from the start is safe: until the outcome, it writes only its progress."""
    try:
        # Reading and checking are CPU work: off the event loop, which serves requests.
        fmt = await plan_mapping(db, org_id, kind)
        table = await asyncio.to_thread(read_file, fmt, filename, content, limits=limits,
                                        checked=accepted)
        body = table.body
        await db.execute("UPDATE plan_import SET rows_total = $2 WHERE id = $1", job, len(body))
        errors = await _check(db, job, org_id, kind, fmt, table)
        if errors:
            await _finish(db, job, "failed", errors, owner)
            return
        await _save(db, job, org_id, kind, fmt, table, actor, owner)
    except DomainError as exc:
        await _finish(db, job, "failed", [RowError(0, None, exc.message)], owner)


async def fail_internally(db: Executor, job: int) -> None:
    """The import broke for a reason of the mill's, not of the file: the customer is told
    only that, the log has the rest."""
    await db.execute(
        "UPDATE plan_import SET status = 'failed', finished_at = now(), content = NULL,"
        " lease_until = NULL,"
        " errors = '[{\"row\": 0, \"column\": null, \"reason\": \"internal error\"}]'"
        " WHERE id = $1 AND status = 'running'", job)


async def _check(db: Database, job: int, org_id: int, kind: str, fmt: Mapping,
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
        mapped = await asyncio.to_thread(map_table, fmt, table)
        specs = await _part_specs(db, org_id, mapped)
        _, errors = await asyncio.to_thread(_consumption, fmt, mapped, specs)
        await _progress(db, job, len(body))
    return errors


async def _part_specs(db: Executor, org_id: int, mapped: Mapped) -> dict[str, int]:
    """The customer's part numbers (or spec codes) the file names, to spec ids."""
    parts = {str(r.values.get("part_number")) for r in mapped.rows}
    return await inputs.spec_ids_by_code(db, org_id, sorted(parts))


async def _save(db: Database, job: int, org_id: int, kind: str, fmt: Mapping, table: Table,
                actor: str, owner: str | None) -> None:
    """Store what the file holds and mark the job imported, in one transaction: a job run
    twice (taken over from a process that died) stores it once."""
    heading, body = table.heading, table.body
    if kind == "plan":
        models = await inputs.known_models(db, org_id)
        entries, _ = await asyncio.to_thread(plan_rows, fmt, heading, body, models)
        async with db.transaction() as tx:
            await _hold(tx, job, owner)
            plan = await inputs.save_plan(tx, org_id, entries, source="upload", actor=actor)
            await _imported(tx, job, plan.id)
            # Last: it appends the plan's events, which serialize until commit.
            await changes.follow(tx, plan, actor=actor)
        return
    mapped = map_table(fmt, table)
    rows, _ = _consumption(fmt, mapped, await _part_specs(db, org_id, mapped))
    async with db.transaction() as tx:
        await _hold(tx, job, owner)
        await _imported(tx, job, None)
        await inputs.store_consumption(tx, org_id, rows, actor=actor)


async def _hold(tx: Executor, job: int, owner: str | None) -> None:
    """Lock the job row to commit, as long as it runs under ``owner``'s lease; a process
    taking jobs over skips a locked row."""
    held = await tx.fetchval(
        "SELECT true FROM plan_import WHERE id = $1 AND status = 'running'"
        " AND leased_by IS NOT DISTINCT FROM $2 FOR UPDATE", job, owner)
    if not held:
        raise LeaseLost(f"plan import {job} is no longer this process's to finish")


async def _imported(tx: Executor, job: int, plan_id: int | None) -> None:
    await tx.execute(
        "UPDATE plan_import SET status = 'imported', rows_done = rows_total, plan_id = $2,"
        " finished_at = now(), content = NULL, lease_until = NULL WHERE id = $1",
        job, plan_id)


async def _progress(db: Database, job: int, done: int) -> None:
    await db.execute("UPDATE plan_import SET rows_done = $2 WHERE id = $1", job, done)


async def _finish(db: Database, job: int, status: str, errors: list[RowError],
                  owner: str | None) -> None:
    done = await db.fetchval(
        "UPDATE plan_import SET status = $2, errors = $3, finished_at = now(), content = NULL,"
        " lease_until = NULL WHERE id = $1 AND status = 'running'"
        " AND leased_by IS NOT DISTINCT FROM $4 RETURNING true",
        job, status,
        [{"row": e.row, "column": e.column, "reason": e.reason} for e in errors[:MAX_REPORTED]],
        owner)
    if not done:
        raise LeaseLost(f"plan import {job} is no longer this process's to finish")

"""Capacity per stage and week against the load confirmed contracts already book.

The mill's figures, not any customer's: they hold no customer's rows, and the booked
load is a sum over every customer's production orders, so a customer reads only what
is left (see :mod:`domain.capacity.enquiry`), never who booked it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from domain.capacity.atp import Load, monday
from domain.capacity.model import BOOKING, Finding, StageWeek
from domain.db import Executor
from domain.tenancy import Scope


async def capacity(db: Executor, first_week: date, last_week: date) -> Load:
    """Capacity set for the weeks from ``first_week`` to ``last_week`` (Mondays)."""
    rows = await db.fetch(
        "SELECT stage, week_start, capacity_t FROM stage_capacity"
        " WHERE week_start BETWEEN $1 AND $2", first_week, last_week)
    return {(r["stage"], r["week_start"]): r["capacity_t"] for r in rows}


async def booked(db: Executor, today: date, until: date,
                 except_lines: Sequence[int] = ()) -> Load:
    """What confirmed lines' unfinished stages still take, by stage and week, from
    ``today`` to ``until``: each stage's tonnes left (planned less recorded) spread over
    its planned days from today on (a stage past its planned end, still unfinished,
    takes them today)."""
    rows = await db.fetch(
        "WITH open AS ("
        "  SELECT s.stage, greatest(s.planned_start, $1) AS a,"
        "         greatest(s.planned_end, $1) AS b,"
        "         s.planned_t - s.actual_t AS left_t"
        "  FROM production_stage_status s JOIN contract_line l ON l.id = s.line_id"
        "  WHERE NOT s.completed AND s.planned_t > s.actual_t AND s.planned_end >= $1 - 366"
        "    AND s.planned_start <= $2 AND l.status = ANY($3::text[])"
        "    AND NOT (l.id = ANY($4::bigint[])))"
        " SELECT o.stage, date_trunc('week', d)::date AS week_start,"
        "        sum(o.left_t / (o.b - o.a + 1)) AS booked_t"
        " FROM open o CROSS JOIN LATERAL generate_series(o.a, least(o.b, $2),"
        "      interval '1 day') AS d"
        " GROUP BY 1, 2",
        today, until, list(BOOKING), list(except_lines))
    return {(r["stage"], r["week_start"]): r["booked_t"] for r in rows}


async def stage_weeks(db: Executor, today: date, first_week: date, last_week: date,
                      stages: Sequence[str] | None = None) -> list[StageWeek]:
    """Every stage (or those given) in every week from ``first_week`` to ``last_week``:
    its capacity, what is booked from ``today`` on, and who set it; in week, then route
    order."""
    first_week, last_week = monday(first_week), monday(last_week)
    load = await booked(db, today, last_week + timedelta(days=6))
    rows = await db.fetch(
        "SELECT st.code AS stage, w::date AS week_start, c.capacity_t, c.set_by, c.set_at"
        " FROM production_stage st"
        " CROSS JOIN generate_series($1::date, $2::date, interval '7 days') AS w"
        " LEFT JOIN stage_capacity c ON c.stage = st.code AND c.week_start = w::date"
        " WHERE cardinality($3::text[]) = 0 OR st.code = ANY($3::text[])"
        " ORDER BY w, st.seq", first_week, last_week, list(stages or []))
    return [StageWeek(stage=r["stage"], week_start=r["week_start"], capacity_t=r["capacity_t"],
                      booked_t=round(load.get((r["stage"], r["week_start"]), Decimal(0)), 3),
                      set_by=r["set_by"], set_at=r["set_at"]) for r in rows]


async def findings_by_line_ids(db: Executor, scope: Scope,
                               line_ids: Sequence[int]) -> dict[int, Finding]:
    """What the check at confirmation found of these lines (unconfirmed ones have none)."""
    rows = await db.fetch(
        "SELECT f.line_id, f.feasible, f.earliest_delivery, f.reason, f.accepted_by,"
        " f.checked_at FROM contract_line_feasibility f WHERE f.line_id = ANY($2::bigint[])"
        f" AND {Scope.owned('f.customer_org_id')}", scope.org_id, list(line_ids))
    return {r["line_id"]: Finding(**dict(r)) for r in rows}

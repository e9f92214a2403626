"""From a stored car build plan, and the customer's delivery schedule where it has one, to
purchase-plan lines: the database reads around the pure calculation (consumption,
parameters, routes, the live stock position)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.db import Executor
from domain.planning import calc, inputs
from domain.planning.position import SpecStock, stock_by_spec
from domain.preferences import model as preference_model
from domain.preferences import reads as preference_reads


@dataclass(frozen=True, slots=True)
class LineProposal:
    spec_id: int
    period_start: date
    period_end: date
    gross_t: Decimal
    daily_t: Decimal
    safety_t: Decimal
    lead_time_t: Decimal
    available_t: Decimal
    net_t: Decimal
    quantity_t: Decimal
    coils: int
    need_date: date | None
    release_date: date | None
    firmness: str
    delivery_site_id: int | None
    transport_mode: str
    transit_days: int
    # Where the gross requirement came from: the car build plan x the consumption table
    # ('build_plan'), or the customer's delivery schedule ('delivery_schedule', with the
    # schedule's id).
    demand_source: str
    delivery_schedule_id: int | None


@dataclass(frozen=True, slots=True)
class Proposal:
    lines: list[LineProposal]
    # Per spec: the stock position netted against, and the projected stock by day.
    positions: dict[int, SpecStock]
    curves: dict[int, tuple[calc.DayStock, ...]]
    # The delivery schedule it followed: the customer's current one, if any.
    delivery_schedule_id: int | None


@dataclass(frozen=True, slots=True)
class _Route:
    site_id: int | None
    mode: str
    days: int


async def _routes(db: Executor, org_id: int, params: dict[int, Any]) -> dict[int, _Route]:
    cycles = {(r["site_id"], r["transport_mode"]): r["cycle_days"] for r in await db.fetch(
        "SELECT site_id, transport_mode, cycle_days FROM transport_cycle"
        " WHERE customer_org_id = $1", org_id)}
    defaults: dict[int | None, preference_model.LineDefaults] = {}
    out = {}
    for spec_id, p in params.items():
        site = p["delivery_site_id"] if p else None
        if site not in defaults:
            defaults[site] = await preference_reads.line_defaults(db, org_id, delivery_site_id=site)
        d = defaults[site]
        mode = (p["transport_mode"] if p else None) or d.transport_mode
        days = cycles.get((d.delivery_site_id, mode))
        if days is None:
            days = d.transit_days if mode == d.transport_mode else (
                preference_model.FALLBACK_TRANSIT_DAYS[mode])
        out[spec_id] = _Route(d.delivery_site_id, mode, days)
    return out


async def propose(
    db: Executor, org_id: int, plan_id: int, as_of: date,
    baseline: dict[int, SpecStock] | None = None,
) -> Proposal:
    """Lines for the car plan ``plan_id`` and the customer's current delivery schedule,
    which takes precedence within its horizon for the specs it names (see
    :func:`calc.with_schedule`): such a line carries the schedule's firmness, any other
    the firmness zone of its period. ``baseline`` replaces the live stock position of the
    specs it names: a plan brought in line with a changed car plan nets against the
    position it was computed from, since its own contracts are live stock now."""
    entries = await inputs.plan_entries(db, plan_id)
    gross = calc.gross_requirements(entries, await inputs.consumption_table(db, org_id))
    schedule = await inputs.schedule_demand(db, org_id)
    schedule_id = schedule.id if schedule else None
    if schedule is not None:
        gross = calc.with_schedule(gross, schedule.periods)
    specs = sorted(gross)
    rows = await db.fetch(
        "SELECT s.id, s.coil_nominal_weight_t, p.safety_days, p.min_order_t,"
        " p.delivery_site_id, p.transport_mode FROM steel_spec s LEFT JOIN planning_spec p"
        " ON p.spec_id = s.id AND p.customer_org_id = $1 WHERE s.id = ANY($2::bigint[])",
        org_id, specs)
    params = {r["id"]: r for r in rows}
    routes = await _routes(db, org_id, {s: params[s] if params[s]["safety_days"] is not None
                                        else None for s in specs})
    positions = {**await stock_by_spec(db, org_id, specs), **(baseline or {})}
    zones = await firmness_zones(db, org_id)
    lines: list[LineProposal] = []
    curves = {}
    for s in specs:
        p, route = params[s], routes[s]
        result = calc.net_demand(calc.SpecInput(
            spec_id=s, periods=gross[s],
            safety_days=p["safety_days"] if p["safety_days"] is not None else Decimal(5),
            transport_days=route.days,
            inventory_position_t=positions[s].inventory_position_t,
            coil_weight_t=p["coil_nominal_weight_t"],
            min_order_t=p["min_order_t"] or Decimal(0),
        ))
        curves[s] = result.curve
        lines.extend(
            LineProposal(
                spec_id=s, period_start=d.start, period_end=d.end, gross_t=d.gross_t,
                daily_t=d.daily_t, safety_t=d.safety_t, lead_time_t=d.lead_time_t,
                available_t=d.available_t, net_t=d.net_t, quantity_t=d.order_t,
                coils=d.coils, need_date=d.need_date, release_date=d.release_date,
                firmness=d.firmness or zones.of(as_of, d.start),
                delivery_site_id=route.site_id, transport_mode=route.mode,
                transit_days=route.days,
                demand_source="build_plan" if d.firmness is None else "delivery_schedule",
                delivery_schedule_id=None if d.firmness is None else schedule_id,
            )
            for d in result.periods
        )
    return Proposal(lines, positions, curves, schedule_id)


async def firmness_zones(db: Executor, org_id: int) -> calc.FirmnessZones:
    row = await db.fetchrow(
        "SELECT firm_days, production_days, material_days FROM planning_profile"
        " WHERE customer_org_id = $1", org_id)
    return calc.FirmnessZones(**dict(row)) if row else calc.FirmnessZones()


async def window_days(db: Executor, org_id: int) -> int:
    days = await db.fetchval(
        "SELECT window_days FROM planning_profile WHERE customer_org_id = $1", org_id)
    return 3 if days is None else int(days)

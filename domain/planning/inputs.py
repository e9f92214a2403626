"""What planning starts from, as the customer and the mill's staff set it: the car build
plan (versioned), the customer's delivery schedule (versioned, as its systems send it:
``domain.planning.schedules``), the consumption table, the planning parameters per spec,
the transport cycles, and the customer's stock reports."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain import events
from domain.actor import Actor
from domain.db import Executor
from domain.errors import Invalid, NotFound
from domain.planning import permissions
from domain.planning.calc import Consumption, PlanEntry, Scheduled
from domain.tenancy import Scope

MAX_HORIZON_DAYS = 400


@dataclass(frozen=True, slots=True)
class ProductionPlan:
    id: int
    customer_org_id: int
    version: int
    horizon_start: date
    horizon_end: date
    source: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConsumptionRow:
    model: str
    spec_code: str
    kg_per_car: Decimal
    yield_allowance_pct: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class SpecParams:
    spec_id: int
    safety_days: Decimal = Decimal(5)
    min_order_t: Decimal = Decimal(0)
    delivery_site_id: int | None = None
    transport_mode: str | None = None


_PLAN_COLS = ("id, customer_org_id, version, horizon_start, horizon_end, source, created_by,"
              " created_at")


def check_entries(entries: Sequence[PlanEntry], known_models: set[str]) -> None:
    """A plan names known models, and a model's periods never overlap."""
    if not entries:
        raise Invalid("a production plan needs at least one entry", field="entries")
    spans: dict[str, list[tuple[date, date]]] = {}
    for e in entries:
        if e.model not in known_models:
            raise Invalid(f"car model {e.model!r} is not in the consumption table",
                          field="entries")
        if e.units < 0 or not 1 <= e.period_days <= 31:
            raise Invalid("units must be 0 or more and a period 1 to 31 days", field="entries")
        spans.setdefault(e.model, []).append(
            (e.period_start, e.period_start + timedelta(days=e.period_days - 1)))
    for model, ranges in spans.items():
        ranges.sort()
        for (_, end), (start, _) in itertools.pairwise(ranges):
            if start <= end:
                raise Invalid(f"periods of {model} overlap on {start}", field="entries")
    first = min(e.period_start for e in entries)
    last = max(e.period_start + timedelta(days=e.period_days - 1) for e in entries)
    if (last - first).days >= MAX_HORIZON_DAYS:
        raise Invalid(f"a plan spans at most {MAX_HORIZON_DAYS} days", field="entries")


async def known_models(db: Executor, org_id: int) -> set[str]:
    rows = await db.fetch(
        "SELECT DISTINCT model_code FROM consumption_rate WHERE customer_org_id = $1", org_id)
    return {r["model_code"] for r in rows}


async def save_plan(
    tx: Executor, org_id: int, entries: Sequence[PlanEntry], *, source: str, actor: str
) -> ProductionPlan:
    """A new version of the customer's car build plan; the caller follows it up (the
    purchase plans recompute) in the same transaction."""
    check_entries(entries, await known_models(tx, org_id))
    # Versions of one customer are numbered under a lock on its organization row; NO KEY
    # UPDATE, so that rows that merely refer to the organization (events, lines) are never
    # held up by it.
    await tx.execute("SELECT 1 FROM organization WHERE id = $1 FOR NO KEY UPDATE", org_id)
    version = await tx.fetchval(
        "SELECT coalesce(max(version), 0) + 1 FROM production_plan WHERE customer_org_id = $1",
        org_id)
    start = min(e.period_start for e in entries)
    end = max(e.period_start + timedelta(days=e.period_days - 1) for e in entries)
    row = await tx.fetchrow(
        "INSERT INTO production_plan (customer_org_id, version, horizon_start, horizon_end,"
        f" source, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_PLAN_COLS}",
        org_id, version, start, end, source, actor)
    assert row is not None
    await tx.executemany(
        "INSERT INTO production_plan_entry (plan_id, model_code, period_start, period_days,"
        " units) VALUES ($1, $2, $3, $4, $5)",
        [(row["id"], e.model, e.period_start, e.period_days, e.units) for e in entries])
    return ProductionPlan(**dict(row))


async def current_plan(db: Executor, org_id: int) -> ProductionPlan | None:
    row = await db.fetchrow(
        f"SELECT {_PLAN_COLS} FROM production_plan WHERE customer_org_id = $1"
        " ORDER BY version DESC LIMIT 1", org_id)
    return ProductionPlan(**dict(row)) if row else None


async def plans_by_ids(
    db: Executor, org_id: int | None, ids: Sequence[int]
) -> list[ProductionPlan]:
    rows = await db.fetch(
        f"SELECT {_PLAN_COLS} FROM production_plan WHERE id = ANY($2::bigint[])"
        " AND ($1::bigint IS NULL OR customer_org_id = $1)", org_id, list(ids))
    return [ProductionPlan(**dict(r)) for r in rows]


async def plans_in_scope(db: Executor, scope: Scope, ids: Sequence[int]) -> list[ProductionPlan]:
    """Car plan versions by id, for a loader."""
    rows = await db.fetch(
        f"SELECT {_PLAN_COLS} FROM production_plan WHERE id = ANY($2::bigint[])"
        f" AND {Scope.owned('customer_org_id')}", scope.org_id, list(ids))
    return [ProductionPlan(**dict(r)) for r in rows]


async def current_plans(
    db: Executor, scope: Scope, org_ids: Sequence[int]
) -> dict[int, ProductionPlan]:
    """Each customer's newest car plan version, for a loader."""
    rows = await db.fetch(
        f"SELECT DISTINCT ON (customer_org_id) {_PLAN_COLS} FROM production_plan"
        f" WHERE customer_org_id = ANY($2::bigint[]) AND {Scope.owned('customer_org_id')}"
        " ORDER BY customer_org_id, version DESC", scope.org_id, list(org_ids))
    return {r["customer_org_id"]: ProductionPlan(**dict(r)) for r in rows}


async def plan_entries(db: Executor, plan_id: int) -> list[PlanEntry]:
    return (await entries_by_plans(db, Scope.everything(), [plan_id]))[plan_id]


async def entries_by_plans(
    db: Executor, scope: Scope, plan_ids: Sequence[int]
) -> dict[int, list[PlanEntry]]:
    """Each car plan version's entries, by period then model."""
    rows = await db.fetch(
        "SELECT e.plan_id, e.model_code, e.period_start, e.period_days, e.units"
        " FROM production_plan_entry e JOIN production_plan p ON p.id = e.plan_id"
        f" WHERE e.plan_id = ANY($2::bigint[]) AND {Scope.owned('p.customer_org_id')}"
        " ORDER BY e.plan_id, e.period_start, e.model_code", scope.org_id, list(plan_ids))
    out: dict[int, list[PlanEntry]] = {p: [] for p in plan_ids}
    for r in rows:
        out[r["plan_id"]].append(
            PlanEntry(r["model_code"], r["period_start"], r["period_days"], r["units"]))
    return out


@dataclass(frozen=True, slots=True)
class ScheduleDemand:
    """The customer's current delivery schedule as planning reads it."""

    id: int
    version: int
    periods: list[Scheduled]


async def schedule_demand(db: Executor, org_id: int) -> ScheduleDemand | None:
    """The tonnes and firmness per spec and period of the customer's newest delivery
    schedule; None when it has sent none."""
    row = await db.fetchrow(
        "SELECT id, version FROM delivery_schedule WHERE customer_org_id = $1"
        " ORDER BY version DESC LIMIT 1", org_id)
    if row is None:
        return None
    lines = await db.fetch(
        "SELECT spec_id, period_start, period_end, quantity_t, firmness"
        " FROM delivery_schedule_line WHERE schedule_id = $1"
        " ORDER BY spec_id, period_start, period_end", row["id"])
    return ScheduleDemand(row["id"], row["version"], [
        Scheduled(r["spec_id"], r["period_start"], r["period_end"], r["quantity_t"],
                  r["firmness"]) for r in lines])


async def consumption_table(db: Executor, org_id: int) -> list[Consumption]:
    rows = await db.fetch(
        "SELECT model_code, spec_id, kg_per_car, yield_allowance_pct FROM consumption_rate"
        " WHERE customer_org_id = $1 ORDER BY model_code, spec_id", org_id)
    return [Consumption(r["model_code"], r["spec_id"], r["kg_per_car"],
                        r["yield_allowance_pct"]) for r in rows]


async def check_own_spec(db: Executor, org_id: int, spec_id: int, field: str) -> None:
    """A spec the customer may plan with: a catalogue spec or one of its own."""
    ok = await db.fetchval(
        "SELECT true FROM steel_spec WHERE id = $1 AND (customer_org_id IS NULL"
        " OR customer_org_id = $2)", spec_id, org_id)
    if not ok:
        raise NotFound("no such steel spec for this customer", field=field)


async def spec_ids_by_code(db: Executor, org_id: int, codes: Sequence[str]) -> dict[str, int]:
    """Specs the customer may plan with, by spec code or by its own part number."""
    rows = await db.fetch(
        "SELECT id, code, customer_part_number FROM steel_spec"
        " WHERE (code = ANY($2::text[]) OR customer_part_number = ANY($2::text[]))"
        " AND (customer_org_id IS NULL OR customer_org_id = $1)", org_id, list(codes))
    out: dict[str, int] = {}
    for r in rows:
        out[r["code"]] = r["id"]
        if r["customer_part_number"]:
            out[r["customer_part_number"]] = r["id"]
    return out


async def set_consumption(
    tx: Executor, org_id: int, rows: Sequence[ConsumptionRow], *, actor: Actor
) -> int:
    """Replace the customer's consumption table; the number of rates it holds."""
    _check(actor, "set_consumption", org_id)
    return await store_consumption(tx, org_id, rows, actor=actor.subject)


def _check(actor: Actor, action: str, org_id: int) -> None:
    permissions.check(actor, action, org_id)


async def store_consumption(
    tx: Executor, org_id: int, rows: Sequence[ConsumptionRow], *, actor: str
) -> int:
    """Replace the customer's consumption table; returns the number of rates."""
    if not rows:
        raise Invalid("the consumption table needs at least one row", field="rows")
    specs = await spec_ids_by_code(tx, org_id, sorted({r.spec_code for r in rows}))
    seen: set[tuple[str, int]] = set()
    values = []
    for r in rows:
        spec = specs.get(r.spec_code)
        if spec is None:
            raise NotFound(f"no spec {r.spec_code!r} of yours", field="rows")
        if r.kg_per_car <= 0 or not 0 <= r.yield_allowance_pct <= 100 or not r.model.strip():
            raise Invalid(f"{r.model}/{r.spec_code}: kilograms must be above 0 and the"
                          " allowance 0 to 100 %", field="rows")
        if (r.model, spec) in seen:
            raise Invalid(f"{r.model}/{r.spec_code} is given twice", field="rows")
        seen.add((r.model, spec))
        values.append((org_id, r.model.strip(), spec, r.kg_per_car, r.yield_allowance_pct))
    await tx.execute("DELETE FROM consumption_rate WHERE customer_org_id = $1", org_id)
    await tx.executemany(
        "INSERT INTO consumption_rate (customer_org_id, model_code, spec_id, kg_per_car,"
        " yield_allowance_pct) VALUES ($1, $2, $3, $4, $5)", values)
    return len(values)


async def set_spec_params(
    tx: Executor, org_id: int, params: SpecParams, *, actor: Actor
) -> None:
    _check(actor, "set_spec_params", org_id)
    if params.safety_days < 0 or params.min_order_t < 0:
        raise Invalid("safety days and minimum order must not be negative", field="safetyDays")
    await tx.execute(
        "INSERT INTO planning_spec (customer_org_id, spec_id, safety_days, min_order_t,"
        " delivery_site_id, transport_mode) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (customer_org_id, spec_id) DO UPDATE SET safety_days = $3,"
        " min_order_t = $4, delivery_site_id = $5, transport_mode = $6",
        org_id, params.spec_id, params.safety_days, params.min_order_t,
        params.delivery_site_id, params.transport_mode)


async def set_transport_cycle(
    tx: Executor, org_id: int, site_id: int, mode: str, days: int, *, actor: Actor
) -> None:
    _check(actor, "set_transport_cycle", org_id)
    if days < 0:
        raise Invalid("a transport cycle is 0 days or more", field="cycleDays")
    await tx.execute(
        "INSERT INTO transport_cycle (customer_org_id, site_id, transport_mode, cycle_days)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (customer_org_id, site_id, transport_mode)"
        " DO UPDATE SET cycle_days = $4", org_id, site_id, mode, days)


async def report_stock(
    tx: Executor, org_id: int, spec_id: int, *, reported_on: date, consumed_t: Decimal,
    allocated_t: Decimal | None, actor: Actor,
) -> int:
    _check(actor, "report_stock", org_id)
    if consumed_t < 0 or (allocated_t is not None and allocated_t < 0):
        raise Invalid("tonnes must not be negative", field="consumedTonnes")
    report_id: int = await tx.fetchval(
        "INSERT INTO stock_report (customer_org_id, spec_id, reported_on, consumed_t,"
        " allocated_t, reported_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        org_id, spec_id, reported_on, consumed_t, allocated_t, actor.subject)
    return report_id


async def plan_changed_event(tx: Executor, plan: ProductionPlan, *, actor: str) -> None:
    await events.append(
        tx, "production_plan.changed", org_id=plan.customer_org_id,
        aggregate_type="production_plan", aggregate_id=plan.id,
        payload={"version": plan.version, "horizon_start": plan.horizon_start.isoformat(),
                 "horizon_end": plan.horizon_end.isoformat()}, actor=actor)


@dataclass(frozen=True, slots=True)
class Profile:
    firm_days: int = 28
    production_days: int = 56
    material_days: int = 91
    window_days: int = 3


async def set_profile(tx: Executor, org_id: int, p: Profile, *, actor: Actor) -> None:
    _check(actor, "set_profile", org_id)
    """How far ahead a period is firm, committed for production or for material, and how
    many days a delivery window opens before the day the steel is needed."""
    if not 0 <= p.firm_days <= p.production_days <= p.material_days <= MAX_HORIZON_DAYS:
        raise Invalid("zones must grow: firm <= production <= material days, all 0 to"
                      f" {MAX_HORIZON_DAYS}", field="firmDays")
    if not 0 <= p.window_days <= 31:
        raise Invalid("a delivery window is 0 to 31 days", field="windowDays")
    await tx.execute(
        "INSERT INTO planning_profile (customer_org_id, firm_days, production_days,"
        " material_days, window_days) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (customer_org_id) DO UPDATE SET firm_days = $2, production_days = $3,"
        " material_days = $4, window_days = $5",
        org_id, p.firm_days, p.production_days, p.material_days, p.window_days)

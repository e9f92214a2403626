"""FAW-Volkswagen's side of production-plan collaboration in the demo: four car models
and what steel each takes, planning parameters, 7 days by rail to Changchun, the format
of its plan files (Chinese headings and model names), a 13-week car build plan from
today, and the purchase plan computed from it against the demo's live stock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from domain.actor import Actor
from domain.db import Executor
from domain.planning import imports, inputs, plans
from domain.planning.calc import PlanEntry

from .catalogue import DELIVERY, FAW_VW

# Kilograms of each spec (by FAW-VW's part number) per car, and the blanking allowance.
CONSUMPTION: dict[str, dict[str, Decimal]] = {
    "SAGITAR": {"5Q0-809-605": Decimal(38), "5Q0-821-105": Decimal(22),
                "5Q0-803-211": Decimal(45), "5Q0-809-837": Decimal(30),
                "5Q0-831-051": Decimal(41)},
    "MAGOTAN": {"5Q0-809-605": Decimal(40), "5Q0-821-105": Decimal("52.5"),
                "5Q0-803-211": Decimal(51), "5Q0-802-093": Decimal(24),
                "5Q0-809-837": Decimal(36), "5Q0-831-051": Decimal(47)},
    "TAYRON": {"5Q0-809-605": Decimal(44), "5Q0-803-211": Decimal(58),
               "5Q0-802-093": Decimal(31), "5Q0-809-837": Decimal(40),
               "5Q0-831-051": Decimal(52)},
    "JETTA-VS5": {"5Q0-809-605": Decimal(36), "5Q0-803-211": Decimal(49),
                  "5Q0-831-051": Decimal(39)},
}
ALLOWANCE = Decimal(4)
# Cars a week per model; the plan ramps the Tayron up over the quarter.
WEEKLY = {"SAGITAR": 2400, "MAGOTAN": 1600, "TAYRON": 900, "JETTA-VS5": 1200}
WEEKS = 13
# What FAW-VW's planners call things in their spreadsheets.
FORMAT = {"model": "车型", "period_start": "周一日期", "units": "计划产量",
          "part_number": "零件号", "kg_per_car": "单车用量(kg)"}
MODEL_NAMES = {"速腾": "SAGITAR", "迈腾": "MAGOTAN", "探岳": "TAYRON", "捷达VS5": "JETTA-VS5"}


def plan_entries(day: date) -> list[PlanEntry]:
    monday = day - timedelta(days=day.weekday())
    return [PlanEntry(model, monday + timedelta(weeks=w), 7,
                      units + (60 * w if model == "TAYRON" else 0))
            for w in range(WEEKS) for model, units in WEEKLY.items()]


async def write(tx: Executor, day: date, step: Callable[[str], None]) -> None:
    org = await tx.fetchval("SELECT id FROM organization WHERE code = $1", FAW_VW)
    rows = [inputs.ConsumptionRow(model, part, kg, ALLOWANCE)
            for model, parts in CONSUMPTION.items() for part, kg in parts.items()]
    demo = Actor.system("demo")
    await inputs.set_consumption(tx, org, rows, actor=demo)
    specs = await inputs.spec_ids_by_code(tx, org, sorted({r.spec_code for r in rows}))
    for part, spec in specs.items():
        if part.startswith("5Q0"):
            await inputs.set_spec_params(tx, org, inputs.SpecParams(
                spec_id=spec, safety_days=Decimal(5), min_order_t=Decimal(48)), actor=demo)
    site_code, mode, days = DELIVERY[FAW_VW]
    site = await tx.fetchval("SELECT id FROM site WHERE code = $1", site_code)
    await inputs.set_transport_cycle(tx, org, site, mode, days, actor=demo)
    await imports.set_plan_format(tx, org, imports.PlanFormat(FORMAT, MODEL_NAMES),
                                  actor=demo)
    await inputs.save_plan(tx, org, plan_entries(day), source="demo", actor="demo")
    await plans.compute_in(tx, org, actor="demo", as_of=day)
    step(f"planning: FAW-VW car plan of {WEEKS} weeks and its purchase plan")

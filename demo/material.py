"""Heats, slabs and coils behind the demo lines, and the genealogy that links them.

Each line whose coils exist (its cold-rolling or coating stage is done) gets the
coils its tonnage needs. Working back: every rolled coil comes from a hot-rolled
coil, every hot-rolled coil from a slab, and slabs are grouped into heats of about
300 t per melt family in the order they were rolled, so a heat often feeds several
lines and, for shared grades, both customers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from domain.contracts.stage_routes import coil_stage

from .catalogue import CHEMISTRY, HOT_BAND_MM, SpecDef
from .model import Coil, Edge, Heat, Line, Slab
from .schedule import CST, at

D = Decimal
_STEEL_T_M3 = D("7.85")
_SLAB_MM = D(230)


class Material:
    def __init__(self) -> None:
        self.heats: list[Heat] = []
        self.slabs: list[Slab] = []
        self.coils: list[Coil] = []
        self.edges: list[Edge] = []


def _kg(value: float | Decimal) -> Decimal:
    return D(str(value)).quantize(D(1), rounding=ROUND_HALF_UP).quantize(D("0.1"))


def _day_in(rng: random.Random, span: tuple[date, date]) -> date:
    return span[0] + timedelta(days=rng.randint(0, (span[1] - span[0]).days))


def make_material(rng: random.Random, lines: Sequence[Line], today: date) -> Material:
    out = Material()
    for line in lines:
        timeline = line.timeline
        if timeline is not None and timeline.done(coil_stage(line.spec.d.product)):
            _coils_for(rng, line, out)
    _cast(rng, out)
    _number(rng, out)
    return out


def _pieces(rng: random.Random, d: SpecDef, quantity: Decimal) -> tuple[int, int]:
    """(rolled coils, pieces cut from each): pieces are 1 for a coil sold at mill width."""
    per = d.slit_ways or (rng.randint(4, 5) if d.sheets else 1)
    wanted = max(per, round(quantity / d.nominal_t))
    return math.ceil(wanted / per), per


def _coils_for(rng: random.Random, line: Line, out: Material) -> None:
    d, timeline = line.spec.d, line.timeline
    assert timeline is not None
    mothers, per = _pieces(rng, d, line.quantity_t)
    piece_kg = float(line.quantity_t) * 1000 / (mothers * per)
    cut = d.slit_ways > 0 or d.sheets
    kind = "coated" if d.product == "galvanized" else "cold_rolled"
    width = d.width_mm * d.slit_ways + rng.randint(15, 30) if d.slit_ways else d.width_mm
    hot_gauge = next(hot for cold, hot in HOT_BAND_MM if d.thickness_mm <= cold)
    rolled_span = timeline.span(coil_stage(d.product))
    hot_span = timeline.span("hot_rolling")
    steel_on = timeline.span("steelmaking")[1]
    cut_done = cut and timeline.done("finishing")
    for _ in range(mothers):
        pieces = [_kg(piece_kg * rng.uniform(0.97, 1.03)) for _ in range(per)]
        rolled_kg = _kg(float(sum(pieces)) / rng.uniform(0.986, 0.993)) if cut else pieces[0]
        hot_kg = _kg(float(rolled_kg) / rng.uniform(0.955, 0.975))
        slab_kg = _kg(float(hot_kg) / rng.uniform(0.978, 0.988))
        hot_width = width + rng.randint(20, 40)
        slab_width = hot_width + rng.randint(10, 30)
        length = (slab_kg / (_SLAB_MM * slab_width * _STEEL_T_M3) * D(10) ** 6).quantize(D("0.1"))
        hot_day = _day_in(rng, hot_span)
        slab = Slab(None, slab_kg, slab_width, length, hot_day, steel_on, d.family,
                    line.customer.code)
        hot = Coil("hot_rolled", slab, None, None, hot_gauge, hot_width, hot_kg, at(hot_day, rng))
        rolled_on = max(_day_in(rng, rolled_span), hot_day + timedelta(days=1))
        rolled = Coil(kind, slab, None if cut else line.spec, None if cut else line,
                      d.thickness_mm, width, rolled_kg, at(rolled_on, rng))
        out.slabs.append(slab)
        out.coils += [hot, rolled]
        out.edges += [Edge(slab, None, hot, "roll", slab_kg, hot_kg, hot.produced_at),
                      Edge(None, hot, rolled, "roll", hot_kg, rolled_kg, rolled.produced_at)]
        if not cut:
            rolled.quality_status = "pending"
            line.coils.append(rolled)
            continue
        if not cut_done:
            continue
        cut_on = max(_day_in(rng, timeline.span("finishing")), rolled_on)
        _cut(rng, out, line, rolled, pieces, "slit" if d.slit_ways else "cut",
             at(cut_on, rng))


def _cut(rng: random.Random, out: Material, line: Line, parent: Coil, pieces: list[Decimal],
         operation: str, when: datetime) -> None:
    """Children of a slit or cut: their inputs share out the parent, trim loss included."""
    total = sum(pieces)
    remaining = parent.weight_kg
    kind = "slit" if operation == "slit" else "sheet_pack"
    for i, weight in enumerate(pieces):
        share = remaining if i == len(pieces) - 1 else _kg(parent.weight_kg * weight / total)
        remaining -= share
        child = Coil(kind, parent.slab, line.spec, line, line.spec.d.thickness_mm,
                     line.spec.d.width_mm, weight, when + timedelta(minutes=3 * i),
                     quality_status="pending")
        out.coils.append(child)
        out.edges.append(Edge(None, parent, child, operation, share, weight, child.produced_at))
        line.coils.append(child)


def _cast(rng: random.Random, out: Material) -> None:
    """Group slabs into heats: per melt family, in rolling order, about 300 t a heat."""
    families = sorted({s.family for s in out.slabs})
    for family in families:
        slabs = sorted((s for s in out.slabs if s.family == family),
                       key=lambda s: (s.rolled_on, s.steel_on))
        heats: list[Heat] = []
        load = D(0)
        for slab in slabs:
            if not heats or load + slab.weight_kg > heats[-1].weight_t * 980:
                weight = D(rng.randint(2850, 3150)) / 10
                heats.append(Heat(family, datetime.min, weight, _chemistry(rng, family)))
                load = D(0)
            heats[-1].slabs.append(slab)
            load += slab.weight_kg
        out.heats += heats
    _mix(out.heats)
    for heat in out.heats:
        first = min(s.steel_on for s in heat.slabs)
        heat.tapped_at = at(first, rng, 0, 20)
        for j, slab in enumerate(heat.slabs):
            slab.heat = heat
            slab.cast_at = heat.tapped_at + timedelta(minutes=50 + 6 * j)


def _mix(heats: list[Heat]) -> None:
    """Make sure some heat feeds both customers, as a shared grade's heats do in a mill.

    Packing by rolling order almost always mixes them; at tiny demo sizes it may not,
    and the tenancy rules are only tested by a heat whose coils two customers own.
    """
    def customers(heat: Heat) -> set[str]:
        return {s.owner for s in heat.slabs}

    if any(len(customers(h)) > 1 for h in heats):
        return
    for a in heats:
        for b in heats:
            if a.family == b.family and customers(a) != customers(b) and a is not b:
                a.slabs[-1], b.slabs[-1] = b.slabs[-1], a.slabs[-1]
                return


def _chemistry(rng: random.Random, family: str) -> dict[str, Decimal]:
    out = {}
    for element, (low, high, places) in CHEMISTRY[family][1].items():
        step = D(1).scaleb(-places)
        lo, hi = int(D(low) / step), int(D(high) / step)
        out[element] = (rng.randint(lo, hi) * step).quantize(step)
    return out


def _number(rng: random.Random, out: Material) -> None:
    """Heat, slab and coil numbers run in production order, as the mill's systems issue them."""
    serial = rng.randint(10_000, 14_000)
    for heat in sorted(out.heats, key=lambda h: h.tapped_at):
        heat.heat_no = f"{heat.tapped_at.astimezone(CST):%y}H{serial:05d}"
        serial += 1
        for j, slab in enumerate(heat.slabs, start=1):
            slab.slab_no = f"{heat.heat_no}{j:02d}"
    serial = rng.randint(10_000, 60_000)
    out.coils.sort(key=lambda c: c.produced_at)
    for coil in out.coils:
        coil.coil_no = f"BX{coil.produced_at.astimezone(CST):%y}C{serial:07d}"
        serial += 1

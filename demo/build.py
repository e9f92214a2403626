"""Generating the whole demo case in memory, deterministically for a seed and a date."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from . import catalogue, examples
from .commercial import make_contracts
from .material import Material, make_material
from .model import Certificate, Contract, Feedback, Inspection, Line, Org, Settlement, Site, Spec
from .quality import feedback, inspect, ship
from .schedule import CST
from .settlement import settle


@dataclass
class DemoData:
    orgs: dict[str, Org]
    sites: dict[str, Site]
    specs: list[Spec]
    contracts: list[Contract]
    material: Material
    inspections: list[Inspection] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    settlements: list[Settlement] = field(default_factory=list)

    @property
    def lines(self) -> list[Line]:
        return [line for c in self.contracts for line in c.lines]


def build(contracts: int, random_seed: int, today: date,
          step: Callable[[str], None]) -> DemoData:
    rng = random.Random(random_seed)
    orgs = {code: Org(code, name, kind) for code, name, kind in catalogue.ORGANIZATIONS}
    sites = {
        s.code: Site(s.code, s.name, s.kind, None if s.org is None else orgs[s.org],
                     s.latitude, s.longitude, s.geofence(), s.radius_m)
        for s in catalogue.SITES
    }
    # The quality department set every spec's limits long before the first contract.
    limits_set_at = datetime.combine(today - timedelta(days=3 * 365), time(9), CST)
    specs = [Spec(d, None if d.customer is None else orgs[d.customer], limits_set_at)
             for d in catalogue.SPECS]
    step(f"generating {contracts} contracts")
    made = make_contracts(rng, contracts, today, orgs, sites, specs)
    data = DemoData(orgs, sites, specs, made, Material())
    lines = data.lines
    step("generating heats, slabs and coils")
    data.material = make_material(rng, lines, today)
    ship(rng, lines)
    step("generating inspections and certificates")
    data.inspections, data.certificates = inspect(rng, lines, today)
    data.feedback = feedback(rng, lines, today)
    step("generating settlements")
    data.settlements = settle(rng, made, today)
    examples.name(data)
    return data

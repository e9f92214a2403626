"""The rows the demo generator builds, as plain objects that point at each other.

Generation links objects, not ids: the plant's records name each other by natural key,
and once they are applied the loader sets each object's id from the database (by that
key) before writing the rows that name them by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.contracts.stage_routes import StagePlan
from domain.quality.limits import SpecLimits

from .catalogue import SpecDef, spec_limits


@dataclass(eq=False, slots=True)
class Org:
    code: str
    name: str
    kind: str
    id: int = 0


@dataclass(eq=False, slots=True)
class Site:
    code: str
    name: str
    kind: str
    org: Org | None
    latitude: float
    longitude: float
    geofence: dict[str, Any] | None
    radius_m: float | None
    id: int = 0


@dataclass(eq=False, slots=True)
class Spec:
    d: SpecDef
    customer: Org | None
    # When its limits (revision 1) were set: before any of its coils was certified.
    limits_set_at: datetime | None = None
    id: int = 0

    @property
    def limits(self) -> SpecLimits:
        return spec_limits(self.d)


@dataclass(eq=False, slots=True)
class Timeline:
    """A line's production: the plan and what happened, per stage of the route.

    ``actual[i]`` is None before stage i starts, else (first day, last day or None
    while it runs). ``ship_on`` is set once the line's coils have left the mill.
    """

    plans: list[StagePlan]
    actual: list[tuple[date, date | None] | None]
    disrupted: int | None = None

    def index(self, stage: str) -> int:
        for i, plan in enumerate(self.plans):
            if plan.stage == stage:
                return i
        raise KeyError(stage)

    def has(self, stage: str) -> bool:
        return any(p.stage == stage for p in self.plans)

    def done(self, stage: str) -> bool:
        span = self.actual[self.index(stage)]
        return span is not None and span[1] is not None

    def span(self, stage: str) -> tuple[date, date]:
        """First and last day of a stage that has started (last = first while it runs)."""
        found = self.actual[self.index(stage)]
        if found is None:
            raise ValueError(f"{stage} has not started")
        return found[0], found[1] or found[0]

    @property
    def all_done(self) -> bool:
        return all(a is not None and a[1] is not None for a in self.actual)

    @property
    def planned_finish(self) -> date:
        return self.plans[-1].planned_end

    @property
    def actual_finish(self) -> date | None:
        last = self.actual[-1]
        return None if last is None else last[1]


@dataclass(eq=False, slots=True)
class Event:
    stage: str
    tonnes: Decimal
    completes: bool
    occurred_at: datetime
    recorded_by: str
    recorded_at: datetime
    note: str | None = None


@dataclass(eq=False, slots=True)
class Line:
    line_no: int
    spec: Spec
    quantity_t: Decimal
    unit_price: Decimal
    delivery_from: date
    delivery_to: date
    site: Site
    transport_mode: str
    transit_days: int
    firmness: str
    status: str
    timeline: Timeline | None = None
    events: list[Event] = field(default_factory=list)
    # Share of the line's coils that have left the mill (0 = none, 1 = all).
    ship_share: float = 0.0
    ship_on: date | None = None
    shipped_t: Decimal = Decimal(0)
    coils: list[Coil] = field(default_factory=list)
    contract: Contract | None = None
    id: int = 0
    order_id: int = 0

    @property
    def customer(self) -> Org:
        assert self.contract is not None
        return self.contract.customer


@dataclass(eq=False, slots=True)
class Contract:
    customer: Org
    status: str
    lines: list[Line]
    sales_owner: str
    created_at: datetime
    updated_at: datetime
    signed_on: date | None = None
    confirmed_at: datetime | None = None
    number: str = ""
    id: int = 0


@dataclass(eq=False, slots=True)
class Heat:
    family: str
    tapped_at: datetime
    weight_t: Decimal
    chemistry: dict[str, Decimal]
    heat_no: str = ""
    slabs: list[Slab] = field(default_factory=list)
    id: int = 0


@dataclass(eq=False, slots=True)
class Slab:
    heat: Heat | None
    weight_kg: Decimal
    width_mm: Decimal
    length_mm: Decimal
    rolled_on: date
    steel_on: date
    family: str
    # The customer whose line the slab was rolled for (code).
    owner: str
    cast_at: datetime | None = None
    slab_no: str = ""
    thickness_mm: Decimal = Decimal(230)
    id: int = 0


@dataclass(eq=False, slots=True)
class Coil:
    kind: str
    slab: Slab
    spec: Spec | None
    line: Line | None
    thickness_mm: Decimal
    width_mm: Decimal
    weight_kg: Decimal
    produced_at: datetime
    quality_status: str = "released"
    shipped: bool = False
    coil_no: str = ""
    id: int = 0

    @property
    def heat(self) -> Heat:
        assert self.slab.heat is not None
        return self.slab.heat

    @property
    def customer(self) -> Org | None:
        return None if self.line is None else self.line.customer


@dataclass(eq=False, slots=True)
class Edge:
    parent_slab: Slab | None
    parent_coil: Coil | None
    child: Coil
    operation: str
    input_kg: Decimal
    output_kg: Decimal
    occurred_at: datetime


@dataclass(eq=False, slots=True)
class Certificate:
    cert_no: str
    coil: Coil
    customer: Org
    yield_mpa: Decimal
    tensile_mpa: Decimal
    elongation_pct: Decimal
    coating: str | None
    coating_g_m2: Decimal | None
    issued_at: datetime
    issued_by: str
    content: dict[str, Any]
    content_hash: str
    # The spec's limits it was checked against (their document) and their revision.
    limits: dict[str, Any] | None = None
    limits_revision: int | None = None


@dataclass(eq=False, slots=True)
class Inspection:
    coil: Coil
    kind: str
    result: str
    inspected_at: datetime
    inspector: str
    findings: str | None


@dataclass(eq=False, slots=True)
class Feedback:
    coil: Coil
    customer: Org
    process: str
    result: str
    notes: str | None
    recorded_by: str
    recorded_at: datetime


@dataclass(eq=False, slots=True)
class Settlement:
    number: str
    contract: Contract
    theoretical_t: Decimal
    actual_t: Decimal
    unit_price: Decimal
    goods: Decimal
    surcharges: Decimal
    freight: Decimal
    deductions: Decimal
    invoice_status: str
    issued_on: date | None
    due_on: date | None
    paid_on: date | None
    created_at: datetime
    # What the mill's ERP received against the invoice: (reference, amount, day). An
    # invoice whose payments cover it is written issued and paid by them, through the feeds.
    payments: list[tuple[str, Decimal, date]] = field(default_factory=list)

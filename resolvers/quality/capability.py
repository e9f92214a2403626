"""The standards and quality-assurance enquiry: the spec catalogue with each standard's
limits, and what a spec's coils measured against them over a period."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.calendar import mill_today
from domain.errors import DomainError
from domain.quality import capability
from domain.quality import reads as quality_reads
from resolvers.common import ctx, customer_id_of, loaders, viewer
from resolvers.loaders import SpecByIdLoader
from resolvers.parties import Product, SteelSpec
from resolvers.relay import DEFAULT_PAGE, Connection, after_text, check_first, connection
from resolvers.shipments.devices import Refused


@strawberry.type(description="One tested value of a spec's coils against its limits now.")
class PropertyCapability:
    property: str = strawberry.field(
        description="An element symbol (`C`, `Mn`), or `yieldStrengthMpa`, "
        "`tensileStrengthMpa`, `elongationPct`, `coatingMassGM2`.")
    unit: str = strawberry.field(description="`MPa`, `%` or `g/m²`.")
    lower_limit: Decimal | None = strawberry.field(description="Least value allowed (LSL).")
    upper_limit: Decimal | None = strawberry.field(description="Most value allowed (USL).")
    n: int = strawberry.field(description="Values measured.")
    mean: Decimal | None = strawberry.field(description="Their mean.")
    std_dev: Decimal | None = strawberry.field(
        description="Their sample standard deviation; null for fewer than two.")
    min: Decimal | None = strawberry.field(description="The least.")
    max: Decimal | None = strawberry.field(description="The most.")
    outside: int = strawberry.field(
        description="Values outside the limits as they stand now (each certificate was "
        "checked against the revision of its day).")
    cpk: Decimal | None = strawberry.field(
        description="Process capability: min(USL - mean, mean - LSL) / 3 sigma, on the "
        "sides that are bounded; null without a limit or a spread. 1.33 is the usual "
        "target.")

    @classmethod
    def of(cls, p: capability.PropertyStats) -> PropertyCapability:
        return cls(property=p.name, unit=p.unit, lower_limit=p.lower_limit,
                   upper_limit=p.upper_limit, n=p.n, mean=p.mean, std_dev=p.std_dev,
                   min=p.min, max=p.max, outside=p.outside, cpk=p.cpk)


@strawberry.type(description="Certificates issued against one revision of a spec's limits.")
class LimitsRevisionUse:
    limits_revision: int | None = strawberry.field(
        description="The revision; null for certificates issued against no limits.")
    certificates: int = strawberry.field(description="How many.")
    first_issued_at: dt.datetime = strawberry.field(description="The first issued.")
    last_issued_at: dt.datetime = strawberry.field(description="The last issued.")


@strawberry.type(description="What a spec's coils made in a period measured against its "
                 "limits; a customer's figures are of its own coils only.")
class SpecCapability:
    period_start: dt.date = strawberry.field(description="First day of the period.")
    period_end: dt.date = strawberry.field(description="Last day of the period.")
    limits_revision: int = strawberry.field(
        description="The revision of the limits the figures are judged against: the "
        "spec's current one (0: it has none).")
    coils: int = strawberry.field(description="Coils of the spec made in the period.")
    certified: int = strawberry.field(description="Of them, with a certificate.")
    inspected: int = strawberry.field(description="Of them, inspected.")
    first_pass: int = strawberry.field(
        description="Of the inspected, those whose first inspection of each kind passed "
        "and that were neither blocked nor downgraded.")
    first_pass_yield: Decimal | None = strawberry.field(
        description="First pass over inspected, 0 to 1; null with nothing inspected.")
    mechanical: list[PropertyCapability] = strawberry.field(
        description="Yield, tensile strength, elongation and coating mass, as certified.")
    chemistry: list[PropertyCapability] = strawberry.field(
        description="The cast analysis, element by element, as certified.")
    revisions: list[LimitsRevisionUse] = strawberry.field(
        description="Which revisions of the limits the certificates were issued against.")
    spec_pk: strawberry.Private[int]

    @strawberry.field(description="The spec.")
    async def spec(self, info: Info[Any, Any]) -> SteelSpec | None:
        found = await loaders(info).get(SpecByIdLoader).load(self.spec_pk)
        return SteelSpec.of(found) if found else None

    @classmethod
    def of(cls, c: capability.Capability) -> SpecCapability:
        return cls(
            period_start=c.period_start, period_end=c.period_end,
            limits_revision=c.limits_revision, coils=c.coils, certified=c.certified,
            inspected=c.inspected, first_pass=c.first_pass,
            first_pass_yield=c.first_pass_yield,
            mechanical=[PropertyCapability.of(p) for p in c.mechanical],
            chemistry=[PropertyCapability.of(p) for p in c.chemistry],
            revisions=[LimitsRevisionUse(
                limits_revision=r.limits_revision, certificates=r.certificates,
                first_issued_at=r.first_issued_at, last_issued_at=r.last_issued_at)
                for r in c.revisions],
            spec_pk=c.spec_id)


@strawberry.type
class CapabilityQueries:
    @strawberry.field(description="The steel specs you may order, with their standards' "
                      "limits (`limits`, `limitsRevision`), in code order.")
    async def spec_catalogue(
        self, info: Info[Any, Any],
        product: Annotated[Product | None, strawberry.argument(
            description="Only this product family.")] = None,
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(
            description="`endCursor` of the previous page.")] = None,
    ) -> Connection[SteelSpec]:
        who = await viewer(info)
        check_first(first)
        ids = await quality_reads.spec_catalogue(
            ctx(info).db, who.scope, after_code=after_text(after, longest=200),
            limit=first + 1, product=product.value if product else None)
        specs = await loaders(info).get(SpecByIdLoader).load_many(ids)
        return connection([(SteelSpec.of(s), [s.code]) for s in specs if s is not None],
                          first, after is not None)

    @strawberry.field(description="The quality-assurance enquiry: what a spec's coils made "
                      "in a period measured against its limits (a customer's: its own "
                      "coils). Null for a spec that is not yours or unknown.")
    async def quality_capability(
        self, info: Info[Any, Any],
        spec_code: Annotated[str, strawberry.argument(description="The spec's code.")],
        from_: Annotated[dt.date | None, strawberry.argument(
            name="from", description="First day; default a year before `to`.")] = None,
        to: Annotated[dt.date | None, strawberry.argument(
            description="Last day; default today. At most 731 days in all.")] = None,
        customer_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="The mill's staff: only this customer's coils.")] = None,
    ) -> SpecCapability | None:
        who = await viewer(info)
        db = ctx(info).db
        customer = customer_id_of(customer_id)
        if who.scope.org_id is not None and customer not in (None, who.scope.org_id):
            return None
        try:
            start, end = capability.period(from_, to, mill_today())
        except DomainError as exc:
            raise Refused(exc) from None
        spec = await quality_reads.spec_id_by_code(db, who.scope, spec_code)
        if spec is None:
            return None
        found = await capability.capability(db, who.scope, spec, start, end, customer)
        return SpecCapability.of(found) if found else None

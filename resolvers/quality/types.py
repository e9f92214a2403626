"""GraphQL types of material (heats, slabs, coils) and its quality records."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain import material
from domain.quality import model as quality_model
from resolvers.common import loaders
from resolvers.contracts.loaders import LineByIdLoader
from resolvers.contracts.types import ContractLine
from resolvers.disputes.loaders import DisputePageByCoilLoader
from resolvers.loaders import SpecByIdLoader
from resolvers.lookahead import asks_for
from resolvers.parties import SteelSpec
from resolvers.quality.limits import SpecLimits
from resolvers.quality.loaders import (
    AncestryByCoilLoader,
    CertificateByCoilLoader,
    CertificateContentByIdLoader,
    CertificateLimitsByIdLoader,
    CoilByIdLoader,
    CoilPageByHeatLoader,
    DescendantsByCoilLoader,
    FeedbackByCoilLoader,
    HeatByIdLoader,
    InspectionsByCoilLoader,
    SlabByIdLoader,
)
from resolvers.relay import DEFAULT_PAGE, Connection, Node, after_id, check_first, connection

if TYPE_CHECKING:
    from resolvers.disputes.types import QualityDispute
    from resolvers.shipments.vehicles import CoilLocation

NOT_LOADED: Any = object()


@strawberry.type(description="The mass share of one element in the steel.")
class ChemicalElement:
    element: str = strawberry.field(description="Chemical symbol, e.g. `C`, `Mn`, `Nb`.")
    mass_percent: Decimal = strawberry.field(description="Mass percent, exact as measured.")


def _chemistry(values: dict[str, Decimal]) -> list[ChemicalElement]:
    return [ChemicalElement(element=k, mass_percent=v) for k, v in sorted(values.items())]


@strawberry.type(description="A heat: one melt of steel, with its ladle chemistry.")
class Heat(Node):
    heat_no: str = strawberry.field(description="Heat number.")
    grade: str = strawberry.field(description="Steel grade melted.")
    tapped_at: dt.datetime = strawberry.field(description="When the heat was tapped.")
    weight_t: Decimal = strawberry.field(description="Liquid steel in tonnes.")
    chemistry: list[ChemicalElement] = strawberry.field(description="Ladle analysis.")

    @strawberry.field(
        description="Coils made from this heat that the viewer may see: for a customer, "
        "exactly its own coils from this heat."
    )
    async def coils(
        self, info: Info[Any, Any],
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description="Cursor to start after.")]
        = None,
    ) -> Connection[Coil]:
        return await coil_page(info, loaders(info).get(CoilPageByHeatLoader), self.pk, first, after)

    @classmethod
    def of(cls, h: material.Heat) -> Heat:
        return cls(pk=h.id, heat_no=h.heat_no, grade=h.grade, tapped_at=h.tapped_at,
                   weight_t=h.weight_t, chemistry=_chemistry(h.chemistry))


@strawberry.type(description="A slab cast from a heat, the start of every coil.")
class Slab(Node):
    slab_no: str = strawberry.field(description="Slab number.")
    weight_kg: Decimal = strawberry.field(description="Weight in kilograms.")
    thickness_mm: Decimal = strawberry.field(description="Thickness in millimetres.")
    width_mm: Decimal = strawberry.field(description="Width in millimetres.")
    length_mm: Decimal = strawberry.field(description="Length in millimetres.")
    cast_at: dt.datetime = strawberry.field(description="When it was cast.")
    heat_pk: strawberry.Private[int]

    @strawberry.field(description="The heat it was cast from.")
    async def heat(self, info: Info[Any, Any]) -> Heat | None:
        h = await loaders(info).get(HeatByIdLoader).load(self.heat_pk)
        return Heat.of(h) if h else None

    @classmethod
    def of(cls, s: material.Slab) -> Slab:
        return cls(pk=s.id, slab_no=s.slab_no, weight_kg=s.weight_kg, thickness_mm=s.thickness_mm,
                   width_mm=s.width_mm, length_mm=s.length_mm, cast_at=s.cast_at,
                   heat_pk=s.heat_id)


@strawberry.enum(description="What a coil is, by the last process it went through.")
class CoilKind(enum.Enum):
    HOT_ROLLED = "hot_rolled"
    PICKLED = "pickled"
    COLD_ROLLED = "cold_rolled"
    ANNEALED = "annealed"
    COATED = "coated"
    SLIT = "slit"
    SHEET_PACK = "sheet_pack"


@strawberry.enum(description="Quality disposition of a coil.")
class QualityStatus(enum.Enum):
    PENDING = "pending"
    RELEASED = "released"
    BLOCKED = "blocked"
    DOWNGRADED = "downgraded"


@strawberry.enum(description="How material became other material.")
class GenealogyOperation(enum.Enum):
    ROLL = "roll"
    SLIT = "slit"
    CUT = "cut"


@strawberry.type(description="One transformation in a coil's genealogy.")
class GenealogyLink:
    operation: GenealogyOperation = strawberry.field(description="Roll, slit or cut.")
    parent_number: str = strawberry.field(description="Slab or coil number that went in.")
    parent_kind: str = strawberry.field(description="`slab` or the parent coil's kind.")
    child_number: str = strawberry.field(description="Coil number that came out.")
    child_kind: CoilKind = strawberry.field(description="Kind of the coil that came out.")
    input_weight_kg: Decimal = strawberry.field(description="Kilograms in.")
    output_weight_kg: Decimal = strawberry.field(description="Kilograms out.")
    occurred_at: dt.datetime = strawberry.field(description="When.")
    depth: int = strawberry.field(description="Steps away from the traced coil (1 = next).")

    @classmethod
    def of(cls, g: material.GenealogyLink) -> GenealogyLink:
        return cls(operation=GenealogyOperation(g.operation), parent_number=g.parent_number,
                   parent_kind=g.parent_kind, child_number=g.child_number,
                   child_kind=CoilKind(g.child_kind), input_weight_kg=g.input_weight_kg,
                   output_weight_kg=g.output_weight_kg, occurred_at=g.occurred_at, depth=g.depth)


@strawberry.type(description="EN 10204 inspection certificate of a coil.")
class QualityCertificate(Node):
    cert_no: str = strawberry.field(description="Certificate number.")
    certificate_type: str = strawberry.field(description="EN 10204 type: `2.2`, `3.1`, `3.2`.")
    chemistry: list[ChemicalElement] = strawberry.field(description="Certified chemistry.")
    yield_strength_mpa: Decimal = strawberry.field(description="Yield strength, MPa.")
    tensile_strength_mpa: Decimal = strawberry.field(description="Tensile strength, MPa.")
    elongation_pct: Decimal = strawberry.field(description="Elongation after fracture, %.")
    coating_designation: str | None = strawberry.field(description="Coating, e.g. `Z275`.")
    coating_mass_g_m2: Decimal | None = strawberry.field(description="Coating mass, g/m².")
    issued_at: dt.datetime = strawberry.field(description="When it was issued.")
    issued_by: str = strawberry.field(description="Who signed it for the mill.")
    content_hash: str = strawberry.field(
        description="SHA-256 (hex) of `content` in canonical form, to verify a copy."
    )
    limits_revision: int | None = strawberry.field(
        description="Revision of the spec's limits the values were checked against (compare "
        "`SteelSpec.limitsRevision`); null when the spec had no limits."
    )

    @strawberry.field(description="The spec's limits as they stood at that revision; null "
                      "with no revision.")
    async def limits(self, info: Info[Any, Any]) -> SpecLimits | None:
        found = await loaders(info).get(CertificateLimitsByIdLoader).load(self.pk)
        return SpecLimits.of(found) if found is not None else None

    @strawberry.field(description="The certified document as canonical JSON.")
    async def content(self, info: Info[Any, Any]) -> JSON | None:
        found = await loaders(info).get(CertificateContentByIdLoader).load(self.pk)
        return JSON(found) if found is not None else None

    @classmethod
    def of(cls, q: quality_model.Certificate) -> QualityCertificate:
        return cls(pk=q.id, cert_no=q.cert_no, certificate_type=q.certificate_type,
                   chemistry=_chemistry(q.chemistry), yield_strength_mpa=q.yield_strength_mpa,
                   tensile_strength_mpa=q.tensile_strength_mpa, elongation_pct=q.elongation_pct,
                   coating_designation=q.coating_designation,
                   coating_mass_g_m2=q.coating_mass_g_m2, issued_at=q.issued_at,
                   issued_by=q.issued_by, content_hash=q.content_hash,
                   limits_revision=q.limits_revision)


@strawberry.type(description="One inspection of a coil at the mill.")
class Inspection:
    kind: str = strawberry.field(description="surface, dimension, mechanical, coating, flatness.")
    result: str = strawberry.field(description="pass, fail or conditional.")
    inspected_at: dt.datetime = strawberry.field(description="When.")
    inspector: str = strawberry.field(description="Who.")
    findings: str | None = strawberry.field(description="What was found.")

    @classmethod
    def of(cls, i: quality_model.Inspection) -> Inspection:
        return cls(kind=i.kind, result=i.result, inspected_at=i.inspected_at,
                   inspector=i.inspector, findings=i.findings)


@strawberry.enum(description="A process at the customer's plant.")
class ProcessKind(enum.Enum):
    SHEARING = "shearing"
    SLITTING = "slitting"
    PUNCHING = "punching"
    STAMPING = "stamping"
    WELDING = "welding"
    PAINTING = "painting"
    FORMING = "forming"


@strawberry.enum(description="How the coil behaved in the customer's process.")
class ProcessResult(enum.Enum):
    OK = "ok"
    MINOR_ISSUE = "minor_issue"
    FAILED = "failed"


@strawberry.type(description="What the customer saw when processing a coil.")
class ProcessingFeedback(Node):
    process: ProcessKind = strawberry.field(description="The customer's process.")
    result: ProcessResult = strawberry.field(description="How it went.")
    notes: str | None = strawberry.field(description="Details.")
    recorded_by: str = strawberry.field(description="Who reported it.")
    recorded_at: dt.datetime = strawberry.field(description="When.")
    coil_pk: strawberry.Private[int]

    @strawberry.field(description="The coil processed.")
    async def coil(self, info: Info[Any, Any]) -> Coil | None:
        c = await loaders(info).get(CoilByIdLoader).load(self.coil_pk)
        return Coil.of(c) if c else None

    @classmethod
    def of(cls, f: quality_model.ProcessingFeedback) -> ProcessingFeedback:
        return cls(pk=f.id, process=ProcessKind(f.process), result=ProcessResult(f.result),
                   notes=f.notes, recorded_by=f.recorded_by, recorded_at=f.recorded_at,
                   coil_pk=f.coil_id)


@strawberry.type(description="A coil: the unit that is made, certified, shipped and processed.")
class Coil(Node):
    coil_no: str = strawberry.field(description="Coil number as printed on its label.")
    kind: CoilKind = strawberry.field(description="What it is.")
    thickness_mm: Decimal = strawberry.field(description="Thickness in millimetres.")
    width_mm: Decimal = strawberry.field(description="Width in millimetres.")
    weight_kg: Decimal = strawberry.field(description="Weight in kilograms.")
    quality_status: QualityStatus = strawberry.field(description="Quality disposition.")
    produced_at: dt.datetime = strawberry.field(description="When it was made.")
    heat_pk: strawberry.Private[int]
    slab_pk: strawberry.Private[int | None]
    spec_pk: strawberry.Private[int | None]
    line_pk: strawberry.Private[int | None]
    # Handed down by a parent that loaded the certificates of its whole page at once.
    prefetched_certificate: strawberry.Private[Any] = NOT_LOADED

    @strawberry.field(description="The heat the steel came from.")
    async def heat(self, info: Info[Any, Any]) -> Heat | None:
        h = await loaders(info).get(HeatByIdLoader).load(self.heat_pk)
        return Heat.of(h) if h else None

    @strawberry.field(description="The spec it was made to.")
    async def spec(self, info: Info[Any, Any]) -> SteelSpec | None:
        if self.spec_pk is None:
            return None
        s = await loaders(info).get(SpecByIdLoader).load(self.spec_pk)
        return SteelSpec.of(s) if s else None

    @strawberry.field(description="The contract line it is allocated to.")
    async def contract_line(self, info: Info[Any, Any]) -> ContractLine | None:
        if self.line_pk is None:
            return None
        line = await loaders(info).get(LineByIdLoader).load(self.line_pk)
        return ContractLine.of(line) if line else None

    @strawberry.field(description="Its EN 10204 certificate, once issued.")
    def certificate(self, info: Info[Any, Any]) -> QualityCertificate | None:
        if self.prefetched_certificate is not NOT_LOADED:
            q = self.prefetched_certificate
            return QualityCertificate.of(q) if q else None
        # graphql-core awaits what a resolver returns; sync when handed down, else a load.
        return cast(QualityCertificate | None, _certificate(info, self.pk))

    @strawberry.field(description="Back to slab and heat, forward to its pieces, with quality.")
    def trace(self) -> CoilTrace:
        return CoilTrace(coil=self)

    @strawberry.field(description="Where it is, from its latest scan; null before it is "
                      "first scanned.")
    async def location(
        self, info: Info[Any, Any]
    ) -> Annotated[CoilLocation, strawberry.lazy("resolvers.shipments.vehicles")] | None:
        from resolvers.shipments.vehicles import coil_location

        return await coil_location(info, self.pk)

    @strawberry.field(description="Quality disputes naming this coil, newest first: a "
                      "customer sees its own, the mill's staff all.")
    async def disputes(
        self, info: Info[Any, Any],
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description="Cursor to start after.")]
        = None,
    ) -> Connection[Annotated[QualityDispute, strawberry.lazy("resolvers.disputes.types")]]:
        from resolvers.disputes.types import QualityDispute

        check_first(first)
        rows = await loaders(info).get(DisputePageByCoilLoader).load(
            (self.pk, first + 1, after_id(after)))
        return connection([(QualityDispute.of(d), [d.id]) for d in rows], first,
                          after is not None)

    @classmethod
    def of(cls, c: material.Coil) -> Coil:
        return cls(pk=c.id, coil_no=c.coil_no, kind=CoilKind(c.kind),
                   thickness_mm=c.thickness_mm, width_mm=c.width_mm, weight_kg=c.weight_kg,
                   quality_status=QualityStatus(c.quality_status), produced_at=c.produced_at,
                   heat_pk=c.heat_id, slab_pk=c.slab_id, spec_pk=c.spec_id, line_pk=c.line_id)


async def _certificate(info: Info[Any, Any], coil_pk: int) -> QualityCertificate | None:
    q = await loaders(info).get(CertificateByCoilLoader).load(coil_pk)
    return QualityCertificate.of(q) if q else None


async def coil_page(
    info: Info[Any, Any], loader: Any, parent_pk: int, first: int, after: str | None
) -> Connection[Coil]:
    """A page of a parent's coils (a line's, a heat's), certificates handed down."""
    check_first(first)
    rows = await loader.load((parent_pk, first + 1, after_id(after)))
    coils = await with_certificates(info, [Coil.of(c) for c in rows])
    return connection([(c, [c.pk]) for c in coils], first, after is not None)


async def with_certificates(info: Info[Any, Any], coils: list[Coil]) -> list[Coil]:
    """Load the certificates of a page of coils in one batch when the query asks for them."""
    if coils and asks_for(info, "certificate"):
        found = await loaders(info).get(CertificateByCoilLoader).load_many([c.pk for c in coils])
        for coil, cert in zip(coils, found, strict=True):
            coil.prefetched_certificate = cert
    return coils


@strawberry.type(description="The quality trace of one coil.")
class CoilTrace:
    coil: Coil = strawberry.field(description="The coil traced.")

    @strawberry.field(description="Links back to the slab, nearest first.")
    async def ancestry(self, info: Info[Any, Any]) -> list[GenealogyLink]:
        found = await loaders(info).get(AncestryByCoilLoader).load(self.coil.pk)
        return [GenealogyLink.of(g) for g in found]

    @strawberry.field(description="Links forward to the coils cut or slit from it.")
    async def descendants(self, info: Info[Any, Any]) -> list[GenealogyLink]:
        found = await loaders(info).get(DescendantsByCoilLoader).load(self.coil.pk)
        return [GenealogyLink.of(g) for g in found]

    @strawberry.field(description="The slab the material was cast as.")
    async def slab(self, info: Info[Any, Any]) -> Slab | None:
        pk = self.coil.slab_pk
        if pk is None:
            links = await loaders(info).get(AncestryByCoilLoader).load(self.coil.pk)
            pk = next((g.parent_slab_id for g in reversed(links) if g.parent_slab_id), None)
        if pk is None:
            return None
        s = await loaders(info).get(SlabByIdLoader).load(pk)
        return Slab.of(s) if s else None

    @strawberry.field(description="The heat, with its chemistry.")
    async def heat(self, info: Info[Any, Any]) -> Heat | None:
        h = await loaders(info).get(HeatByIdLoader).load(self.coil.heat_pk)
        return Heat.of(h) if h else None

    @strawberry.field(description="The certificate.")
    async def certificate(self, info: Info[Any, Any]) -> QualityCertificate | None:
        q = await loaders(info).get(CertificateByCoilLoader).load(self.coil.pk)
        return QualityCertificate.of(q) if q else None

    @strawberry.field(description="Inspections at the mill, oldest first.")
    async def inspections(self, info: Info[Any, Any]) -> list[Inspection]:
        found = await loaders(info).get(InspectionsByCoilLoader).load(self.coil.pk)
        return [Inspection.of(i) for i in found]

    @strawberry.field(description="The customer's processing feedback, oldest first.")
    async def processing_feedback(self, info: Info[Any, Any]) -> list[ProcessingFeedback]:
        found = await loaders(info).get(FeedbackByCoilLoader).load(self.coil.pk)
        return [ProcessingFeedback.of(f) for f in found]

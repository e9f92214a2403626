"""Steel specs written by hand by the mill's quality or sales staff, through the plant
feeds' own checks (:mod:`resolvers.feeds`). A put is the whole spec: a field left out is
cleared, or takes the default the feeds give it. The spec it returns is read back through
the request's loaders."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers.common import INPUT, UserError, loaders
from resolvers.feeds import Names, put_record, roles, version_field, without_nulls
from resolvers.loaders import SpecByIdLoader
from resolvers.parties import Product, SteelSpec


@strawberry.input(description="A steel spec, whole: created, or replaced by its code.")
class PutSpecInput:
    code: str = strawberry.field(
        description="Its code, the plant's identity for it: a new code creates, a known one "
        "replaces."
    )
    grade: str = strawberry.field(description="Steel grade, e.g. `DC04`.")
    standard: str = strawberry.field(description="Standard the grade is defined in.")
    product: Product = strawberry.field(description="Product family.")
    thickness_mm: Decimal = strawberry.field(
        description="Nominal thickness in millimetres, at most 3 decimals."
    )
    width_mm: Decimal = strawberry.field(
        description="Nominal width in millimetres, at most 1 decimal."
    )
    coating: str | None = strawberry.field(
        default=None, description="Coating designation, e.g. `Z275`."
    )
    customer_code: str | None = strawberry.field(
        default=None, description="Code of the customer whose own spec it is; with "
        "`customerPartNumber`."
    )
    customer_part_number: str | None = strawberry.field(
        default=None, description="That customer's part number for it; with `customerCode`."
    )
    coil_nominal_weight_t: Decimal | None = strawberry.field(
        default=None, description="Nominal coil weight in tonnes; default 12."
    )
    version: str | None = version_field()


@strawberry.type(description="Result of `putSpec`.")
class PutSpecPayload:
    spec: SteelSpec | None = strawberry.field(description="The spec as it reads now.")
    errors: list[UserError] = strawberry.field(description="Why nothing was written.")


_SPEC: Names = {"key": "code", "customer": "customerCode"}


def _decimal(value: Decimal | None) -> str | None:
    """Exact, in plain notation (never `1E+1`), as the feeds' decimals are written."""
    return None if value is None else format(value, "f")


@strawberry.type
class SpecMutations:
    @strawberry.mutation(
        description="Quality or sales records a steel spec by its code, checked as the plant "
        "feeds' specs are. Writes `spec.created` or `spec.updated` "
        f"(roles: {roles('spec')})."
    )
    async def put_spec(
        self, info: Info[Any, Any], input: Annotated[PutSpecInput, INPUT],
    ) -> PutSpecPayload:
        data = without_nulls({
            "grade": input.grade, "standard": input.standard, "product": input.product.value,
            "thicknessMm": _decimal(input.thickness_mm), "widthMm": _decimal(input.width_mm),
            "coating": input.coating, "customer": input.customer_code,
            "customerPartNumber": input.customer_part_number,
            "coilNominalWeightT": _decimal(input.coil_nominal_weight_t),
        })
        row_id, errors = await put_record(info, "spec", input.code, data, input.version, _SPEC)
        found = await loaders(info).get(SpecByIdLoader).load(row_id) if row_id else None
        return PutSpecPayload(spec=SteelSpec.of(found) if found else None, errors=errors)

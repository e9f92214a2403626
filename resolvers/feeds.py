"""Records the mill's staff write by hand: each `put...` mutation and `retireRecord` hands
one record to :func:`domain.feeds.batch.apply_record`, the plant feeds' own code path, so
a record typed in is checked exactly as one fed by the ERP or the TMS (references,
custody, legs in a row, what has left the mill) and announced the same way.

Inputs name things by their natural keys (codes, numbers), the plant's identities, not
by global ids. The domain names a field at fault by its path in the record's data
(``legs.0.coils.1``); :func:`input_path` turns that into the input's own path
(``legs.0.coilNumbers.1``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Annotated, Any, TypeAlias

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.errors import Invalid
from domain.feeds.batch import apply_record
from domain.feeds.kinds import KINDS
from domain.feeds.records import version_of
from resolvers.common import INPUT, UserError, act, ctx, loaders
from resolvers.shipments.loaders import ShipmentByIdLoader
from resolvers.shipments.types import Shipment

# A data name -> the input's name, with the names inside it when it holds objects.
Names: TypeAlias = Mapping[str, "str | tuple[str, Names]"]

_VERSION = ("The source's version of the record, as the plant feeds give it: an integer that "
            "grows with each change (as decimal digits) or the change's time (RFC 3339 with "
            "its offset). One older than the stored version, or the stored version with other "
            "data, is refused (`CONFLICT`). "
            "Default: the stored version plus one, so that the source's next change still "
            "wins.")
_VERSION_FORMS = ("`version` must be a non-negative integer (as digits) or an RFC 3339 "
                  "time with its offset")


def version_field() -> Any:
    """The optional `version` of every input that writes a record."""
    return strawberry.field(default=None, description=_VERSION)


def roles(kind: str) -> str:
    """The roles that may write ``kind`` by hand, as descriptions name them."""
    return ", ".join(KINDS[kind].staff_roles)


def source_version(value: str | None) -> int | None:
    """The ``version`` input as the feeds compare it; raises Invalid."""
    if value is None:
        return None
    digits = value.isascii() and value.isdigit() and len(value) <= 19
    parsed = version_of(int(value) if digits else value)
    if parsed is None:
        raise Invalid(_VERSION_FORMS, field="version")
    return parsed


def input_path(path: str | None, names: Names) -> str | None:
    """The input's path of a field the domain names by its path in the record's data:
    each name renamed as ``names`` says, list positions kept."""
    if path is None:
        return None
    out: list[str] = []
    table: Names | None = names
    for part in path.split("."):
        if part.isdigit() or table is None:
            out.append(part)
            continue
        entry = table.get(part, part)
        name, table = entry if isinstance(entry, tuple) else (entry, None)
        out.append(name)
    return ".".join(out)


def without_nulls(data: Mapping[str, Any]) -> dict[str, Any]:
    """The record's data without the fields left out: absent is what the feeds' schemas
    allow everywhere (a leg's fields may not be null)."""
    return {k: v for k, v in data.items() if v is not None}


async def put_record(
    info: Info[Any, Any], kind: str, key: str, data: dict[str, Any] | None,
    version: str | None, names: Names,
) -> tuple[int | None, list[UserError]]:
    """Writes one record (``data`` None retires it) as the request's actor; returns the
    row's id, or the domain's refusals with the input's field paths."""

    async def run(who: Actor) -> int:
        return await apply_record(ctx(info).db, who, kind, key, data,
                                  version=source_version(version))

    row_id, errors = await act(info, run)
    for e in errors:
        e.field = input_path(e.field, names)
    return row_id, errors


@strawberry.enum(description="A kind of record the mill's staff write by hand.")
class RecordKind(enum.Enum):
    SITE = strawberry.enum_value("site", description="A site, by its code.")
    SPEC = strawberry.enum_value("spec", description="A steel spec, by its code.")
    VEHICLE = strawberry.enum_value("vehicle", description="A vehicle, by its code.")
    DEVICE = strawberry.enum_value("device", description="A device, by its code.")
    SHIPMENT = strawberry.enum_value("shipment", description="A shipment, by its number.")


def _retire_roles() -> str:
    by_roles: dict[str, list[str]] = {}
    for kind in RecordKind:
        name = str(kind.value)
        by_roles.setdefault(roles(name), []).append(name)
    return "; ".join(f"{', '.join(kinds)}: {who}" for who, kinds in by_roles.items())


@strawberry.input(description="Names the record to retire.")
class RetireRecordInput:
    kind: RecordKind = strawberry.field(description="What kind of record it is.")
    key: str = strawberry.field(
        description="Its natural key: the code of a site, spec, vehicle or device, the "
        "number of a shipment."
    )
    version: str | None = version_field()


@strawberry.type(description="Result of `retireRecord`.")
class RetireRecordPayload:
    retired: bool = strawberry.field(description="Whether the record is retired.")
    shipment: Shipment | None = strawberry.field(
        description="A retired shipment as it reads now (cancelled); null for other kinds."
    )
    errors: list[UserError] = strawberry.field(description="Why nothing was retired.")


@strawberry.type
class RecordMutations:
    @strawberry.mutation(
        description="Retire a record by hand, as a plant feed's `\"retire\": true` does: a "
        "shipment none of whose legs has left is cancelled, a device is disabled, and a "
        "site, spec or vehicle that nothing refers to any more is removed (one still "
        "referred to is refused, `CONFLICT`). Writes `<kind>.retired` (`shipment.cancelled` "
        f"for a shipment). Roles: {_retire_roles()}."
    )
    async def retire_record(
        self, info: Info[Any, Any], input: Annotated[RetireRecordInput, INPUT],
    ) -> RetireRecordPayload:
        row_id, errors = await put_record(info, str(input.kind.value), input.key, None,
                                          input.version, {})
        shipment = None
        if row_id is not None and input.kind is RecordKind.SHIPMENT:
            found = await loaders(info).get(ShipmentByIdLoader).load(row_id)
            shipment = Shipment.of(found) if found else None
        return RetireRecordPayload(retired=row_id is not None, shipment=shipment,
                                   errors=errors)

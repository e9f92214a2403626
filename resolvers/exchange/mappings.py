"""Trying an exchange mapping on a partner's sample file: the first rows as the mapping
reads them and every problem, without writing anything (`domain.exchange.mapping`)."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.actor import Actor
from domain.exchange import mapping as exchange
from domain.planning.tables import MAX_FILE_BYTES, Limits
from resolvers.common import INPUT, UserError, act, ctx, customer_id_of

# Problems a preview lists; the total says how many there are beyond them.
MAX_PROBLEMS_SHOWN = 1_000


@strawberry.enum(description="What is wrong with a value of a partner's file.")
class MappingProblemCode(enum.Enum):
    MISSING_COLUMN = strawberry.enum_value(
        "missing_column", description="The heading of a required field is not in the file.")
    EMPTY = strawberry.enum_value("empty", description="A required value is empty.")
    INVALID = strawberry.enum_value(
        "invalid", description="Not a value of the field's type (a date in none of the "
        "formats, text for a number, an unknown unit).")
    OUT_OF_RANGE = strawberry.enum_value(
        "out_of_range", description="A number outside the field's `min` and `max`.")
    UNKNOWN_CODE = strawberry.enum_value(
        "unknown_code", description="A code its strict code table does not have.")
    NOT_ALLOWED = strawberry.enum_value(
        "not_allowed", description="Not one of the values the field accepts.")


@strawberry.input(description="A sample file and the mapping to read it with.")
class PreviewMappingInput:
    file: Upload = strawberry.field(description="CSV or XLSX as the partner sends it, "
                                    "bounded as plan files are.")
    mapping: JSON | None = strawberry.field(
        default=None, description="The mapping to try, as JSON (the README's exchange "
        "mappings); null: the customer's stored mapping of `document`.")
    document: str | None = strawberry.field(
        default=None, description="With no `mapping`: the document type of the stored "
        "mapping, e.g. production_plan or consumption.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the customer whose stored mapping is "
        "tried (the mill's staff); a customer's token leaves it out.")
    first: int = strawberry.field(default=exchange.PREVIEW_ROWS,
                                  description="Rows to show, 1 to 200.")


@strawberry.type(description="A value of the file that the mapping cannot read.")
class MappingProblem:
    row: int = strawberry.field(description="Its row as the file counts them; the "
                                "heading's row for a missing column.")
    column: str | None = strawberry.field(description="The partner's column: its heading, "
                                          "or its letter.")
    field: str | None = strawberry.field(description="The target field.")
    value: str | None = strawberry.field(description="The value as read.")
    reason: str = strawberry.field(description="Why it does not read.")
    code: MappingProblemCode = strawberry.field(description="The kind of problem.")

    @classmethod
    def of(cls, p: exchange.Problem) -> MappingProblem:
        return cls(row=p.row, column=p.column, field=p.field,
                   value=None if p.value is None else str(_plain(p.value)),
                   reason=p.reason, code=MappingProblemCode(p.code))


@strawberry.type(description="One row of the file as Keylink's values.")
class MappedFileRow:
    row: int = strawberry.field(description="Its row as the file counts them.")
    values: JSON = strawberry.field(description="Target field -> value: text, exact "
                                    "numbers as text (quantities in tonnes), dates as "
                                    "YYYY-MM-DD; null where the value does not read.")


@strawberry.type(description="What a sample file gives through a mapping.")
class MappingPreview:
    heading_row: int = strawberry.field(description="The heading's row; 0 for none.")
    heading: list[str] = strawberry.field(description="The heading's cells.")
    rows_total: int = strawberry.field(description="Rows below the heading.")
    rows: list[MappedFileRow] = strawberry.field(description="The first `first` rows.")
    problems: list[MappingProblem] = strawberry.field(
        description="Every problem of the whole file, in its order; at most 1,000.")
    problems_total: int = strawberry.field(description="How many problems there are.")


@strawberry.type(description="Result of `previewMapping`.")
class PreviewMappingPayload:
    preview: MappingPreview | None = strawberry.field(description="The preview.")
    errors: list[UserError] = strawberry.field(
        description="Why there is none: a mapping that is no mapping (every problem in "
        "the message), a file that cannot be read or is over a limit.")


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


@strawberry.type
class MappingMutations:
    @strawberry.mutation(description="Read a sample file through an exchange mapping: the "
                         "first rows as mapped and every problem; nothing is stored "
                         "(roles: customer, sales, admin).")
    async def preview_mapping(
        self, info: Info[Any, Any], input: Annotated[PreviewMappingInput, INPUT],
    ) -> PreviewMappingPayload:
        async def run(who: Actor) -> MappingPreview:
            upload: Any = input.file
            content: bytes = await upload.read(MAX_FILE_BYTES + 1)
            settings = ctx(info).request.app.state.settings
            limits = Limits(unpacked_bytes=settings.import_max_unpacked_bytes,
                            rows=settings.import_max_rows, cells=settings.import_max_cells)
            found = await exchange.preview_for(
                ctx(info).db, who, upload.filename or "sample", content,
                mapping=input.mapping, document=input.document,
                partner_org_id=customer_id_of(input.customer_id), rows=input.first,
                limits=limits)
            return MappingPreview(
                heading_row=found.heading_row, heading=found.heading,
                rows_total=found.rows_total,
                rows=[MappedFileRow(row=r.row, values=JSON(
                    {k: _plain(v) for k, v in r.values.items()})) for r in found.rows],
                problems=[MappingProblem.of(p) for p in found.problems[:MAX_PROBLEMS_SHOWN]],
                problems_total=len(found.problems))

        preview, errors = await act(info, run)
        return PreviewMappingPayload(preview=preview, errors=errors)

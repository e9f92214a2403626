"""Where each field of a type comes from in the database, for the read planner.

A type that the planner (api/planner.py) may answer in one statement declares, beside
its module, a :class:`Planned`: the table its rows are read from (whose visibility rule
is the one in :data:`domain.tenancy.TABLE_RULES`; a table without one cannot be
planned) and a form for each field it can answer: a :class:`Column` of the row, an
object of the :class:`Same` row, the one related row a :class:`Join` reaches, the
related :class:`Rows` in order, or a keyset :class:`Pages` of them. A field without a
form (computed in Python, reached through a service) is answered by its resolver: the
planner leaves the whole root field to the resolvers then. How a value is written
(exact decimals as text, times with their offset, enum names, Relay ids) follows from
the field's GraphQL type, so a form names only where the value is.

Forms are column names and join conditions, never statements: ``{t}`` is the row's
alias, ``{c}`` the related row's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """A value of the row: a column name, or an expression over ``{t}``."""

    sql: str

    def over(self, alias: str) -> str:
        return self.sql.format(t=alias) if "{" in self.sql else f"{alias}.{self.sql}"


@dataclass(frozen=True)
class Same:
    """An object whose fields are columns of the same row (a line's delivery window)."""


@dataclass(frozen=True)
class Join:
    """The one related row where ``on`` holds, or null when there is none it may see."""

    on: str


@dataclass(frozen=True)
class Rows:
    """The related rows where ``on`` holds, in ``order`` (over ``{c}``)."""

    on: str
    order: str


@dataclass(frozen=True)
class Pages:
    """A keyset connection (``first``, ``after``) of the related rows by ascending
    ``key``, with id cursors."""

    on: str
    key: str = "id"


@dataclass(frozen=True)
class Stored:
    """The one row a domain statement over ``{t}`` finds (under its own visibility rule),
    of a field whose resolver reads live state first (a shipment's latest position from
    Redis): planned only where no live state is configured, when the resolver reads the
    same row from the database."""

    source: str


@dataclass(frozen=True)
class Found:
    """A keyset connection of the rows a domain statement finds for the row ``{t}``
    (under its own visibility rules): ``source(parent, after, limit)`` is the statement
    of up to ``limit`` rows whose ``key`` is past ``after``, in ``key`` order, with id
    cursors of ``key``."""

    source: Callable[[str, str, str], str]
    key: str


Form = Column | Same | Join | Rows | Pages | Stored | Found


@dataclass(frozen=True)
class Planned:
    """A type's table (None: read from its parent's row) and its fields' forms, by
    Python name. A Node's `id` is its table's `id`."""

    table: str | None
    fields: dict[str, Form] = field(default_factory=dict)


def columns(*names: str) -> dict[str, Form]:
    """Fields that are columns of the same name."""
    return {name: Column(name) for name in names}


class NotPlanned(Exception):
    """This selection or these arguments have no SQL form: the resolvers answer."""


@dataclass(frozen=True)
class RootPage:
    """A root connection: the statement of its rows (``first + 1`` of them, as
    ``alias``), their order and the expressions of their cursor's keyset."""

    source: str
    alias: str
    order: str
    cursor: Sequence[str]
    first: int
    had_after: bool


@dataclass(frozen=True)
class RootOne:
    """A root field that finds one row of ``table`` where ``on`` holds (``{c}``)."""

    table: str
    on: str

"""Relay conventions: global ids, the Node interface, keyset cursors, connections.

A global id is ``base64("<TypeName>:<primary key>")``; a cursor is the base64 of the
JSON keyset of the row it points at. Both are opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any, Generic, Protocol, TypeVar

import strawberry
from strawberry.dataloader import DataLoader

MAX_PAGE = 100
DEFAULT_PAGE = 20

T = TypeVar("T")
R = TypeVar("R")


class BadInput(ValueError):
    """A malformed id, cursor or page size. Maps to ``BAD_USER_INPUT``."""

    code = "BAD_USER_INPUT"


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode())


MAX_PK = 2**63 - 1


def from_global_id(gid: str) -> tuple[str, int]:
    try:
        type_name, _, raw = base64.urlsafe_b64decode(gid.encode()).decode().partition(":")
        pk = int(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInput(f"{gid!r} is not a Keylink id") from None
    if not 0 < pk <= MAX_PK:
        raise BadInput(f"{gid!r} is not a Keylink id")
    return type_name, pk


def exactly_one(id: str | None, other: str | None, other_name: str) -> None:
    """Lookups take an `id` or a number, never both, never neither."""
    if (id is None) == (other is None):
        raise BadInput(f"give exactly one of `id` and `{other_name}`")


async def by_id_or_number(
    id: str | None, number: str | None, type_name: str,
    by_id: DataLoader[int, Any], by_number: DataLoader[str, Any],
) -> Any:
    """The object a lookup by `id` or `number` names (exactly one of them), or None."""
    exactly_one(id, number, "number")
    if id is not None:
        return await by_id.load(expect_id(id, type_name))
    assert number is not None
    return await by_number.load(number)


def expect_id(gid: str, type_name: str) -> int:
    """The primary key in ``gid`` if it names a ``type_name``; else a BadInput."""
    found, pk = from_global_id(gid)
    if found != type_name:
        raise BadInput(f"id {gid!r} is a {found}, not a {type_name}")
    return pk


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInput("`after` is not a cursor this API gave out") from None
    if not isinstance(key, list) or not key:
        raise BadInput("`after` is not a cursor this API gave out")
    return key


def after_id(cursor: str | None) -> int | None:
    """The row id in a cursor of an id-ordered connection."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], int) or not 0 < key[0] <= MAX_PK:
        raise BadInput("`after` is not a cursor of this connection")
    return key[0]


def after_time_key(cursor: str | None) -> tuple[dt.datetime, int] | None:
    """The (time, key) in a cursor of a connection ordered by a timestamp, then an id or
    number (events by when they happened, vessels by when they were last heard)."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        at = dt.datetime.fromisoformat(key[0])
        ok = (len(key) == 2 and at.tzinfo is not None and isinstance(key[1], int)
              and not isinstance(key[1], bool) and 0 < key[1] <= MAX_PK)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise BadInput("`after` is not a cursor of this connection")
    return at, key[1]


def after_text(cursor: str | None, *, longest: int) -> str | None:
    """The text key in a cursor of a connection ordered by a unique text (devices by
    code), at most ``longest`` characters."""
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 1 or not isinstance(key[0], str) or not 0 < len(key[0]) <= longest:
        raise BadInput("`after` is not a cursor of this connection")
    return key[0]


def check_first(first: int) -> int:
    if not 0 <= first <= MAX_PAGE:
        raise BadInput(f"`first` must be between 0 and {MAX_PAGE}")
    return first


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    pk: strawberry.Private[int]

    @strawberry.field(description="Global, opaque id of this object.")
    def id(self) -> strawberry.ID:
        return to_global_id(type(self).__name__, self.pk)


@strawberry.type(description="Where a page stands in its connection.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Items precede this page (true when `after` was given)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first item.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item: pass it as `after` for the next page."
    )


@strawberry.type(description="An item of a connection, with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of items, in keyset order.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items with their cursors.")
    nodes: list[T] = strawberry.field(description="The items, without cursors.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more follow.")


def connection(
    items: Sequence[tuple[Any, Sequence[Any]]], first: int, had_after: bool
) -> Connection[Any]:
    """A connection from up to ``first + 1`` (item, keyset) pairs fetched in order: the
    extra one only tells that another page follows."""
    page = items[:first]
    edges = [Edge(cursor=encode_cursor(key), node=item) for item, key in page]
    return Connection(
        edges=edges,
        nodes=[item for item, _ in page],
        page_info=PageInfo(
            has_next_page=len(items) > first,
            has_previous_page=had_after,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def page_of(items: Sequence[T], first: int, after: str | None,
            key: Callable[[T], list[Any]]) -> Connection[T]:
    """A connection over a bounded list already in keyset order; ``after`` must be the
    cursor of one of its items."""
    check_first(first)
    start = 0
    cursor = decode_cursor(after)
    if cursor is not None:
        keys = [key(x) for x in items]
        if cursor not in keys:
            raise BadInput("`after` is not a cursor of this connection")
        start = keys.index(cursor) + 1
    return _window(items[start:], first, after, key, lambda x: x)


class _Row(Protocol):
    @property
    def id(self) -> int: ...


Row = TypeVar("Row", bound=_Row)


def id_page_of(rows: Sequence[Row], make: Callable[[Row], T], first: int,
               after: str | None) -> Connection[T]:
    """A page of a few id-ordered rows loaded whole: ``after`` may be any id cursor, and
    the page starts past that id whether or not its row is still there."""
    check_first(first)
    start = after_id(after) or 0
    return _window((r for r in rows if r.id > start), first, after, lambda r: [r.id], make)


def _window(rows: Iterable[R], first: int, after: str | None,
            key: Callable[[R], list[Any]], make: Callable[[R], T]) -> Connection[T]:
    rest = list(islice(rows, first + 1))
    return connection([(make(r), key(r)) for r in rest], first, after is not None)

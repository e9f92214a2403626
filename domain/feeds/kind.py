"""What every kind of record shares: its data checked against its schema and converted
field by field, references resolved in bulk, the rows upserted by key in one statement
per chunk, a retiring record removing what it names, and the event each change writes.

A kind with more than one row per record (a contract's lines, a shipment's legs and
manifest, a coil's genealogy) adds its own steps in :meth:`Kind.after_write`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jsonschema_rs

from domain.db import Executor, json_dumps
from domain.errors import NotFound
from domain.feeds.fields import BadValue, Field, Ref, object_schema
from domain.feeds.records import Record, Rejection

__all__ = ["SCHEMA_BASE", "Event", "Item", "Kind", "RefCache"]

SCHEMA_BASE = "https://keylink.example/schemas/feeds"
# Each referenced table's keys kept per batch, so that a coil's heat is looked up once;
# beyond this many a table's map starts afresh, so memory does not grow with the file.
_CACHE_LIMIT = 200_000


# type, customer, payload[, aggregate type, aggregate id]
Event = tuple[str, int | None, dict[str, Any]] | tuple[str, int | None, dict[str, Any], str, int]


@dataclass(slots=True)
class Item:
    """A record accepted by its kind's checks, on its way to the database."""

    record: Record
    values: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    row_id: int | None = None
    inserted: bool = False
    # The customer the change concerns (its events reach that customer), when one does.
    org_id: int | None = None


class RefCache:
    """Natural keys resolved to row ids, per referenced table, for one batch."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], dict[str, int]] = {}

    async def ids(self, tx: Executor, ref: Ref, keys: Sequence[str]) -> dict[str, int]:
        known = self._ids.setdefault((ref.table, ref.key_column), {})
        missing = sorted({k for k in keys if k not in known})
        if missing:
            if len(known) + len(missing) > _CACHE_LIMIT:
                known.clear()
            rows = await tx.fetch(
                f"SELECT {ref.key_column} AS key, id FROM {ref.table}"
                f" WHERE {ref.key_column} = ANY($1::text[])", missing)
            known.update((r["key"], r["id"]) for r in rows)
        return {k: known[k] for k in keys if k in known}

    def learn(self, table: str, key_column: str, pairs: Sequence[tuple[str, int]]) -> None:
        known = self._ids.setdefault((table, key_column), {})
        if len(known) + len(pairs) > _CACHE_LIMIT:
            known.clear()
        known.update(pairs)

    def forget(self, table: str, key_column: str, key: str) -> None:
        self._ids.get((table, key_column), {}).pop(key, None)


class Kind:
    """One kind of record: its table, its key column and its fields."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    table: ClassVar[str]
    key_column: ClassVar[str]
    fields: ClassVar[tuple[Field, ...]]
    # Columns the kind fills itself (from references it resolves), written with the row.
    derived: ClassVar[tuple[Field, ...]] = ()
    # The mill's staff who may write it by hand (GraphQL); plant systems need the kind
    # in their token instead.
    staff_roles: ClassVar[tuple[str, ...]] = ("admin",)

    def __init__(self) -> None:
        self._validator: Any = None

    # -- the contract integrators see ---------------------------------------------------
    def data_schema(self) -> dict[str, Any]:
        return object_schema(self.title, self.description, self.fields)

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of a whole record of this kind (envelope and data)."""
        version = {"description": "The source's version of the record: an integer that "
                   "grows with each change, or the change's time (RFC 3339 with offset).",
                   "oneOf": [{"type": "integer", "minimum": 0},
                             {"type": "string", "format": "date-time"}]}
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{SCHEMA_BASE}/{self.name}.schema.json",
            "title": f"{self.title} record",
            "description": self.description,
            "type": "object",
            "properties": {
                "kind": {"const": self.name},
                "key": {"type": "string", "minLength": 1, "maxLength": 64,
                        "description": f"The natural key: the {self.key_column} of the "
                        f"{self.title.lower()}."},
                "version": version,
                "retire": {"type": "boolean", "description": "true: retire what the key "
                           "names (no data)."},
                "data": self.data_schema(),
            },
            "required": ["kind", "key", "version"],
            "additionalProperties": False,
            "oneOf": [{"required": ["data"], "not": {"required": ["retire"],
                                                     "properties": {"retire": {"const": True}}}},
                      {"required": ["retire"], "properties": {"retire": {"const": True}},
                       "not": {"required": ["data"]}}],
        }

    # -- checking ----------------------------------------------------------------------
    def prepare(self, record: Record) -> Item | Rejection:
        """The record's data checked and converted, or why it cannot be applied."""
        if record.retire:
            return Item(record, {})
        if self._validator is None:
            self._validator = jsonschema_rs.validator_for(self.data_schema(),
                                                          validate_formats=True)
        for error in self._validator.iter_errors(record.data):
            path = ".".join(str(p) for p in error.instance_path) or None
            return self._reject(record, path, error.message)
        values: dict[str, Any] = {}
        for f in self.fields:
            try:
                converted = f.convert(record.data.get(f.name))
            except BadValue as exc:
                return self._reject(record, _join(f.name, exc.path), f"{f.name} {exc}")
            if f.column is not None:
                values[f.column] = converted
        item = Item(record, values)
        try:
            self.check(item)
        except BadValue as exc:
            return self._reject(record, exc.path, str(exc))
        return item

    def check(self, item: Item) -> None:
        """Checks across fields; raise BadValue(message, field)."""

    def _reject(self, record: Record, path: str | None, message: str,
                code: str = "INVALID") -> Rejection:
        return Rejection(record.line, record.kind, record.key, path and f"data.{path}",
                         message, code)

    async def resolve(self, tx: Executor, items: list[Item], refs: RefCache,
                      ) -> list[tuple[Item, Rejection]]:
        """Replaces each reference's key by its row id; the items naming a key that
        does not exist are returned with their rejection."""
        bad: dict[int, Rejection] = {}
        for f in self.fields:
            if f.ref is None or f.column is None:
                continue
            col = f.column
            found = await refs.ids(tx, f.ref, [i.values[col] for i in items
                                               if i.values.get(col) is not None])
            for i in items:
                key = i.values.get(col)
                if key is None or i.record.line in bad:
                    continue
                if key in found:
                    i.values[col] = found[key]
                else:
                    bad[i.record.line] = self._reject(
                        i.record, f.name, f"no {f.ref.kind} {key!r}", "NOT_FOUND")
        rest = [i for i in items if i.record.line not in bad]
        for i, rejection in await self.resolve_more(tx, rest, refs):
            bad.setdefault(i.record.line, rejection)
        return [(i, bad[i.record.line]) for i in items if i.record.line in bad]

    async def resolve_more(self, tx: Executor, items: list[Item], refs: RefCache,
                           ) -> list[tuple[Item, Rejection]]:
        """A kind's own references and checks against stored rows."""
        return []

    # -- writing -----------------------------------------------------------------------
    async def write(self, tx: Executor, items: list[Item], refs: RefCache) -> None:
        """Upserts the items' rows by key (one statement), then the kind's own rows."""
        cols = [f for f in (*self.fields, *self.derived) if f.column is not None]
        names = [self.key_column, *(f.column for f in cols if f.column)]
        types = ["text", *(f.sql for f in cols)]
        arrays: list[list[Any]] = [[i.record.key for i in items]]
        for f in cols:
            assert f.column is not None
            encode = json_dumps if f.type in ("object", "array") else None
            arrays.append([(encode(v) if encode and v is not None else v)
                           for v in (i.values[f.column] for i in items)])
        select = ", ".join(
            f"u.{n}::jsonb" if f is not None and f.type in ("object", "array") else f"u.{n}"
            for n, f in zip(names, [None, *cols], strict=True))
        unnest = ", ".join(f"${n}::{t}[]" for n, t in enumerate(types, start=1))
        update = ", ".join(f"{n} = EXCLUDED.{n}" for n in names[1:])
        rows = await tx.fetch(
            f"INSERT INTO {self.table} ({', '.join(names)})"
            f" SELECT {select} FROM unnest({unnest}) AS u({', '.join(names)})"
            f" ON CONFLICT ({self.key_column}) DO UPDATE SET {update}"
            f" RETURNING id, {self.key_column} AS key, (xmax = 0) AS inserted", *arrays)
        by_key = {r["key"]: r for r in rows}
        for i in items:
            row = by_key[i.record.key]
            i.row_id, i.inserted = row["id"], row["inserted"]
        refs.learn(self.table, self.key_column, [(i.record.key, i.row_id) for i in items
                                                  if i.row_id is not None])
        await self.after_write(tx, items)

    async def after_write(self, tx: Executor, items: list[Item]) -> None:
        """The kind's rows beyond its own (lines, legs, genealogy); items carry row ids."""

    async def retire(self, tx: Executor, item: Item, refs: RefCache) -> None:
        """Removes what the key names; a row still referenced elsewhere is refused by the
        database's foreign keys (the caller turns that into the record's rejection)."""
        row = await tx.fetchrow(
            f"DELETE FROM {self.table} WHERE {self.key_column} = $1"
            " RETURNING id", item.record.key)
        if row is None:
            raise NotFound(f"no {self.name} {item.record.key!r} to retire", field="key")
        item.row_id = row["id"]
        refs.forget(self.table, self.key_column, item.record.key)

    # -- announcing --------------------------------------------------------------------
    def events(self, item: Item) -> list[Event]:
        """The events of a change: type, the customer concerned (None: the mill's own),
        payload, and optionally the aggregate's type and id (by default the kind and the
        record's row). One per customer when a change concerns several."""
        change = "retired" if item.record.retire else "created" if item.inserted else "updated"
        return [(f"{self.name}.{change}", item.org_id,
                 {"key": item.record.key, "version": item.record.version})]


def _join(name: str, path: str | None) -> str:
    return name if path is None else f"{name}.{path}"

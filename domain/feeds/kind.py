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

from domain.db import Executor
from domain.errors import NotFound
from domain.feeds.fields import BadValue, Field, Ref, object_schema, rows_json
from domain.feeds.records import Record, Rejection

__all__ = ["SCHEMA_BASE", "Event", "Item", "Kind", "RefCache"]

SCHEMA_BASE = "https://keylink.example/schemas/feeds"
# Each referenced table's keys kept per batch, so that a coil's heat is looked up once;
# beyond this many a table's map starts afresh, so memory does not grow with the file.
_CACHE_LIMIT = 50_000


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
        [found] = await self.ids_of(tx, [(ref, keys)])
        return found

    async def ids_of(self, tx: Executor, wanted: Sequence[tuple[Ref, Sequence[str]]],
                     ) -> list[dict[str, int]]:
        """:meth:`ids` of several references at once: what is not known yet is looked
        up in one statement."""
        lookups: dict[tuple[str, str], set[str]] = {}
        for ref, keys in wanted:
            table = (ref.table, ref.key_column)
            known = self._ids.setdefault(table, {})
            missing = {k for k in keys if k not in known}
            if not missing:
                continue
            missing |= lookups.get(table, set())
            if len(known) + len(missing) > _CACHE_LIMIT:
                # Starting afresh: every key asked for is looked up, not only the new.
                known.clear()
                missing = {k for ref2, keys2 in wanted
                           if (ref2.table, ref2.key_column) == table for k in keys2}
            lookups[table] = missing
        if lookups:
            tables = list(lookups)
            rows = await tx.fetch(" UNION ALL ".join(
                f"SELECT {n} AS ref, {column} AS key, id FROM {table}"
                f" WHERE {column} = ANY(${n + 1}::text[])"
                for n, (table, column) in enumerate(tables)),
                *[sorted(lookups[t]) for t in tables])
            for r in rows:
                self._ids[tables[r[0]]][r[1]] = r[2]
        out = []
        for ref, keys in wanted:
            known = self._ids[(ref.table, ref.key_column)]
            out.append({k: known[k] for k in keys if k in known})
        return out

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
        # The fields in the order they are converted, with the column each goes to.
        self._converts = tuple((f, f.name, f.column) for f in self.fields)

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
        data = record.data
        if not self._validator.is_valid(data):
            for error in self._validator.iter_errors(data):
                path = ".".join(str(p) for p in error.instance_path) or None
                return self._reject(record, path, error.message)
        values: dict[str, Any] = {}
        for f, name, column in self._converts:
            try:
                converted = f.convert(data.get(name))
            except BadValue as exc:
                return self._reject(record, _join(name, exc.path), f"{name} {exc}")
            if column is not None:
                values[column] = converted
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
        refs_of = [f for f in self.fields if f.ref is not None and f.column is not None]
        resolved = await refs.ids_of(tx, [
            (f.ref, [i.values[f.column] for i in items if i.values.get(f.column) is not None])
            for f in refs_of if f.ref is not None and f.column is not None])
        for f, found in zip(refs_of, resolved, strict=True):
            assert f.ref is not None and f.column is not None
            col = f.column
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
        columns = [f.column or "" for f in cols]
        rows = await tx.fetch(self._upsert_sql(cols), rows_json(
            [[i.record.key, *[i.values[c] for c in columns]] for i in items]))
        by_key = {r[1]: r for r in rows}
        for i in items:
            row = by_key[i.record.key]
            i.row_id, i.inserted = row[0], row[2]
        refs.learn(self.table, self.key_column, [(i.record.key, i.row_id) for i in items
                                                  if i.row_id is not None])
        await self.after_write(tx, items)

    def _upsert_sql(self, cols: list[Field]) -> str:
        """One statement for a whole chunk, upserted by key: the rows come as one JSON
        document (see :func:`rows_json`), each value cast to its column's type."""
        names = [self.key_column, *(f.column for f in cols if f.column)]
        types = ["text", *("jsonb" if f.type in ("object", "array") else f.sql for f in cols)]
        select = ", ".join(f"(r->>{n})::{t}" for n, t in enumerate(types))
        update = ", ".join(f"{n} = EXCLUDED.{n}" for n in names[1:])
        return (f"INSERT INTO {self.table} ({', '.join(names)})"
                f" SELECT {select} FROM jsonb_array_elements($1::text::jsonb) AS r"
                f" ON CONFLICT ({self.key_column}) DO UPDATE SET {update}"
                f" RETURNING id, {self.key_column} AS key, (xmax = 0) AS inserted")

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

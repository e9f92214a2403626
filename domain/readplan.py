"""One statement that returns a whole answer as JSON, built by PostgreSQL.

The API's read planner (api/planner.py) describes what an answer holds; this module
writes the SQL: an object is a ``json_build_object`` over a row, a related row a
correlated sub-select, a list a ``json_agg`` over the related rows in their order, a
keyset page the same with its cursors and ``pageInfo`` computed beside it. Values are
written exactly as the API's resolvers write them: exact decimals as strings, times in
UTC with their offset (``2026-03-01T08:00:00.250000+00:00``), enum names, Relay ids and
cursors in URL-safe base64.

Every table is read under its rule in :data:`domain.tenancy.TABLE_RULES`, with the
scope's organization as ``$1``; a table without a rule cannot be read here
(:class:`NoRule`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.db import Executor
from domain.tenancy import Scope, Where, table_rule


class NoRule(LookupError):
    """A table without a visibility rule: the statement cannot be written."""


@dataclass
class Statement:
    """The parameters of one statement (``$1``: the scope's organization) and the
    aliases it has handed out."""

    where: Where
    _aliases: int = 0

    @classmethod
    def of(cls, scope: Scope) -> Statement:
        return cls(scope.where())

    def arg(self, value: Any) -> str:
        return self.where.arg(value)

    def alias(self) -> str:
        self._aliases += 1
        return f"t{self._aliases}"

    def visible(self, table: str, alias: str) -> str:
        rule = table_rule(table)
        if rule is None:
            raise NoRule(table)
        return rule(alias)

    async def answer(self, db: Executor, sql: str) -> str:
        """The JSON text of ``sql`` (one row, one json value)."""
        text: str = await db.fetchval(f"SELECT ({sql})::text", *self.where.args)
        return text


# Values, written as the API writes them.

def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def decimal(expr: str) -> str:
    """An exact number as its digits (numeric's text is Decimal's str at these scales)."""
    return f"({expr})::text"


def timestamp(expr: str) -> str:
    """A timestamptz as Python's isoformat of the UTC time asyncpg reads: microseconds
    only when there are any, and the offset ``+00:00``."""
    utc = f"(({expr}) AT TIME ZONE 'UTC')"
    return (f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN"
            f" extract(microseconds FROM {utc})::bigint % 1000000 = 0 THEN ''"
            f" ELSE to_char({utc}, '.US') END || '+00:00')")


def base64url(expr: str) -> str:
    return f"translate(encode(convert_to({expr}, 'UTF8'), 'base64'), E'+/\\n', '-_')"


def relay_id(type_name: str, expr: str) -> str:
    """``base64("<TypeName>:<pk>")``, as resolvers/relay.py writes a global id."""
    return base64url(f"{literal(type_name + ':')} || ({expr})")


def id_cursor(*exprs: str) -> str:
    """The cursor of a keyset of integers: base64 of its JSON list (``[5, 12]``)."""
    inner = " || ', ' || ".join(f"({e})" for e in exprs)
    return base64url(f"'[' || {inner} || ']'")


def enum_name(expr: str, names: Mapping[str, str]) -> str:
    """The name of the value a column holds (``'in_production'`` -> ``IN_PRODUCTION``)."""
    whens = " ".join(f"WHEN {literal(v)} THEN {literal(n)}" for v, n in names.items())
    return f"(CASE ({expr}) {whens} END)"


# Shapes.

def obj(entries: Iterable[tuple[str, str]]) -> str:
    """A JSON object of (key, SQL value) in order."""
    parts = [f"{literal(k)}, {v}" for k, v in entries]
    if not parts:
        return "json_build_object()"
    # json_build_object takes at most 100 arguments: longer objects are concatenated.
    chunks = [parts[i:i + 50] for i in range(0, len(parts), 50)]
    if len(chunks) == 1:
        return f"json_build_object({', '.join(parts)})"
    merged = " || ".join(f"jsonb_build_object({', '.join(c)})" for c in chunks)
    return f"({merged})::json"


def one(st: Statement, table: str, alias: str, on: str, value: str) -> str:
    """``value`` over the one related row of ``table`` it may see, or null."""
    return (f"(SELECT {value} FROM {table} {alias}"
            f" WHERE ({on}) AND {st.visible(table, alias)} LIMIT 1)")


def rows(st: Statement, table: str, alias: str, on: str, order: str, value: str) -> str:
    """A JSON list of ``value`` over the related rows of ``table``, in ``order``."""
    return (f"(SELECT coalesce(json_agg({value} ORDER BY {order}), '[]'::json)"
            f" FROM {table} {alias} WHERE ({on}) AND {st.visible(table, alias)})")


def page(st: Statement, source: str, alias: str, order: str, cursor: str, first: int,
         had_after: bool, shape: Sequence[tuple[str, str, Any]]) -> str:
    """A keyset connection over ``source`` (``FROM ... WHERE ... ORDER BY ... LIMIT
    first + 1``, rows as ``alias``) in ``order``: ``shape`` lists (key, kind, what)
    with kind ``edges`` (what: the edge's (key, kind, node value) entries, kind
    ``cursor``, ``node`` or ``literal``), ``nodes`` (what: the node's value),
    ``pageInfo`` (what: (key, field) pairs, or literals) or ``literal``."""
    values: list[str] = []
    columns: list[str] = [f"{cursor} AS cur", f"row_number() OVER (ORDER BY {order}) AS n"]

    def column(expr: str) -> str:
        columns.append(f"{expr} AS v{len(columns)}")
        return f"x.v{len(columns) - 1}"

    on_page = f"x.n <= {int(first)}"
    cursors = f"(array_agg(x.cur ORDER BY x.n) FILTER (WHERE {on_page}))"
    info = {
        "hasNextPage": f"count(*) > {int(first)}",
        "hasPreviousPage": "true" if had_after else "false",
        "startCursor": f"{cursors}[1]",
        "endCursor": f"{cursors}[least(count(*), {int(first)})]",
    }
    for key, kind, what in shape:
        if kind == "edges":
            edge = []
            for ekey, ekind, evalue in what:
                if ekind == "cursor":
                    edge.append((ekey, "x.cur"))
                elif ekind == "node":
                    edge.append((ekey, column(evalue)))
                else:
                    edge.append((ekey, evalue))
            value = (f"coalesce(json_agg({obj(edge)} ORDER BY x.n) FILTER (WHERE {on_page}),"
                     " '[]'::json)")
        elif kind == "nodes":
            value = (f"coalesce(json_agg({column(what)} ORDER BY x.n) FILTER"
                     f" (WHERE {on_page}), '[]'::json)")
        elif kind == "pageInfo":
            value = obj((k, info.get(f, f)) for k, f in what)
        else:
            value = what
        values.append(f"{literal(key)}, {value}")
    # HAVING makes it one group, so one row even when no key aggregates.
    return (f"(SELECT json_build_object({', '.join(values)}) FROM"
            f" (SELECT {', '.join(columns)} FROM ({source}) {alias}) x HAVING true)")


def child_page_source(st: Statement, table: str, alias: str, on: str, key: str,
                      first: int, after: int | None) -> str:
    """The rows of one page of ``table`` related by ``on``, by ``key`` ascending."""
    after_sql = "" if after is None else f" AND {alias}.{key} > {st.arg(after)}::bigint"
    return (f"SELECT * FROM {table} {alias} WHERE ({on}) AND {st.visible(table, alias)}"
            f"{after_sql} ORDER BY {alias}.{key} LIMIT {int(first) + 1}")

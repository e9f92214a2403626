"""The map of where each table would live on a distributed PostgreSQL
(``domain.placement``) stays true of the schema: every table has a place, every
distributed table's key column is there and never null, or the gap is listed."""

from __future__ import annotations

from domain.db import Database
from domain.placement import GAPS, PLACEMENT


async def _tables(db: Database) -> dict[str, dict[str, bool]]:
    """Each table (partitions left out) with its columns and whether each may be null."""
    rows = await db.fetch(
        "SELECT c.relname AS table, a.attname AS column, NOT a.attnotnull AS nullable"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"
        " AND NOT c.relispartition")
    tables: dict[str, dict[str, bool]] = {}
    for r in rows:
        tables.setdefault(r["table"], {})[r["column"]] = r["nullable"]
    return tables


async def test_every_table_has_a_place(db: Database) -> None:
    tables = await _tables(db)
    assert sorted(set(tables) - set(PLACEMENT)) == [], "tables without a place"
    assert sorted(set(PLACEMENT) - set(tables)) == [], "places of tables that are gone"


async def test_the_gaps_are_exactly_those_listed(db: Database) -> None:
    tables = await _tables(db)
    found: dict[str, str] = {}
    for table, place in PLACEMENT.items():
        if place.column is None or table not in tables:
            continue
        columns = tables[table]
        if place.column not in columns:
            found[table] = "missing"
        elif columns[place.column]:
            found[table] = "nullable"
    assert found == {table: kind for table, (kind, _) in GAPS.items()}


async def test_reference_and_coordinator_tables_name_no_column() -> None:
    for place in PLACEMENT.values():
        assert (place.column is None) == (place.kind in ("reference", "coordinator"))

"""Migrations: ordered, recorded, atomic, and safe when two runners start at once."""

import asyncio
from pathlib import Path

import asyncpg
import pytest

from domain.migrate import MigrationError, NoMigrationsError, migrate
from settings import PROJECT_ROOT

MIGRATIONS = PROJECT_ROOT / "domain" / "migrations"


async def test_applies_every_file_once_and_records_it(empty_database_url: str) -> None:
    first = await migrate(empty_database_url, MIGRATIONS)
    again = await migrate(empty_database_url, MIGRATIONS)

    assert first == sorted(p.name for p in MIGRATIONS.glob("*.sql"))
    assert again == []
    conn = await asyncpg.connect(empty_database_url)
    try:
        rows = await conn.fetch("SELECT name FROM schema_migration ORDER BY 1")
        names = [r["name"] for r in rows]
    finally:
        await conn.close()
    assert names == first


async def test_two_runners_at_once_apply_each_file_once(empty_database_url: str) -> None:
    a, b = await asyncio.gather(
        migrate(empty_database_url, MIGRATIONS), migrate(empty_database_url, MIGRATIONS)
    )
    assert sorted(a + b) == sorted(p.name for p in MIGRATIONS.glob("*.sql"))


async def test_failing_migration_leaves_database_as_it_was(
    empty_database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE kept (id int);")
    (tmp_path / "0002_bad.sql").write_text(
        "CREATE TABLE half_done (id int);\nSELECT no_such_column FROM kept;"
    )

    with pytest.raises(MigrationError) as caught:
        await migrate(empty_database_url, tmp_path)

    assert caught.value.filename == "0002_bad.sql"
    assert "no_such_column" in str(caught.value)
    conn = await asyncpg.connect(empty_database_url)
    try:
        tables = {r["relname"] for r in await conn.fetch(
            "SELECT relname FROM pg_class WHERE relkind = 'r'"
            " AND relnamespace = 'public'::regnamespace")}
        recorded = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migration")]
    finally:
        await conn.close()
    assert "kept" in tables and "half_done" not in tables
    assert recorded == ["0001_ok.sql"]


@pytest.mark.parametrize("make", ["empty", "missing"])
async def test_a_folder_without_migrations_is_refused_before_the_database_is_touched(
    empty_database_url: str, tmp_path: Path, make: str
) -> None:
    folder = tmp_path / "migrations"
    if make == "empty":
        folder.mkdir()
        (folder / "README").write_text("not a migration")

    with pytest.raises(NoMigrationsError, match="no migrations"):
        await migrate(empty_database_url, folder)

    conn = await asyncpg.connect(empty_database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('schema_migration')") is None
    finally:
        await conn.close()

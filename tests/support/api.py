"""The API under test: a real app over a real database, called through httpx.

``seeded_url`` is one database per session loaded with a small demo case; tests that
only read share it. ``api`` gives a client factory bound to an app on a database.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

import demo
from api.app import create_app
from api.auth import TokenCodec
from api.context import Services
from api.embedded import free_port
from domain.db import Database
from settings import Settings
from tests.support.postgres import create_database, drop_database

SECRET = secrets.token_hex(32)
# Rate limits off: tests send many operations and open many sockets from one address
# (tests/api/test_edge.py turns them on).
SETTINGS = Settings(jwt_secret=SECRET, environment="development", rate_limit_per_minute=0,
                    socket_rate_per_minute=0)
CODEC = TokenCodec.from_settings(SETTINGS)

MILL_ROLES = ["sales", "production", "quality", "logistics", "finance", "admin"]


@contextlib.asynccontextmanager
async def serving(app: Starlette, **options: Any) -> AsyncIterator[str]:
    """``app`` under uvicorn (with ``options``) in this event loop, on a free port; yields
    its address (``127.0.0.1:<port>``), and stops the server on the way out."""
    port = free_port(0)
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options))
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # uvicorn offers no event for "listening"
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def graphql_ws(services: Services, settings: Settings = SETTINGS) -> AsyncIterator[str]:
    """The app on ``services`` served (see :func:`serving`); yields its GraphQL WebSocket
    address."""
    async with serving(create_app(settings, services=services)) as address:
        yield f"ws://{address}/graphql"


# Test modules make their tokens when they are imported, at collection: they must outlive
# the whole run of the suite, not just the first minutes of it.
TEST_TOKEN_SECONDS = 6 * 3600


def token(org: str, *roles: str, subject: str = "tester") -> str:
    return CODEC.issue(org=org, roles=roles or ("customer",), subject=subject,
                       ttl_seconds=TEST_TOKEN_SECONDS)


@dataclass
class Api:
    client: httpx.AsyncClient
    db: Database

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST an operation; ``as_`` is a bearer token. Returns the decoded body."""
        h = dict(headers or {})
        if as_ is not None:
            h["authorization"] = f"Bearer {as_}"
        r = await self.client.post("/graphql", json={"query": query, "variables": variables},
                                   headers=h)
        body: dict[str, Any] = r.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None, *,
                   as_: str) -> dict[str, Any]:
        """Like :meth:`query` but fails the test on any error."""
        body = await self.query(query, variables, as_=as_)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture(scope="session")
async def seeded_url(pg_admin_url: str, pg_template: str) -> AsyncIterator[str]:
    url = await create_database(pg_admin_url, pg_template)
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        await demo.seed(db, contracts=40)
    finally:
        await db.close()
    yield url
    await drop_database(pg_admin_url, url)


@pytest.fixture(scope="session")
async def seeded_db(seeded_url: str) -> AsyncIterator[Database]:
    db = await Database.connect(seeded_url, min_size=1, max_size=8)
    yield db
    await db.close()


async def _client(db: Database, settings: Settings | None = None) -> AsyncIterator[Api]:
    """The API over ``db``; ``settings`` are what its resolvers read (defaults otherwise)."""
    read = settings or Settings()
    app = create_app(SETTINGS, services=Services(db=db, codec=CODEC, settings=read))
    app.state.services = Services(db=db, codec=CODEC, settings=read)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://keylink.test") as client:
        yield Api(client, db)


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    """The API over a fresh, empty database."""
    async for a in _client(db):
        yield a


@pytest.fixture
async def demo_api(seeded_db: Database) -> AsyncIterator[Api]:
    """The API over the shared demo database (read-only tests)."""
    async for a in _client(seeded_db):
        yield a


@pytest.fixture
def tokens() -> Iterator[dict[str, str]]:
    yield {
        "faw": token("FAW-VW", "customer", subject="buyer.faw"),
        "galanz": token("GALANZ", "customer", subject="buyer.galanz"),
        "mill": token("BAOSTEEL", *MILL_ROLES, subject="staff.mill"),
    }

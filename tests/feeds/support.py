"""The feeds' API under test: the app over a fresh database holding the mill and one
customer, tokens of a plant system, records written as a plant writes them."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from api.app import create_app
from api.context import Services
from domain.db import Database
from settings import Settings
from tests.support.api import CODEC, SECRET, SETTINGS, TEST_TOKEN_SECONDS

NDJSON = {"content-type": "application/x-ndjson"}


def integration_token(*kinds: str, subject: str = "erp") -> str:
    """A plant system's token, as `keylink token --role integration --kinds ...` signs it."""
    return CODEC.issue(org="BAOSTEEL", roles=["integration"], subject=subject,
                       ttl_seconds=TEST_TOKEN_SECONDS, kinds=kinds or ("organization",))


def token_naming(kinds: list[str], subject: str = "mes") -> str:
    """An integration token whatever kinds it names, as an identity provider may sign one
    (naming a kind ahead of the release that brings it)."""
    now = int(time.time())
    return jwt.encode({"sub": subject, "org": "BAOSTEEL", "roles": ["integration"],
                       "kinds": kinds, "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def org(code: str, version: int | str = 1, name: str | None = None,
        kind: str = "customer") -> dict[str, Any]:
    return {"kind": "organization", "key": code, "version": version,
            "data": {"name": name or f"{code} Ltd", "kind": kind}}


def ndjson(records: Iterable[dict[str, Any] | str]) -> bytes:
    """One record a line; a string is sent as it is (a bad line)."""
    return b"".join((r if isinstance(r, str) else json.dumps(r)).encode() + b"\n"
                    for r in records)


@dataclass
class Feed:
    client: httpx.AsyncClient
    db: Database

    async def post(self, body: Any, token: str, *, params: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post("/feeds/records", content=body, params=params,
                                      headers={**NDJSON, **bearer(token), **(headers or {})})

    async def organizations(self) -> dict[str, tuple[str, str]]:
        rows = await self.db.fetch("SELECT code, name, kind FROM organization")
        return {r["code"]: (r["name"], r["kind"]) for r in rows}

    async def events(self) -> int:
        count: int = await self.db.fetchval(
            "SELECT count(*) FROM domain_event WHERE event_type LIKE 'organization.%'")
        return count


async def seed_parties(db: Database) -> None:
    await db.execute("INSERT INTO organization (code, name, kind) VALUES"
                     " ('BAOSTEEL', 'Baosteel', 'mill'), ('FAW-VW', 'FAW-VW', 'customer')")


@contextlib.asynccontextmanager
async def feed_api(db: Database, settings: Settings = SETTINGS) -> AsyncIterator[Feed]:
    """The API over ``db`` with ``settings`` (its edge: the bounds of bodies)."""
    services = Services(db=db, codec=CODEC, settings=settings)
    app = create_app(settings, services=services)
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://keylink.test", timeout=60) as client:
        yield Feed(client, db)

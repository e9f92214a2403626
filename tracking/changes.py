"""Registry and site changes, reaching the ingester as they commit.

Every change to a device, vehicle or site appends its event to the outbox in the same
transaction (``domain.shipments.devices``: ``device.registered``, ``device.disabled``,
``device.enabled``, ``device.bound``; the plant's feeds, ``domain.feeds.kinds``:
``device.*``, ``vehicle.*`` and ``site.*``), and the outbox NOTIFYs the ``domain_event``
channel once per statement. The ingester LISTENs on it and reads the outbox forward from
the last sequence it saw, so a notification missed or merged loses nothing: each change
marks its entries in the registry (read again before the next batch) and a site change
has the fence index rebuilt. A lost connection is reopened; meanwhile, and as a fallback,
the outbox is read every ``POLL_SECONDS`` and the registry reloads in full every
``KEYLINK_REGISTRY_REFRESH_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg

from domain import events
from tracking.registry import Registry

log = logging.getLogger("keylink.tracking.changes")

CHANNEL = "domain_event"
POLL_SECONDS = 5.0
AGGREGATES = ("device", "vehicle", "site")

_CHANGES = """
SELECT aggregate_type, aggregate_id FROM domain_event
WHERE seq > $1 AND seq <= $2 AND aggregate_type = ANY($3::text[])
"""


class Fences(Protocol):
    def invalidate(self) -> None: ...


class Changes:
    def __init__(self, database_url: str, registry: Registry, fences: Fences) -> None:
        self._url = database_url
        self._registry = registry
        self._fences = fences
        self._wake = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._seen: int | None = None  # the last outbox sequence applied

    async def run(self) -> None:
        """Follow the outbox until cancelled."""
        delay = 1.0
        while True:
            try:
                self._conn = await asyncpg.connect(self._url)
                delay = 1.0
                await self._follow(self._conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("registry change feed lost its connection (%s); retrying in %.0fs",
                            exc, delay)
            await self.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _follow(self, conn: asyncpg.Connection) -> None:
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _: closed.set())
        await conn.add_listener(CHANNEL, self._on_notify)
        if self._seen is None:
            # Everything before is in the registry's first load, still to come.
            self._seen = await events.last_seq(conn)
        self._wake.set()  # what committed while the connection was away
        while not closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()
            await self.apply(conn)

    async def apply(self, conn: asyncpg.Connection) -> int:
        """Mark what changed since the last call; returns how many changes."""
        last = await events.last_seq(conn)
        seen = self._seen if self._seen is not None else last
        if last <= seen:
            return 0
        rows = await conn.fetch(_CHANGES, seen, last, list(AGGREGATES))
        self._seen = last
        self._mark(rows)
        return len(rows)

    def _mark(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        devices = {r["aggregate_id"] for r in rows if r["aggregate_type"] == "device"}
        vehicles = {r["aggregate_id"] for r in rows if r["aggregate_type"] == "vehicle"}
        sites = any(r["aggregate_type"] == "site" for r in rows)
        self._registry.invalidate(devices=devices, vehicles=vehicles, sites=sites)
        if sites:
            self._fences.invalidate()
        log.debug("registry changes: %d devices, %d vehicles, sites %s", len(devices),
                  len(vehicles), "changed" if sites else "unchanged")

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)

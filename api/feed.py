"""Wakes subscribers when a domain event commits.

One LISTEN connection per process on the ``domain_event`` channel (the migration's
trigger NOTIFYs it). A woken subscriber reads the outbox forward from the last
sequence it saw, so a missed or merged notification loses nothing; a periodic wake
covers a dropped LISTEN connection. Nothing here is state another replica needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0


class EventFeed:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._changed = asyncio.Condition()
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            await self._conn.close()

    async def wait(self) -> None:
        """Return when an event may have committed, or after POLL_SECONDS at most."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), POLL_SECONDS)

    async def _notify_all(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _on_notify(self, *_: Any) -> None:
        # Keep a reference until done: the loop holds tasks only weakly.
        task = asyncio.get_running_loop().create_task(self._notify_all())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _run(self) -> None:
        delay = 1.0
        while True:
            try:
                self._conn = await asyncpg.connect(self._url)
                await self._conn.add_listener("domain_event", self._on_notify)
                delay = 1.0
                while not self._conn.is_closed():
                    await asyncio.sleep(POLL_SECONDS)
                    await self._notify_all()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("event feed lost its connection; retrying",
                            extra={"error": str(exc), "retry_in_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

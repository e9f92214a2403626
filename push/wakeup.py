"""The worker's wake-up: a LISTEN on the outbox's channel that sets an event.

Level-triggered, unlike a condition: the worker clears the event before it reads the
outbox, so a commit that lands between its last (empty) read and its wait still wakes
it at once. A lost connection is reopened; meanwhile the worker polls every tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "domain_event"


class Wakeup:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self.event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="push-wakeup")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    def _on_notify(self, *_: Any) -> None:
        self.event.set()

    async def _listen(self, conn: asyncpg.Connection) -> None:
        """Listen until the connection closes, then raise to reconnect."""
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _: closed.set())
        await conn.add_listener(CHANNEL, self._on_notify)
        self.event.set()  # anything committed while we were away
        await closed.wait()
        raise ConnectionError("the LISTEN connection closed")

    async def _run(self) -> None:
        delay = 1.0
        while True:
            try:
                self._conn = await asyncpg.connect(self._url)
                delay = 1.0
                await self._listen(self._conn)
            except (OSError, asyncpg.PostgresError) as exc:  # ConnectionError is an OSError
                log.warning("push wake-up lost its connection; retrying",
                            extra={"error": str(exc), "retry_in_s": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

"""The outbox the push worker and the `events` subscription follow by sequence number:
sequence order is commit order, so a reader that has passed a sequence never misses a
slower transaction that commits below it."""

from __future__ import annotations

import asyncio

from domain import events
from domain.db import Database
from tests.support.factory import build


async def test_outbox_sequence_order_is_commit_order(db: Database) -> None:
    w = await build(db)
    first_inserted = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> None:
        async with db.transaction() as tx:
            await events.append(tx, "test.slow", org_id=w.org["FAW-VW"],
                                aggregate_type="t", aggregate_id=1, payload={}, actor=None)
            first_inserted.set()
            await release.wait()

    async def fast() -> None:
        await first_inserted.wait()
        async with db.transaction() as tx:
            await events.append(tx, "test.fast", org_id=w.org["FAW-VW"],
                                aggregate_type="t", aggregate_id=2, payload={}, actor=None)

    slow_task, fast_task = asyncio.create_task(slow()), asyncio.create_task(fast())
    await first_inserted.wait()
    await asyncio.sleep(0.3)
    # The fast writer waits for the slow one's commit, so a reader cannot see it first.
    assert [e.event_type for e in await events.read_after(db, 0)] == []
    release.set()
    await asyncio.gather(slow_task, fast_task)
    assert [e.event_type for e in await events.read_after(db, 0)] == ["test.slow", "test.fast"]

"""The inbox over a real server: the `notifications` subscription resumes after a drop with
nothing lost and nothing twice, and the inbox and the worker's place survive restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from api.context import Services
from api.feed import EventFeed
from domain import events
from domain.db import Database
from push.config import PushConfig
from push.worker import Worker
from tests.support.api import CODEC, Api, graphql_ws, token
from tests.support.factory import World, build

SUB = """subscription($after: Int) { notifications(after: $after) {
  id sequence eventType title } }"""


@pytest.fixture
async def server(db: Database, database_url: str) -> AsyncIterator[str]:
    feed = EventFeed(database_url)
    await feed.start()
    async with graphql_ws(Services(db=db, codec=CODEC, feed=feed)) as url:
        yield url
    await feed.stop()


async def _open(url: str, bearer: str, after: int | None) -> Any:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init",
                              "payload": {"Authorization": f"Bearer {bearer}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe",
                              "payload": {"query": SUB, "variables": {"after": after}}}))
    return ws


async def _next(ws: Any, wait: float = 10) -> dict[str, Any]:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), wait))
        if msg["type"] == "next":
            assert "errors" not in msg["payload"], msg
            node: dict[str, Any] = msg["payload"]["data"]["notifications"]
            return node


async def _urge(db: Database, w: World, n: int, users: list[str]) -> None:
    for i in range(n):
        async with db.transaction() as tx:
            await events.append(tx, "urge.opened", org_id=w.org["FAW-VW"],
                                aggregate_type="contract", aggregate_id=w.contract["FAW-VW"],
                                actor="buyer", payload={"contract": f"C-{i}",
                                                        "notify_users": users})


async def _drain(worker: Worker) -> None:
    while await worker.step():
        pass


async def test_subscription_resumes_after_a_drop(server: str, db: Database) -> None:
    w = await build(db)
    worker = Worker(db, PushConfig())
    owner = token("BAOSTEEL", "sales", subject="owner.sales")
    ws = await _open(server, owner, 0)
    await _urge(db, w, 2, ["owner.sales"])
    await _urge(db, w, 1, ["someone.else"])
    await _drain(worker)
    seen = [await _next(ws), await _next(ws)]
    assert [n["title"] for n in seen] == ["合同 C-0 催货", "合同 C-1 催货"]
    await ws.close()  # the connection drops

    await _urge(db, w, 3, ["owner.sales"])  # meanwhile, three more arrive
    await _drain(worker)
    ws = await _open(server, owner, seen[-1]["sequence"])
    resumed = [await _next(ws) for _ in range(3)]
    assert [n["title"] for n in resumed] == ["合同 C-0 催货", "合同 C-1 催货", "合同 C-2 催货"]
    ids = [n["id"] for n in seen + resumed]
    assert len(set(ids)) == 5
    sequences = [n["sequence"] for n in seen + resumed]
    assert sequences == sorted(sequences)
    # Live, after the backlog: and nothing else (not someone else's) in between.
    await _urge(db, w, 1, ["owner.sales"])
    await _drain(worker)
    live = await _next(ws)
    assert live["sequence"] > sequences[-1]
    with pytest.raises(TimeoutError):
        await _next(ws, wait=0.5)
    await ws.close()


async def test_the_inbox_and_the_cursor_survive_restarts(
    api: Api, db: Database, database_url: str
) -> None:
    w = await build(db)
    await _urge(db, w, 2, ["owner.sales"])
    await _drain(Worker(db, PushConfig()))
    # A new process: a new pool and a new worker carry on where the others stopped.
    again = await Database.connect(database_url, min_size=1, max_size=2)
    try:
        await _urge(again, w, 1, ["owner.sales"])
        await _drain(Worker(again, PushConfig()))
        await _drain(Worker(again, PushConfig()))
    finally:
        await again.close()
    owner = token("BAOSTEEL", "sales", subject="owner.sales")
    data = await api.data("{ unreadNotificationCount notifications { nodes { title } } }",
                          as_=owner)
    assert data["unreadNotificationCount"] == 3
    assert sorted(n["title"] for n in data["notifications"]["nodes"]) == [
        "合同 C-0 催货", "合同 C-0 催货", "合同 C-1 催货"]


async def test_two_workers_side_by_side_deliver_each_event_once(db: Database) -> None:
    w = await build(db)
    await _urge(db, w, 40, ["owner.sales"])
    a, b = Worker(db, PushConfig(match_batch=5)), Worker(db, PushConfig(match_batch=5))
    await asyncio.gather(_drain(a), _drain(b), _drain(a), _drain(b))
    rows = await db.fetch("SELECT event_seq, count(*) FROM notification GROUP BY event_seq")
    assert len(rows) == 40 and {r["count"] for r in rows} == {1}

"""A front end follows a long plan import over a real server: the `planImport`
subscription sends its state at once, then each step of progress, and ends with the
outcome; another customer cannot follow it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from websockets.typing import Subprotocol

from api.context import Services
from domain.actor import Actor
from domain.db import Database
from domain.planning import imports
from resolvers.relay import to_global_id
from tests.planning.test_planning_api import FAW, GALANZ, long_plan_file
from tests.support.api import CODEC, Api, graphql_ws

SUB = """subscription($id: ID!) { planImport(id: $id) { status rowsDone rowsTotal
    errors { row reason } productionPlan { version } } }"""


@pytest.fixture
async def server(db: Database) -> AsyncIterator[str]:
    async with graphql_ws(Services(db=db, codec=CODEC)) as url:
        yield url


async def _messages(url: str, bearer: str, job_id: str) -> AsyncIterator[dict[str, Any]]:
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {bearer}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": SUB, "variables": {"id": job_id}}}))
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
            yield msg
            if msg["type"] in ("complete", "error"):
                return


async def test_a_front_end_follows_a_long_import_to_its_end(
    server: str, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, content = await long_plan_file(api)
    org = w.org["FAW-VW"]
    job = await imports.start(api.db, org, "plan", "long.csv", actor=Actor.system("planner"))
    gid = to_global_id("PlanImport", job)

    # Another customer cannot follow it: it reads like an import that does not exist.
    other = [m async for m in _messages(server, GALANZ, gid)]
    assert [m["type"] for m in other] == ["next", "complete"], other
    assert other[0]["payload"]["errors"][0]["message"] == "no such plan import"

    seen: list[dict[str, Any]] = []

    async def follow() -> None:
        async for msg in _messages(server, FAW, gid):
            if msg["type"] == "next":
                assert "errors" not in msg["payload"], msg
                seen.append(msg["payload"]["data"]["planImport"])
                if len(seen) == 1:
                    started.set()

    started = asyncio.Event()
    follower = asyncio.create_task(follow())
    await asyncio.wait_for(started.wait(), 10)
    # Slow each progress write a little, as a large file on a busy machine would be.
    real = imports._progress

    async def slowly(db: Database, job: int, done: int) -> None:
        await real(db, job, done)
        await asyncio.sleep(0.3)

    monkeypatch.setattr(imports, "_progress", slowly)
    await imports.run(api.db, job, org, "plan", "long.csv", content, actor="planner")
    await asyncio.wait_for(follower, 10)

    assert seen[0]["status"] == "RUNNING"
    done = [s["rowsDone"] for s in seen]
    assert done == sorted(done) and any(0 < n < 3000 for n in done), done
    assert seen[-1]["status"] == "IMPORTED" and seen[-1]["rowsDone"] == 3000
    assert seen[-1]["rowsTotal"] == 3000 and seen[-1]["productionPlan"]["version"] == 1
    assert len(seen) == len({(s["status"], s["rowsDone"], s["rowsTotal"]) for s in seen})

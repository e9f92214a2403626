"""graphql-transport-ws on /graphql against a real server: auth in connection_init,
resume from a sequence number, scoped to the organization."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from api.context import Services
from api.feed import EventFeed
from domain.db import Database
from tests.support.api import CODEC, graphql_ws, token
from tests.support.factory import build

SUB = "subscription($after: Int) { events(after: $after) { seq eventType payload } }"


@pytest.fixture
async def server(db: Database, database_url: str) -> AsyncIterator[str]:
    feed = EventFeed(database_url)
    await feed.start()
    async with graphql_ws(Services(db=db, codec=CODEC, feed=feed)) as url:
        yield url
    await feed.stop()


async def _open(url: str, bearer: str) -> Any:
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init",
                              "payload": {"Authorization": f"Bearer {bearer}"}}))
    ack = await ws.recv()
    # Text frames: a browser's GraphQL client reads no binary frame as a message.
    assert isinstance(ack, str) and json.loads(ack)["type"] == "connection_ack"
    return ws


async def _next(ws: Any) -> dict[str, Any]:
    while True:
        frame = await asyncio.wait_for(ws.recv(), 10)
        assert isinstance(frame, str), "a subscription's messages are text frames"
        msg = json.loads(frame)
        if msg["type"] != "ping":
            return msg  # type: ignore[no-any-return]


async def _append(db: Database, org: int, kind: str) -> int:
    seq: int = await db.fetchval(
        "INSERT INTO domain_event (event_type, org_id, aggregate_type, aggregate_id, payload)"
        " VALUES ($1, $2, 'contract', 1, '{}') RETURNING seq", kind, org)
    return seq


async def test_subscriber_resumes_after_a_sequence_and_sees_only_its_own(
    server: str, db: Database
) -> None:
    w = await build(db)
    before = await _append(db, w.org["FAW-VW"], "test.before")
    await _append(db, w.org["GALANZ"], "test.other")
    ws = await _open(server, token("FAW-VW"))
    await ws.send(json.dumps({"id": "1", "type": "subscribe",
                              "payload": {"query": SUB, "variables": {"after": before - 1}}}))
    first = await _next(ws)
    assert first["payload"]["data"]["events"]["eventType"] == "test.before"
    live = await _append(db, w.org["FAW-VW"], "test.live")
    second = await _next(ws)
    assert second["payload"]["data"]["events"]["seq"] == live
    await ws.close()


async def test_a_socket_without_a_valid_token_is_closed_at_connection_init(
    server: str, db: Database
) -> None:
    await build(db)
    for payload in ({}, {"Authorization": "Bearer forged"}, {"token": "forged"}):
        ws = await websockets.connect(server, subprotocols=["graphql-transport-ws"])
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403, payload


async def test_subscription_ends_when_its_token_expires(server: str, db: Database) -> None:
    w = await build(db)
    short = CODEC.issue(org="FAW-VW", roles=["customer"], subject="brief", ttl_seconds=1)
    ws = await _open(server, short)
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUB}}))
    await asyncio.sleep(1.5)
    await _append(db, w.org["FAW-VW"], "test.after-expiry")
    msg = await _next(ws)
    assert msg["type"] == "next" and msg["payload"].get("data") is None
    assert msg["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    await ws.close()

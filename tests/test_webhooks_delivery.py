"""Webhooks against a real HTTP receiver: down at first, then up; every delivery arrives
once with a valid signature; a receiver that keeps failing dead-letters the delivery,
which the customer sees in its delivery log and can send again."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain import events
from domain.db import Database
from push import signing
from push.config import PushConfig
from push.worker import Worker
from tests.support.api import Api, token
from tests.support.factory import World, build

QUICK = PushConfig(retry_base=timedelta(seconds=0.2), retry_cap=timedelta(seconds=1),
                   tick_s=0.05, max_attempts=30)

CREATE_HOOK = """mutation($url: String!) { createWebhookSubscription(input: {url: $url}) {
  webhook { id url } secret errors { code message } } }"""
CREATE_RULE = """mutation($in: CreatePushRuleInput!) { createPushRule(input: $in) {
  rule { id channel eventTypes } errors { field code message } } }"""
LOG = """query($status: DeliveryStatus) { webhookDeliveries(first: 50, status: $status) {
  nodes { id idempotencyKey status attempts lastError responseStatus eventType } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Receiver:
    """A webhook endpoint on a real port that can be started late, and told to fail."""

    port: int
    status: int = 200
    delay: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        await asyncio.sleep(self.delay)
        self.received.append((dict(request.headers), body))
        return Response(status_code=self.status)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                     log_level="warning", lifespan="off"))
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                return
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver(free_port())
    yield r
    await r.stop()


@pytest.fixture
async def worker(db: Database) -> AsyncIterator[Worker]:
    w = Worker(db, QUICK)
    task = asyncio.create_task(w.run())
    yield w
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _until(check: Callable[[], Any], seconds: float = 15) -> None:
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def _subscribe(api: Api, url: str, faw: str, **rule: Any) -> str:
    made = (await api.data(CREATE_HOOK, {"url": url}, as_=faw))["createWebhookSubscription"]
    assert made["errors"] == [] and made["secret"].startswith("whsec_")
    r = (await api.data(CREATE_RULE, {"in": {
        "name": "to our ERP", "eventTypes": ["shipment.*"], "channel": "WEBHOOK",
        "webhookId": made["webhook"]["id"], **rule}}, as_=faw))["createPushRule"]
    assert r["errors"] == [] and r["rule"]["channel"] == "WEBHOOK"
    secret: str = made["secret"]
    return secret


async def _shipment_events(db: Database, w: World, n: int) -> list[int]:
    seqs = []
    for i in range(n):
        async with db.transaction() as tx:
            seqs.append(await events.append(
                tx, "shipment.departed", org_id=w.org["FAW-VW"], aggregate_type="shipment",
                aggregate_id=1000 + i, actor=None, payload={"shipment": f"SH-{i}"}))
    return seqs


async def test_a_receiver_down_at_first_gets_each_delivery_once_signed(
    api: Api, db: Database, receiver: Receiver, worker: Worker
) -> None:
    w = await build(db)
    faw = token("FAW-VW", subject="buyer.faw")
    secret = await _subscribe(api, receiver.url, faw)
    seqs = await _shipment_events(db, w, 5)

    async def failed_twice() -> bool:
        n = await db.fetchval("SELECT count(*) FROM push_delivery WHERE attempts >= 2"
                              " AND last_error IS NOT NULL AND status = 'queued'")
        return bool(n == 5)
    await _until(failed_twice)
    log = (await api.data(LOG, as_=faw))["webhookDeliveries"]["nodes"]
    assert {d["status"] for d in log} == {"QUEUED"} and "ConnectError" in log[0]["lastError"]

    await receiver.start()

    async def all_delivered() -> bool:
        n = await db.fetchval("SELECT count(*) FROM push_delivery WHERE status = 'delivered'")
        return bool(n == 5)
    await _until(all_delivered)
    await asyncio.sleep(0.5)  # anything sent twice would have arrived by now

    keys = [h["keylink-idempotency-key"] for h, _ in receiver.received]
    assert len(keys) == 5 and len(set(keys)) == 5
    bodies = [json.loads(b) for _, b in receiver.received]
    assert sorted(b["event"]["sequence"] for b in bodies) == seqs
    for headers, body in receiver.received:
        assert signing.verify(secret, body, headers["keylink-signature"])
        assert not signing.verify("whsec_wrong", body, headers["keylink-signature"])
        assert json.loads(body)["id"] == headers["keylink-idempotency-key"]
        assert int(headers["keylink-delivery-attempt"]) >= 3
    log = (await api.data(LOG, as_=faw))["webhookDeliveries"]["nodes"]
    assert {d["status"] for d in log} == {"DELIVERED"}
    assert {d["idempotencyKey"] for d in log} == set(keys)
    assert all(d["responseStatus"] == 200 for d in log)
    # Another customer sees none of it.
    assert (await api.data(LOG, as_=token("GALANZ")))["webhookDeliveries"]["nodes"] == []


async def test_a_failing_receiver_dead_letters_then_redelivery_succeeds(
    api: Api, db: Database, receiver: Receiver
) -> None:
    w = await build(db)
    faw = token("FAW-VW", subject="buyer.faw")
    secret = await _subscribe(api, receiver.url, faw)
    receiver.status = 503
    await receiver.start()
    worker = Worker(db, PushConfig(retry_base=timedelta(seconds=0.1), tick_s=0.05,
                                   max_attempts=3))
    task = asyncio.create_task(worker.run())
    try:
        await _shipment_events(db, w, 1)

        async def dead() -> bool:
            return bool(await db.fetchval(
                "SELECT count(*) FROM push_delivery WHERE status = 'dead'") == 1)
        await _until(dead)
        [d] = (await api.data(LOG, {"status": "DEAD"}, as_=faw))["webhookDeliveries"]["nodes"]
        assert d["attempts"] == 3 and d["responseStatus"] == 503
        assert d["lastError"].startswith("HTTP 503")
        assert len(receiver.received) == 3
        assert len({h["keylink-idempotency-key"] for h, _ in receiver.received}) == 1

        receiver.status = 204
        again = """mutation($id: ID!) { redeliver(input: {id: $id}) {
            delivery { status attempts } errors { code } } }"""
        r = (await api.data(again, {"id": d["id"]}, as_=faw))["redeliver"]
        assert r["errors"] == [] and r["delivery"]["status"] == "QUEUED"
        other = (await api.data(again, {"id": d["id"]}, as_=token("GALANZ")))["redeliver"]
        assert other["errors"][0]["code"] == "NOT_FOUND"

        async def delivered() -> bool:
            return bool(await db.fetchval(
                "SELECT count(*) FROM push_delivery WHERE status = 'delivered'") == 1)
        await _until(delivered)
        headers, body = receiver.received[-1]
        assert headers["keylink-idempotency-key"] == d["idempotencyKey"]
        assert signing.verify(secret, body, headers["keylink-signature"])
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_rules_are_checked_and_fenced(api: Api, db: Database) -> None:
    await build(db)
    faw = token("FAW-VW", subject="buyer.faw")
    bad = (await api.data(CREATE_RULE, {"in": {"name": "x", "eventTypes": ["Shipment"]}},
                          as_=faw))["createPushRule"]
    assert bad["rule"] is None and bad["errors"][0]["field"] == "eventTypes"
    no_hook = (await api.data(CREATE_RULE, {"in": {"name": "x", "eventTypes": ["*"],
                                                   "channel": "WEBHOOK"}}, as_=faw))
    assert no_hook["createPushRule"]["errors"][0]["field"] == "webhookId"
    mail = (await api.data(CREATE_RULE, {"in": {"name": "x", "eventTypes": ["*"],
                                                "channel": "EMAIL", "emailTo": "a@b.cn"}},
                           as_=faw))["createPushRule"]
    assert mail["errors"][0]["message"] == "e-mail is not configured on this server"
    quiet = (await api.data(CREATE_RULE, {"in": {"name": "x", "eventTypes": ["*"],
                                                 "quietStart": "22:00:00"}}, as_=faw))
    assert quiet["createPushRule"]["errors"][0]["field"] == "quietHours"
    made = (await api.data(CREATE_HOOK, {"url": "http://127.0.0.1:9/x"}, as_=faw))
    hook = made["createWebhookSubscription"]["webhook"]["id"]
    # Galanz cannot point a rule at Faw's webhook.
    stolen = (await api.data(CREATE_RULE, {"in": {"name": "x", "eventTypes": ["*"],
                                                  "channel": "WEBHOOK", "webhookId": hook}},
                             as_=token("GALANZ")))["createPushRule"]
    assert stolen["errors"][0]["code"] == "NOT_FOUND"
    ok = (await api.data(CREATE_RULE, {"in": {"name": "late trains", "eventTypes": [
        "shipment.delayed"], "transportModes": ["rail"], "minDelayHours": "6",
        "quietStart": "22:00:00", "quietEnd": "07:00:00", "cadence": "DAILY"}}, as_=faw))
    assert ok["createPushRule"]["errors"] == []
    listed = """{ pushRules { nodes { name minDelayHours quietStart cadence } } }"""
    assert (await api.data(listed, as_=faw))["pushRules"]["nodes"] == [
        {"name": "late trains", "minDelayHours": "6.00", "quietStart": "22:00:00",
         "cadence": "DAILY"}]
    assert (await api.data(listed, as_=token("GALANZ")))["pushRules"]["nodes"] == []


async def test_a_slow_receiver_holds_up_only_its_own_deliveries(
    api: Api, db: Database, worker: Worker
) -> None:
    w = await build(db)
    slow, fast = Receiver(free_port(), delay=3.0), Receiver(free_port())
    await slow.start()
    await fast.start()
    try:
        await _subscribe(api, slow.url, token("FAW-VW", subject="buyer.faw"))
        await _subscribe(api, fast.url, token("GALANZ", subject="buyer.galanz"))
        await _shipment_events(db, w, 3)  # Faw's, to the slow receiver
        async with db.transaction() as tx:
            await events.append(tx, "shipment.arrived", org_id=w.org["GALANZ"],
                                aggregate_type="shipment", aggregate_id=1, actor=None,
                                payload={"shipment": "SH-G"})
        started = asyncio.get_running_loop().time()

        async def galanz_served() -> bool:
            return len(fast.received) == 1
        await _until(galanz_served)
        assert asyncio.get_running_loop().time() - started < 2.5
        assert slow.received == []  # still being answered

        async def faw_served() -> bool:
            return len(slow.received) == 3
        await _until(faw_served)
    finally:
        await slow.stop()
        await fast.stop()

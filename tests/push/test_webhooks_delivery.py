"""Webhooks against a real HTTP receiver: down at first, then up; every delivery arrives
once, verified by the Standard Webhooks library; a receiver that keeps failing
dead-letters the delivery, which the customer sees in its delivery log (a short reason,
never the answer) and can send again. The receivers listen on loopback, which the
egress policy refuses unless allow-listed: these tests allow-list 127.0.0.0/8, and the
same delivery without the allow-list is refused at registration and at connect time."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import standardwebhooks
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.app import create_app
from api.context import Services
from domain import events
from domain.actor import Actor
from domain.db import Database
from domain.egress import EgressPolicy
from domain.migrate import migrate
from push import egress
from push import sender as sending
from push.config import PushConfig
from push.worker import Worker
from settings import PROJECT_ROOT
from tests.support.api import CODEC, SETTINGS, Api, token
from tests.support.factory import World, build

MIGRATIONS = PROJECT_ROOT / "domain" / "migrations"
LOCAL = EgressPolicy.of("127.0.0.0/8", production=True)
QUICK = PushConfig(retry_base=timedelta(seconds=0.2), retry_cap=timedelta(seconds=1),
                   tick_s=0.05, max_attempts=30, egress=LOCAL)

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
    answer: bytes = b""
    answer_headers: dict[str, str] = field(default_factory=dict)
    # Answers for the next requests, (status, headers), before falling back to `status`.
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    # (certificate, key) files: serve https.
    tls: tuple[Path, Path] | None = None
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        await asyncio.sleep(self.delay)
        self.received.append((dict(request.headers), body))
        self.arrivals.append(time.time())
        if self.script:
            status, headers = self.script.pop(0)
            return Response(self.answer, status_code=status, headers=headers)
        return Response(self.answer, status_code=self.status, headers=self.answer_headers)

    async def start(self) -> None:
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        cert, key = self.tls or (None, None)
        self._server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
            ssl_certfile=cert, ssl_keyfile=key))
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                return
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task


async def _api(db: Database, allow: str | None) -> AsyncIterator[Api]:
    settings = SETTINGS.replace(webhook_allow=allow)
    services = Services(db=db, codec=CODEC, settings=settings)
    app = create_app(settings, services=services)
    app.state.services = services
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://keylink.test") as client:
        yield Api(client, db)


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    """The API with loopback allow-listed for webhooks (KEYLINK_WEBHOOK_ALLOW)."""
    async for a in _api(db, "127.0.0.0/8"):
        yield a


@pytest.fixture
async def strict_api(db: Database) -> AsyncIterator[Api]:
    """The API with no allow-list: webhooks to public addresses only."""
    async for a in _api(db, None):
        yield a


def verified(secret: str, headers: dict[str, str], body: bytes) -> Any:
    """What the Standard Webhooks library makes of a delivery (raises if unsigned)."""
    return standardwebhooks.Webhook(secret).verify(body, headers)


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
    assert {d["status"] for d in log} == {"QUEUED"}
    assert {d["lastError"] for d in log} == {"connection_refused"}

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
        assert verified(secret, headers, body) == json.loads(body)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            verified("whsec_" + "A" * 44, headers, body)
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            verified(secret, headers, body + b" ")
        assert json.loads(body)["id"] == headers["keylink-idempotency-key"]
        assert headers["webhook-id"] == headers["keylink-idempotency-key"]
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
    receiver.answer = b"internal: db password is hunter2"
    await receiver.start()
    worker = Worker(db, PushConfig(retry_base=timedelta(seconds=0.1), tick_s=0.05,
                                   max_attempts=3, egress=LOCAL))
    task = asyncio.create_task(worker.run())
    try:
        await _shipment_events(db, w, 1)

        async def dead() -> bool:
            return bool(await db.fetchval(
                "SELECT count(*) FROM push_delivery WHERE status = 'dead'") == 1)
        await _until(dead)
        [d] = (await api.data(LOG, {"status": "DEAD"}, as_=faw))["webhookDeliveries"]["nodes"]
        assert d["attempts"] == 3 and d["responseStatus"] == 503
        assert d["lastError"] == "http_503"  # the answer's body is not shown
        raw = await api.query(LOG, {"status": "DEAD"}, as_=faw)
        assert "hunter2" not in json.dumps(raw)
        assert await db.fetchval("SELECT count(*) FROM push_delivery"
                                 " WHERE last_error LIKE '%hunter2%'") == 0
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
        assert verified(secret, headers, body)["id"] == d["idempotencyKey"]
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


async def _run(worker: Worker) -> asyncio.Task[None]:
    return asyncio.create_task(worker.run())


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_without_the_allow_list_a_local_receiver_is_refused(
    api: Api, strict_api: Api, db: Database, receiver: Receiver
) -> None:
    w = await build(db)
    faw = token("FAW-VW", subject="buyer.faw")
    await receiver.start()
    port = receiver.port
    # Registration: every spelling of an internal address is refused, with one message.
    for url in (receiver.url, f"http://localhost:{port}/hook", f"http://[::1]:{port}/hook",
                f"http://0x7f000001:{port}/hook", f"http://2130706433:{port}/hook",
                f"http://017700000001:{port}/hook", f"http://127.1:{port}/hook",
                f"https://[::ffff:127.0.0.1]:{port}/hook", "https://10.0.0.1/hook",
                "https://169.254.169.254/latest/meta-data/", "https://100.64.0.1/",
                "https://0.0.0.0/", "https://[fe80::1]/"):
        made = (await strict_api.data(CREATE_HOOK, {"url": url}, as_=faw))
        [error] = made["createWebhookSubscription"]["errors"]
        assert made["createWebhookSubscription"]["webhook"] is None, url
        assert error["code"] == "INVALID" and "public addresses" in error["message"], url
    # A public address is taken (the test API runs in development, where http may be).
    public = (await strict_api.data(CREATE_HOOK, {"url": "http://93.184.215.14/hook"},
                                    as_=faw))["createWebhookSubscription"]
    assert public["errors"] == [] and public["webhook"] is not None
    assert await db.fetchval("SELECT count(*) FROM webhook_subscription") == 1

    # A subscription made while allowed (or while the name resolved elsewhere) is checked
    # again where the worker connects: without the allow-list nothing reaches the receiver.
    await _subscribe(api, receiver.url, faw)
    strict = Worker(db, PushConfig(retry_base=timedelta(seconds=0.1), tick_s=0.05,
                                   max_attempts=2))
    task = await _run(strict)
    try:
        await _shipment_events(db, w, 1)

        async def refused() -> bool:
            return bool(await db.fetchval(
                "SELECT count(*) FROM push_delivery WHERE status = 'dead'") == 1)
        await _until(refused)
    finally:
        await _stop(task)
    [d] = (await api.data(LOG, as_=faw))["webhookDeliveries"]["nodes"]
    assert d["lastError"] == "address_not_allowed" and d["responseStatus"] is None
    assert receiver.received == []

    # The same delivery with the allow-list arrives.
    again = """mutation($id: ID!) { redeliver(input: {id: $id}) { errors { code } } }"""
    assert (await api.data(again, {"id": d["id"]}, as_=faw))["redeliver"]["errors"] == []
    task = await _run(Worker(db, QUICK))
    try:
        await _until(lambda: _count(db, "delivered", 1))
    finally:
        await _stop(task)
    assert len(receiver.received) == 1


async def _count(db: Database, status: str, n: int) -> bool:
    found = await db.fetchval("SELECT count(*) FROM push_delivery WHERE status = $1", status)
    return bool(found == n)


class Dns:
    """A name server for one test: answers what it is told, and counts the questions."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return list(self.answers)


async def test_a_name_that_resolves_elsewhere_at_send_time_is_refused_where_it_connects(
    db: Database, receiver: Receiver
) -> None:
    """DNS rebinding: public when registered, loopback when delivered."""
    from domain.push import rules

    w = await build(db)
    await receiver.start()
    url = f"https://hooks.faw-vw.example:{receiver.port}/hook"
    dns = Dns("93.184.215.14")
    owner = Actor("buyer.faw", w.org["FAW-VW"], frozenset({"customer"}), True)
    hook, secret = await rules.create_webhook(db, owner, url, None,
                                              EgressPolicy(resolver=dns))
    assert dns.asked == [("hooks.faw-vw.example", receiver.port)]
    await rules.create_rule(db, owner, rules.RuleInput(
        name="erp", event_types=["shipment.*"], channel="webhook", webhook_id=hook["id"]),
        smtp=False)
    dns.answers = ["93.184.215.14", "127.0.0.1"]  # one bad answer spoils the lot
    task = await _run(Worker(db, PushConfig(retry_base=timedelta(seconds=0.1), tick_s=0.05,
                                            max_attempts=2,
                                            egress=EgressPolicy(resolver=dns))))
    try:
        await _shipment_events(db, w, 1)
        await _until(lambda: _count(db, "dead", 1))
    finally:
        await _stop(task)
    assert await db.fetchval("SELECT last_error FROM push_delivery") == "address_not_allowed"
    assert receiver.received == []
    assert len(dns.asked) == 3  # asked again on each try

    # Allow-listed, the worker connects to the address it checked, the name kept: plain
    # http to the receiver on loopback, with the name in the Host header.
    await db.execute("UPDATE webhook_subscription SET url = $1",
                     f"http://hooks.faw-vw.example:{receiver.port}/hook")
    await db.execute("UPDATE push_delivery SET status = 'queued', attempts = 0")
    dns.answers = ["127.0.0.1"]
    task = await _run(Worker(db, PushConfig(tick_s=0.05, egress=EgressPolicy(
        allow=LOCAL.allow, resolver=dns))))
    try:
        await _until(lambda: _count(db, "delivered", 1))
    finally:
        await _stop(task)
    [(headers, body)] = receiver.received
    assert headers["host"] == f"hooks.faw-vw.example:{receiver.port}"
    assert verified(secret, headers, body)["type"] == "shipment.departed"


async def test_retry_after_in_seconds_or_as_a_date_puts_off_the_next_try(
    api: Api, db: Database, receiver: Receiver, worker: Worker
) -> None:
    w = await build(db)
    await receiver.start()
    await _subscribe(api, receiver.url, token("FAW-VW", subject="buyer.faw"))
    # Without Retry-After the next try would come within a second (QUICK's backoff).
    receiver.script = [(503, {"retry-after": "2"})]
    await _shipment_events(db, w, 1)
    await _until(lambda: _count(db, "delivered", 1))
    first, second = receiver.arrivals
    assert second - first >= 1.95

    # An HTTP date has whole seconds, and the first try comes a moment after it is
    # written: 4 s ahead leaves the second try at least 2 s later even on a busy machine.
    date = formatdate(time.time() + 4, usegmt=True)
    receiver.script = [(429, {"retry-after": date})]
    await _shipment_events(db, w, 1)
    await _until(lambda: _count(db, "delivered", 2))
    _, _, third, fourth = receiver.arrivals
    assert fourth >= parsedate_to_datetime(date).timestamp() - 0.05
    assert fourth - third >= 1.95
    log = (await api.data(LOG, as_=token("FAW-VW")))["webhookDeliveries"]["nodes"]
    assert [d["attempts"] for d in log] == [2, 2]


def test_retries_are_spread_and_retry_after_is_capped() -> None:
    config = PushConfig(retry_base=timedelta(seconds=10))
    waits = [config.backoff(3).total_seconds() for _ in range(200)]
    assert all(20 <= s <= 40 for s in waits) and len(set(waits)) > 100
    assert max(config.backoff(30) for _ in range(50)) <= timedelta(hours=1)
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert config.retry_after("120", now) == timedelta(seconds=120)
    assert config.retry_after("86400", now) == timedelta(hours=1)  # capped
    assert config.retry_after("Mon, 07 Dec 2026 12:05:00 GMT", now) == timedelta(minutes=5)
    assert config.retry_after("Mon, 07 Dec 2026 11:00:00 GMT", now) == timedelta(0)
    assert config.retry_after("soon", now) is None and config.retry_after(None, now) is None
    assert config.next_try(1, "600", now) == now + timedelta(minutes=10)
    assert now + timedelta(seconds=5) <= config.next_try(1, "1", now) <= now + timedelta(
        seconds=10)


async def test_the_log_shows_a_reason_for_each_failure_never_the_answer(
    api: Api, db: Database
) -> None:
    """A timeout, a refused connection, a receiver's error status and a redirect."""
    w = await build(db)
    faw = token("FAW-VW", subject="buyer.faw")
    slow = Receiver(free_port(), delay=5.0)
    failing = Receiver(free_port(), status=500, answer=b'{"trace": "at db.internal:5432"}')
    moving = Receiver(free_port(), status=302,
                      answer_headers={"location": "http://169.254.169.254/"})
    for r in (slow, failing, moving):
        await r.start()
    try:
        for r in (slow, failing, moving):
            await _subscribe(api, r.url, faw)
        await _subscribe(api, f"http://127.0.0.1:{free_port()}/hook", faw)  # nobody there
        task = await _run(Worker(db, PushConfig(tick_s=0.05, max_attempts=1,
                                                webhook_timeout_s=2.0, egress=LOCAL)))
        try:
            await _shipment_events(db, w, 1)
            await _until(lambda: _count(db, "dead", 4))
        finally:
            await _stop(task)
        raw = await api.query(LOG, as_=faw)
        assert "db.internal" not in json.dumps(raw) and "169.254" not in json.dumps(raw)
        got = sorted((d["lastError"], d["responseStatus"])
                     for d in raw["data"]["webhookDeliveries"]["nodes"])
        assert got == sorted([("timeout", None), ("http_500", 500), ("http_302", 302),
                              ("connection_refused", None)])
        assert len(moving.received) == 1  # the redirect was not followed
    finally:
        for r in (slow, failing, moving):
            await r.stop()


async def test_logged_answers_are_reduced_to_their_reason_on_upgrade(
    empty_database_url: str, tmp_path: Path
) -> None:
    """Errors recorded before the egress policy held receivers' answers; the migration
    keeps only their reason, and the column refuses anything but a reason."""
    for sql in sorted(MIGRATIONS.glob("*.sql")):
        if sql.name < "0010":
            shutil.copy(sql, tmp_path / sql.name)
    await migrate(empty_database_url, tmp_path)
    conn = await asyncpg.connect(empty_database_url)
    try:
        await conn.executemany(
            "INSERT INTO push_delivery (channel, event_type, title, body, last_error)"
            " VALUES ($1, 'x', 't', 'b', $2)",
            [("webhook", "HTTP 500: {\"password\": \"hunter2\"}"),
             ("webhook", "ConnectError: [Errno 111] Connection refused"),
             ("webhook", "ReadTimeout: "),
             ("webhook", "the webhook subscription is gone or disabled"),
             ("email", "SMTPRecipientsRefused: {'a@b.cn': (550, 'no such user')}"),
             ("webhook", None)])
        applied = await migrate(empty_database_url, MIGRATIONS)
        assert applied[0] == "0010_webhook_egress.sql"
        reasons = [r["last_error"] for r in await conn.fetch(
            "SELECT last_error FROM push_delivery ORDER BY id")]
        assert reasons == ["http_500", "connection_refused", "timeout", "webhook_disabled",
                           "recipient_refused", None]
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE push_delivery SET last_error = 'HTTP 500: body'")
    finally:
        await conn.close()


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name``; returns its (certificate, key) files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / f"{name}.crt", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


async def test_https_keeps_the_name_for_tls_while_connecting_to_the_checked_address(
    api: Api, db: Database, tmp_path: Path
) -> None:
    name = "hooks.faw-vw.example"
    cert, key = _certificate(tmp_path, name)
    secure = Receiver(free_port(), tls=(cert, key))
    await secure.start()
    try:
        dns = Dns("127.0.0.1")
        policy = EgressPolicy(allow=LOCAL.allow, resolver=dns)
        trusted = ssl.create_default_context(cafile=str(cert))
        async with egress.client(policy, timeout=5, verify=trusted) as client:
            r = await client.post(f"https://{name}:{secure.port}/hook", content=b"{}")
            assert r.status_code == 200 and dns.asked == [(name, secure.port)]
            # The certificate is checked against the name, not the address connected to.
            with pytest.raises(httpx.ConnectError) as caught:
                await client.post(f"https://127.0.0.1:{secure.port}/hook", content=b"{}")
            assert sending.classify(caught.value) == "tls_error"
        assert [h["host"] for h, _ in secure.received] == [f"{name}:{secure.port}"]

        # The worker trusts only the system's authorities: a self-signed receiver fails
        # its handshake, and the customer reads `tls_error`.
        w = await build(db)
        await _subscribe(api, f"https://127.0.0.1:{secure.port}/hook",
                         token("FAW-VW", subject="buyer.faw"))
        task = await _run(Worker(db, PushConfig(tick_s=0.05, max_attempts=1, egress=LOCAL)))
        try:
            await _shipment_events(db, w, 1)
            await _until(lambda: _count(db, "dead", 1))
        finally:
            await _stop(task)
        assert await db.fetchval("SELECT last_error FROM push_delivery") == "tls_error"
        assert len(secure.received) == 1
    finally:
        await secure.stop()

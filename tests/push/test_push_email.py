"""E-mail rules through a real SMTP server (aiosmtpd): the text in the recipient's
language, one message per delivery, retried while the server is away."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from domain import events
from domain.db import Database
from push.config import PushConfig
from push.worker import Worker
from settings import Settings
from tests.support.api import Api, _client, token
from tests.support.factory import build


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Iterator[tuple[str, Inbox, Controller]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    url = f"smtp://127.0.0.1:{port}"
    yield url, inbox, controller
    with contextlib.suppress(AssertionError):  # never started
        controller.stop()


@pytest.fixture
async def api(db: Database, smtp: tuple[str, Inbox, Controller]) -> AsyncIterator[Api]:
    """The API of a server whose settings (not the environment at the time of a request)
    name the SMTP server."""
    async for a in _client(db, Settings(smtp_url=smtp[0])):
        yield a


async def test_email_rules_send_localized_mail_and_retry(
    api: Api, db: Database, smtp: tuple[str, Inbox, Controller]
) -> None:
    url, inbox, controller = smtp
    w = await build(db)
    faw = token("FAW-VW", subject="buyer.faw")
    made = await api.data("""mutation { createPushRule(input: {name: "certs by mail",
        eventTypes: ["quality.certificate_issued"], channel: EMAIL,
        emailTo: "qa@faw-vw.example"}) { rule { channel emailTo } errors { message } } }""",
        as_=faw)
    assert made["createPushRule"]["errors"] == []
    worker = Worker(db, PushConfig(smtp_url=url, smtp_from="push@keylink.example",
                                   retry_base=timedelta(seconds=0.1),
                                   retry_cap=timedelta(seconds=0.5), tick_s=0.05))
    task = asyncio.create_task(worker.run())
    try:
        async with db.transaction() as tx:
            await events.append(tx, "quality.certificate_issued", org_id=w.org["FAW-VW"],
                                aggregate_type="coil", aggregate_id=w.coils["FAW-VW"][0],
                                actor="qa", payload={"coil": "FAW-VW-0", "certificate": "QC-1",
                                                     "heat": "26H00001"})
        for _ in range(100):  # the SMTP server is not up yet: the delivery fails and waits
            if await db.fetchval("SELECT coalesce(max(attempts), 0) FROM push_delivery") >= 2:
                break
            await asyncio.sleep(0.05)
        assert inbox.messages == []
        controller.start()
        for _ in range(200):
            if inbox.messages:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    [m] = inbox.messages
    assert m["To"] == "qa@faw-vw.example" and m["From"] == "push@keylink.example"
    assert m["Subject"] == "质保书 QC-1 已签发"
    body = m.get_content()
    assert "钢卷 FAW-VW-0" in body and "26H00001" in body
    key = await db.fetchval("SELECT idempotency_key::text FROM push_delivery")
    assert m["Message-ID"] == f"<{key}@keylink>"
    assert await db.fetchval("SELECT status FROM push_delivery") == "delivered"

"""`keylink push` and `make run`: the worker is a command and runs beside the API."""

from __future__ import annotations

import asyncio

import pytest

from api import cli, dev
from push.config import PushConfig
from push.worker import run_worker
from resolvers.relay import to_global_id
from settings import Settings
from tests.support.api import Api, token
from tests.support.factory import build


def test_keylink_push_needs_a_database(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert cli.main(["push"]) == 2
    assert "DATABASE_URL is not set" in capsys.readouterr().err


def test_make_run_delivers_too() -> None:
    names = [job.__name__ for job in dev.background_tasks(Settings(), embedded=frozenset())]
    assert "_push" in names


async def test_staff_rules_follow_a_customer_or_all(api: Api) -> None:
    w = await build(api.db)
    create = """mutation($in: CreatePushRuleInput!) { createPushRule(input: $in) {
        rule { name } errors { field code } } }"""
    staff = token("BAOSTEEL", "logistics", subject="dispatcher")
    ok = await api.data(create, {"in": {"name": "galanz delays", "eventTypes": ["shipment.*"],
                                        "customerId": to_global_id("Organization",
                                                                   w.org["GALANZ"])}}, as_=staff)
    assert ok["createPushRule"]["errors"] == []
    mill = to_global_id("Organization", w.org["BAOSTEEL"])
    bad = await api.data(create, {"in": {"name": "x", "eventTypes": ["*"], "customerId": mill}},
                         as_=staff)
    assert bad["createPushRule"]["errors"] == [{"field": "customerId", "code": "NOT_FOUND"}]
    other = to_global_id("Organization", w.org["GALANZ"])
    spy = await api.data(create, {"in": {"name": "x", "eventTypes": ["*"], "customerId": other}},
                         as_=token("FAW-VW"))
    assert spy["createPushRule"]["errors"] == [{"field": "customerId", "code": "INVALID"}]


async def test_the_worker_says_when_it_starts_and_stops(
        database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """An operator starting `keylink push` sees it is running, and that it stopped."""
    stop = asyncio.Event()
    with caplog.at_level("INFO", logger="push"):
        worker = asyncio.create_task(run_worker(database_url, PushConfig.of(Settings()), stop))
        for _ in range(100):
            if any("push worker started" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(worker, 10)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("push")]
    assert messages[0].startswith("push worker started"), messages
    assert messages[-1] == "push worker stopped", messages

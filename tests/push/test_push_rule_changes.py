"""What a running push worker keeps of rules and preferences follows their changes: the
next event after a change is matched and worded by the new ones, within a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from domain.actor import Actor
from domain.db import Database
from domain.preferences import writes as preference_writes
from domain.preferences.model import PreferenceChanges
from push.config import PushConfig
from push.worker import run_worker
from settings import Settings
from tests.push.test_push_matching import _event, _rule
from tests.support.factory import build


@pytest.fixture
async def worker(database_url: str) -> AsyncIterator[None]:
    """`keylink push` running, woken by the outbox's NOTIFY as in production."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(database_url, PushConfig.of(Settings()), stop))
    yield
    stop.set()
    await asyncio.wait_for(task, 10)


async def _notified(db: Database, seq: int, org: int, seconds: float) -> str | None:
    """The title of the notification of event ``seq`` for ``org`` once there is one,
    within ``seconds``; None if none came."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        title: str | None = await db.fetchval(
            "SELECT title FROM notification WHERE event_seq = $1 AND org_id = $2", seq, org)
        if title is not None:
            return title
        await asyncio.sleep(0.02)
    return None


async def _prefer(db: Database, org: int, language: str) -> None:
    async with db.transaction() as tx:
        await preference_writes.set_preferences(
            tx, org, PreferenceChanges(language=language), actor=Actor.system("sales"))


async def test_a_changed_language_words_the_next_notification(
    db: Database, worker: None
) -> None:
    w = await build(db)
    faw = w.org["FAW-VW"]
    await _rule(db, faw)
    await _prefer(db, faw, "en")
    first = await _event(db, w, "FAW-VW")
    assert await _notified(db, first, faw, 10) == "Contract C-FAW-VW: hot rolling finished"

    await _prefer(db, faw, "zh")  # the worker holds FAW-VW's English locale now
    second = await _event(db, w, "FAW-VW")

    assert await _notified(db, second, faw, 1.0) == "合同 C-FAW-VW：热轧 完成"


async def test_a_new_rule_takes_the_next_event(db: Database, worker: None) -> None:
    w = await build(db)
    galanz = w.org["GALANZ"]
    before = await _event(db, w, "GALANZ")
    await asyncio.sleep(1.0)
    assert await _notified(db, before, galanz, 0.1) is None  # no rule: nothing

    await _rule(db, galanz)
    after = await _event(db, w, "GALANZ")

    assert await _notified(db, after, galanz, 1.0) is not None

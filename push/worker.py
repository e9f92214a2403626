"""The push worker: match events to rules, deliver, retry, and run periodic jobs.

Three loops share one process: matching (woken by the outbox's NOTIFY, reading forward
from the durable cursor, then turning inbox deliveries into notifications), sending
(webhooks and e-mail, woken by the matcher or when the next retry falls due) and the
periodic jobs of ``PERIODIC_JOBS``. Every step claims its work with row locks (SKIP
LOCKED), so any number of workers may run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from domain.db import Database
from domain.hotline.writes import escalate_overdue
from domain.service.contribution import recompute_daily
from domain.service.surveys import send_surveys
from domain.settlements.writes import mark_overdue
from push import sender as sending
from push.config import PushConfig
from push.digests import send_digests
from push.exchange import exchange, pick_up_all
from push.matcher import Matcher
from push.wakeup import Wakeup

log = logging.getLogger(__name__)

PeriodicJob = Callable[[Database, datetime], Awaitable[int]]

# (name, every_seconds, job): each runs at most once per period across all workers.
PERIODIC_JOBS: list[tuple[str, float, PeriodicJob]] = [
    ("digests", 60.0, send_digests),
    # Urges whose answer is late go to the next person of the escalation chain.
    ("urge-escalation", 30.0, escalate_overdue),
    # Issued invoices past their due day are marked overdue (settlement.overdue).
    ("invoice-overdue", 3600.0, mark_overdue),
    # Partners' documents: made from the outbox's events, sent by their transports.
    ("exchange", 2.0, exchange),
    # What partners dropped in their SFTP folders.
    ("exchange-pickup", 60.0, pick_up_all),
    # Satisfaction surveys: for completed disputes and resolved urges, and each quarter.
    ("surveys", 60.0, send_surveys),
    # Customers ranked by contribution over the past year, and their tiers.
    ("customer-tiers", 86400.0, recompute_daily),
]


class Worker:
    def __init__(self, db: Database, config: PushConfig, wakeup: Wakeup | None = None) -> None:
        self.db = db
        self.config = config
        # Without one (tests), the loops poll every tick.
        self._events = wakeup.event if wakeup is not None else asyncio.Event()
        self.matcher = Matcher(db, batch=config.match_batch)
        self.sender = sending.Sender(db, config)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        tasks = [asyncio.create_task(loop(), name=f"push-{loop.__name__}")
                 for loop in (self._match_loop, self._send_loop, self._periodic_loop)]
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper:
                    task.result()  # a loop that died takes the worker with it, loudly
        finally:
            for task in (stopper, *tasks):
                task.cancel()
            await asyncio.gather(stopper, *tasks, return_exceptions=True)
            await self.sender.close()

    async def step(self) -> int:
        """One pass of matching and of inbox deliveries due (tools and tests; the loops
        leave the latter to the sender); returns how much was done."""
        events, queued = await self.matcher.run_once()
        delivered = await sending.deliver_inbox(self.db)
        if queued:
            self.sender.wake.set()
        return events + delivered

    async def _match_loop(self) -> None:
        while True:
            # Cleared before reading: a commit from now on wakes the wait below at once.
            self._events.clear()
            try:
                busy, queued = await self.matcher.run_once()
                if queued:
                    self.sender.wake.set()
            except (OSError, ConnectionError) as exc:
                log.warning("push matching paused", extra={"error": str(exc)})
                busy = 0
                await asyncio.sleep(1)
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._events.wait(), self.config.tick_s * 5)

    async def _send_loop(self) -> None:
        sender = self.sender
        while True:
            sender.wake.clear()
            try:
                claimed = await sender.run_once()
                due = None if claimed or sender.full else await sender.next_due()
            except (OSError, ConnectionError) as exc:
                log.warning("push sending paused", extra={"error": str(exc)})
                claimed, due = 0, None
            if claimed and not sender.full:
                continue
            # Woken by new deliveries or freed room; else when the next retry falls due.
            wait = self.config.tick_s
            if due is not None:
                wait = min(wait, max(0.0, (due - datetime.now(UTC)).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sender.wake.wait(), wait)

    async def _periodic_loop(self) -> None:
        while True:
            for name, every, job in PERIODIC_JOBS:
                try:
                    if await run_periodic(self.db, name, every, job):
                        self.sender.wake.set()
                except Exception:  # a failing job is logged and tried next period
                    log.exception("periodic job failed", extra={"job": name})
            await asyncio.sleep(self.config.tick_s)


async def run_periodic(db: Database, name: str, every: float, job: PeriodicJob,
                       now: datetime | None = None) -> int:
    """Run ``job`` if its period has passed since it last ran anywhere; its row stays
    locked meanwhile, so another worker skips it."""
    now = now or datetime.now(UTC)
    await db.execute(
        "INSERT INTO push_job (name) VALUES ($1) ON CONFLICT DO NOTHING", name)
    async with db.transaction() as tx:
        row = await tx.fetchrow(
            "SELECT last_run FROM push_job WHERE name = $1 FOR UPDATE SKIP LOCKED", name)
        if row is None:
            return 0  # another worker is running it
        last: datetime | None = row["last_run"]
        if last is not None and now - last < timedelta(seconds=every):
            return 0
        done = await job(db, now)
        await tx.execute("UPDATE push_job SET last_run = $2 WHERE name = $1", name, now)
        return done


async def run_worker(database_url: str, config: PushConfig,
                     stop: asyncio.Event | None = None) -> None:
    """Run a worker until ``stop`` is set (or forever)."""
    db = await Database.connect(database_url, min_size=1, max_size=6)
    wakeup = Wakeup(database_url)
    await wakeup.start()
    # The worker is otherwise silent until something fails: say that it runs.
    log.info("push worker started: matching events to rules, sending, periodic jobs")
    try:
        await Worker(db, config, wakeup).run(stop)
    finally:
        await wakeup.stop()
        await db.close()
        log.info("push worker stopped")

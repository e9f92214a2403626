"""Plan imports as durable jobs, run by the API processes.

The process that takes an upload keeps the file with the job row and starts it at once,
holding a lease that it renews every third of its length. Every API process also looks,
every half lease, for running imports whose lease ran out (their process died or was
killed) and takes them over with ``FOR UPDATE SKIP LOCKED``, so that two never take the
same one. A taken-over import runs again from its file: until its outcome it writes only
its progress, and its outcome (the plan stored, the job marked imported) is one
transaction that holds the job row and checks the lease, so a file is imported exactly
once however many processes ran it. A process stopping cleanly gives its leases back at
once, and a file that has killed its process :data:`MAX_ATTEMPTS` times is failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass

from domain.db import Database, Executor
from domain.planning import imports

log = logging.getLogger("keylink.planning.jobs")

# Leases an import may take before it is failed: a file that kills the process reading it
# (memory, a crash in a parser) must not go round the processes for ever.
MAX_ATTEMPTS = 3
# Imports one process runs at a time; more wait, running, for a process with room.
PARALLEL = 2


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    org_id: int
    kind: str
    filename: str
    content: bytes
    actor: str
    limits: imports.Limits
    attempts: int


async def claim(db: Executor, owner: str, lease_s: float) -> Job | None:
    """Take the oldest running import that nobody holds (its lease ran out, or none was
    taken), or None."""
    row = await db.fetchrow(
        "UPDATE plan_import p SET leased_by = $1, lease_until = now() + make_interval(secs"
        " => $2), attempts = p.attempts + 1 WHERE p.id = (SELECT id FROM plan_import"
        " WHERE status = 'running' AND content IS NOT NULL AND (lease_until IS NULL OR"
        " lease_until < now()) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " RETURNING p.id, p.customer_org_id, p.kind, p.filename, p.content, p.created_by,"
        " p.limits, p.attempts", owner, float(lease_s))
    if row is None:
        return None
    return Job(row["id"], row["customer_org_id"], row["kind"], row["filename"],
               bytes(row["content"]), row["created_by"], imports.limits_of(row["limits"]),
               row["attempts"])


async def renew(db: Executor, job: int, owner: str, lease_s: float) -> bool:
    """Extend the lease; False when it is no longer ``owner``'s (taken over, or ended)."""
    held = await db.fetchval(
        "UPDATE plan_import SET lease_until = now() + make_interval(secs => $3)"
        " WHERE id = $1 AND leased_by = $2 AND status = 'running' RETURNING true",
        job, owner, float(lease_s))
    return bool(held)


async def release(db: Executor, job: int, owner: str) -> None:
    """Give the lease back (a clean stop): another process takes the job at once, and
    this lease does not count as an attempt."""
    await db.execute(
        "UPDATE plan_import SET lease_until = NULL, leased_by = NULL,"
        " attempts = greatest(attempts - 1, 0)"
        " WHERE id = $1 AND leased_by = $2 AND status = 'running'", job, owner)


class ImportJobs:
    """One process's share of the plan imports: those it started, and those it takes
    over (:meth:`watch`)."""

    def __init__(self, db: Database, *, lease_s: float = 30.0) -> None:
        self.db = db
        self.lease_s = lease_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._running: dict[int, asyncio.Task[None]] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def has_room(self) -> bool:
        return len(self._running) < PARALLEL

    async def start(self, job: Job) -> None:
        """Run ``job``, whose lease this process holds."""
        task = asyncio.create_task(self._run(job), name=f"plan-import-{job.id}")
        self._running[job.id] = task
        task.add_done_callback(lambda _: self._done(job.id))

    def _done(self, job: int) -> None:
        self._running.pop(job, None)
        self._wake.set()  # room for another

    async def watch(self) -> None:
        """Take over, from now on, the imports whose process died."""
        self._watcher = asyncio.create_task(self._watch(), name="plan-import-watch")

    async def stop(self) -> None:
        """Stop running imports and give their leases back, for another process."""
        tasks = [t for t in (self._watcher, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        every = max(self.lease_s / 2, 0.2)
        while True:
            try:
                while self.has_room:
                    job = await claim(self.db, self.owner, self.lease_s)
                    if job is None:
                        break
                    if job.attempts > MAX_ATTEMPTS:
                        log.error("plan import %s stopped its process %d times; failed",
                                  job.id, MAX_ATTEMPTS)
                        await imports.fail_internally(self.db, job.id)
                        continue
                    log.info("taking over plan import %s (attempt %d)", job.id, job.attempts)
                    await self.start(job)
            except Exception:
                log.exception("looking for plan imports to take over failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), every)

    async def _run(self, job: Job) -> None:
        work = asyncio.create_task(imports.run(
            self.db, job.id, job.org_id, job.kind, job.filename, job.content,
            actor=job.actor, limits=job.limits, accepted=True, owner=self.owner))
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=self.lease_s / 3)
                if not work.done() and not await renew(self.db, job.id, self.owner,
                                                       self.lease_s):
                    log.warning("plan import %s was taken over; stopping here", job.id)
                    work.cancel()
                    with contextlib.suppress(asyncio.CancelledError, imports.LeaseLost):
                        await work
                    return
            await work
        except asyncio.CancelledError:  # the process stops: another one goes on with it
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
            with contextlib.suppress(Exception):
                await release(self.db, job.id, self.owner)
            raise
        except imports.LeaseLost:
            log.warning("plan import %s was finished elsewhere", job.id)
        except Exception:
            log.exception("plan import %s failed", job.id)
            await imports.fail_internally(self.db, job.id)

"""A batch of records, streamed: from an HTTP body or a file, one line at a time, never
held whole. Records are applied in chunks of one kind; the whole batch is one
transaction, so that nothing of it is seen before it is all written.

- ``all`` (the default): a batch with any rejected record writes nothing, and its result
  lists every rejected record by line, field and reason.
- ``each``: rejected records are left out and the rest is written.
- A dry run checks and applies everything, then rolls back.

The batch's row in ``feed_batch`` shows its progress while it runs (updated from another
connection, so it is visible outside the transaction) and its result after.
Events are queued in a temporary table and appended to the outbox at the end, so that a
large batch holds the outbox's lock only for the moment of its commit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson

from domain.actor import Actor, Permissions
from domain.db import Database, Executor, Transaction, json_dumps
from domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from domain.feeds.kind import Item, Kind, RefCache
from domain.feeds.kinds import KINDS
from domain.feeds.records import MAX_LINE_BYTES, Record, Rejection, parse_line

__all__ = ["MAX_LISTED", "MODES", "PERMISSIONS", "BatchResult", "apply_record", "batch_status",
           "ndjson_lines", "run_batch", "run_batch_in"]

PERMISSIONS = Permissions({
    # Plant systems: a token with the integration role, naming the kinds it may write.
    "feed": ("integration",),
    # Reading a batch's progress: the system that sent it, and the mill's admins.
    "read_any_batch": ("admin",),
})
MODES = ("all", "each")
# Records of one kind applied together; a chunk also ends where a key repeats, so a later
# version of the same key is applied after the earlier one.
CHUNK = 2_000
# Rejections listed in a result (all are counted).
MAX_LISTED = 1_000
_PROGRESS_SECONDS = 1.0
# A running batch whose progress has not been saved for this long died with its process.
_ABANDONED = timedelta(minutes=10)
_NAMES = frozenset(KINDS)


@dataclass(slots=True)
class BatchResult:
    id: uuid.UUID
    submitted_by: str
    mode: str
    dry_run: bool
    status: str = "running"
    lines_read: int = 0
    applied: int = 0
    unchanged: int = 0
    stale: int = 0
    retired: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_LISTED:
            self.rejections.append(rejection)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id), "status": self.status, "mode": self.mode,
            "dryRun": self.dry_run, "linesRead": self.lines_read, "applied": self.applied,
            "unchanged": self.unchanged, "stale": self.stale, "retired": self.retired,
            "rejected": self.rejected,
            "rejections": [r.as_json() for r in self.rejections],
            "rejectionsListed": len(self.rejections),
            "startedAt": self.started_at.isoformat() if self.started_at else None,
            "finishedAt": self.finished_at.isoformat() if self.finished_at else None,
        }


Line = tuple[int, bytes] | Rejection


async def ndjson_lines(chunks: AsyncIterable[bytes], *,
                       max_line: int = MAX_LINE_BYTES) -> AsyncIterator[Line]:
    """Numbered lines of an NDJSON stream, however its bytes are cut; a line longer
    than ``max_line`` is skipped as it arrives and reported, blank lines are skipped."""
    buffer = bytearray()
    number, skipping = 0, False
    async for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                if not skipping:
                    buffer += chunk[start:]
                    if len(buffer) > max_line:
                        skipping = True
                        buffer.clear()
                break
            number += 1
            if skipping:
                skipping = False
                yield _too_long(number, max_line)
            else:
                buffer += chunk[start:end]
                if len(buffer) > max_line:
                    yield _too_long(number, max_line)
                elif buffer.strip():
                    yield number, bytes(buffer)
                buffer.clear()
            start = end + 1
    if skipping:
        yield _too_long(number + 1, max_line)
    elif buffer.strip():
        yield number + 1, bytes(buffer)


def _too_long(line: int, limit: int) -> Rejection:
    return Rejection(line, None, None, None, f"the line is longer than {limit} bytes",
                     "TOO_LARGE")


async def run_batch(
    db: Database, actor: Actor, lines: AsyncIterable[Line], *, mode: str = "all",
    dry_run: bool = False, batch_id: uuid.UUID | None = None,
    on_progress: Callable[[BatchResult], Awaitable[None] | None] | None = None,
) -> BatchResult:
    """Applies the records of ``lines`` (see :func:`ndjson_lines`) as ``actor``."""
    PERMISSIONS.check(actor, "feed")
    if mode not in MODES:
        raise Invalid(f"mode must be one of {', '.join(MODES)}", field="mode")
    result = BatchResult(batch_id or uuid.uuid4(), actor.subject, mode, dry_run)
    # A batch that failed (its connection dropped, its body was too large) wrote nothing:
    # its sender may run it again under the same id, as a retry names it. So may one left
    # running by a process that died: its progress stopped being saved long ago.
    result.started_at = await db.fetchval(
        "INSERT INTO feed_batch (id, submitted_by, mode, dry_run) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (id) DO UPDATE SET mode = EXCLUDED.mode, dry_run = EXCLUDED.dry_run,"
        " status = 'running', lines_read = 0, applied = 0, unchanged = 0, stale = 0,"
        " retired = 0, rejected = 0, rejections = '[]', started_at = now(),"
        " updated_at = now(), finished_at = NULL"
        " WHERE (feed_batch.status = 'failed' OR (feed_batch.status = 'running'"
        "        AND feed_batch.updated_at < now() - $5::interval))"
        " AND feed_batch.submitted_by = EXCLUDED.submitted_by"
        " RETURNING started_at", result.id, result.submitted_by, mode, dry_run,
        _ABANDONED)
    if result.started_at is None:
        raise Invalid("a batch with this id exists already", field="batch")
    try:
        await _run(db, actor, lines, result, on_progress)
    except BaseException:
        result.status = "failed"
        await _save(db, result, final=True)
        raise
    await _save(db, result, final=True)
    return result


async def run_batch_in(tx: Transaction, actor: Actor, lines: AsyncIterable[Line], *,
                       mode: str = "all") -> BatchResult:
    """Applies the records of ``lines`` as ``actor`` within the caller's transaction, for a
    writer whose records must commit or roll back with rows of its own (the demo's seed).
    Nothing shows before the caller commits, so no progress is kept: the batch's row in
    ``feed_batch`` is written once, with its result. In mode ``all`` a batch with a
    rejected record writes nothing (its savepoint is rolled back); what the caller's
    transaction does then is the caller's to decide."""
    PERMISSIONS.check(actor, "feed")
    if mode not in MODES:
        raise Invalid(f"mode must be one of {', '.join(MODES)}", field="mode")
    result = BatchResult(uuid.uuid4(), actor.subject, mode, False)
    result.started_at = await tx.fetchval("SELECT clock_timestamp()")
    runner = _Runner(actor, result)
    try:
        async with tx.connection.transaction():
            await _queue(tx)
            async for chunk in _chunks(lines, result):
                await runner.apply(tx, chunk)
            if mode == "all" and result.rejected:
                raise _Rollback
            await _flush_events(tx)
            # The queue goes now rather than at commit, so the transaction may feed again.
            await tx.execute("DROP TABLE feed_event_queue")
        result.status = "committed"
    except _Rollback:
        result.status = "rejected"
        result.applied = result.retired = 0
    result.finished_at = await tx.fetchval(
        "INSERT INTO feed_batch (id, submitted_by, mode, dry_run, status, lines_read, applied,"
        " unchanged, stale, retired, rejected, rejections, started_at, finished_at)"
        " VALUES ($1, $2, $3, false, $4, $5, $6, $7, $8, $9, $10, $11, $12, clock_timestamp())"
        " RETURNING finished_at",
        result.id, result.submitted_by, mode, result.status, result.lines_read, result.applied,
        result.unchanged, result.stale, result.retired, result.rejected,
        [r.as_json() for r in result.rejections], result.started_at)
    return result


# What the database refuses of a record (its rules, its ranges): the record's rejection.
# Any other error is the platform's and fails the batch.
_REFUSED = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError, DomainError)


class _Rollback(Exception):
    pass


async def _run(db: Database, actor: Actor, lines: AsyncIterable[Line], result: BatchResult,
               on_progress: Callable[[BatchResult], Awaitable[None] | None] | None) -> None:
    runner = _Runner(actor, result)
    last = time.monotonic()
    try:
        async with db.transaction() as tx:
            await _queue(tx)
            async for chunk in _chunks(lines, result):
                await runner.apply(tx, chunk)
                now = time.monotonic()
                if now - last >= _PROGRESS_SECONDS:
                    last = now
                    await _save(db, result, final=False)
                    if on_progress is not None:
                        done = on_progress(result)
                        if done is not None:
                            await done
            if result.dry_run or (result.mode == "all" and result.rejected):
                raise _Rollback
            await _flush_events(tx)
    except _Rollback:
        pass
    if result.dry_run:
        result.status = "checked"
    elif result.mode == "all" and result.rejected:
        result.status = "rejected"
        result.applied = result.retired = 0
    else:
        result.status = "committed"
    if on_progress is not None:
        done = on_progress(result)
        if done is not None:
            await done


async def _chunks(lines: AsyncIterable[Line], result: BatchResult,
                  ) -> AsyncIterator[list[Record]]:
    chunk: list[Record] = []
    keys: set[str] = set()
    async for line in lines:
        if isinstance(line, Rejection):
            result.lines_read = max(result.lines_read, line.line)
            result.reject(line)
            continue
        number, raw = line
        result.lines_read = number
        record = parse_line(number, raw, _NAMES)
        if isinstance(record, Rejection):
            result.reject(record)
            continue
        if chunk and (record.kind != chunk[0].kind or record.key in keys
                      or len(chunk) >= CHUNK):
            yield chunk
            chunk, keys = [], set()
        chunk.append(record)
        keys.add(record.key)
    if chunk:
        yield chunk


class _Runner:
    """Applies chunks within the batch's transaction."""

    def __init__(self, actor: Actor, result: BatchResult, *, by_token: bool = True,
                 by_hand: bool = False) -> None:
        self.actor = actor
        self.result = result
        self.refs = RefCache()
        # Plant systems write the kinds their token names; staff editing by hand were
        # allowed by the kind's staff roles instead.
        self.by_token = by_token
        # An edit by hand carries no source version: it is written whatever the stored
        # version, and leaves that version as it was (see `apply_record`).
        self.by_hand = by_hand
        # A record written by hand belongs to no batch: its `feed_record` row and its
        # events name none rather than one that `feed_batch` never held.
        self.batch_id = result.id if by_token else None
        self.written: list[Item] = []

    async def apply(self, tx: Transaction, records: list[Record]) -> None:
        kind = KINDS[records[0].kind]
        if self.by_token and not self.actor.may_feed(kind.name):
            for r in records:
                self.result.reject(Rejection(r.line, r.kind, r.key, "kind",
                                             f"this token may not write {kind.name} records",
                                             "FORBIDDEN"))
            return
        items: list[Item] = []
        for record in records:
            prepared = kind.prepare(record)
            if isinstance(prepared, Rejection):
                self.result.reject(prepared)
            else:
                items.append(prepared)
        if not self.by_hand:
            items = await self._fresh(tx, kind, items)
        upserts = [i for i in items if not i.record.retire]
        if upserts:
            await self._write(tx, kind, upserts)
        for item in (i for i in items if i.record.retire):
            await self._retire(tx, kind, item)

    async def _fresh(self, tx: Executor, kind: Kind, items: list[Item]) -> list[Item]:
        """The items newer than what is stored; replays and older versions are counted."""
        if not items:
            return []
        stored = {r["key"]: r for r in await tx.fetch(
            "SELECT key, version, digest FROM feed_record WHERE kind = $1"
            " AND key = ANY($2::text[])", kind.name, [i.record.key for i in items])}
        fresh, bumped = [], []
        for i in items:
            row = stored.get(i.record.key)
            if row is not None and i.record.version > row["version"] \
                    and i.record.digest == row["digest"]:
                # A source that sends everything again under new versions: the data is
                # what is stored, so nothing changes but the version it is known by.
                self.result.unchanged += 1
                bumped.append(i)
            elif row is None or i.record.version > row["version"]:
                fresh.append(i)
            elif i.record.version < row["version"]:
                self.result.stale += 1
            elif i.record.digest == row["digest"]:
                self.result.unchanged += 1
            else:
                self.result.reject(Rejection(
                    i.record.line, i.record.kind, i.record.key, "version",
                    f"version {i.record.version} was applied before with other data: "
                    "a change needs a higher version", "CONFLICT"))
        if bumped:
            await tx.execute(
                "UPDATE feed_record f SET version = u.version FROM unnest($2::text[],"
                " $3::bigint[]) AS u(key, version) WHERE f.kind = $1 AND f.key = u.key",
                kind.name, [i.record.key for i in bumped], [i.record.version for i in bumped])
        return fresh

    async def _write(self, tx: Transaction, kind: Kind, items: list[Item]) -> None:
        refused = await kind.resolve(tx, items, self.refs)
        for _, rejection in refused:
            self.result.reject(rejection)
        bad = {i.record.line for i, _ in refused}
        items = [i for i in items if i.record.line not in bad]
        if not items:
            return
        try:
            async with tx.connection.transaction():
                await kind.write(tx, items, self.refs)
        except _REFUSED:
            # Something only the database could tell: apply one by one to name it.
            written = []
            for item in items:
                try:
                    async with tx.connection.transaction():
                        await kind.write(tx, [item], self.refs)
                    written.append(item)
                except _REFUSED as exc:
                    self.result.reject(_rejection(item, exc))
            items = written
        await self._done(tx, kind, items)

    async def _retire(self, tx: Transaction, kind: Kind, item: Item) -> None:
        try:
            async with tx.connection.transaction():
                await kind.retire(tx, item, self.refs)
        except _REFUSED as exc:
            self.result.reject(_rejection(item, exc))
            return
        await self._done(tx, kind, [item])

    async def _done(self, tx: Executor, kind: Kind, items: Sequence[Item]) -> None:
        if not items:
            return
        self.written.extend(items)
        for i in items:
            if i.record.retire:
                self.result.retired += 1
            else:
                self.result.applied += 1
        await tx.execute(
            "INSERT INTO feed_record (kind, key, version, digest, retired, batch_id)"
            " SELECT $1, u.key, u.version, u.digest, u.retired, $6"
            " FROM unnest($2::text[], $3::bigint[], $4::bytea[], $5::boolean[])"
            "   AS u(key, version, digest, retired)"
            + (" ON CONFLICT (kind, key) DO NOTHING" if self.by_hand else
               " ON CONFLICT (kind, key) DO UPDATE SET version = EXCLUDED.version,"
               " digest = EXCLUDED.digest, retired = EXCLUDED.retired,"
               " batch_id = EXCLUDED.batch_id, applied_at = now()"),
            kind.name, [i.record.key for i in items], [i.record.version for i in items],
            [i.record.digest for i in items], [i.record.retire for i in items],
            self.batch_id)
        batch = {"batch": str(self.batch_id)} if self.batch_id is not None else {}
        queued = []
        for i in items:
            for event in kind.events(i):
                # A kind may name the event's aggregate (as other writers of the same
                # event do); by default it is the record's own row.
                aggregate = event[3:] or (kind.name, i.row_id)
                queued.append((event[0], event[1], *aggregate, _json(event[2] | batch)))
        await tx.execute(
            "INSERT INTO feed_event_queue (event_type, org_id, aggregate_type, aggregate_id,"
            " payload, actor) SELECT u.t, u.o, u.g, u.a, u.p, $1"
            " FROM unnest($2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[])"
            "   AS u(t, o, g, a, p)",
            self.actor.subject, *(list(col) for col in zip(*queued, strict=True)))


def _json(value: dict[str, Any]) -> str:
    return json_dumps(value)


def _rejection(item: Item, exc: Exception) -> Rejection:
    r = item.record
    if isinstance(exc, DomainError):
        return Rejection(r.line, r.kind, r.key, exc.field, exc.message, exc.code)
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        detail = getattr(exc, "table_name", None) or "another record"
        return Rejection(r.line, r.kind, r.key, None,
                         f"still referenced by {detail}: retire or change those first",
                         "CONFLICT")
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        name = getattr(exc, "constraint_name", None)
        return Rejection(r.line, r.kind, r.key, None,
                         f"refused by the database's rule {name or ''}: "
                         f"{getattr(exc, 'detail', None) or exc}".strip(), "CONFLICT")
    return Rejection(r.line, r.kind, r.key, None, f"could not be written: {exc}", "INVALID")


async def apply_record(db: Database, actor: Actor, kind: str, key: str,
                       data: dict[str, Any] | None, *, version: int | None = None) -> int:
    """One record written by hand (GraphQL) through the same checks as the feeds:
    ``data`` None retires it. Staff need one of the kind's staff roles.

    Without ``version`` the edit is written whatever version the plant's system last
    sent, and that version stays the stored one: the system's replay of it changes
    nothing, and its next change (a higher version) overwrites the edit. A key first
    written by hand is stored at version 0. With ``version`` the record is applied as a
    system's would be. Returns the row's id; a rejection is raised as the matching
    domain error."""
    found = KINDS.get(kind)
    if found is None:
        raise Invalid(f"no kind {kind!r}", field="kind")
    actor.require(found.staff_roles)
    result = BatchResult(uuid.uuid4(), actor.subject, "all", False)
    runner = _Runner(actor, result, by_token=False, by_hand=version is None)
    async with db.transaction() as tx:
        await _queue(tx)
        doc: dict[str, Any] = {"kind": kind, "key": key, "version": version or 0}
        doc |= {"retire": True} if data is None else {"data": data}
        record = parse_line(1, orjson.dumps(doc), _NAMES)
        if isinstance(record, Rejection):
            raise _error(record)
        await runner.apply(tx, [record])
        if result.rejected:
            raise _error(result.rejections[0])
        if result.stale:
            # A feed skips an older version quietly; a person who named one is told that
            # nothing was written.
            raise Conflict(f"version {version} is older than the one stored: nothing was "
                           "changed", field="version")
        await _flush_events(tx)
    if not runner.written:
        # Nothing changed: the data is what is stored (or, retired again, what is gone).
        row_id: int | None = await db.fetchval(
            f"SELECT id FROM {found.table} WHERE {found.key_column} = $1", key)
        if row_id is None:
            raise NotFound(f"no {kind} {key!r}", field="key")
        return row_id
    written = runner.written[0].row_id
    assert written is not None
    return written


def _error(rejection: Rejection) -> DomainError:
    kinds: dict[str, type[DomainError]] = {
        "NOT_FOUND": NotFound, "CONFLICT": Conflict, "FORBIDDEN": Forbidden}
    error = kinds.get(rejection.code, Invalid)
    field = rejection.field[len("data."):] if rejection.field and rejection.field.startswith(
        "data.") else rejection.field
    return error(rejection.reason, field=field)


async def _queue(tx: Executor) -> None:
    await tx.execute(
        "CREATE TEMP TABLE feed_event_queue (ord bigserial, event_type text,"
        " org_id bigint, aggregate_type text, aggregate_id bigint, payload text,"
        " actor text) ON COMMIT DROP")


async def _flush_events(tx: Executor) -> None:
    """Appends the batch's queued events to the outbox, in order, under its lock."""
    await tx.execute("SELECT pg_advisory_xact_lock($1)", 0x4F5554424F58)
    await tx.execute(
        "INSERT INTO domain_event (event_type, org_id, aggregate_type, aggregate_id, payload,"
        " actor) SELECT event_type, org_id, aggregate_type, aggregate_id, payload::jsonb,"
        " actor FROM feed_event_queue ORDER BY ord")


async def _save(db: Database, result: BatchResult, *, final: bool) -> None:
    await db.execute(
        "UPDATE feed_batch SET status = $2, lines_read = $3, applied = $4, unchanged = $5,"
        " stale = $6, retired = $7, rejected = $8, rejections = $9, updated_at = now(),"
        " finished_at = CASE WHEN $10 THEN now() END WHERE id = $1",
        result.id, result.status, result.lines_read, result.applied, result.unchanged,
        result.stale, result.retired, result.rejected,
        [r.as_json() for r in result.rejections], final)
    if final:
        result.finished_at = await db.fetchval(
            "SELECT finished_at FROM feed_batch WHERE id = $1", result.id)


async def batch_status(db: Executor, actor: Actor, batch_id: uuid.UUID) -> BatchResult | None:
    """A batch's progress or result: for the system that sent it and the mill's admins;
    anyone else finds none."""
    row = await db.fetchrow("SELECT * FROM feed_batch WHERE id = $1", batch_id)
    if row is None:
        return None
    if row["submitted_by"] != actor.subject and not PERMISSIONS.allows(actor,
                                                                        "read_any_batch"):
        return None
    if actor.is_customer:
        return None
    result = BatchResult(row["id"], row["submitted_by"], row["mode"], row["dry_run"],
                         row["status"], row["lines_read"], row["applied"], row["unchanged"],
                         row["stale"], row["retired"], row["rejected"], [],
                         row["started_at"], row["finished_at"])
    result.rejections = [Rejection(**{k: v for k, v in r.items()}) for r in row["rejections"]]
    return result

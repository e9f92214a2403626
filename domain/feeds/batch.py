"""A batch of records, streamed: from an HTTP body or a file, one line at a time, never
held whole. Records are applied in chunks of one kind; the whole batch is one
transaction, so that nothing of it is seen before it is all written.

- ``all`` (the default): a batch with any rejected record writes nothing, and its result
  lists every rejected record by line, field and reason.
- ``each``: rejected records are left out and the rest is written.
- A dry run checks and applies everything, then rolls back.

The batch's row in ``feed_batch`` shows its progress while it runs (updated from another
connection, so it is visible outside the transaction) and its result after.
Events are held back and appended to the outbox at the end, so that a large batch holds
the outbox's lock only for the moment of its commit: in memory while they are few, in a
temporary table beyond that.

Reading and checking records is the importer's work, writing them the database's: the
next chunk is read and checked while the statements of the one before run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson

from domain.actor import Actor, Permissions
from domain.db import Database, Executor, Transaction
from domain.errors import Conflict, DomainError, Forbidden, Invalid, InvalidTransition, NotFound
from domain.feeds.fields import rows_json
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
CHUNK = 5_000
# Rejections listed in a result (all are counted).
MAX_LISTED = 1_000
_PROGRESS_SECONDS = 1.0
# A running batch whose progress has not been saved for this long died with its process.
_ABANDONED = timedelta(minutes=10)
# How long a progress report waits for a free connection before it is left out.
_PROGRESS_WAIT = 0.05
# Events held in memory before they go to a temporary table: a batch of a few records
# (one fed as it happens, one written by hand) creates no table at all.
_EVENTS_HELD = 5_000
# Records checked between two turns of the event loop, so that the statements of the
# chunk being written go on while the next one is checked.
_CHECKED_PER_TURN = 250
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
    if result.finished_at is None:
        # Rolled back (a dry run, a rejection): its result is written on its own.
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
            async with contextlib.aclosing(_checked(lines, runner)) as chunks:
                async for chunk in chunks:
                    await runner.apply_checked(tx, chunk)
            if mode == "all" and result.rejected:
                raise _Rollback
            await runner.flush_events(tx)
            if runner.spilled:
                # The queue goes now rather than at commit, so the transaction may feed
                # again.
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
            async with contextlib.aclosing(_checked(lines, runner)) as chunks:
                async for chunk in chunks:
                    await runner.apply_checked(tx, chunk)
                    now = time.monotonic()
                    if now - last >= _PROGRESS_SECONDS:
                        last = now
                        await _progress(db, result)
                        if on_progress is not None:
                            done = on_progress(result)
                            if done is not None:
                                await done
            if result.dry_run or (result.mode == "all" and result.rejected):
                raise _Rollback
            await runner.flush_events(tx)
            # The result commits with the records: one commit, not two, for a batch of
            # one record fed as it happens.
            result.status = "committed"
            await _save(tx, result, final=True)
    except _Rollback:
        pass
    except BaseException:
        result.finished_at = None
        raise
    if result.dry_run:
        result.status = "checked"
    elif result.mode == "all" and result.rejected:
        result.status = "rejected"
        result.applied = result.retired = 0
    if on_progress is not None:
        done = on_progress(result)
        if done is not None:
            await done


@dataclass(slots=True)
class _Chunk:
    """Records of one kind to apply together, and what was read before them that is not
    a record (rejected as it was found, so listed before the chunk's own)."""

    records: list[Record]
    skipped: list[Rejection]
    lines_read: int
    kind: Kind | None = None
    # Checked by the kind: the items accepted, in order, and the records refused.
    items: list[Item] = field(default_factory=list)
    refused: list[Rejection] = field(default_factory=list)
    forbidden: bool = False


async def _chunks(lines: AsyncIterable[Line], *, yielding: bool = False,
                  ) -> AsyncGenerator[_Chunk, None]:
    chunk: list[Record] = []
    keys: set[str] = set()
    skipped: list[Rejection] = []
    read = seen = 0
    async for line in lines:
        seen += 1
        if yielding and seen % _CHECKED_PER_TURN == 0:
            await asyncio.sleep(0)
        if isinstance(line, Rejection):
            read = max(read, line.line)
            skipped.append(line)
            continue
        number, raw = line
        read = number
        record = parse_line(number, raw, _NAMES)
        if isinstance(record, Rejection):
            skipped.append(record)
            continue
        if chunk and (record.kind != chunk[0].kind or record.key in keys
                      or len(chunk) >= CHUNK):
            yield _Chunk(chunk, skipped, read)
            chunk, keys, skipped = [], set(), []
        chunk.append(record)
        keys.add(record.key)
    if chunk or skipped:
        yield _Chunk(chunk, skipped, read)


async def _checked(lines: AsyncIterable[Line], runner: _Runner,
                   ) -> AsyncGenerator[_Chunk, None]:
    """The chunks of ``lines``, each checked while the one before is being written: one
    chunk ahead, never more, so that memory does not grow with the batch."""
    chunks = _chunks(lines, yielding=True)

    async def following() -> _Chunk | None:
        chunk = await anext(chunks, None)
        if chunk is not None:
            await runner.check(chunk, yielding=True)
        return chunk

    ahead = asyncio.ensure_future(following())
    try:
        while (chunk := await ahead) is not None:
            ahead = asyncio.ensure_future(following())
            yield chunk
    finally:
        if not ahead.done():
            ahead.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await ahead
        await chunks.aclose()


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
        # The first item written (what a record written by hand answers with); not
        # every one, so that memory does not grow with the batch.
        self.written: list[Item] = []
        # Events not yet in the outbox: held here, or in the temporary table once
        # there are more than _EVENTS_HELD.
        self.events: list[tuple[str, int | None, str, int | None, dict[str, Any]]] = []
        self.spilled = False

    async def apply(self, tx: Transaction, records: list[Record]) -> None:
        chunk = _Chunk(records, [], self.result.lines_read)
        await self.check(chunk)
        await self.apply_checked(tx, chunk)

    async def check(self, chunk: _Chunk, *, yielding: bool = False) -> None:
        """The kind's checks of each record, which need no database; ``yielding``
        gives the event loop a turn now and then."""
        if not chunk.records:
            return
        kind = chunk.kind = KINDS[chunk.records[0].kind]
        if self.by_token and not self.actor.may_feed(kind.name):
            chunk.forbidden = True
            return
        for n, record in enumerate(chunk.records, start=1):
            prepared = kind.prepare(record)
            if isinstance(prepared, Rejection):
                chunk.refused.append(prepared)
            else:
                chunk.items.append(prepared)
            if yielding and n % _CHECKED_PER_TURN == 0:
                await asyncio.sleep(0)

    async def apply_checked(self, tx: Transaction, chunk: _Chunk) -> None:
        for skipped in chunk.skipped:
            self.result.reject(skipped)
        self.result.lines_read = max(self.result.lines_read, chunk.lines_read)
        if chunk.kind is None:
            return
        kind = chunk.kind
        if chunk.forbidden:
            for r in chunk.records:
                self.result.reject(Rejection(r.line, r.kind, r.key, "kind",
                                             f"this token may not write {kind.name} records",
                                             "FORBIDDEN"))
            return
        for refused in chunk.refused:
            self.result.reject(refused)
        items = chunk.items if self.by_hand else await self._fresh(tx, kind, chunk.items)
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
        if not stored:
            return items
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
            # Something only the database could tell: apply one by one to name it. The
            # ids learnt from the rows just rolled back are forgotten.
            for item in items:
                self.refs.forget(kind.table, kind.key_column, item.record.key)
            written = []
            for item in items:
                try:
                    async with tx.connection.transaction():
                        await kind.write(tx, [item], self.refs)
                    written.append(item)
                except _REFUSED as exc:
                    self.refs.forget(kind.table, kind.key_column, item.record.key)
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
        """The items' versions recorded and their events queued, in one statement."""
        if not items:
            return
        if not self.written:
            self.written.append(items[0])
        for i in items:
            if i.record.retire:
                self.result.retired += 1
            else:
                self.result.applied += 1
        batch = {"batch": str(self.batch_id)} if self.batch_id is not None else {}
        events = []
        for i in items:
            for event in kind.events(i):
                # A kind may name the event's aggregate (as other writers of the same
                # event do); by default it is the record's own row.
                aggregate = event[3:] or (kind.name, i.row_id)
                events.append((event[0], event[1], *aggregate, event[2] | batch))
        versions = (kind.name, rows_json([(i.record.key, i.record.version, i.record.digest,
                                           i.record.retire) for i in items]), self.batch_id)
        record_versions = _VERSIONS_KEPT if self.by_hand else _VERSIONS
        if not self.spilled and len(self.events) + len(events) <= _EVENTS_HELD:
            self.events += events
            await tx.execute(record_versions, *versions)
            return
        if not self.spilled:
            await tx.execute(
                "CREATE TEMP TABLE feed_event_queue (ord bigserial, event_type text,"
                " org_id bigint, aggregate_type text, aggregate_id bigint, payload jsonb)"
                " ON COMMIT DROP")
            self.spilled = True
            events, self.events = self.events + events, []
        await tx.execute(
            f"WITH versions AS ({record_versions})"
            " INSERT INTO feed_event_queue (event_type, org_id, aggregate_type, aggregate_id,"
            f" payload) SELECT {_EVENT} FROM {_EVENTS.format(4)} ORDER BY n",
            *versions, rows_json(events))

    async def flush_events(self, tx: Executor) -> None:
        """Appends the batch's events to the outbox, in order, under its lock."""
        if not (self.spilled or self.events):
            return
        # The lock is the statement's first row: no event is numbered before it is held.
        if self.spilled:
            await tx.execute(
                "INSERT INTO domain_event (event_type, org_id, aggregate_type, aggregate_id,"
                " payload, actor) SELECT event_type, org_id, aggregate_type, aggregate_id,"
                f" payload, $1 FROM {_LOCK.format(2)}, feed_event_queue ORDER BY ord",
                self.actor.subject, _OUTBOX_LOCK)
        else:
            await tx.execute(
                "INSERT INTO domain_event (event_type, org_id, aggregate_type, aggregate_id,"
                f" payload, actor) SELECT {_EVENT}, $2 FROM {_LOCK.format(3)},"
                f" {_EVENTS.format(1)} ORDER BY n",
                rows_json(self.events), self.actor.subject, _OUTBOX_LOCK)
        self.events = []


# A chunk's versions recorded: the kind ($1), the records (key, version, digest, retired)
# as rows_json ($2), the batch ($3).
_VERSIONS = (
    "INSERT INTO feed_record (kind, key, version, digest, retired, batch_id)"
    " SELECT $1, r->>0, (r->>1)::bigint, decode(r->>2, 'hex'), (r->>3)::boolean, $3"
    " FROM jsonb_array_elements($2::text::jsonb) AS r"
    " ON CONFLICT (kind, key) DO UPDATE SET version = EXCLUDED.version,"
    " digest = EXCLUDED.digest, retired = EXCLUDED.retired,"
    " batch_id = EXCLUDED.batch_id, applied_at = now()")
# An edit by hand leaves the version a source sent as it was (a key first written by hand
# is kept at version 0).
_VERSIONS_KEPT = _VERSIONS[:_VERSIONS.index(" ON CONFLICT")] + " ON CONFLICT (kind, key) DO NOTHING"
# Events (type, organization, aggregate type and id, payload) as rows_json, numbered in
# their order.
_EVENTS = "jsonb_array_elements(${}::text::jsonb) WITH ORDINALITY AS e(r, n)"
_EVENT = "e.r->>0, (e.r->>1)::bigint, e.r->>2, (e.r->>3)::bigint, e.r->4"
# The outbox's lock, held from appending to it until the commit, so that events are
# numbered in the order they commit.
_OUTBOX_LOCK = 0x4F5554424F58
_LOCK = "(SELECT pg_advisory_xact_lock(${}::bigint)) AS outbox_lock"


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
        await runner.flush_events(tx)
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
        "NOT_FOUND": NotFound, "CONFLICT": Conflict, "FORBIDDEN": Forbidden,
        "INVALID_TRANSITION": InvalidTransition}
    error = kinds.get(rejection.code, Invalid)
    field = rejection.field[len("data."):] if rejection.field and rejection.field.startswith(
        "data.") else rejection.field
    return error(rejection.reason, field=field)


async def _progress(db: Database, result: BatchResult) -> None:
    """A running batch's progress, written from a connection of its own. The batch holds
    one already: when none other is free soon, this report is left out rather than
    waited for, since batches that each wait for a second connection while holding
    their first could wait for each other for ever."""
    try:
        conn = await db.pool.acquire(timeout=_PROGRESS_WAIT)
    except TimeoutError:
        return
    try:
        await _save(Transaction(conn), result, final=False)
    finally:
        await db.pool.release(conn)


async def _save(db: Executor, result: BatchResult, *, final: bool) -> None:
    finished_at = await db.fetchval(
        "UPDATE feed_batch SET status = $2, lines_read = $3, applied = $4, unchanged = $5,"
        " stale = $6, retired = $7, rejected = $8, rejections = $9,"
        " updated_at = clock_timestamp(),"
        " finished_at = CASE WHEN $10 THEN clock_timestamp() END WHERE id = $1"
        " RETURNING finished_at",
        result.id, result.status, result.lines_read, result.applied, result.unchanged,
        result.stale, result.retired, result.rejected,
        [r.as_json() for r in result.rejections], final)
    if final:
        result.finished_at = finished_at


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

"""The ingest pipeline, in order, for one batch of MQTT messages:

1. decode       topic + payload -> readings (fixes, scans, vessel data, sentences of
                AIS messages split over several MQTT messages), or a rejection
2. resolve      the device, its vehicle and mode, the scan's site, from the registry
                then, in one transaction:
3. assemble     AIS sentences kept with those stored before, by any ingester; a group
                made whole here is decoded for the message that completed it
                (``tracking.fragments``)
4. filter       each fix against its vehicle's latest accepted fix (earlier ones of the
                same batch count); two fixes in a row that agree with each other but
                not with that reference replace it (see ``Challengers``)
5. store        positions and scans (idempotent), vessel data, the rejected messages
                with their reasons
6. detect       on the rows that are new only, in a savepoint: a detector failure is
                logged and loses no data; a duplicate fires nothing
7. commit       then, and only then, the caller acknowledges every message of the batch
                and publishes ``BatchResult.positions`` / ``.events`` to the live state

Every message ends stored, duplicate (stored before), partial (some readings rejected),
rejected with a reason, held (an AIS sentence waiting for the rest of its message; if
that never comes, the message is later counted as rejected, ``incomplete``), or ignored
(valid, nothing to keep); each outcome is counted in ``keylink_ingest_messages_total``.
A database that is away raises (see ``is_transient``) so that the caller retries the
batch and acknowledges nothing; a batch the database refuses for its data is split, and
a single message it still refuses is rejected.
"""

from __future__ import annotations

import enum
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import asyncpg
from prometheus_client import Counter

from domain.db import Database, Transaction
from tracking import decoders, fragments, topics, unknown_vessels
from tracking.decoders import ais
from tracking.detect import DetectedEvent, StoredFix, StoredScan
from tracking.filters import FilterLimits, check_fix, is_out_of_order
from tracking.live import LiveEvent, LivePosition
from tracking.model import (
    AisFragment,
    Fix,
    Message,
    Mode,
    Reading,
    Reason,
    Rejection,
    Scan,
    Source,
    VoyageData,
)
from tracking.registry import Device, LatestFixes, Registry
from tracking.store import (
    Partitions,
    PositionRow,
    RejectedRow,
    ScanRow,
    insert_positions,
    insert_rejections,
    insert_scans,
    serving_shipments,
    shipment_customers,
    update_vessels,
)

log = logging.getLogger("keylink.tracking.pipeline")

MESSAGES = Counter(
    "keylink_ingest_messages_total", "MQTT messages ingested, by outcome and reason.",
    ["outcome", "reason"], registry=None,
)
DETECTION_ERRORS = Counter(
    "keylink_detection_errors_total", "Batches whose detection failed (their data was kept).",
    registry=None,
)


class Outcome(enum.StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # everything it carries was stored before (a redelivery)
    PARTIAL = "partial"  # stored, but some of its readings were rejected
    REJECTED = "rejected"
    HELD = "held"  # an AIS sentence kept until the rest of its message arrives
    IGNORED = "ignored"  # valid, with nothing to keep (e.g. an OwnTracks status)


class Detecting(Protocol):
    async def on_batch(self, tx: Transaction, fixes: list[StoredFix],
                       scans: list[StoredScan]) -> list[DetectedEvent]: ...


@dataclass(slots=True)
class _Item:
    """One message on its way through the stages."""

    message: Message
    device_code: str | None
    readings: int = 0
    fixes: list[tuple[PositionRow, Mode]] = field(default_factory=list)
    positions: list[tuple[PositionRow, bool]] = field(default_factory=list)  # out of order?
    scans: list[ScanRow] = field(default_factory=list)
    voyages: list[VoyageData] = field(default_factory=list)
    fragments: list[AisFragment] = field(default_factory=list)
    held: bool = False  # a sentence of it waits for the rest of its message
    completed: bool = False  # a sentence of it completed a message
    rejections: list[Rejection] = field(default_factory=list)

    def rejected_row(self) -> RejectedRow:
        first = self.rejections[0]
        detail = "; ".join(str(r) for r in self.rejections[:5])
        if self.readings > 1:
            detail += f" ({len(self.rejections)} of {self.readings} readings rejected)"
        m = self.message
        return RejectedRow(m.topic, m.payload, m.received_at, first.reason.value, detail,
                           self.device_code)


@dataclass(slots=True)
class BatchResult:
    outcomes: list[tuple[Outcome, str]] = field(default_factory=list)  # per message, in order
    positions: list[LivePosition] = field(default_factory=list)
    events: list[LiveEvent] = field(default_factory=list)

    def extend(self, other: BatchResult) -> None:
        self.outcomes += other.outcomes
        self.positions += other.positions
        self.events += other.events


class Challengers:
    """Fixes rejected for an impossible jump, kept so that a bad reference cannot stick.

    The jump check judges a fix by the vehicle's latest accepted one. When that one was
    itself wrong (a glitch right after power-up, a first fix with nothing before it to
    judge it by), every true fix after it would look like a jump. So each vehicle's
    latest jump-rejected fix is kept: when the next fix, within ``WINDOW``, also fails
    against the reference but passes against that one, two fixes agree on where the
    vehicle is, and the second is accepted and becomes the reference. One bad fix alone
    never moves the reference. Changes take effect when the batch commits (it may be
    retried); the memory is per process and bounded.
    """

    WINDOW = timedelta(minutes=10)

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._held: OrderedDict[int, Fix] = OrderedDict()
        self._pending: dict[int, Fix | None] = {}

    def confirms(self, vehicle_id: int, fix: Fix, check: Callable[[Fix], None]) -> bool:
        """True when ``fix`` agrees with the vehicle's held challenger (``check`` raises
        Rejection otherwise); else ``fix`` becomes the challenger. For a fix that failed
        the jump check against the reference."""
        held = (self._pending[vehicle_id] if vehicle_id in self._pending
                else self._held.get(vehicle_id))
        if held is not None and held.fix_time < fix.fix_time <= held.fix_time + self.WINDOW:
            try:
                check(held)
            except Rejection:
                pass
            else:
                self._pending[vehicle_id] = None
                return True
        if held is None or fix.fix_time >= held.fix_time:
            self._pending[vehicle_id] = fix
        return False

    def accepted(self, vehicle_id: int) -> None:
        """A fix of the vehicle passed on its own: no challenger is needed any more."""
        if self._held.get(vehicle_id) is not None or self._pending.get(vehicle_id):
            self._pending[vehicle_id] = None

    def commit(self) -> None:
        for vehicle_id, fix in self._pending.items():
            if fix is None:
                self._held.pop(vehicle_id, None)
            else:
                self._held[vehicle_id] = fix
                self._held.move_to_end(vehicle_id)
        self._pending.clear()
        while len(self._held) > self._size:
            self._held.popitem(last=False)

    def discard(self) -> None:
        self._pending.clear()


class Pipeline:
    def __init__(
        self, db: Database, registry: Registry, detector: Detecting, latest: LatestFixes,
        partitions: Partitions, *, limits: FilterLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._registry = registry
        self._detector = detector
        self._latest = latest
        self._partitions = partitions
        self._limits = limits or FilterLimits()
        self._clock = clock
        self._challengers = Challengers()

    async def process(self, messages: list[Message]) -> BatchResult:
        """Run the batch through every stage and commit it. Raises only when the
        database is unreachable (``is_transient``): then nothing is committed."""
        try:
            return await self._process(messages)
        except Exception as exc:
            if is_transient(exc) or not isinstance(exc, asyncpg.PostgresError):
                raise
            if len(messages) > 1:
                log.warning("batch of %d refused by the database (%s); storing one by one",
                            len(messages), exc)
                result = BatchResult()
                for m in messages:
                    result.extend(await self.process([m]))
                return result
            return await self._refuse(messages[0], exc)

    async def _process(self, messages: list[Message]) -> BatchResult:
        self._challengers.discard()  # what a failed attempt at this batch noted
        await self._registry.refresh_if_due()
        items = [await self._resolve(m) for m in messages]
        async with self._db.transaction() as tx:
            # Fragments first: their group locks come before any other lock the batch
            # takes, in every batch (see tracking.fragments).
            incomplete = await self._assemble(tx, items)
            latest = await self._filter(items)
            rows = [row for item in items for row, _ in item.positions]
            # On a connection of its own; nothing this transaction holds stands in its way.
            await self._partitions.ensure(self._db, {r.fix.fix_time.date() for r in rows})
            new_keys = await insert_positions(tx, rows)
            new_scans = await insert_scans(tx, [s for item in items for s in item.scans])
            await update_vessels(tx, [v for item in items for v in item.voyages], self._clock())
            await insert_rejections(tx, await _rejected_rows(tx, items))
            fixes = sorted(
                (StoredFix(row.vehicle_id, row.device_id, row.fix, ooo)
                 for item in items for row, ooo in item.positions if row.key in new_keys),
                key=lambda f: f.fix.fix_time)
            scans = [StoredScan(s.scan_id, s.row.device_id, s.row.scan, s.coil_id,
                                s.row.site_id, s.row.vehicle_id) for s in new_scans]
            events = await self._detect(tx, fixes, scans)
            result = await _live_result(tx, fixes, events)
        self._latest.update(latest)
        self._challengers.commit()
        count_incomplete(incomplete)
        new_scan_keys = {s.row.key for s in new_scans}
        for item in items:
            outcome, reason = _outcome(item, new_keys, new_scan_keys)
            MESSAGES.labels(outcome=outcome.value, reason=reason).inc()
            result.outcomes.append((outcome, reason))
        return result

    async def _resolve(self, message: Message) -> _Item:
        item = _Item(message, _device_code(message.topic))
        try:
            readings = decoders.decode(message.topic, message.payload, message.received_at)
        except Rejection as r:
            item.rejections.append(r)
            return item
        except Exception as exc:  # a decoder bug must not stop the pipeline
            log.exception("decoder failed on %s", message.topic)
            item.rejections.append(Rejection(Reason.MALFORMED, f"decoder error: {exc!r}"))
            return item
        item.readings = len(readings)
        for reading in readings:
            await self._add(item, reading)
        return item

    async def _add(self, item: _Item, reading: Reading) -> None:
        received_at = item.message.received_at
        try:
            if isinstance(reading, Fix):
                item.fixes.append(await self._resolve_fix(reading, received_at))
            elif isinstance(reading, Scan):
                item.scans.append(await self._resolve_scan(reading, received_at))
            elif isinstance(reading, AisFragment):
                _usable(await self._registry.device(reading.device), reading.device,
                        "ais_gateway")
                item.fragments.append(reading)
            else:
                item.voyages.append(await self._resolve_voyage(reading))
        except Rejection as r:
            item.rejections.append(r)

    async def _assemble(self, tx: Transaction, items: list[_Item]) -> int:
        """Returns how many earlier messages it found incomplete and rejected."""
        held = [fragments.Held(f, item.message, i)
                for i, item in enumerate(items) for f in item.fragments]
        if not held:
            return 0
        done = await fragments.assemble(tx, held)
        for index in done.waiting:
            items[index].held = True
        for index, sentences in done.completed:
            item = items[index]
            item.completed = True
            try:
                readings = ais.decode_group(item.fragments[0].device, sentences,
                                            item.message.received_at)
            except Rejection as r:
                item.rejections.append(r)
                continue
            for reading in readings:
                await self._add(item, reading)
        await insert_rejections(tx, done.rejected)
        return fragments.messages(done.rejected)

    async def _resolve_fix(self, fix: Fix, received_at: datetime) -> tuple[PositionRow, Mode]:
        if fix.source is Source.AIS:
            device = _usable(await self._registry.device(fix.device), fix.device, "ais_gateway")
            if fix.mmsi is None:
                raise Rejection(Reason.MALFORMED, "AIS position without an MMSI")
            vessel = await self._registry.vessel(fix.mmsi)
            if vessel is None:
                raise Rejection(Reason.UNKNOWN_VESSEL, f"no vessel with MMSI {fix.mmsi}",
                                mmsi=fix.mmsi)
            return PositionRow(device.id, vessel.id, fix, received_at), vessel.mode
        found = (await self._registry.owntracks(fix.device) if fix.source is Source.OWNTRACKS
                 else await self._registry.device(fix.device))
        device = _usable(found, fix.device, "gps_unit")
        vehicle = (None if device.vehicle_id is None
                   else await self._registry.vehicle(device.vehicle_id))
        if vehicle is None:
            raise Rejection(Reason.UNBOUND_DEVICE, f"{fix.device} is bound to no vehicle")
        return PositionRow(device.id, vehicle.id, fix, received_at), vehicle.mode

    async def _resolve_scan(self, scan: Scan, received_at: datetime) -> ScanRow:
        device = _usable(await self._registry.device(scan.device), scan.device, "scanner")
        site_id = device.site_id
        if scan.site_code:
            site_id = await self._registry.site(scan.site_code)
            if site_id is None:
                raise Rejection(Reason.UNKNOWN_SITE, f"no site {scan.site_code!r}")
        return ScanRow(device.id, scan, site_id, device.vehicle_id, received_at)

    async def _resolve_voyage(self, voyage: VoyageData) -> VoyageData:
        _usable(await self._registry.device(voyage.device), voyage.device, "ais_gateway")
        if await self._registry.vessel(voyage.mmsi) is None:
            raise Rejection(Reason.UNKNOWN_VESSEL, f"no vessel with MMSI {voyage.mmsi}",
                            mmsi=voyage.mmsi)
        return voyage

    async def _filter(self, items: list[_Item]) -> dict[int, Fix]:
        """Check each fix; returns the vehicles' latest fixes as they will be once the
        batch commits (the cache is updated only then: a batch may be retried)."""
        await self._latest.warm({row.vehicle_id for item in items for row, _ in item.fixes})
        now = self._clock()
        latest: dict[int, Fix] = {}
        for item in items:
            for row, mode in item.fixes:
                previous = latest.get(row.vehicle_id) or self._latest.get(row.vehicle_id)
                # The same fix again (a redelivery) is no evidence of a jump.
                same = previous is not None and previous.fix_time == row.fix.fix_time
                try:
                    check_fix(row.fix, now=now, previous=None if same else previous, mode=mode,
                              limits=self._limits)
                except Rejection as r:
                    if r.reason is not Reason.IMPOSSIBLE_SPEED or not self._reanchors(
                            row, mode, now):
                        item.rejections.append(r)
                        continue
                else:
                    self._challengers.accepted(row.vehicle_id)
                item.positions.append((row, is_out_of_order(row.fix, previous)))
                if previous is None or row.fix.fix_time > previous.fix_time:
                    latest[row.vehicle_id] = row.fix
        return latest

    def _reanchors(self, row: PositionRow, mode: Mode, now: datetime) -> bool:
        def check(challenger: Fix) -> None:
            check_fix(row.fix, now=now, previous=challenger, mode=mode, limits=self._limits)

        if self._challengers.confirms(row.vehicle_id, row.fix, check):
            log.info("vehicle %d: two fixes agree against its last accepted fix; that one"
                     " was wrong and is replaced", row.vehicle_id)
            return True
        return False

    async def _detect(
        self, tx: Transaction, fixes: list[StoredFix], scans: list[StoredScan]
    ) -> list[DetectedEvent]:
        if not (fixes or scans):
            return []
        try:
            async with tx.connection.transaction():  # a savepoint
                return await self._detector.on_batch(tx, fixes, scans)
        except Exception as exc:
            if is_transient(exc):
                raise
            DETECTION_ERRORS.inc()
            log.exception("detection failed for %d fixes and %d scans; they are stored",
                          len(fixes), len(scans))
            return []

    async def _refuse(self, message: Message, exc: Exception) -> BatchResult:
        """A message the database will not store is recorded as rejected, so that it is
        acknowledged instead of blocking every batch after it."""
        log.error("message on %s refused by the database: %s", message.topic, exc)
        item = _Item(message, _device_code(message.topic),
                     rejections=[Rejection(Reason.MALFORMED, f"not storable: {exc}")])
        async with self._db.transaction() as tx:
            await insert_rejections(tx, [item.rejected_row()])
        MESSAGES.labels(outcome=Outcome.REJECTED.value, reason=Reason.MALFORMED.value).inc()
        return BatchResult(outcomes=[(Outcome.REJECTED, Reason.MALFORMED.value)])


async def _rejected_rows(tx: Transaction, items: list[_Item]) -> list[RejectedRow]:
    """The rejected messages to store. A message rejected only for naming vessels the
    registry lacks (ships passing an AIS gateway) is counted per vessel and stored only
    as a sample, the first of each vessel an hour (see ``tracking.unknown_vessels``)."""
    rejected = [item for item in items if item.rejections]
    due = await unknown_vessels.tally(tx, [
        unknown_vessels.Sighting(r.mmsi, item.device_code, item.message.received_at)
        for item in rejected for r in item.rejections
        if r.reason is Reason.UNKNOWN_VESSEL and r.mmsi is not None])
    rows: list[RejectedRow] = []
    for item in rejected:
        if any(r.reason is not Reason.UNKNOWN_VESSEL or r.mmsi is None
               for r in item.rejections):
            rows.append(item.rejected_row())  # rejected for something else too
            continue
        vessels = {r.mmsi for r in item.rejections}
        if vessels & due:
            due -= vessels
            rows.append(item.rejected_row())
    return rows


def count_incomplete(messages: int) -> None:
    """Held messages whose AIS message never became whole are rejected after all."""
    if messages:
        MESSAGES.labels(outcome=Outcome.REJECTED.value,
                        reason=Reason.INCOMPLETE.value).inc(messages)


_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")  # connection, rollback, resources, shutdown


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same batch later may succeed (the database is away, restarting,
    or out of connections) rather than the data being at fault."""
    # InternalClientError: a connection left mid-operation when the server went away
    # (seen on COMMIT after a restart). Nothing was committed; the pool replaces the
    # connection and the batch is retried, which its idempotent writes make safe.
    if isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError
                  | asyncpg.exceptions.InternalClientError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return str(getattr(exc, "sqlstate", "") or "")[:2] in _TRANSIENT_CLASSES
    return False


def _usable(device: Device | None, name: str, kind: str) -> Device:
    if device is None:
        raise Rejection(Reason.UNKNOWN_DEVICE, f"no device {name!r}")
    if not device.enabled:
        raise Rejection(Reason.DISABLED_DEVICE, f"{name} is disabled")
    if device.kind != kind:
        raise Rejection(Reason.WRONG_DEVICE_KIND, f"{name} is a {device.kind}, not a {kind}")
    return device


def _device_code(topic: str) -> str | None:
    try:
        return topics.parse(topic)[1]
    except Exception:
        return None


def _outcome(
    item: _Item, new_keys: set[tuple[int, int, datetime]],
    new_scans: set[tuple[int, datetime, str]]
) -> tuple[Outcome, str]:
    data = item.positions or item.scans or item.voyages
    if item.rejections:
        reason = item.rejections[0].reason.value
        return (Outcome.PARTIAL if data or item.held else Outcome.REJECTED), reason
    if not data:
        if item.held:
            return Outcome.HELD, ""
        if item.fragments and not item.completed:
            return Outcome.DUPLICATE, ""  # every sentence of it was waiting already
        return Outcome.IGNORED, "no_readings"
    fresh = (item.voyages or any(row.key in new_keys for row, _ in item.positions)
             or any(s.key in new_scans for s in item.scans))
    return (Outcome.STORED if fresh else Outcome.DUPLICATE), ""


async def _live_result(
    tx: Transaction, fixes: list[StoredFix], events: list[DetectedEvent]
) -> BatchResult:
    """Who is to hear of the batch: the shipments each vehicle carries and their
    customers, read in the batch's transaction (after detection changed leg states)."""
    serving = await serving_shipments(tx, {f.vehicle_id for f in fixes})
    orgs = await shipment_customers(tx, {e.shipment_id for e in events if e.shipment_id})
    result = BatchResult()
    for f in fixes:
        routes = serving.get(f.vehicle_id, [])
        result.positions.append(LivePosition(
            f.vehicle_id, f.device_id, f.fix, f.out_of_order,
            shipment_ids=tuple(s for s, _ in routes),
            org_ids=tuple(sorted({o for _, os in routes for o in os}))))
    for e in events:
        result.events.append(LiveEvent(
            e.kind, e.shipment_id, e.leg_id, e.vehicle_id, e.occurred_at, dict(e.details),
            org_ids=tuple(orgs.get(e.shipment_id, ()) if e.shipment_id is not None else ())))
    return result

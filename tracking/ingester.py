"""The MQTT ingester: messages in from the broker, through the pipeline, acknowledged.

paho-mqtt runs its network loop on a thread of its own and hands each message to the
asyncio loop through a queue; the loop takes batches (up to ``KEYLINK_INGEST_BATCH_SIZE``
messages or ``KEYLINK_INGEST_BATCH_MS``), runs each through ``tracking.pipeline`` and
acknowledges its messages only once the batch has committed. An unacknowledged message
stays the broker's: the session is persistent (clean start off, a session expiry), so
whatever was in flight when the ingester died or lost its connection is delivered again
to the same client id, and the pipeline stores it once.

Several ingesters share the load through one shared subscription group. A database
that is away is waited out, retrying the same batch with backoff and acknowledging
nothing meanwhile.

SIGTERM or SIGINT (``stop``) leaves the group when another member's session holds it
(``tracking.members``): UNSUBSCRIBE first, so that the broker hands this ingester
nothing new, then store and acknowledge everything the session still holds until the
broker has sent nothing for ``DRAIN_QUIET_SECONDS``, then disconnect with a session
expiry of 0, so that nothing more is queued for it. The group's last member instead
finishes and acknowledges what it received and disconnects keeping its session, which
queues what devices publish until an ingester is back. ``drain`` (``keylink ingest
--drain CLIENT_ID``) does the same for the session of an ingester that crashed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from opentelemetry import trace
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from prometheus_client import CollectorRegistry, Counter, Histogram

from domain.db import Database
from tracking import broker, fragments, members, topics
from tracking import live as live_state
from tracking.changes import Changes
from tracking.detect import Detector
from tracking.model import Message
from tracking.pipeline import (
    DETECTION_ERRORS,
    MESSAGES,
    BatchResult,
    Pipeline,
    count_incomplete,
    is_transient,
)
from tracking.registry import LatestFixes, Registry
from tracking.store import Partitions, drop_old_positions, latest_positions

if TYPE_CHECKING:
    from settings import Settings

log = logging.getLogger("keylink.tracking.ingester")

BATCH_SECONDS = Histogram(
    "keylink_ingest_batch_seconds", "Time to store one batch, from its first message.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=None,
)
DATABASE_RETRIES = Counter(
    "keylink_ingest_retries_total", "Batches retried because the database was away.",
    registry=None,
)
COLLECTORS = (MESSAGES, DETECTION_ERRORS, live_state.LIVE_ERRORS, BATCH_SECONDS,
              DATABASE_RETRIES)
REGISTRY = CollectorRegistry(auto_describe=True)
for _collector in COLLECTORS:
    REGISTRY.register(_collector)

TRACER = trace.get_tracer("keylink.ingest")  # a no-op unless `keylink ingest` set tracing up
MAINTENANCE_SECONDS = 3600
# After a stop request, how long a batch may still wait for the database before the
# ingester gives up on it (unacknowledged, so the broker delivers it again later).
STOP_GRACE_SECONDS = 10.0
# Leaving the group: once the broker has confirmed the UNSUBSCRIBE, it sends what the
# session still holds at once, as fast as the acknowledgements free its in-flight window;
# this long without a message, after the last acknowledgement, means nothing is left.
DRAIN_QUIET_SECONDS = 1.5
# How long a stopping ingester waits for its database connections to be given back.
CLOSE_SECONDS = 10.0
# How long a leaving ingester waits for the broker to confirm its UNSUBSCRIBE.
LEAVE_TIMEOUT_SECONDS = 30.0


class Stopped(enum.Enum):
    """How an ingester's session was left when it stopped."""

    KEPT = "kept"  # the group's last member: the broker queues for it until it is back
    DRAINED = "drained"  # left the group, everything stored: the session may end
    UNFINISHED = "unfinished"  # a leave that did not finish: the session keeps the rest


@dataclass(frozen=True, slots=True)
class Delivery:
    message: Message
    generation: int  # which connection it came on: only that one can acknowledge it


class MqttSource:
    """The broker connection, its network thread, and acknowledgements."""

    def __init__(self, settings: Settings, loop: asyncio.AbstractEventLoop,
                 queue: asyncio.Queue[Delivery], *, session: str | None = None) -> None:
        """``session``: the client id of another ingester's session, to take over and
        leave the group with (``drain``); by default this ingester's own."""
        self.client_id = session or client_id(settings)
        self.group = settings.ingest_group
        self._expiry = settings.ingest_session_expiry_s
        self._receive_maximum = min(65535, 2 * settings.ingest_batch_size)
        self._loop = loop
        self._queue = queue
        # Handed over from paho's thread: one loop wake-up for however many messages
        # arrived meanwhile, rather than one a message (a write to the loop's self-pipe).
        self._arrived: deque[Delivery] = deque()
        self._wake_pending = False
        self._lock = threading.Lock()
        self._generation = 0
        self._accepting = True
        # Leaving the group: every connection unsubscribes instead of subscribing.
        self._leaving = session is not None
        self.left = threading.Event()  # the broker confirmed the UNSUBSCRIBE
        self.last_arrival = time.monotonic()
        self.late = 0  # messages that arrived after the intake ended, unacknowledged
        self.session_present: bool | None = None
        self.subscribed = threading.Event()
        self.on_subscribed: Callable[[], None] | None = None
        self.disconnected = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                        protocol=mqtt.MQTTv5, manual_ack=True)
        self.host, self.port = broker.log_in(c, settings.mqtt_url or broker.LOCAL,
                                             settings.mqtt_ca_file)
        c.reconnect_delay_set(min_delay=1, max_delay=30)
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_unsubscribe = self._on_unsubscribe
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        # Without an expiry an MQTT 5 session ends with its connection, and with it the
        # messages queued for an ingester that is restarting.
        props.SessionExpiryInterval = self._expiry
        props.ReceiveMaximum = self._receive_maximum
        self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False,
                                  properties=props)
        self.client.loop_start()

    def ack(self, deliveries: list[Delivery]) -> None:
        with self._lock:
            for d in deliveries:
                # A message from an earlier connection is being delivered again on this
                # one: that copy is acknowledged when it is processed. Acknowledging its
                # packet id now could acknowledge another message that reuses the id.
                if d.generation == self._generation:
                    self.client.ack(d.message.mid, 1)

    def stop_intake(self) -> None:
        """Messages that still arrive are left unacknowledged for the next run."""
        self._accepting = False

    def leave(self) -> None:
        """Unsubscribe from the group: the broker hands this session nothing new, and
        still sends what it holds. A connection not up now unsubscribes when it is."""
        self._leaving = True
        self.last_arrival = time.monotonic()
        if self.client.is_connected():
            self._unsubscribe(self.client)

    def close(self, timeout: float = 5.0, *, end_session: bool = False) -> None:
        """Disconnect; with ``end_session`` the broker ends the session (expiry 0) and
        queues nothing more for this client id."""
        self.stop_intake()
        # The last acknowledgements leave before the goodbye: a broker that sees the
        # connection go first keeps their messages for the next run.
        deadline = time.monotonic() + timeout
        while self.client.want_write() and time.monotonic() < deadline:
            time.sleep(0.01)
        props = None
        if end_session:
            props = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = 0
        self.client.disconnect(properties=props)
        self.disconnected.wait(timeout)
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: mqtt.ConnectFlags,
                    reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("broker %s:%d refused the connection: %s", self.host, self.port, reason)
            return
        with self._lock:
            self._generation += 1
        self.disconnected.clear()
        self.session_present = bool(flags.session_present)
        log.info("connected to %s:%d as %s (session %s)", self.host, self.port, self.client_id,
                 "resumed" if flags.session_present else "new")
        if self._leaving:
            self._unsubscribe(client)
            return
        options = SubscribeOptions(qos=1)
        client.subscribe([(topics.shared(self.group, f), options) for f in topics.SUBSCRIPTIONS])

    def _unsubscribe(self, client: mqtt.Client) -> None:
        client.unsubscribe([topics.shared(self.group, f) for f in topics.SUBSCRIPTIONS])

    def _on_unsubscribe(self, _c: Any, _u: Any, _mid: int, _reasons: list[Any],
                        _p: Any) -> None:
        # A filter this session no longer had ("no subscription existed") is left too.
        log.info("%s left group %s; storing what its session still holds", self.client_id,
                 self.group)
        self.last_arrival = time.monotonic()
        self.left.set()

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: list[Any], _p: Any) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            log.error("broker refused subscriptions: %s", failed)
            return
        log.info("subscribed to %d topic filters in group %s", len(reasons), self.group)
        self._subscribed()

    def _subscribed(self) -> None:
        self.subscribed.set()
        if self.on_subscribed is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.on_subscribed)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._lock:
            self._generation += 1
        self.disconnected.set()
        if self._accepting:
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.last_arrival = time.monotonic()
        if not self._accepting:
            self.late += 1
            return
        delivery = Delivery(Message(msg.topic, bytes(msg.payload), msg.mid, datetime.now(UTC)),
                            self._generation)
        self._arrived.append(delivery)
        if not self._wake_pending:
            self._wake_pending = True
            with contextlib.suppress(RuntimeError):  # the loop is closing: redelivered later
                self._loop.call_soon_threadsafe(self._hand_over)

    def _hand_over(self) -> None:
        """On the loop: move what paho's thread received into the queue, in order. The
        flag is cleared first, so a message appended after this drains wakes again."""
        self._wake_pending = False
        arrived, put = self._arrived, self._queue.put_nowait
        while arrived:
            put(arrived.popleft())


def client_id(settings: Settings) -> str:
    return (settings.ingest_client_id.replace("{hostname}", socket.gethostname())
            .replace("{n}", str(settings.ingest_instance)))


class Ingester:
    def __init__(self, settings: Settings, pipeline: Pipeline, live: live_state.Live,
                 queue: asyncio.Queue[Delivery], source: MqttSource, *,
                 may_leave: Callable[[], Awaitable[bool]] | None = None) -> None:
        """``may_leave``: asked on stop whether to leave the group (another member
        holds it) rather than keep the session for the next run."""
        self._batch_size = settings.ingest_batch_size
        self._batch_seconds = settings.ingest_batch_ms / 1000
        self._pipeline = pipeline
        self._live = live
        self._queue = queue
        self._source = source
        self._may_leave = may_leave
        # The live update of the batch before: it goes to Redis while the next batch
        # is stored, one at a time and in order (each waits for the one before).
        self._publishing: asyncio.Task[bool] | None = None

    async def run(self, stop: asyncio.Event) -> Stopped:
        """Ingest until ``stop``; then leave the group or keep the session."""
        try:
            await self._run(stop)
            leaving = False
            if self._may_leave is not None:
                try:
                    leaving = await self._may_leave()
                except Exception:
                    log.warning("could not tell whether another member holds the group;"
                                " keeping the session", exc_info=True)
            if leaving:
                return await self.drain(stop)
            await self._finish(stop)
            return Stopped.KEPT
        finally:
            await self._published()

    async def drain(self, stop: asyncio.Event) -> Stopped:
        """Leave the group and store everything the session holds: DRAINED once the
        broker has confirmed the UNSUBSCRIBE and then sent nothing for
        DRAIN_QUIET_SECONDS, everything received being stored and acknowledged."""
        source = self._source
        source.leave()
        deadline = time.monotonic() + LEAVE_TIMEOUT_SECONDS
        never = asyncio.Event()  # the intake goes on until the session is empty
        try:
            while True:
                batch = await self._next_batch(never, first_within=0.1)
                if batch:
                    if not await self._handle(batch, stop):
                        return Stopped.UNFINISHED
                    continue
                if not source.left.is_set():
                    if time.monotonic() > deadline:
                        log.error("the broker did not confirm leaving group %s within %.0fs;"
                                  " keeping the session", source.group, LEAVE_TIMEOUT_SECONDS)
                        return Stopped.UNFINISHED
                    continue
                if time.monotonic() - source.last_arrival >= DRAIN_QUIET_SECONDS:
                    break
            source.stop_intake()
            if source.late or not self._queue.empty():
                # Arrived after all: unacknowledged, so the session is kept for them.
                log.error("%d messages arrived as the session was being ended; keeping it",
                          source.late + self._queue.qsize())
                return Stopped.UNFINISHED
            return Stopped.DRAINED
        finally:
            await self._published()

    async def _run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await self._next_batch(stop)
            if batch:
                await self._handle(batch, stop)
            elif self._live.pending:
                await self._published()
                await self._live.publish()

    async def _finish(self, stop: asyncio.Event) -> None:
        self._source.stop_intake()
        # What was received before the stop is finished too: it is in flight to this
        # session, and would otherwise wait for this client id to come back.
        while not self._queue.empty():
            batch = [self._queue.get_nowait()
                     for _ in range(min(self._batch_size, self._queue.qsize()))]
            if not await self._handle(batch, stop):
                break

    async def _next_batch(self, stop: asyncio.Event,
                          first_within: float = 1.0) -> list[Delivery]:
        first = await _get(self._queue, stop, within=first_within)
        if first is None:
            return []
        batch = [first]
        deadline = asyncio.get_running_loop().time() + self._batch_seconds
        while len(batch) < self._batch_size:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            item = await _get(self._queue, stop, within=remaining) if remaining > 0 else None
            if item is None:
                break
            batch.append(item)
        return batch

    async def _handle(self, batch: list[Delivery], stop: asyncio.Event) -> bool:
        started = asyncio.get_running_loop().time()
        with TRACER.start_as_current_span(
                "ingest batch", attributes={"messaging.batch.message_count": len(batch)}):
            result = await self._process(batch, stop)
        if result is None:
            return False
        self._source.ack(batch)
        BATCH_SECONDS.observe(asyncio.get_running_loop().time() - started)
        await self._published()
        self._publishing = asyncio.create_task(
            self._live.publish(result.positions, result.events), name="live-publish")
        return True

    async def _published(self) -> None:
        """Wait for the live update under way, if any (it never raises)."""
        task, self._publishing = self._publishing, None
        if task is not None:
            await task

    async def _process(self, batch: list[Delivery], stop: asyncio.Event) -> BatchResult | None:
        messages = [d.message for d in batch]
        delay, gave_up_at = 0.2, None
        while True:
            try:
                return await self._pipeline.process(messages)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                DATABASE_RETRIES.inc()
                log.warning("database unavailable (%s); retrying %d messages in %.1fs",
                            exc, len(messages), delay)
            if stop.is_set():
                loop_time = asyncio.get_running_loop().time()
                gave_up_at = gave_up_at or loop_time + STOP_GRACE_SECONDS
                if loop_time >= gave_up_at:
                    log.error("stopping with %d messages unstored; the broker keeps them",
                              len(messages))
                    return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _get(queue: asyncio.Queue[Delivery], stop: asyncio.Event,
               within: float) -> Delivery | None:
    if not queue.empty():
        return queue.get_nowait()
    getter = asyncio.ensure_future(queue.get())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({getter, stopper}, timeout=within,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not getter.done():
            getter.cancel()
    if getter.done() and not getter.cancelled():
        return getter.result()
    return None


async def _maintain(db: Database, partitions: Partitions, keep_days: int) -> None:
    """Once an hour: partitions for the days ahead, and the retention period applied."""
    while True:
        try:
            await partitions.ensure_ahead(db)
            dropped = await drop_old_positions(db, keep_days)
            if dropped:
                log.info("dropped %d position partitions older than %d days", dropped, keep_days)
        except Exception:
            log.warning("position partition upkeep failed; trying again in an hour",
                        exc_info=True)
        await asyncio.sleep(MAINTENANCE_SECONDS)


async def _expire_fragments(db: Database) -> None:
    """AIS sentences whose message stayed incomplete become rejected messages: they are
    swept every ``ASSEMBLY_TTL`` by every ingester (each row is taken by one)."""
    while True:
        await asyncio.sleep(fragments.ASSEMBLY_TTL.total_seconds())
        try:
            count_incomplete(await fragments.expire(db, datetime.now(UTC)))
        except Exception:
            log.warning("sweeping incomplete AIS messages failed; trying again later",
                        exc_info=True)


async def _connect_database(url: str, stop: asyncio.Event) -> Database | None:
    delay = 0.5
    while not stop.is_set():
        try:
            return await Database.connect(url, min_size=1, max_size=4)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("database unavailable (%s); retrying in %.1fs", exc, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 5.0)
    return None


async def _heartbeat(db: Database, client: str) -> None:
    while True:
        await asyncio.sleep(members.HEARTBEAT_SECONDS)
        try:
            await members.heartbeat(db, client)
        except Exception as exc:
            log.warning("could not mark this ingester alive: %s", exc)


class CannotDrain(Exception):
    """A drain refused: the group's only session (ending it would leave no session
    subscribed), or one whose ingester is still running."""


async def run_ingester(
    settings: Settings, *, stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None, drain: str | None = None,
) -> Stopped:
    """Ingest until ``stop`` is set (or the task is cancelled). ``ready`` is set once the
    broker has confirmed the subscriptions: from then on no message is missed.

    With ``drain``, take over the session of that client id instead (an ingester that
    crashed or was removed): leave the group with it, store what it holds, end it.
    Raises CannotDrain for the group's only session, or one whose ingester runs."""
    if not settings.database_url:
        raise ValueError("the ingester needs DATABASE_URL")
    stop = stop or asyncio.Event()
    db = await _connect_database(settings.database_url, stop)
    if db is None:
        return Stopped.KEPT
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    source = MqttSource(settings, asyncio.get_running_loop(), queue, session=drain)
    group, client = settings.ingest_group, source.client_id
    try:
        if drain is not None:
            if await members.running(db, client):
                raise CannotDrain(
                    f"the ingester of {client} marked itself alive within the last "
                    f"{members.STALE_AFTER:.0f}s: stop it instead (it leaves the group and "
                    "stores what its session holds)")
            if not await members.may_leave(db, client, group):
                raise CannotDrain(
                    f"{client} holds the only session of group {group}: start another "
                    "ingester first, or start one with this client id")
        else:
            await members.join(db, client, group)
    except BaseException:
        await db.close()
        raise
    redis = live_state.connect(settings.redis_url) if settings.redis_url else None
    live = live_state.Live(redis)
    registry = Registry(db, refresh_seconds=settings.registry_refresh_s)
    latest = LatestFixes(live.latest_fixes, lambda ids: latest_positions(db, ids))
    partitions = Partitions(settings.position_retention_days)
    detector = Detector()
    changes = Changes(settings.database_url, registry, detector)
    pipeline = Pipeline(db, registry, detector, latest, partitions)
    if ready is not None:
        source.on_subscribed = ready.set
    background = [asyncio.create_task(changes.run(), name="registry-changes")]
    if drain is None:
        background += [asyncio.create_task(_maintain(db, partitions,
                                                     settings.position_retention_days)),
                       asyncio.create_task(_expire_fragments(db)),
                       asyncio.create_task(_heartbeat(db, client))]
    ingester = Ingester(settings, pipeline, live, queue, source,
                        may_leave=lambda: members.may_leave(db, client, group))
    stopped = Stopped.UNFINISHED
    try:
        source.start()
        stopped = await (ingester.drain(stop) if drain is not None else ingester.run(stop))
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await changes.close()
        await asyncio.to_thread(source.close, end_session=stopped is Stopped.DRAINED)
        try:
            if stopped is Stopped.DRAINED:
                await members.ended(db, client)
            else:
                await members.stayed(db, client)
        except Exception:
            log.warning("could not record how %s stopped", client, exc_info=True)
        if redis is not None:
            await redis.aclose()
        # A stop never hangs on the database: what was stored is committed, and a
        # connection not given back by then is cut.
        await db.close(within=CLOSE_SECONDS)
        if stopped is Stopped.DRAINED:
            log.info("ingester stopped: %s left group %s, everything its session held is "
                     "stored, and the session is ended", client, group)
        elif stopped is Stopped.KEPT:
            log.info("ingester stopped: what it took is stored; as the last member of group "
                     "%s it keeps its session %s, where the broker queues the rest", group,
                     client)
        else:
            log.warning("ingester stopped: what it took is stored, the rest stays queued at "
                        "the broker for session %s; drain it with `keylink ingest --drain "
                        "%s` or start an ingester with that client id", client, client)
    return stopped

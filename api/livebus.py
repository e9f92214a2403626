"""The live bus: one Redis pub/sub connection per API process, fanned out in process.

The ingester PUBLISHes every accepted fix and detected event on ``shipment:{id}``,
``org:{id}`` and ``vehicles`` (see ``tracking/live.py``). Two thousand subscriptions
must not mean two thousand Redis connections, so each process subscribes once per
channel that any of its subscribers wants, on one connection, and hands each message
to the local feeds of that channel. Redis sends a replica only the channels its own
subscribers want; nothing here is state another replica needs.

The reader runs while anyone listens. A message lost to a dropped connection, or
dropped because a slow subscriber's queue was full, is never silently skipped: the
feeds concerned get :data:`GAP` and re-read the state they show (the latest fix from
Redis, the events from the database) before going on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Final

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# How many messages a subscriber may fall behind before it gets a GAP instead.
QUEUE_SIZE = 256
# How long a new subscription waits for Redis to confirm its channels.
CONFIRM_SECONDS = 5.0
_READ_SECONDS = 1.0
_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


class Gap:
    """Messages may have been missed: re-read the current state."""

    def __repr__(self) -> str:
        return "GAP"


GAP: Final = Gap()

Message = dict[str, Any]


class Feed:
    """One subscriber's queue of messages from its channels."""

    def __init__(self, channels: tuple[str, ...]) -> None:
        self.channels = channels
        self._queue: asyncio.Queue[Message | Gap] = asyncio.Queue(QUEUE_SIZE)

    async def get(self, wait_s: float) -> Message | Gap | None:
        """The next message, GAP, or None when ``wait_s`` seconds pass without one."""
        if not self._queue.empty():  # the common case under load: no timer, no task
            return self._queue.get_nowait()
        try:
            async with asyncio.timeout(max(wait_s, 0.0)):  # no task of its own, unlike wait_for
                return await self._queue.get()
        except TimeoutError:
            return None

    def put(self, item: Message | Gap) -> None:
        if self._queue.full():
            # Too slow to keep up: drop what is queued; it will re-read the state.
            while not self._queue.empty():
                self._queue.get_nowait()
            item = GAP
        self._queue.put_nowait(item)


class LiveBus:
    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._feeds: dict[str, set[Feed]] = defaultdict(set)
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def channels(self) -> list[str]:
        """Channels this process is subscribed to (one Redis subscription each)."""
        return sorted(self._feeds)

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[Feed]:
        """A feed of the messages published on ``channels`` from now on, until exit."""
        feed = Feed(tuple(dict.fromkeys(channels)))
        await self._add(feed)
        try:
            yield feed
        finally:
            await self._remove(feed)

    async def close(self) -> None:
        async with self._lock:
            self._feeds.clear()
            await self._stop()

    async def _add(self, feed: Feed) -> None:
        async with self._lock:
            new = [c for c in feed.channels if not self._feeds.get(c)]
            for channel in feed.channels:
                self._feeds[channel].add(feed)
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub()
            waits = []
            for channel in new:
                self._confirmed[channel] = asyncio.Event()
                waits.append(self._confirmed[channel].wait())
            try:
                if new:
                    await self._pubsub.subscribe(*new)
            except _LOST as exc:
                # The reader reconnects and resubscribes; until then the feed waits.
                log.warning("live bus could not subscribe: %s", exc)
            if self._reader is None:
                self._reader = asyncio.create_task(self._read(), name="live-bus")
        # Only once Redis confirms is nothing published from here on missed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), CONFIRM_SECONDS)

    async def _remove(self, feed: Feed) -> None:
        async with self._lock:
            gone = []
            for channel in feed.channels:
                feeds = self._feeds.get(channel)
                if feeds is None:
                    continue
                feeds.discard(feed)
                if not feeds:
                    del self._feeds[channel]
                    self._confirmed.pop(channel, None)
                    gone.append(channel)
            if not self._feeds:
                await self._stop()
            elif gone and self._pubsub is not None:
                with contextlib.suppress(*_LOST):
                    await self._pubsub.unsubscribe(*gone)

    async def _stop(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*_LOST):
                await pubsub.aclose()

    async def _read(self) -> None:
        delay, lost = 0.5, False
        while True:
            try:
                if lost or self._pubsub.connection is None:
                    await self._resubscribe()
                msg = await self._pubsub.get_message(timeout=_READ_SECONDS)
            except _LOST as exc:
                if not lost:
                    log.warning("live bus lost Redis; reconnecting: %s", exc)
                    self._gap()
                lost = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if lost:
                # Back and resubscribed: whatever was published meanwhile is gone.
                log.info("live bus reconnected")
                lost, delay = False, 0.5
                self._gap()
            if msg is not None:
                self._dispatch(msg)

    async def _resubscribe(self) -> None:
        """Subscribe again to every channel wanted; reconnecting first resubscribes those
        redis-py already knew, this adds any whose subscription failed meanwhile."""
        async with self._lock:
            known = {c.decode() if isinstance(c, bytes) else c for c in self._pubsub.channels}
            missing = [c for c in self._feeds if c not in known]
            if missing:
                await self._pubsub.subscribe(*missing)
            else:
                await self._pubsub.ping()  # reconnects, and redis-py resubscribes

    def _dispatch(self, msg: dict[str, Any]) -> None:
        channel = msg.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode()
        if msg["type"] == "subscribe":
            event = self._confirmed.get(str(channel))
            if event is not None:
                event.set()
            return
        if msg["type"] != "message":
            return
        feeds = self._feeds.get(str(channel))
        if not feeds:
            return
        try:
            data = json.loads(msg["data"])
        except (TypeError, ValueError):
            log.warning("live bus dropped a message that is not JSON on %s", channel)
            return
        if not isinstance(data, dict):
            return
        data["channel"] = channel
        for feed in list(feeds):
            feed.put(data)

    def _gap(self) -> None:
        for feed in {f for feeds in self._feeds.values() for f in feeds}:
            feed.put(GAP)

"""The live bus: one Redis pub/sub connection per API process (per cluster node with
sharded pub/sub), fanned out in process.

The ingester publishes every accepted fix and detected event on ``shipment:{id}``,
``org:{id}`` and ``vehicles`` (see ``tracking/live.py``). Two thousand subscriptions
must not mean two thousand Redis connections, so each process subscribes once per
channel that any of its subscribers wants, on one connection, and hands each message
to the local feeds of that channel. Redis sends a replica only the channels its own
subscribers want; nothing here is state another replica needs.

On a Redis Cluster of Redis 7 or later the channels are sharded (SPUBLISH): each lives
on the node serving its slot, and the bus SSUBSCRIBEs to it there, one connection per
node it needs. When a node is lost, or a channel's slot moves (the node ends the
subscription), the bus learns the slot map again and moves the channels concerned to
their new node. On one server, or an older cluster (which broadcasts PUBLISH to every
node), one connection to any node carries every channel.

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
from collections.abc import AsyncIterator, Iterable
from typing import Any, Final

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from domain import redisclient

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


def _by_slot(channels: Iterable[str]) -> list[list[str]]:
    """Channels in groups of one cluster slot each: an SSUBSCRIBE may not cross slots."""
    groups: dict[int, list[str]] = defaultdict(list)
    for channel in channels:
        groups[key_slot(channel.encode())].append(channel)
    return list(groups.values())


class _NodePubSub(PubSub):
    """A cluster node's pub/sub connection, which resubscribes to its shard channels one
    slot at a time when it reconnects."""

    async def _resubscribe_shard_channels(self) -> None:
        held = {(c.decode() if isinstance(c, bytes) else str(c)): h
                for c, h in self.shard_channels.items()}
        for same_slot in _by_slot(held):
            await self._resubscribe({c: held[c] for c in same_slot}, self.ssubscribe)


class _Link:
    """One pub/sub connection and the channels it carries: to the one Redis server (or
    any node of a cluster that broadcasts PUBLISH), every channel; to one node of a
    cluster with sharded pub/sub, the channels of that node's slots (SSUBSCRIBE)."""

    def __init__(self, name: str, pubsub: Any, *, sharded: bool, owner: Any = None) -> None:
        self.name = name
        self.pubsub = pubsub
        self.sharded = sharded
        self.owner = owner  # the node's own client, closed with the link
        self.channels: set[str] = set()
        self.reader: asyncio.Task[None] | None = None

    async def subscribe(self, channels: list[str]) -> None:
        if self.sharded:
            for same_slot in _by_slot(channels):
                await self.pubsub.ssubscribe(*same_slot)
        else:
            await self.pubsub.subscribe(*channels)

    async def unsubscribe(self, channels: list[str]) -> None:
        if self.sharded:
            await self.pubsub.sunsubscribe(*channels)
        else:
            await self.pubsub.unsubscribe(*channels)

    def known(self) -> set[str]:
        """The channels redis-py resubscribes to when it reconnects."""
        held = self.pubsub.shard_channels if self.sharded else self.pubsub.channels
        return {c.decode() if isinstance(c, bytes) else str(c) for c in held}

    def forget(self, channel: str) -> None:
        """Stop resubscribing to ``channel`` here (it moved to another node)."""
        held = self.pubsub.shard_channels if self.sharded else self.pubsub.channels
        held.pop(channel, None)
        held.pop(channel.encode(), None)

    async def close(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        with contextlib.suppress(*_LOST):
            await self.pubsub.aclose()
        if self.owner is not None:
            with contextlib.suppress(*_LOST):
                await self.owner.disconnect()


class LiveBus:
    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._feeds: dict[str, set[Feed]] = defaultdict(set)
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()
        self._links: dict[str, _Link] = {}
        self._route: dict[str, str] = {}  # channel -> the name of the link carrying it
        self._sharded: bool | None = None

    @property
    def channels(self) -> list[str]:
        """Channels this process is subscribed to (one Redis subscription each)."""
        return sorted(self._feeds)

    @property
    def sharded(self) -> bool:
        """Whether channels are subscribed with SSUBSCRIBE on their nodes (a cluster of
        Redis 7 or later); known once the first subscription is made."""
        return bool(self._sharded)

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
            if self._sharded is None:
                self._sharded = await redisclient.sharded_pubsub(self._redis)
            waits = []
            for channel in new:
                self._confirmed[channel] = asyncio.Event()
                waits.append(self._confirmed[channel].wait())
            await self._attach(new)
        # Only once Redis confirms is nothing published from here on missed.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), CONFIRM_SECONDS)

    async def _attach(self, channels: list[str]) -> None:
        """Subscribe to ``channels`` on the links that carry them (under the lock)."""
        by_link: dict[str, list[str]] = defaultdict(list)
        for channel in channels:
            link = self._link_for(channel)
            link.channels.add(channel)
            self._route[channel] = link.name
            by_link[link.name].append(channel)
        for name, wanted in by_link.items():
            try:
                await self._links[name].subscribe(wanted)
            except _LOST as exc:
                # The reader reconnects and resubscribes; until then the feed waits.
                log.warning("live bus could not subscribe: %s", exc)

    def _link_for(self, channel: str) -> _Link:
        name = ""
        if self._sharded:
            node = self._redis.get_node_from_key(channel)
            name = node.name
        link = self._links.get(name)
        if link is None:
            if self._sharded:
                # A pool of the node's own: one connection to it carries its channels.
                pool = aioredis.ConnectionPool(connection_class=node.connection_class,
                                               **node.connection_kwargs)
                link = _Link(name, _NodePubSub(pool), sharded=True, owner=pool)
            else:
                link = _Link(name, self._redis.pubsub(), sharded=False)
            self._links[name] = link
            link.reader = asyncio.create_task(self._read(link), name=f"live-bus {name}")
        return link

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
                return
            by_link: dict[str, list[str]] = defaultdict(list)
            for channel in gone:
                name = self._route.pop(channel, None)
                if name is not None and name in self._links:
                    self._links[name].channels.discard(channel)
                    by_link[name].append(channel)
            for name, channels in by_link.items():
                link = self._links[name]
                if not link.channels:
                    del self._links[name]
                    await link.close()
                    continue
                with contextlib.suppress(*_LOST):
                    await link.unsubscribe(channels)

    async def _stop(self) -> None:
        links, self._links = list(self._links.values()), {}
        self._route.clear()
        for link in links:
            await link.close()

    async def _read(self, link: _Link) -> None:
        delay, lost = 0.5, False
        while True:
            try:
                if lost or link.pubsub.connection is None:
                    if lost and link.sharded and await self._reroute(link):
                        return  # every channel it carried is on other nodes now
                    await self._resubscribe(link)
                msg = await link.pubsub.get_message(timeout=_READ_SECONDS)
                if msg is not None:
                    self._dispatch(link, msg)
            except _LOST as exc:
                if not lost:
                    log.warning("live bus lost Redis; reconnecting: %s", exc)
                    self._gap(link.channels)
                lost = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if lost:
                # Back and resubscribed: whatever was published meanwhile is gone.
                log.info("live bus reconnected")
                lost, delay = False, 0.5
                self._gap(link.channels)

    async def _resubscribe(self, link: _Link) -> None:
        """Subscribe again to every channel wanted; reconnecting first resubscribes those
        redis-py already knew, this adds any whose subscription failed meanwhile."""
        async with self._lock:
            missing = [c for c in link.channels if c not in link.known()]
            if missing:
                await link.subscribe(missing)
            else:
                await link.pubsub.ping()  # reconnects, and redis-py resubscribes

    async def _reroute(self, link: _Link) -> bool:
        """A cluster node was lost: learn the slot map again and move the channels whose
        slots another node serves now (a failover, a resharding) to that node's link.
        True when the link carries nothing any more (and is closed)."""
        async with self._lock:
            with contextlib.suppress(*_LOST, RedisError):
                await self._redis.nodes_manager.initialize()
            moved = [c for c in link.channels
                     if self._redis.get_node_from_key(c).name != link.name]
            for channel in moved:
                link.channels.discard(channel)
                link.forget(channel)
            if moved:
                log.info("live bus moves %d channels off %s", len(moved), link.name)
                await self._attach(moved)
                self._gap(moved)
            if link.channels or self._links.get(link.name) is not link:
                return False
            del self._links[link.name]
            await link.close()
            return True

    def _dispatch(self, link: _Link, msg: dict[str, Any]) -> None:
        channel = msg.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode()
        kind = msg["type"]
        if kind in ("subscribe", "ssubscribe"):
            event = self._confirmed.get(str(channel))
            if event is not None:
                event.set()
            return
        if kind == "sunsubscribe" and str(channel) in link.channels:
            # Not asked for: the channel's slot moved to another node. Lose the
            # connection on purpose, so that the reader reroutes and reports the gap.
            raise RedisConnectionError(f"{channel} moved off {link.name}")
        if kind not in ("message", "smessage"):
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

    def _gap(self, channels: Iterable[str]) -> None:
        for feed in {f for c in channels for f in self._feeds.get(c, ())}:
            feed.put(GAP)

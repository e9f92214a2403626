"""Live state in Redis: where every vehicle is now, and a feed of what just happened.

Written by the ingester after a batch is committed and acknowledged; read by the
GraphQL subscriptions of any API replica. The same layout serves one Redis server and a
Redis Cluster (``REDIS_URL`` of ``redis+cluster://``, see ``domain/redisclient.py``):
no command crosses slots.

Keys (``domain/shipments/positions.py``)
  Vehicles fall into 128 groups by id (``id % 128``); a group's keys share the hash tag
  ``{g<n>}``, so they sit on one cluster node, and the groups spread over every node.
  ``vehicles:{g<n>}:latest``  hash; field ``{id}`` is vehicle id's newest position message
                           (JSON, below), field ``{id}:ms`` its fix time in epoch
                           milliseconds. Only a newer fix replaces it: a late, out-of-order
                           fix is stored and published but never moves the marker back.
  ``vehicles:{g<n>}:geo``     GEO set of the group's vehicles' newest positions, member =
                           vehicle id. A search over every vehicle asks the 128 sets
                           (one GEO set of all would be one hot key on one node).
  A batch updates each group it touches with one script call (the marker and the GEO
  set together, atomically); the calls of a batch go in one pipeline, on a cluster one
  round trip per node.

Channels (JSON text)
  ``vehicles``             every accepted position and every detected event (staff view)
  ``shipment:{id}``        positions of the vehicle carrying the shipment, and its events
                           of the kinds customers are told of (``CUSTOMER_KINDS``)
  ``org:{id}``             the same for each customer organization the shipment carries
                           coils for (``shipment_customer``)
  On one server, and on a cluster older than Redis 7, a batch's messages go out by
  PUBLISH from one script call per thousand messages (a cluster broadcasts them to every
  node; every writer publishes on the node of ``vehicles:{publish}``, so that messages
  arrive in the order they were published, as on one server). On a cluster of Redis 7
  or later they go by SPUBLISH (sharded pub/sub): each channel lives on the node of its
  slot and only that node carries its traffic; the API's live bus subscribes with
  SSUBSCRIBE on that node (``api/livebus.py``).

Position message::

    {"type": "position", "vehicle_id": 7, "device_id": 3, "shipment_ids": [12],
     "fix_time": "2026-11-25T08:00:00+00:00", "lat": 31.4, "lon": 121.5,
     "speed_kmh": 62.5, "heading": 270.0, "accuracy_m": 8.0, "source": "native",
     "out_of_order": false, "latest": true}

``latest`` is false when a newer fix of the vehicle was already live (the message is
history, not the vehicle's position now). Two ingesters sharing a vehicle's messages
publish its fixes in the order their batches commit, not in fix-time order: the
subscriptions put them back in order (``resolvers/shipments/ordering.py``). Event
message::

    {"type": "event", "kind": "arrived", "shipment_id": 12, "leg_id": 31,
     "vehicle_id": 7, "occurred_at": "2026-11-25T09:10:00+00:00", "details": {...}}

Redis being away never holds up storage: a failed update is counted in
``keylink_live_errors_total`` and kept (the newest position per vehicle, and the
events) to be sent when Redis answers again; until then no attempt is made more often
than every ``retry_seconds``. Positions older than a vehicle's newest are not replayed:
they are history, in the database; a subscriber that reconnects reads the latest first.
"""

from __future__ import annotations

import collections
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from prometheus_client import Counter
from redis.exceptions import NoScriptError

from domain import redisclient
from domain.redisclient import Client
from domain.shipments.detected import CUSTOMER_KINDS
from domain.shipments.positions import float4, geo_key, latest_key, live_group
from domain.shipments.positions import read_live_messages as _read_live_messages
from tracking.model import Fix, Source

log = logging.getLogger("keylink.tracking.live")

LIVE_ERRORS = Counter(
    "keylink_live_errors_total", "Live-state updates to Redis that failed (retried later).",
    registry=None,
)

ALL_CHANNEL = "vehicles"
# Redis GEO accepts latitudes within the Web Mercator square only.
_GEO_MAX_LAT = 85.05112878

# Replaces each vehicle's stored position only when the new fix is newer, so that two
# ingesters (or a late fix) cannot move a vehicle back, and puts the vehicles moved into
# the GEO set. KEYS: one group's hash and GEO set (one slot). ARGV[1] is lines in pairs:
# the vehicle id, the fix time in ms, the longitude and latitude (``-`` for a latitude
# GEO cannot hold), separated by spaces, then the position message.
# Returns 1 for each vehicle moved, 0 for each kept, in order.
_SET_IF_NEWER = """
local moved, head = {}, nil
for line in string.gmatch(ARGV[1], '[^\\n]+') do
  if head == nil then
    head = line
  else
    local id, ms, lon, lat = string.match(head, '^(%S+) (%S+) (%S+) (%S+)$')
    local cur = redis.call('HGET', KEYS[1], id .. ':ms')
    if cur and tonumber(cur) >= tonumber(ms) then
      moved[#moved + 1] = 0
    else
      redis.call('HSET', KEYS[1], id .. ':ms', ms, id, line)
      if lat ~= '-' then
        redis.call('GEOADD', KEYS[2], lon, lat, id)
      end
      moved[#moved + 1] = 1
    end
    head = nil
  end
end
return moved
"""

# Every message of a batch in one call and one argument: a reply a batch rather than one a
# message, and one argument for the client to encode (both cost the client more than
# Redis spends publishing). ARGV[1] is lines in pairs: the channels, separated by spaces,
# then the message (JSON holds no raw newline). It touches no key; on a cluster it names
# PUBLISH_ROUTE so that every call runs on one node (below).
_PUBLISH_ALL = """
local n, channels = 0, nil
for line in string.gmatch(ARGV[1], '[^\\n]+') do
  if channels == nil then
    channels = line
  else
    for channel in string.gmatch(channels, '%S+') do
      redis.call('PUBLISH', channel, line)
      n = n + 1
    end
    channels = nil
  end
end
return n
"""
# On a cluster without sharded pub/sub, PUBLISH on any node reaches every node, but a
# message published on the subscriber's own node arrives before one published earlier on
# another: every writer publishes on the node of this key, so that messages keep the
# order they were published in, as on one server.
PUBLISH_ROUTE = "vehicles:{publish}"
# Messages a call publishes at most: keeps each script short, since Redis runs one at a time.
_PUBLISH_CHUNK = 1000


def shipment_channel(shipment_id: int) -> str:
    return f"shipment:{shipment_id}"


def org_channel(org_id: int) -> str:
    return f"org:{org_id}"


@dataclass(frozen=True, slots=True)
class LivePosition:
    vehicle_id: int
    device_id: int
    fix: Fix
    out_of_order: bool
    shipment_ids: tuple[int, ...] = ()
    org_ids: tuple[int, ...] = ()

    def message(self, *, latest: bool) -> dict[str, Any]:
        f = self.fix
        return {
            "type": "position", "vehicle_id": self.vehicle_id, "device_id": self.device_id,
            "shipment_ids": list(self.shipment_ids), "fix_time": f.fix_time.isoformat(),
            "lat": f.latitude, "lon": f.longitude, "speed_kmh": float4(f.speed_kmh),
            "heading": float4(f.heading), "accuracy_m": float4(f.accuracy_m),
            "source": f.source.value,
            "out_of_order": self.out_of_order, "latest": latest,
        }

    def channels(self) -> list[str]:
        return [ALL_CHANNEL, *map(shipment_channel, self.shipment_ids),
                *map(org_channel, self.org_ids)]


@dataclass(frozen=True, slots=True)
class LiveEvent:
    kind: str
    shipment_id: int | None
    leg_id: int | None
    vehicle_id: int | None
    occurred_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    org_ids: tuple[int, ...] = ()

    def message(self) -> dict[str, Any]:
        return {
            "type": "event", "kind": self.kind, "shipment_id": self.shipment_id,
            "leg_id": self.leg_id, "vehicle_id": self.vehicle_id,
            "occurred_at": self.occurred_at.isoformat(), "details": self.details,
        }

    def channels(self) -> list[str]:
        # Fence crossings and scan anomalies are the mill's: an anomaly may name another
        # customer's coil. Only the kinds customers are told of reach their channels.
        if self.kind not in CUSTOMER_KINDS:
            return [ALL_CHANNEL]
        shipment = [] if self.shipment_id is None else [shipment_channel(self.shipment_id)]
        return [ALL_CHANNEL, *shipment, *map(org_channel, self.org_ids)]


def connect(url: str) -> Client:
    """A client that fails fast: a live update must never stall the ingester for long.
    One server or a cluster, as ``url`` says (``domain/redisclient.py``)."""
    return redisclient.connect(url, fail_fast=True)


class Live:
    def __init__(
        self, client: Client | None, *, retry_seconds: float = 2.0,
        max_pending_events: int = 10_000,
    ) -> None:
        self._redis = client
        self._cluster = redisclient.is_cluster(client)
        self._scripts_loaded = False
        self._script = None if client is None else client.register_script(_SET_IF_NEWER)
        self._publish_all = None if client is None else client.register_script(_PUBLISH_ALL)
        self._retry_seconds = retry_seconds
        self._not_before = 0.0
        # What failed to reach Redis: the newest position per vehicle, and the events.
        self._positions: dict[int, LivePosition] = {}
        self._events: collections.deque[LiveEvent] = collections.deque(maxlen=max_pending_events)

    @property
    def pending(self) -> bool:
        return bool(self._positions or self._events)

    async def publish(
        self, positions: Iterable[LivePosition] = (), events: Iterable[LiveEvent] = ()
    ) -> bool:
        """Update the live state; never raises. False when Redis did not take it (kept
        for a later call)."""
        if self._redis is None:
            return True
        fresh = list(positions)
        backlog = list(self._positions.values())
        queued = [*self._events, *events]
        self._positions.clear()
        self._events.clear()
        try:
            if time.monotonic() < self._not_before:
                raise _Deferred
            await self._send([*backlog, *fresh], queued)
            return True
        except Exception as exc:
            if not isinstance(exc, _Deferred):
                LIVE_ERRORS.inc()
                self._not_before = time.monotonic() + self._retry_seconds
                log.warning("live state update failed; retrying in %.0fs: %s",
                            self._retry_seconds, exc)
            for p in [*backlog, *fresh]:
                self._keep(p)
            self._events.extend(queued)
            return False

    async def latest_fixes(self, vehicle_ids: Iterable[int]) -> dict[int, Fix]:
        """The live position of each vehicle Redis knows; empty when it is away."""
        ids = list(vehicle_ids)
        if self._redis is None or not ids or time.monotonic() < self._not_before:
            return {}
        try:
            values = await _read_live_messages(self._redis, ids)
        except Exception as exc:
            LIVE_ERRORS.inc()
            self._not_before = time.monotonic() + self._retry_seconds
            log.warning("reading live positions failed: %s", exc)
            return {}
        return {vid: _fix(json.loads(v)) for vid, v in zip(ids, values, strict=True) if v}

    async def _send(self, positions: list[LivePosition], events: list[LiveEvent]) -> None:
        assert self._redis is not None
        newest: dict[int, LivePosition] = {}
        for p in positions:
            if p.vehicle_id not in newest or p.fix.fix_time > newest[p.vehicle_id].fix.fix_time:
                newest[p.vehicle_id] = p
        live = await self._set_latest(list(newest.values())) if newest else {}
        messages = [(p.channels(), json.dumps(p.message(latest=live.get(p.vehicle_id) is p)))
                    for p in positions]
        messages += [(e.channels(), json.dumps(e.message(), default=str)) for e in events]
        if messages:
            await self._publish(messages)

    async def _set_latest(self, newest: list[LivePosition]) -> dict[int, LivePosition]:
        """Each vehicle's marker and GEO entry moved where the fix is newer: one script
        call per group, in one pipeline. The vehicles moved, by id."""
        assert self._redis is not None and self._script is not None
        groups: dict[int, list[LivePosition]] = collections.defaultdict(list)
        for p in newest:
            groups[live_group(p.vehicle_id)].append(p)
        args = {g: "\n".join(_pair(_head(p), json.dumps(p.message(latest=True))) for p in ps)
                for g, ps in groups.items()}
        for attempt in (1, 2):
            # On a cluster the pipeline cannot load a script: it is loaded on every
            # primary first, and again if a node restarted without it (the calls only
            # move markers forward, so doing them twice changes nothing).
            await self._load_scripts(again=attempt > 1)
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for g, text in args.items():
                        await self._script(
                            keys=[latest_key(g), geo_key(g)], args=[text], client=cast(Any, pipe))
                    replies = await pipe.execute()
                break
            except NoScriptError:
                if attempt > 1:
                    raise
        return {p.vehicle_id: p for ps, moved in zip(groups.values(), replies, strict=True)
                for p, ok in zip(ps, moved, strict=True) if ok}

    async def _publish(self, messages: list[tuple[list[str], str]]) -> None:
        assert self._redis is not None and self._publish_all is not None
        if await redisclient.sharded_pubsub(self._redis):
            # Each SPUBLISH goes to the node of its channel's slot; redis-py sends each
            # node its share in one round trip.
            async with self._redis.pipeline(transaction=False) as pipe:
                for channels, text in messages:
                    for channel in channels:
                        pipe.spublish(channel, text)
                await pipe.execute()
            return
        chunks = ["\n".join(_pair(c, t) for c, t in messages[i:i + _PUBLISH_CHUNK])
                  for i in range(0, len(messages), _PUBLISH_CHUNK)]
        if self._cluster:
            # One node for every call (PUBLISH_ROUTE), which the cluster broadcasts.
            for chunk in chunks:
                await self._publish_all(keys=[PUBLISH_ROUTE], args=[chunk])
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for chunk in chunks:
                await self._publish_all(args=[chunk], client=cast(Any, pipe))
            await pipe.execute()

    async def _load_scripts(self, *, again: bool = False) -> None:
        assert self._redis is not None
        if self._cluster and (again or not self._scripts_loaded):
            for script in (_SET_IF_NEWER, _PUBLISH_ALL):
                await self._redis.script_load(script)  # on every primary
            self._scripts_loaded = True

    def _keep(self, p: LivePosition) -> None:
        kept = self._positions.get(p.vehicle_id)
        if kept is None or p.fix.fix_time > kept.fix.fix_time:
            self._positions[p.vehicle_id] = p


class _Deferred(Exception):
    """Redis failed a moment ago; do not wait on it again yet."""


def _pair(head: list[str], text: str) -> str:
    """One entry of the scripts' argument: words on a line (a vehicle, its fix time and
    place, or a message's channels), a newline, then the JSON text, which holds no raw
    newline."""
    return f"{' '.join(head)}\n{text}"


def _head(p: LivePosition) -> list[str]:
    f = p.fix
    where = [repr(f.longitude), repr(f.latitude)] if abs(f.latitude) <= _GEO_MAX_LAT \
        else ["-", "-"]
    return [str(p.vehicle_id), str(_ms(f.fix_time)), *where]


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _fix(m: dict[str, Any]) -> Fix:
    return Fix(
        device="", fix_time=datetime.fromisoformat(m["fix_time"]).astimezone(UTC),
        latitude=m["lat"], longitude=m["lon"], speed_kmh=m.get("speed_kmh"),
        heading=m.get("heading"), accuracy_m=m.get("accuracy_m"),
        source=Source(m.get("source", "native")),
    )

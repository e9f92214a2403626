"""Live shipments: positions and events as they happen, over graphql-transport-ws.

Each subscription first sends the last known state (the latest fix, from Redis or the
database; the latest events, from the database), then every change the ingester
publishes on the live bus (:mod:`api.livebus`). When the bus reports a gap (Redis
was lost, or this subscriber fell behind) the state is read again and whatever is
newer than what was sent goes out, so nothing is skipped silently. Without Redis the
state is read again every few seconds instead. Refusals are errors with
``extensions.code``: ``UNAUTHENTICATED`` (no or bad token), ``NOT_FOUND`` (no such
shipment or contract, or not the viewer's: the two look alike), ``FORBIDDEN`` (the
viewer's role may not watch the fleet). A subscription ends when its token expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from domain.shipments import positions as position_reads
from domain.shipments import reads as shipment_reads
from resolvers.common import ctx, loaders, viewer
from resolvers.contracts.loaders import ContractByIdLoader
from resolvers.loaders import Loader
from resolvers.relay import BadInput, exactly_one, expect_id, to_global_id
from resolvers.shipments.loaders import (
    EventPageByShipmentLoader,
    FixByShipmentLoader,
    FixByVehicleLoader,
    LegByIdLoader,
    LegsByShipmentLoader,
    ShipmentByIdLoader,
)
from resolvers.shipments.ordering import Release, Reorder
from resolvers.shipments.types import ShipmentEvent
from resolvers.shipments.vehicles import Position, PositionUpdate

if TYPE_CHECKING:
    from api.context import Viewer

# The reordering window when the API's settings are not at hand (KEYLINK_LIVE_REORDER_MS).
DEFAULT_REORDER_MS = 250
# Without Redis, how often a subscriber's state is read again.
POLL_SECONDS = 5.0
# How often a quiet subscription checks that its token still holds.
_CHECK_SECONDS = 15.0
# Events a new subscriber gets first, and a re-read looks back over.
RECENT_EVENTS = 20
_REREAD_MARGIN = dt.timedelta(minutes=10)


class NotFound(BadInput):
    """No such object, or not the viewer's. (A BadInput: an expected, client-side refusal
    that the error layer reports under its own code.)"""

    code = "NOT_FOUND"


class Forbidden(BadInput):
    code = "FORBIDDEN"


class Quiet:
    """Nothing came within the wait asked for."""


QUIET = Quiet()
Received = dict[str, Any] | Quiet | None
Next = Callable[[float | None], Awaitable[Received]]


@contextlib.asynccontextmanager
async def _listen(info: Info[Any, Any], who: Viewer, *channels: str) -> AsyncIterator[Next]:
    """A function returning the next message of ``channels``, or None when the state
    must be read again. It raises once the token has expired."""
    bus = ctx(info).services.live

    def left() -> float:
        return max(who.expires_at - time.time(), 0.0) + 0.05

    if bus is None:
        async def poll(wait_s: float | None = None) -> Received:
            await asyncio.sleep(min(POLL_SECONDS, left()))
            who.check_unexpired()
            return None

        yield poll
        return
    async with bus.subscribe(*channels) as feed:
        async def receive(wait_s: float | None = None) -> Received:
            """The next message, None (read the state again), or QUIET once ``wait_s``
            seconds pass without one."""
            deadline = None if wait_s is None else time.monotonic() + wait_s
            while True:
                who.check_unexpired()
                wait = min(_CHECK_SECONDS, left())
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                item = await feed.get(wait)
                if item is not None:
                    return item if isinstance(item, dict) else None
                if deadline is not None and time.monotonic() >= deadline:
                    return QUIET

        yield receive


def _fresh(info: Info[Any, Any]) -> None:
    """A subscription's loaders live as long as its connection: forget what may have
    changed since the last message (leg states, ETAs, positions)."""
    found = loaders(info)
    kinds: tuple[type[Loader[Any, Any]], ...] = (
        ShipmentByIdLoader, LegsByShipmentLoader, LegByIdLoader, FixByVehicleLoader,
        FixByShipmentLoader, EventPageByShipmentLoader)
    for kind in kinds:
        found.get(kind).clear_all()


def _update(release: Release) -> PositionUpdate:
    return PositionUpdate(
        position=Position.of(release.fix), vehicle_pk=release.fix.vehicle_id,
        shipment_ids=[to_global_id("Shipment", int(s)) for s in release.shipment_ids],
        late=release.late)


def _reorder(info: Info[Any, Any]) -> Reorder:
    settings = getattr(ctx(info).services, "settings", None)
    window_ms = settings.live_reorder_ms if settings is not None else DEFAULT_REORDER_MS
    return Reorder(window_ms / 1000)


def _event(msg: dict[str, Any]) -> shipment_reads.ShipmentEvent | None:
    try:
        return shipment_reads.ShipmentEvent(
            id=0, shipment_id=int(msg["shipment_id"]),
            leg_id=int(msg["leg_id"]) if msg.get("leg_id") is not None else None,
            vehicle_id=int(msg["vehicle_id"]) if msg.get("vehicle_id") is not None else None,
            kind=str(msg["kind"]),
            occurred_at=dt.datetime.fromisoformat(str(msg["occurred_at"]).replace("Z", "+00:00")),
            details=msg.get("details") or {},
        )
    except (KeyError, TypeError, ValueError):
        return None


class _Seen:
    """Events already sent, by what identifies them on both paths (bus and database)."""

    def __init__(self, size: int = 1000) -> None:
        self._order: deque[tuple[Any, ...]] = deque()
        self._keys: set[tuple[Any, ...]] = set()
        self._size = size
        self.latest: dt.datetime | None = None

    def first_time(self, e: shipment_reads.ShipmentEvent) -> bool:
        key = (e.shipment_id, e.leg_id, e.kind, e.occurred_at)
        if key in self._keys:
            return False
        self._keys.add(key)
        self._order.append(key)
        if len(self._order) > self._size:
            self._keys.discard(self._order.popleft())
        self.latest = max(self.latest or e.occurred_at, e.occurred_at)
        return True


@strawberry.type
class ShipmentSubscriptions:
    @strawberry.subscription(description="Positions of a shipment as its vehicle reports them: "
                             "first the latest known, then each fix stored since, once, in "
                             "fix-time order (a fix that comes after a newer one was sent "
                             "is flagged `late`).")
    async def shipment_positions(
        self, info: Info[Any, Any],
        shipment_id: Annotated[strawberry.ID, strawberry.argument(
            description="Global id of the shipment.")],
    ) -> AsyncGenerator[PositionUpdate, None]:
        who = await viewer(info)
        pk = expect_id(shipment_id, "Shipment")
        if await loaders(info).get(ShipmentByIdLoader).load(pk) is None:
            raise NotFound(f"no shipment {shipment_id}")
        db, redis = ctx(info).db, ctx(info).services.redis
        order = _reorder(info)
        async with _listen(info, who, f"shipment:{pk}") as receive:
            msg: Received = None
            while True:
                out: list[Release] = []
                if msg is None:
                    fix = (await position_reads.shipment_fixes(db, redis, who.scope, [pk])).get(pk)
                    ids: list[Any] = [pk]
                    if fix is not None and not who.is_customer:
                        aboard = await position_reads.carried_shipments(
                            db, who.scope, [fix.vehicle_id])
                        ids = aboard.get(fix.vehicle_id) or ids
                    if fix is not None:
                        out = order.offer(fix, ids, state=True)
                elif isinstance(msg, dict):
                    fix = position_reads.parse_live_fix(msg)
                    ids = [pk] if who.is_customer else list(msg.get("shipment_ids") or [pk])
                    if fix is not None:
                        out = order.offer(fix, ids)
                for release in [*out, *order.due()]:
                    _fresh(info)
                    yield _update(release)
                msg = await _next_of(receive, "position", order.wait())

    @strawberry.subscription(description="Events of one shipment, or of every shipment of a "
                             "contract: first the latest few, then each new one as detected.")
    async def shipment_events(
        self, info: Info[Any, Any],
        shipment_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="Global id of the shipment.")] = None,
        contract_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="Global id of a contract: events of the shipments carrying its coils."
        )] = None,
    ) -> AsyncGenerator[ShipmentEvent, None]:
        who = await viewer(info)
        exactly_one(shipment_id, contract_id, "contractId")
        found = loaders(info)
        db = ctx(info).db
        contract_pk: int | None = None
        if shipment_id is not None:
            pk = expect_id(shipment_id, "Shipment")
            if await found.get(ShipmentByIdLoader).load(pk) is None:
                raise NotFound(f"no shipment {shipment_id}")
            ids, channel = {pk}, f"shipment:{pk}"
        else:
            assert contract_id is not None
            contract_pk = expect_id(contract_id, "Contract")
            contract = await found.get(ContractByIdLoader).load(contract_pk)
            if contract is None:
                raise NotFound(f"no contract {contract_id}")
            ids = await shipment_reads.shipment_ids_of_contract(db, who.scope, contract_pk)
            channel = f"org:{contract.customer_org_id}"
        seen = _Seen()
        async with _listen(info, who, channel) as receive:
            msg: Received = None
            while True:
                batch: list[shipment_reads.ShipmentEvent] = []
                if msg is None:
                    since = seen.latest - _REREAD_MARGIN if seen.latest else None
                    batch = await shipment_reads.recent_events(
                        db, who.scope, list(ids), RECENT_EVENTS, since)
                elif isinstance(msg, dict):
                    event = _event(msg)
                    if event is not None and event.shipment_id not in ids \
                            and contract_pk is not None:
                        # A shipment planned since the subscription began may carry it.
                        ids = await shipment_reads.shipment_ids_of_contract(
                            db, who.scope, contract_pk)
                    batch = [event] if event is not None and event.shipment_id in ids else []
                for e in batch:
                    if seen.first_time(e):
                        _fresh(info)
                        yield ShipmentEvent.of(e)
                msg = await _next_of(receive, "event", None)

    @strawberry.subscription(description="Every vehicle's fixes as they arrive, for the "
                             "mill's logistics staff (roles logistics or admin): first each "
                             "vehicle's latest known fix, then each fix stored since, once, in "
                             "fix-time order per vehicle (a fix that comes after a newer one "
                             "of its vehicle was sent is flagged `late`).")
    async def vehicle_positions(self, info: Info[Any, Any]) -> AsyncGenerator[PositionUpdate, None]:
        who = await viewer(info)
        if not position_reads.PERMISSIONS.allows(await ctx(info).actor(), "watch_fleet"):
            raise Forbidden("watching the fleet needs the role logistics or admin")
        db, redis = ctx(info).db, ctx(info).services.redis
        order = _reorder(info)
        async with _listen(info, who, "vehicles") as receive:
            msg: Received = None
            while True:
                out: list[Release] = []
                if msg is None:
                    vehicles = await position_reads.vehicle_ids_with_fixes(db)
                    fixes = await position_reads.latest_fixes(db, redis, who.scope, vehicles)
                    aboard = await position_reads.carried_shipments(db, who.scope, list(fixes))
                    for v, f in sorted(fixes.items()):
                        out += order.offer(f, aboard.get(v, []), state=True)
                elif isinstance(msg, dict):
                    fix = position_reads.parse_live_fix(msg)
                    if fix is not None:
                        out = order.offer(fix, list(msg.get("shipment_ids") or []))
                for release in [*out, *order.due()]:
                    _fresh(info)
                    yield _update(release)
                msg = await _next_of(receive, "position", order.wait())


async def _next_of(receive: Next, kind: str, wait_s: float | None) -> Received:
    """The next message of this kind; None: read the state again; QUIET: ``wait_s``
    seconds passed without one (a held fix is due)."""
    deadline = None if wait_s is None else time.monotonic() + wait_s
    while True:
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        msg = await receive(left)
        if not isinstance(msg, dict) or msg.get("type") == kind:
            return msg

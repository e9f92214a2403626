"""The legs a batch is working on, kept current as detection moves them along."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime

from domain.db import Executor
from domain.shipments import legs as shipment_legs
from domain.shipments.legs import ActiveLeg
from tracking.detect.model import DetectedEvent, key

# The states worth telling anyone about; the others are steps on the way.
MILESTONES = frozenset({"departed", "arrived", "unloaded", "received"})


class LegBook:
    def __init__(self, legs: Iterable[ActiveLeg] = ()) -> None:
        self._legs: dict[int, ActiveLeg] = {}
        self.departed: list[int] = []  # legs that set off in this batch
        self.add(legs)

    def add(self, legs: Iterable[ActiveLeg]) -> None:
        for leg in legs:
            self._legs.setdefault(leg.id, leg)

    def __iter__(self) -> Iterator[ActiveLeg]:
        return iter(list(self._legs.values()))

    def of_vehicle(self, vehicle_id: int) -> list[ActiveLeg]:
        """The vehicle's legs, its current one first (the order they were read in)."""
        return [leg for leg in self._legs.values() if leg.vehicle_id == vehicle_id]

    def carrying(self, coil_id: int) -> list[ActiveLeg]:
        return [leg for leg in self._legs.values() if coil_id in leg.coil_ids]

    def put(self, leg: ActiveLeg) -> None:
        """Keep a leg's newer state (detection changed it)."""
        self._legs[leg.id] = leg

    def get(self, leg_id: int) -> ActiveLeg | None:
        return self._legs.get(leg_id)

    def current(self, vehicle_id: int | None) -> ActiveLeg | None:
        legs = self.of_vehicle(vehicle_id) if vehicle_id is not None else []
        return legs[0] if legs else None

    async def advance(
        self, tx: Executor, leg: ActiveLeg, target: str, at: datetime,
        found: list[DetectedEvent], source: str,
    ) -> ActiveLeg:
        """Move the leg forward to ``target`` (through the states between), noting an
        event for each milestone it reaches; unchanged if it is there or beyond."""
        steps = await shipment_legs.advance_leg(tx, leg.id, target, at=at)
        if not steps:
            return self._legs.get(leg.id, leg)
        moved = replace(
            leg, status=steps[-1],
            actual_departure=at if "departed" in steps else leg.actual_departure,
            actual_arrival=at if "arrived" in steps else leg.actual_arrival,
        )
        self._legs[leg.id] = moved
        if "departed" in steps:
            self.departed.append(leg.id)
        for status in steps:
            if status in MILESTONES:
                site = leg.origin_site_id if status == "departed" else leg.destination_site_id
                found.append(DetectedEvent(
                    status, leg.shipment_id, leg.id, leg.vehicle_id, at, key(status, leg.id),
                    {"site_id": site, "source": source}))
        return moved

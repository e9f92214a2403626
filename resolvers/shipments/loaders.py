"""Loaders of shipments, their legs, manifests, events and positions, of rejected MQTT
messages and of devices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.shipments import devices, rejections
from domain.shipments import positions as position_reads
from domain.shipments import reads as shipment_reads
from resolvers.loaders import GroupedLoader, MappedLoader, PagedLoader, RowsLoader


class ShipmentByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await shipment_reads.shipments_by_ids(self.db, self.scope, keys)


class ShipmentByNumberLoader(RowsLoader[str]):
    key = "number"

    async def fetch(self, keys: Sequence[str]) -> Sequence[Any]:
        return await shipment_reads.shipments_by_numbers(self.db, self.scope, keys)


class ShipmentByCoilLoader(MappedLoader[int]):
    """The coil's latest shipment."""

    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await shipment_reads.latest_shipment_by_coil(self.db, self.scope, keys)


class CustomersByShipmentLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await shipment_reads.customers_by_shipment(self.db, self.scope, keys)


class LegsByShipmentLoader(GroupedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, list[Any]]:
        return await shipment_reads.legs_by_shipment(self.db, self.scope, keys)


class LegByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await shipment_reads.legs_by_ids(self.db, self.scope, keys)


class VehicleByIdLoader(RowsLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await position_reads.vehicles_by_ids(self.db, self.scope, keys)


class VehicleByCodeLoader(RowsLoader[str]):
    key = "code"

    async def fetch(self, keys: Sequence[str]) -> Sequence[Any]:
        return await position_reads.vehicles_by_codes(self.db, self.scope, keys)


class LocationByCoilLoader(MappedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await shipment_reads.coil_locations(self.db, self.scope, keys)


class FixByVehicleLoader(MappedLoader[int]):
    """The latest fix, from live state when there is one."""

    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await position_reads.latest_fixes(self.db, self.loaders.redis, self.scope, keys)


class FixByShipmentLoader(MappedLoader[int]):
    async def fetch(self, keys: Sequence[int]) -> Mapping[int, Any]:
        return await position_reads.shipment_fixes(self.db, self.loaders.redis, self.scope,
                                                   keys)


class ManifestPageByLegLoader(PagedLoader):
    async def fetch(self, parents: list[int], limit: int, after: Any) -> Mapping[int, list[Any]]:
        return await shipment_reads.manifest_pages(self.db, self.scope, "leg", parents, limit,
                                                   after)


class ManifestPageByShipmentLoader(PagedLoader):
    async def fetch(self, parents: list[int], limit: int, after: Any) -> Mapping[int, list[Any]]:
        return await shipment_reads.manifest_pages(self.db, self.scope, "shipment", parents,
                                                   limit, after)


class ShipmentPageByContractLoader(PagedLoader):
    async def fetch(self, parents: list[int], limit: int, after: Any) -> Mapping[int, list[Any]]:
        return await shipment_reads.shipment_pages_by_contract(self.db, self.scope, parents,
                                                               limit, after)


class EventPageByShipmentLoader(PagedLoader):
    async def fetch(self, parents: list[int], limit: int, after: Any) -> Mapping[int, list[Any]]:
        return await shipment_reads.event_pages(self.db, self.scope, parents, limit, after)


class TrackByShipmentLoader(PagedLoader):
    """Keys: (shipment id, most points, (from, to)), batched like pages."""

    async def fetch(self, parents: list[int], limit: int, after: Any) -> Mapping[int, list[Any]]:
        start, end = after
        return await position_reads.tracks(self.db, self.scope, parents, start, end, limit)


class RejectionByIdLoader(RowsLoader[int]):
    """Rejected MQTT messages: `resolvers.node` lets only their readers reach this, and a
    customer's scope finds none."""

    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await rejections.rejections_by_ids(self.db, self.scope, keys)


class DeviceByIdLoader(RowsLoader[int]):
    """Devices: `resolvers.node` lets only their keepers reach this, and a customer's
    scope finds none."""

    async def fetch(self, keys: Sequence[int]) -> Sequence[Any]:
        return await devices.devices_by_ids(self.db, self.scope, keys)

"""Shipments: where the coils are on their way, as queries and live subscriptions."""

from resolvers.shipments.queries import ShipmentQueries
from resolvers.shipments.subscriptions import ShipmentSubscriptions

__all__ = ["ShipmentQueries", "ShipmentSubscriptions"]

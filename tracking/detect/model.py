"""What detection is given (rows the ingester has just stored) and what it finds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tracking.model import Fix, Scan


@dataclass(frozen=True, slots=True)
class StoredFix:
    vehicle_id: int
    device_id: int
    fix: Fix
    # Older than a fix already stored for the vehicle: kept as history, fires nothing.
    out_of_order: bool


@dataclass(frozen=True, slots=True)
class StoredScan:
    scan_id: int
    device_id: int
    scan: Scan
    coil_id: int | None  # None: the code names no coil the registry knows
    site_id: int | None
    vehicle_id: int | None


@dataclass(frozen=True, slots=True)
class DetectedEvent:
    """One finding, recorded in ``shipment_event`` under ``dedupe_key`` and published
    live by the ingester once the batch has committed."""

    kind: str
    shipment_id: int | None
    leg_id: int | None
    vehicle_id: int | None
    occurred_at: datetime
    dedupe_key: str
    details: dict[str, Any] = field(default_factory=dict)


def key(*parts: object) -> str:
    """A dedupe key; times in UTC so that one instant always spells the same."""
    return ":".join(p.astimezone(UTC).isoformat() if isinstance(p, datetime) else str(p)
                    for p in parts)

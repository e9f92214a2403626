"""What the ingester reads and decides, as plain values shared by every stage.

A message from the broker becomes zero or more readings (a position fix, a coil scan,
a ship's voyage data) or a rejection with a reason. Nothing here does I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# How a leg travels and how fast each mode may go: the shipments domain's, shared here.
from domain.shipments.eta import MAX_SPEED_KMH as MAX_SPEED_KMH
from domain.shipments.eta import Mode as Mode


class Reason(enum.StrEnum):
    """Why a message was rejected: stored with it, and counted in `/metrics`."""

    MALFORMED = "malformed"  # not parseable in the topic's format
    OVERSIZED = "oversized"  # larger than the ingester accepts
    UNKNOWN_TOPIC = "unknown_topic"  # a topic outside the protocol
    UNKNOWN_DEVICE = "unknown_device"  # no such device in the registry
    DISABLED_DEVICE = "disabled_device"  # the device is registered but switched off
    TOPIC_MISMATCH = "topic_mismatch"  # the payload names another device or vessel
    WRONG_DEVICE_KIND = "wrong_device_kind"  # e.g. a scanner publishing positions
    UNBOUND_DEVICE = "unbound_device"  # a GPS unit bound to no vehicle
    INVALID_COORDINATES = "invalid_coordinates"  # NaN, infinite or out of range
    NULL_ISLAND = "null_island"  # exactly 0/0: a receiver without a fix
    FUTURE_FIX = "future_fix"  # fix time ahead of now beyond the allowed skew
    STALE_FIX = "stale_fix"  # fix time older than the accepted age
    IMPOSSIBLE_SPEED = "impossible_speed"  # implied speed no vehicle of the mode reaches
    POOR_ACCURACY = "poor_accuracy"  # reported accuracy worse than the accepted bound
    UNKNOWN_STEP = "unknown_step"  # a scan step outside the protocol
    UNKNOWN_SITE = "unknown_site"  # a scan naming a site the registry lacks
    INCOMPLETE = "incomplete"  # an AIS message whose other sentences never came
    # AIS from a vessel not in the registry (a passing ship): counted per MMSI, sampled
    UNKNOWN_VESSEL = "unknown_vessel"


class Rejection(Exception):
    def __init__(self, reason: Reason, detail: str = "", *, mmsi: int | None = None) -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
        self.mmsi = mmsi  # the vessel an UNKNOWN_VESSEL rejection is about


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT message as delivered: acknowledged only after it is committed or
    recorded as rejected."""

    topic: str
    payload: bytes
    mid: int
    received_at: datetime


class Source(enum.StrEnum):
    NATIVE = "native"
    OWNTRACKS = "owntracks"
    AIS = "ais"


@dataclass(frozen=True, slots=True)
class Fix:
    """A position report. ``device`` is the publishing device's code from the topic; for
    OwnTracks it is the ``{user}/{device}`` pair of the topic, which the registry maps to
    the device registered with that ``owntracks_id``."""

    device: str
    fix_time: datetime  # timezone-aware, UTC
    latitude: float
    longitude: float
    speed_kmh: float | None
    heading: float | None  # degrees from north, [0, 360)
    accuracy_m: float | None
    source: Source
    # AIS: the vessel the report is about (a gateway may relay several vessels).
    mmsi: int | None = None


class ScanStep(enum.StrEnum):
    LOADING = "loading"
    DEPARTING = "departing"
    ARRIVING = "arriving"
    UNLOADING = "unloading"
    RECEIVING = "receiving"
    TRANSSHIPPING = "transshipping"


@dataclass(frozen=True, slots=True)
class Scan:
    """A barcode scan of a coil label. ``coil_number`` is the plain coil number when
    the code is one, or the serial/batch a GS1 element string carries; ``parsed`` keeps
    every GS1 element (AI -> value) for the record."""

    device: str
    scanned_at: datetime
    code: str
    coil_number: str | None
    sscc: str | None
    step: ScanStep
    site_code: str | None
    parsed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VoyageData:
    """AIS static and voyage data (message type 5) of a vessel."""

    device: str
    mmsi: int
    imo: int | None
    name: str | None
    destination: str | None
    eta: datetime | None  # AIS gives month, day, hour, minute: resolved to the next such time


@dataclass(frozen=True, slots=True)
class AisFragment:
    """One sentence of a multi-sentence AIS message whose other sentences were not in
    the same MQTT message: kept in the database until its group is whole (see
    ``tracking.fragments``), which may happen on another ingester."""

    device: str
    channel: str
    seq_id: int  # -1 when the sentence carries none
    count: int
    number: int
    sentence: str  # the NMEA line as received


Reading = Fix | Scan | VoyageData | AisFragment

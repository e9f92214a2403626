"""From one MQTT message to the readings it carries.

:func:`decode` picks the decoder by topic kind: one module per format (``native``,
``owntracks``, ``ais``, ``scan``). It raises only :class:`~tracking.model.Rejection`;
an empty list means a valid message with nothing to store (an OwnTracks ``lwt``, an AIS
message type we do not track). Plausibility (ranges,
time, speed) is the filters' business, not the decoders'.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from tracking import topics
from tracking.decoders import ais, native, owntracks, scan
from tracking.model import Reading, Reason, Rejection

MAX_PAYLOAD_BYTES: Final = 64 * 1024


def decode(topic: str, payload: bytes, received_at: datetime) -> list[Reading]:
    """The readings of one message. ``received_at`` must be timezone-aware: AIS reports
    take their date from it."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    kind, device = topics.parse(topic)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Rejection(Reason.OVERSIZED, f"{len(payload)} bytes, limit {MAX_PAYLOAD_BYTES}")
    # list() widens each decoder's list[Fix] or list[Scan]: lists are invariant.
    match kind:
        case "position":
            return list(native.decode(device, payload))
        case "owntracks":
            return list(owntracks.decode(device, payload))
        case "scan":
            return list(scan.decode(device, payload))
        case "ais":
            return ais.decode(device, payload, received_at.astimezone(UTC))

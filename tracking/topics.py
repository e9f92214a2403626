"""The MQTT topic grammar of the tracking protocol.

    keylink/v1/devices/{device}/position    native JSON fixes
    keylink/v1/devices/{device}/ais         AIVDM/AIVDO sentences from a ship's gateway
    keylink/v1/devices/{device}/scan        coil label scans
    owntracks/{user}/{device}               OwnTracks JSON, unchanged

A device code is what the registry stores (``^[A-Za-z0-9_.-]{1,64}$``). The two OwnTracks
levels follow the same rule, so that a topic can never smuggle a wildcard, an empty level
or a name the registry could not hold; for OwnTracks the device is ``"{user}/{device}"``,
which the registry matches against ``device.owntracks_id``.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from tracking.model import Reason, Rejection

Kind = Literal["position", "ais", "scan", "owntracks"]

PREFIX: Final = "keylink/v1/devices"
NATIVE_KINDS: Final[tuple[Kind, ...]] = ("position", "ais", "scan")
_NATIVE_BY_NAME: Final[dict[str, Kind]] = {kind: kind for kind in NATIVE_KINDS}

SUBSCRIPTIONS: Final[tuple[str, ...]] = (
    *(f"{PREFIX}/+/{kind}" for kind in NATIVE_KINDS),
    "owntracks/+/+",
)

DEVICE_CODE: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# A share name is one topic level without wildcards (MQTT 5, section 4.8.2).
_SHARE_GROUP: Final = re.compile(r"[^/+#]+")


def shared(group: str, topic_filter: str) -> str:
    """The shared-subscription form of ``topic_filter``: the broker hands each message
    to one member of ``group``, which is how several ingesters split the load."""
    if not _SHARE_GROUP.fullmatch(group):
        raise ValueError(f"share group must be one topic level without wildcards: {group!r}")
    return f"$share/{group}/{topic_filter}"


def parse(topic: str) -> tuple[Kind, str]:
    """``(kind, device)`` of a topic, or Rejection(UNKNOWN_TOPIC)."""
    levels = topic.split("/")
    if len(levels) == 5 and "/".join(levels[:3]) == PREFIX:
        device, kind = levels[3], _NATIVE_BY_NAME.get(levels[4])
        if kind is not None and DEVICE_CODE.fullmatch(device):
            return kind, device
    elif len(levels) == 3 and levels[0] == "owntracks":
        user, device = levels[1], levels[2]
        if DEVICE_CODE.fullmatch(user) and DEVICE_CODE.fullmatch(device):
            return "owntracks", f"{user}/{device}"
    raise Rejection(Reason.UNKNOWN_TOPIC, topic[:200])


"""OwnTracks messages on ``owntracks/{user}/{device}``, as the apps publish them.

Only ``_type: location`` carries a fix: ``lat``, ``lon``, ``tst`` (epoch seconds of the
fix), ``acc`` (metres), ``vel`` (km/h), ``cog`` (degrees). Other types (``lwt``,
``transition``, ``status``, ``waypoint``...) share the topic and carry nothing to store.

The apps leave zero-valued fields out. A missing ``vel`` therefore reads as standing
still (0 km/h); a missing ``cog`` as no heading, since a standing vehicle points nowhere
in particular; a missing ``acc`` as unknown accuracy, since 0 m would claim a perfect fix.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tracking.decoders.native import (
    heading,
    integer,
    load_json,
    malformed,
    number,
    objects,
    required_number,
)
from tracking.model import Fix, Source


def decode(device: str, payload: bytes) -> list[Fix]:
    (obj,) = objects(load_json(payload), allow_array=False)
    kind = obj.get("_type")
    if not isinstance(kind, str):
        raise malformed("_type is missing or not a string")
    if kind != "location":
        return []
    tst = integer(obj, "tst")
    try:
        fix_time = datetime.fromtimestamp(tst, UTC)
    except (OverflowError, OSError, ValueError):
        raise malformed(f"tst is out of range: {tst}") from None
    speed = number(obj, "vel")
    return [
        Fix(
            device=device,
            fix_time=fix_time,
            latitude=required_number(obj, "lat"),
            longitude=required_number(obj, "lon"),
            speed_kmh=0.0 if speed is None else speed,
            heading=heading(obj, "cog"),
            accuracy_m=number(obj, "acc"),
            source=Source.OWNTRACKS,
        )
    ]

"""A wrong reference fix does not make every true fix after it look like a jump."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from domain.db import Database
from tests.tracking.test_store import fleet
from tracking.detect import Detector
from tracking.model import Message, Reason
from tracking.pipeline import Pipeline
from tracking.registry import LatestFixes, Registry
from tracking.store import Partitions, latest_positions

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
SHANGHAI = (31.40, 121.50)
GLITCH = (39.90, 116.40)  # Beijing: over 1,000 km away


def _message(at: timedelta, where: tuple[float, float]) -> Message:
    body = {"ts": (T0 + at).isoformat(), "lat": where[0], "lon": where[1],
            "speed_kmh": 40.0, "accuracy_m": 5.0}
    return Message("keylink/v1/devices/GPS-1/position", json.dumps(body).encode(), 0,
                   T0 + at)


async def _pipeline(db: Database) -> Pipeline:
    async def no_live(_ids: object) -> dict[int, object]:
        return {}

    latest = LatestFixes(no_live, lambda ids: latest_positions(db, ids))  # type: ignore[arg-type]
    return Pipeline(db, Registry(db), Detector(), latest, Partitions(30))


async def _stored(db: Database) -> list[tuple[float, float]]:
    rows = await db.fetch("SELECT latitude, longitude FROM position ORDER BY fix_time")
    return [(r["latitude"], r["longitude"]) for r in rows]


async def _reasons(db: Database) -> list[str]:
    return [r["reason"] for r in await db.fetch(
        "SELECT reason FROM rejected_message ORDER BY id")]


async def test_a_bad_first_fix_is_replaced_once_two_true_fixes_agree(db: Database) -> None:
    await fleet(db)
    pipeline = await _pipeline(db)
    await pipeline.process([_message(timedelta(0), GLITCH)])
    # The first true fix is refused against the glitch; the second agrees with it.
    await pipeline.process([_message(timedelta(seconds=30), SHANGHAI)])
    await pipeline.process([_message(timedelta(seconds=60), SHANGHAI)])
    await pipeline.process([_message(timedelta(seconds=90), SHANGHAI)])
    assert await _reasons(db) == [Reason.IMPOSSIBLE_SPEED.value]
    assert [round(lat, 1) for lat, _ in await _stored(db)] == [39.9, 31.4, 31.4]


async def test_one_glitch_alone_never_moves_the_reference(db: Database) -> None:
    await fleet(db)
    pipeline = await _pipeline(db)
    await pipeline.process([_message(timedelta(0), SHANGHAI)])
    # A glitch between true fixes is refused; so are two glitches that disagree.
    await pipeline.process([_message(timedelta(seconds=30), GLITCH)])
    await pipeline.process([_message(timedelta(seconds=60), SHANGHAI)])
    await pipeline.process([_message(timedelta(seconds=90), GLITCH)])
    await pipeline.process([_message(timedelta(seconds=120), (22.5, 114.1))])  # Shenzhen
    await pipeline.process([_message(timedelta(seconds=150), SHANGHAI)])
    assert await _reasons(db) == [Reason.IMPOSSIBLE_SPEED.value] * 3
    assert {round(lat, 1) for lat, _ in await _stored(db)} == {31.4}


async def test_in_one_batch_too(db: Database) -> None:
    await fleet(db)
    pipeline = await _pipeline(db)
    await pipeline.process([_message(timedelta(seconds=s), where) for s, where in (
        (0, GLITCH), (30, SHANGHAI), (60, SHANGHAI), (90, SHANGHAI))])
    assert await _reasons(db) == [Reason.IMPOSSIBLE_SPEED.value]
    assert len(await _stored(db)) == 3

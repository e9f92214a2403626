"""A fix reads the same from the live stream and from the database: speed, heading and
accuracy are stored as float4, and both ways give them with the digits float4 keeps."""

from __future__ import annotations

import json
from datetime import timedelta

from domain.shipments.positions import float4, parse_live_fix
from tests.support.api import Api, token
from tests.support.factory import build
from tests.support.shipments import build_tracking
from tracking.detect import Detector
from tracking.model import Message
from tracking.pipeline import Pipeline
from tracking.registry import LatestFixes, Registry
from tracking.store import Partitions, latest_positions

TRACK = """query($number: String!) { shipment(number: $number) {
    latestPosition { fixTime speedKmh heading accuracyM }
    track(maxPoints: 5000) { fixTime speedKmh heading accuracyM } } }"""


def test_float4_keeps_the_digits_the_column_keeps() -> None:
    assert float4(77.69999694824219) == 77.7
    assert float4(77.7) == 77.7
    assert float4(12.3 * 1.852) == 22.7796  # an AIS speed in knots, made km/h
    assert float4(8.0) == 8.0 and float4(None) is None
    assert float4(123456.789) == 123456.79  # float4 keeps no more


async def test_the_track_gives_each_fix_as_the_subscription_did(api: Api) -> None:
    t = await build_tracking(api.db, await build(api.db))
    wagon = t.vehicle["WAG-1"]
    last = await api.db.fetchrow(
        "SELECT fix_time, latitude, longitude FROM position WHERE vehicle_id = $1"
        " ORDER BY fix_time DESC LIMIT 1", wagon)
    assert last is not None

    async def no_live(_ids: object) -> dict[int, object]:
        return {}

    latest = LatestFixes(no_live, lambda ids: latest_positions(api.db, ids))  # type: ignore[arg-type]
    pipeline = Pipeline(api.db, Registry(api.db), Detector(), latest, Partitions(30))
    published = []
    for i, (speed, heading, accuracy) in enumerate(
            ((77.7, 123.4, 8.3), (12.3 * 1.852, 359.9, 0.1))):
        at = last["fix_time"] + timedelta(seconds=30 * (i + 1))
        body = {"ts": at.isoformat(), "lat": last["latitude"], "lon": last["longitude"],
                "speed_kmh": speed, "heading": heading, "accuracy_m": accuracy}
        result = await pipeline.process([Message(
            "keylink/v1/devices/GPS-WAG-1/position", json.dumps(body).encode(), i, at)])
        assert len(result.positions) == 1
        # What Redis carries to every subscriber, and what a subscription makes of it.
        message = json.loads(json.dumps(result.positions[0].message(latest=True)))
        live = parse_live_fix(message)
        assert live is not None
        assert (live.speed_kmh, live.heading, live.accuracy_m) == (
            message["speed_kmh"], message["heading"], message["accuracy_m"])
        published.append({"fixTime": at.isoformat(), "speedKmh": message["speed_kmh"],
                          "heading": message["heading"], "accuracyM": message["accuracy_m"]})
    assert published[0] | {"fixTime": None} == {
        "fixTime": None, "speedKmh": 77.7, "heading": 123.4, "accuracyM": 8.3}
    assert published[1]["speedKmh"] == 22.7796

    data = (await api.data(TRACK, {"number": "SH-FAW"}, as_=token("FAW-VW")))["shipment"]
    assert data["track"][-2:] == published
    assert data["latestPosition"] == published[-1]

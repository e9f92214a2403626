"""Ships an AIS gateway hears that are nobody's: counted per MMSI, sampled, not stored
one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyais.encode import encode_dict

from tests.support.api import Api, token
from tests.tracking.test_ingester import delta, outcomes
from tests.tracking.test_reanchor import _pipeline
from tests.tracking.test_store import fleet
from tracking.model import Message
from tracking.pipeline import Outcome

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
TOPIC = "keylink/v1/devices/AIS-1/ais"
FIRST_MMSI = 412_000_000
SHIP_MMSI = 367380120  # SHIP-1, in the registry


def report(mmsi: int, at: datetime) -> bytes:
    lines = encode_dict({"type": 1, "mmsi": mmsi, "lat": 31.2, "lon": 121.6, "speed": 9.5,
                         "course": 90.0, "heading": 90, "second": at.second},
                        talker_id="AI", sentence_type="VDM")
    return "\n".join(lines).encode()


VESSELS = """query($first: Int!, $after: String) { unknownVessels(first: $first, after: $after) {
    nodes { mmsi firstHeardAt lastHeardAt messages gatewayCode }
    pageInfo { hasNextPage endCursor } } }"""


async def test_passing_ships_are_counted_and_sampled_not_stored_each(api: Api) -> None:
    db = api.db
    await fleet(db)
    pipeline = await _pipeline(db)
    before = outcomes()
    # 1,000 messages from 200 ships nobody registered, one every 3 s (50 minutes), in
    # batches of 100; each ship is heard five times.
    messages = [Message(TOPIC, report(FIRST_MMSI + i % 200, T0 + timedelta(seconds=3 * i)),
                        i, T0 + timedelta(seconds=3 * i)) for i in range(1000)]
    for start in range(0, 1000, 100):
        result = await pipeline.process(messages[start:start + 100])
        assert {o for o, _ in result.outcomes} == {Outcome.REJECTED}
    assert delta(before, "rejected", "unknown_vessel") == 1000  # every one counted

    # One sample per ship for the hour, no more.
    rows = await db.fetch("SELECT reason, detail, device_code FROM rejected_message")
    assert len(rows) == 200
    assert {r["reason"] for r in rows} == {"unknown_vessel"}
    assert {r["device_code"] for r in rows} == {"AIS-1"}
    assert {r["detail"] for r in rows} == {
        f"unknown_vessel: no vessel with MMSI {FIRST_MMSI + k}" for k in range(200)}
    tally = {r["mmsi"]: r for r in await db.fetch("SELECT * FROM ais_unknown_vessel")}
    assert sorted(tally) == list(range(FIRST_MMSI, FIRST_MMSI + 200))
    for k in (0, 57, 199):
        row = tally[FIRST_MMSI + k]
        assert row["messages"] == 5 and row["gateway"] == "AIS-1"
        assert row["first_seen"] == T0 + timedelta(seconds=3 * k)
        assert row["last_seen"] == T0 + timedelta(seconds=3 * (k + 800))

    # An hour after its sample a ship is sampled again, once; a known ship is stored.
    later = T0 + timedelta(hours=1, minutes=1, seconds=7)  # another payload than at T0
    await pipeline.process([
        Message(TOPIC, report(FIRST_MMSI, later), 2000, later),
        Message(TOPIC, report(FIRST_MMSI, later + timedelta(seconds=5)), 2001,
                later + timedelta(seconds=5)),
        Message(TOPIC, report(SHIP_MMSI, later), 2002, later),
    ])
    assert await db.fetchval("SELECT count(*) FROM rejected_message") == 201
    assert await db.fetchval("SELECT messages FROM ais_unknown_vessel WHERE mmsi = $1",
                             FIRST_MMSI) == 7
    assert await db.fetchval("SELECT count(*) FROM ais_unknown_vessel") == 200
    assert await db.fetchval("SELECT count(*) FROM position") == 1
    assert delta(before, "rejected", "unknown_vessel") == 1002

    # Logistics staff read the tally, the ship heard last first; nobody else does.
    for code, kind in (("BAOSTEEL", "mill"), ("FAW-VW", "customer")):
        await db.execute("INSERT INTO organization (code, name, kind) VALUES ($1, $1, $2)",
                         code, kind)
    logistics = token("BAOSTEEL", "logistics", subject="staff.mill")
    seen: list[dict[str, object]] = []
    after = None
    while True:
        page = (await api.data(VESSELS, {"first": 64, "after": after},
                               as_=logistics))["unknownVessels"]
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 200 and sum(int(str(v["messages"])) for v in seen) == 1002
    assert seen[0] == {"mmsi": FIRST_MMSI, "firstHeardAt": T0.isoformat(),
                       "lastHeardAt": (later + timedelta(seconds=5)).isoformat(),
                       "messages": 7, "gatewayCode": "AIS-1"}
    assert [v["lastHeardAt"] for v in seen[1:]] == sorted(
        (str(v["lastHeardAt"]) for v in seen[1:]), reverse=True)
    for who in (token("FAW-VW"), token("BAOSTEEL", "sales", subject="staff.sales")):
        none = await api.data(VESSELS, {"first": 10}, as_=who)
        assert none["unknownVessels"]["nodes"] == []
    # A ship not heard for 30 days is forgotten once others are heard.
    await db.execute("UPDATE ais_unknown_vessel SET last_seen = last_seen - interval '31 days'"
                     " WHERE mmsi = $1", FIRST_MMSI + 1)
    await pipeline.process([Message(TOPIC, report(FIRST_MMSI + 2, later), 3000, later)])
    assert await db.fetchval("SELECT count(*) FROM ais_unknown_vessel") == 199
    for bad in ("WyJ4Il0=", "not a cursor"):  # ["x"], and no cursor at all
        refused = await api.query(VESSELS, {"first": 10, "after": bad}, as_=logistics)
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

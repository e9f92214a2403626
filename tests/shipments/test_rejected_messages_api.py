"""Rejected MQTT messages over GraphQL: the mill's logistics staff page through them
newest first and filter them; nobody else sees one, not even through `node`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.db import Database, count_statements
from resolvers.relay import to_global_id
from resolvers.shipments.rejections import RejectionReason
from tests.support.api import Api, token
from tracking.detect import Detector
from tracking.model import Message, Reason
from tracking.pipeline import Pipeline
from tracking.registry import LatestFixes, Registry
from tracking.store import (
    REJECTED_PAYLOAD_BYTES,
    Partitions,
    RejectedRow,
    insert_rejections,
    latest_positions,
)

T0 = datetime(2026, 11, 25, 8, tzinfo=UTC)
FIELDS = ("id receivedAt topic deviceCode reason detail payloadBytes payload "
          "payloadTruncated")
PAGE = f"""query($filter: RejectedMessageFilter, $first: Int, $after: String) {{
    rejectedMessages(filter: $filter, first: $first, after: $after) {{
        edges {{ cursor node {{ {FIELDS} }} }}
        nodes {{ id topic }}
        pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ __typename ... on RejectedMessage {{ {FIELDS} }} }} }}"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
EMPTY = {"edges": [], "nodes": [],
         "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None,
                      "endCursor": None}}
DEVICES = ("TRK-1", "TRK-2", "owntracks-u/phone", None)


@dataclass(frozen=True)
class Stored:
    """One rejected row as inserted, with its id."""

    id: int
    row: RejectedRow

    @property
    def gid(self) -> str:
        return str(to_global_id("RejectedMessage", self.id))


async def _orgs(db: Database) -> None:
    for code, kind in (("BAOSTEEL", "mill"), ("FAW-VW", "customer")):
        await db.execute("INSERT INTO organization (code, name, kind) VALUES ($1, $1, $2)",
                         code, kind)


async def _insert(db: Database, rows: list[RejectedRow]) -> list[Stored]:
    """Insert one at a time, so ids follow the list; returns them oldest first."""
    stored = []
    for row in rows:
        async with db.transaction() as tx:
            await insert_rejections(tx, [row])
        pk = await db.fetchval("SELECT id FROM rejected_message WHERE topic = $1", row.topic)
        stored.append(Stored(pk, row))
    return stored


@pytest.fixture
async def rejected(api: Api) -> list[Stored]:
    """31 messages: every reason at least once, four devices (one of them none), a minute
    apart; oldest first."""
    await _orgs(api.db)
    reasons = list(Reason)
    rows = [RejectedRow(f"keylink/v1/devices/{DEVICES[i % 4] or 'x'}/position#{i}",
                        f'{{"n": {i}}}'.encode(), T0 + timedelta(minutes=i),
                        reasons[i % len(reasons)].value, f"detail {i}" if i % 3 else "",
                        DEVICES[i % 4])
            for i in range(31)]
    return await _insert(api.db, rows)


def staff(*roles: str) -> str:
    return token("BAOSTEEL", *roles, subject="staff.mill")


async def _all_pages(api: Api, as_: str, flt: dict[str, Any] | None, first: int
                     ) -> list[str]:
    """Every id of the connection, page by page, checking each page's info."""
    ids: list[str] = []
    after = None
    while True:
        conn = (await api.data(PAGE, {"filter": flt, "first": first, "after": after},
                               as_=as_))["rejectedMessages"]
        page = [e["node"]["id"] for e in conn["edges"]]
        assert [n["id"] for n in conn["nodes"]] == page
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        ids += page
        if not conn["pageInfo"]["hasNextPage"]:
            assert len(page) <= first
            return ids
        assert len(page) == first
        assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
        after = conn["pageInfo"]["endCursor"]


def _newest_first(stored: list[Stored]) -> list[str]:
    return [s.gid for s in sorted(stored, key=lambda s: -s.id)]


async def test_logistics_pages_through_every_message_newest_first_without_gaps(
    api: Api, rejected: list[Stored]
) -> None:
    expected = _newest_first(rejected)
    for first in (1, 7, 31, 100):
        assert await _all_pages(api, staff("logistics"), None, first) == expected
    # The default page is the project's 20.
    data = await api.data(PAGE, as_=staff("admin"))
    assert [n["id"] for n in data["rejectedMessages"]["nodes"]] == expected[:20]
    assert data["rejectedMessages"]["pageInfo"]["hasNextPage"] is True


async def test_one_statement_per_page(api: Api, rejected: list[Stored]) -> None:
    who = staff("logistics")
    await api.data("{ viewer { subject } }", as_=who)
    first = await api.data(PAGE, {"first": 5}, as_=who)
    after = first["rejectedMessages"]["pageInfo"]["endCursor"]
    flt = {"reasons": ["MALFORMED", "STALE_FIX"], "deviceCode": "TRK-1",
           "since": T0.isoformat(), "until": (T0 + timedelta(hours=1)).isoformat()}
    for variables in ({"first": 5}, {"first": 5, "after": after}, {"filter": flt}):
        with count_statements() as seen:
            await api.data(PAGE, variables, as_=who)
        assert len(seen) == 1, seen


async def test_every_filter_and_all_of_them_together(api: Api, rejected: list[Stored]) -> None:
    def where(keep: Any) -> list[str]:
        return _newest_first([s for s in rejected if keep(s.row)])

    since, until = T0 + timedelta(minutes=5), T0 + timedelta(minutes=20)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"reasons": ["UNKNOWN_DEVICE"]}, where(lambda r: r.reason == "unknown_device")),
        ({"reasons": ["MALFORMED", "INCOMPLETE"]},
         where(lambda r: r.reason in ("malformed", "incomplete"))),
        ({"reasons": []}, where(lambda r: True)),
        ({"deviceCode": "TRK-2"}, where(lambda r: r.device_code == "TRK-2")),
        ({"deviceCode": "owntracks-u/phone"},
         where(lambda r: r.device_code == "owntracks-u/phone")),
        ({"deviceCode": "NOBODY"}, []),
        ({"since": since.isoformat()}, where(lambda r: r.received_at >= since)),
        ({"until": until.isoformat()}, where(lambda r: r.received_at <= until)),
        # Without an offset a time is UTC; with one it is converted.
        ({"since": "2026-11-25T08:05:00", "until": "2026-11-25T16:20:00+08:00"},
         where(lambda r: since <= r.received_at <= until)),
        ({"reasons": ["MALFORMED", "OVERSIZED", "UNKNOWN_TOPIC", "UNKNOWN_DEVICE"],
          "deviceCode": "TRK-1", "since": since.isoformat(), "until": until.isoformat()},
         where(lambda r: r.reason in ("malformed", "oversized", "unknown_topic",
                                      "unknown_device")
               and r.device_code == "TRK-1" and since <= r.received_at <= until)),
    ]
    who = staff("logistics")
    for flt, expected in cases:
        assert await _all_pages(api, who, flt, 3) == expected, flt
    # The cases are not vacuous: each narrows, and the last keeps something.
    assert all(0 < len(e) < len(rejected) for _, e in cases[:2] + cases[3:5] + cases[6:])
    bad = await api.query(PAGE, {"filter": {"since": until.isoformat(),
                                            "until": since.isoformat()}}, as_=who)
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad["data"] is None


async def test_fields_binary_payloads_and_truncation(api: Api) -> None:
    await _orgs(api.db)
    # 4098 bytes, of which the 4096 kept end in the first byte of an "é".
    cut = "é" * (REJECTED_PAYLOAD_BYTES // 2) + "x"
    rows = [
        RejectedRow("keylink/v1/devices/AIS-1/ais", b"!AIVDM\xff\xfe,\x00end", T0,
                    "incomplete", "AIS sentence 1 of 2", "AIS-1"),
        RejectedRow("keylink/v1/devices/TRK-1/position", b"x" * 10_000, T0, "oversized", "",
                    "TRK-1"),
        RejectedRow("keylink/v1/devices/TRK-1/scan", b"y" * REJECTED_PAYLOAD_BYTES, T0,
                    "malformed", "", "TRK-1"),
        RejectedRow("garbage", ("x" + cut).encode(), T0, "unknown_topic", "garbage", None),
    ]
    binary, big, exact, multibyte = await _insert(api.db, rows)
    data = await api.data(PAGE, as_=staff("logistics"))
    got = {e["node"]["id"]: e["node"] for e in data["rejectedMessages"]["edges"]}
    assert got[binary.gid] == {
        "id": binary.gid, "receivedAt": "2026-11-25T08:00:00+00:00",
        "topic": "keylink/v1/devices/AIS-1/ais", "deviceCode": "AIS-1", "reason": "INCOMPLETE",
        "detail": "AIS sentence 1 of 2", "payloadBytes": 13,
        "payload": "!AIVDM\ufffd\ufffd,\x00end", "payloadTruncated": False}
    assert got[big.gid]["payload"] == "x" * REJECTED_PAYLOAD_BYTES
    assert (got[big.gid]["payloadBytes"], got[big.gid]["payloadTruncated"]) == (10_000, True)
    assert got[big.gid]["detail"] is None
    assert (got[exact.gid]["payloadBytes"], got[exact.gid]["payloadTruncated"]) == \
        (REJECTED_PAYLOAD_BYTES, False)
    assert got[multibyte.gid]["deviceCode"] is None
    assert got[multibyte.gid]["payload"] == "x" + "é" * (REJECTED_PAYLOAD_BYTES // 2 - 1) \
        + "\ufffd"
    assert got[multibyte.gid]["payloadTruncated"] is True
    assert got[multibyte.gid]["payloadBytes"] == REJECTED_PAYLOAD_BYTES + 2


async def test_every_reason_reads_as_its_enum_value(api: Api, rejected: list[Stored]) -> None:
    assert {r.name: str(r.value) for r in RejectionReason} == {r.name: r.value for r in Reason}
    data = await api.data(PAGE, {"first": 100}, as_=staff("admin"))
    reasons = {e["node"]["reason"] for e in data["rejectedMessages"]["edges"]}
    assert reasons == {r.name for r in Reason}


async def test_node_round_trip_for_logistics(api: Api, rejected: list[Stored]) -> None:
    who = staff("logistics")
    listed = (await api.data(PAGE, {"first": 100}, as_=who))["rejectedMessages"]["edges"]
    for edge in listed[:5]:
        node = (await api.data(NODE, {"id": edge["node"]["id"]}, as_=who))["node"]
        assert node == {"__typename": "RejectedMessage", **edge["node"]}
    ids = [s.gid for s in rejected[:3]] + [to_global_id("RejectedMessage", 10**9)]
    found = (await api.data(NODES, {"ids": ids}, as_=staff("admin")))["nodes"]
    assert found == [{"__typename": "RejectedMessage", "id": i} for i in ids[:3]] + [None]


@pytest.mark.parametrize("org, roles", [
    ("FAW-VW", ("customer",)),
    ("BAOSTEEL", ("sales",)),
    ("BAOSTEEL", ("sales", "production", "quality", "finance")),
], ids=["customer", "sales", "staff-without-logistics"])
async def test_nobody_else_sees_a_rejected_message(
    api: Api, rejected: list[Stored], org: str, roles: tuple[str, ...]
) -> None:
    who = token(org, *roles)
    flt = {"deviceCode": "TRK-1"}
    assert (await api.data(PAGE, as_=who))["rejectedMessages"] == EMPTY
    assert (await api.data(PAGE, {"filter": flt, "first": 100}, as_=who))[
        "rejectedMessages"] == EMPTY
    # Staff with the role see what is there, so the empty answers above are not vacuous.
    assert (await api.data(PAGE, {"filter": flt}, as_=staff("logistics")))[
        "rejectedMessages"]["nodes"]
    missing = to_global_id("RejectedMessage", 10**9)
    for s in rejected[:3]:
        stolen = await api.query(NODE, {"id": s.gid}, as_=who)
        unknown = await api.query(NODE, {"id": missing}, as_=who)
        assert stolen == unknown == {"data": {"node": None}}
    many = await api.data(NODES, {"ids": [s.gid for s in rejected[:5]]}, as_=who)
    assert many == {"nodes": [None] * 5}


async def test_bad_cursors_and_page_sizes_are_refused(api: Api, rejected: list[Stored]) -> None:
    who = staff("logistics")
    shipment_cursor = "WyJ4Il0="  # ["x"]: not an id cursor
    for variables in ({"first": 101}, {"first": -1}, {"after": "not a cursor"},
                      {"after": shipment_cursor}):
        bad = await api.query(PAGE, variables, as_=who)
        assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", variables
    empty = await api.data(PAGE, {"first": 0}, as_=who)
    assert empty["rejectedMessages"]["nodes"] == []
    assert empty["rejectedMessages"]["pageInfo"]["hasNextPage"] is True


async def test_what_the_ingester_rejects_shows_as_it_came(api: Api) -> None:
    await _orgs(api.db)

    async def no_live(_ids: object) -> dict[int, object]:
        return {}

    latest = LatestFixes(no_live, lambda ids: latest_positions(api.db, ids))
    pipeline = Pipeline(api.db, Registry(api.db), Detector(), latest, Partitions(30))
    now = datetime.now(UTC).replace(microsecond=0)
    fix = b'{"ts": "%s", "lat": 31.4, "lon": 121.5}' % now.isoformat().encode()
    await pipeline.process([
        Message("keylink/v1/devices/GHOST-7/position", fix, 1, now),
        Message("keylink/v1/devices/GHOST-7/scan", b"\x80\x81not json", 2, now),
        Message("somewhere/else", b"{}", 3, now),
    ])
    data = await api.data(PAGE, as_=staff("logistics"))
    got = [(n["topic"], n["deviceCode"], n["reason"], n["payload"], n["payloadBytes"])
           for n in (e["node"] for e in data["rejectedMessages"]["edges"])]
    assert sorted(got) == sorted([
        ("keylink/v1/devices/GHOST-7/position", "GHOST-7", "UNKNOWN_DEVICE", fix.decode(),
         len(fix)),
        ("keylink/v1/devices/GHOST-7/scan", "GHOST-7", "MALFORMED", "\ufffd\ufffdnot json",
         10),
        ("somewhere/else", None, "UNKNOWN_TOPIC", "{}", 2),
    ])
    only = await api.data(PAGE, {"filter": {"deviceCode": "GHOST-7",
                                            "reasons": ["UNKNOWN_DEVICE"]}},
                          as_=staff("logistics"))
    assert [n["topic"] for n in only["rejectedMessages"]["nodes"]] == [
        "keylink/v1/devices/GHOST-7/position"]

"""The device registry over GraphQL: the mill's logistics staff list devices and disable,
enable, rebind them and rotate their broker passwords; nobody else sees one. A disabled
device's messages are refused by the ingester, over a real broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from api.embedded import Mosquitto
from domain.db import Database
from domain.shipments.devices import hash_password, verify_password
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import build
from tests.tracking.test_ingester import (
    count,
    eventually,
    ingesting,
    make_fleet,
    position,
    publisher,
    purge_session,
    settings_for,
    unique,
)
from tracking.detect import Detector
from tracking.model import Fix, Message
from tracking.pipeline import Pipeline
from tracking.registry import LatestFixes, Registry
from tracking.store import Partitions, latest_positions

LOGISTICS = token("BAOSTEEL", "logistics", subject="logistics.li")
SALES = token("BAOSTEEL", "sales", subject="sales.zhang")
FAW = token("FAW-VW", subject="buyer.faw")
OLD_PASSWORD = "the-old-one"

FIELDS = "id code kind enabled hasBrokerLogin createdAt owntracksId vehicle { code } site { code }"
LIST = f"""query($filter: DeviceFilter, $first: Int, $after: String) {{
    devices(filter: $filter, first: $first, after: $after) {{
        nodes {{ {FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
ERRORS = "errors { field code message }"
DISABLE = f"""mutation($id: ID!) {{ disableDevice(input: {{deviceId: $id}}) {{
    device {{ code enabled }} {ERRORS} }} }}"""
ENABLE = f"""mutation($id: ID!) {{ enableDevice(input: {{deviceId: $id}}) {{
    device {{ code enabled }} {ERRORS} }} }}"""
ROTATE = f"""mutation($id: ID!) {{ rotateDevicePassword(input: {{deviceId: $id}}) {{
    device {{ code hasBrokerLogin }} password {ERRORS} }} }}"""
BIND = f"""mutation($input: BindDeviceInput!) {{ bindDevice(input: $input) {{
    device {{ code vehicle {{ code }} site {{ code }} }} {ERRORS} }} }}"""


async def _fleet(db: Database) -> dict[str, int]:
    """Global ids' keys: trucks TRK-1 and TRK-2, ship SHIP-1, the plant; a GPS unit on
    each truck (TRK-2's disabled, TRK-1's with a broker login), the ship's AIS gateway, a
    scanner at the plant and a handheld on TRK-1."""
    w = await build(db)
    ids: dict[str, int] = {"plant": w.site["plant"]}
    async with db.transaction() as tx:
        for code, kind, mmsi in (("TRK-1", "truck", None), ("TRK-2", "truck", None),
                                 ("SHIP-1", "ship", 413456789)):
            ids[code] = await tx.fetchval(
                "INSERT INTO vehicle (code, kind, name, mmsi) VALUES ($1, $2, $1, $3)"
                " RETURNING id", code, kind, mmsi)
        for code, kind, vehicle, site, enabled, password in (
            ("GPS-TRK-1", "gps_unit", "TRK-1", None, True, OLD_PASSWORD),
            ("GPS-TRK-2", "gps_unit", "TRK-2", None, False, None),
            ("AIS-SHIP-1", "ais_gateway", "SHIP-1", None, True, None),
            ("SCN-PLANT", "scanner", None, "plant", True, None),
            ("SCN-HAND", "scanner", "TRK-1", None, True, None),
        ):
            ids[code] = await tx.fetchval(
                "INSERT INTO device (code, kind, vehicle_id, site_id, enabled, password_hash)"
                " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", code, kind,
                ids.get(vehicle or ""), ids.get(site or ""), enabled,
                hash_password(password) if password else None)
    return ids


def _gid(ids: dict[str, int], code: str) -> str:
    return str(to_global_id("Device", ids[code]))


async def _device(db: Database, code: str) -> dict[str, Any]:
    row = await db.fetchrow("SELECT d.enabled, d.password_hash, v.code AS vehicle,"
                            " s.code AS site FROM device d"
                            " LEFT JOIN vehicle v ON v.id = d.vehicle_id"
                            " LEFT JOIN site s ON s.id = d.site_id WHERE d.code = $1", code)
    assert row is not None
    return dict(row)


async def _events(db: Database) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT event_type, org_id, aggregate_type, aggregate_id, payload,"
                          " actor FROM domain_event ORDER BY seq")
    return [dict(r) for r in rows]


async def test_the_logistics_staff_list_every_device_in_code_order(api: Api) -> None:
    ids = await _fleet(api.db)
    data = await api.data(LIST, as_=LOGISTICS)
    nodes = data["devices"]["nodes"]
    assert [(n["code"], n["kind"], (n["vehicle"] or {}).get("code"),
             (n["site"] or {}).get("code"), n["enabled"], n["hasBrokerLogin"])
            for n in nodes] == [
        ("AIS-SHIP-1", "AIS_GATEWAY", "SHIP-1", None, True, False),
        ("GPS-TRK-1", "GPS_UNIT", "TRK-1", None, True, True),
        ("GPS-TRK-2", "GPS_UNIT", "TRK-2", None, False, False),
        ("SCN-HAND", "SCANNER", "TRK-1", None, True, False),
        ("SCN-PLANT", "SCANNER", None, "BAOSHAN", True, False),
    ]
    assert nodes[1]["id"] == _gid(ids, "GPS-TRK-1")
    assert all(datetime.fromisoformat(n["createdAt"]) <= datetime.now(UTC) for n in nodes)
    # An admin lists them too; the node of a device is there for its readers.
    admin = await api.data(LIST, as_=token("BAOSTEEL", "admin"))
    assert [n["code"] for n in admin["devices"]["nodes"]] == [n["code"] for n in nodes]
    got = await api.data("query($id: ID!) { node(id: $id) { ... on Device { code } } }",
                         {"id": _gid(ids, "SCN-HAND")}, as_=LOGISTICS)
    assert got["node"] == {"code": "SCN-HAND"}


async def test_devices_narrow_by_kind_state_vehicle_and_site_and_page_by_code(
    api: Api,
) -> None:
    ids = await _fleet(api.db)

    async def codes(**variables: Any) -> list[str]:
        data = await api.data(LIST, variables, as_=LOGISTICS)
        return [n["code"] for n in data["devices"]["nodes"]]

    assert await codes(filter={"kinds": ["SCANNER"]}) == ["SCN-HAND", "SCN-PLANT"]
    assert await codes(filter={"kinds": ["GPS_UNIT", "AIS_GATEWAY"], "enabled": True}) == [
        "AIS-SHIP-1", "GPS-TRK-1"]
    assert await codes(filter={"enabled": False}) == ["GPS-TRK-2"]
    truck = str(to_global_id("Vehicle", ids["TRK-1"]))
    assert await codes(filter={"vehicleId": truck}) == ["GPS-TRK-1", "SCN-HAND"]
    assert await codes(filter={"siteId": str(to_global_id("Site", ids["plant"]))}) == [
        "SCN-PLANT"]

    first = await api.data(LIST, {"first": 2}, as_=LOGISTICS)
    page = first["devices"]
    assert [n["code"] for n in page["nodes"]] == ["AIS-SHIP-1", "GPS-TRK-1"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await codes(first=10, after=page["pageInfo"]["endCursor"])
    assert rest == ["GPS-TRK-2", "SCN-HAND", "SCN-PLANT"]

    for variables in ({"first": 101}, {"after": "not a cursor"},
                      {"filter": {"vehicleId": _gid(ids, "GPS-TRK-1")}}):
        bad = await api.query(LIST, variables, as_=LOGISTICS)
        assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", variables


async def test_a_customer_and_other_staff_never_see_a_device(api: Api) -> None:
    ids = await _fleet(api.db)
    for who in (FAW, SALES, token("BAOSTEEL", "quality", "production", "finance")):
        refused = await api.query(LIST, as_=who)
        assert refused["data"] is None
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
        assert "logistics or admin" in refused["errors"][0]["message"]
        # A device's id reads like one that does not exist.
        q = "query($id: ID!) { node(id: $id) { id } }"
        assert (await api.data(q, {"id": _gid(ids, "GPS-TRK-1")}, as_=who))["node"] is None
        nodes = await api.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                               {"ids": [_gid(ids, "GPS-TRK-1")]}, as_=who)
        assert nodes["nodes"] == [None]


async def test_a_customer_changes_no_device_and_nothing_is_written(api: Api) -> None:
    ids = await _fleet(api.db)
    before = {code: await _device(api.db, code) for code in ("GPS-TRK-1", "GPS-TRK-2")}
    gps = _gid(ids, "GPS-TRK-1")
    truck = str(to_global_id("Vehicle", ids["TRK-2"]))
    for who in (FAW, SALES):
        for mutation, field, variables in (
            (DISABLE, "disableDevice", {"id": gps}),
            (ENABLE, "enableDevice", {"id": _gid(ids, "GPS-TRK-2")}),
            (ROTATE, "rotateDevicePassword", {"id": gps}),
            (BIND, "bindDevice", {"input": {"deviceId": gps, "vehicleId": truck}}),
        ):
            got = (await api.data(mutation, variables, as_=who))[field]
            assert [e["code"] for e in got["errors"]] == ["FORBIDDEN"], (field, got)
            assert got["device"] is None
            assert got.get("password") is None
    assert {code: await _device(api.db, code) for code in before} == before
    assert await _events(api.db) == []


async def test_disabling_and_enabling_write_the_mills_events(api: Api) -> None:
    ids = await _fleet(api.db)
    gps = _gid(ids, "GPS-TRK-1")
    done = (await api.data(DISABLE, {"id": gps}, as_=LOGISTICS))["disableDevice"]
    assert done == {"device": {"code": "GPS-TRK-1", "enabled": False}, "errors": []}
    assert (await _device(api.db, "GPS-TRK-1"))["enabled"] is False
    again = (await api.data(DISABLE, {"id": gps}, as_=LOGISTICS))["disableDevice"]
    assert again["device"] is None
    assert [(e["field"], e["code"]) for e in again["errors"]] == [("deviceId", "CONFLICT")]

    back = (await api.data(ENABLE, {"id": gps}, as_=LOGISTICS))["enableDevice"]
    assert back == {"device": {"code": "GPS-TRK-1", "enabled": True}, "errors": []}
    assert (await _device(api.db, "GPS-TRK-1"))["enabled"] is True

    assert [(e["event_type"], e["org_id"], e["aggregate_type"], e["aggregate_id"],
             e["actor"], e["payload"]["device"], e["payload"]["enabled"])
            for e in await _events(api.db)] == [
        ("device.disabled", None, "device", ids["GPS-TRK-1"], "logistics.li", "GPS-TRK-1",
         False),
        ("device.enabled", None, "device", ids["GPS-TRK-1"], "logistics.li", "GPS-TRK-1",
         True),
    ]
    missing = (await api.data(DISABLE, {"id": str(to_global_id("Device", 2**40))},
                              as_=LOGISTICS))["disableDevice"]
    assert [(e["field"], e["code"]) for e in missing["errors"]] == [("deviceId", "NOT_FOUND")]


async def test_a_rotated_password_replaces_the_old_one_and_is_shown_once(api: Api) -> None:
    ids = await _fleet(api.db)
    got = (await api.data(ROTATE, {"id": _gid(ids, "GPS-TRK-1")},
                          as_=LOGISTICS))["rotateDevicePassword"]
    assert got["errors"] == [] and got["device"] == {"code": "GPS-TRK-1",
                                                     "hasBrokerLogin": True}
    password = got["password"]
    assert len(password) >= 32
    stored = (await _device(api.db, "GPS-TRK-1"))["password_hash"]
    assert verify_password(password, stored)
    assert not verify_password(OLD_PASSWORD, stored)
    # A device without a login gets its first one.
    first = (await api.data(ROTATE, {"id": _gid(ids, "SCN-PLANT")},
                            as_=LOGISTICS))["rotateDevicePassword"]
    assert first["device"]["hasBrokerLogin"] is True and first["password"] != password
    assert verify_password(first["password"], (await _device(api.db, "SCN-PLANT"))
                           ["password_hash"])

    events = await _events(api.db)
    assert [(e["event_type"], e["payload"]["device"], e["payload"]["first_login"])
            for e in events] == [("device.password_rotated", "GPS-TRK-1", False),
                                 ("device.password_rotated", "SCN-PLANT", True)]
    # Neither the password nor its hash is in an event.
    text = json.dumps([e["payload"] for e in events])
    assert password not in text and first["password"] not in text and "$7$" not in text
    # Asked for again, the device shows no password anywhere.
    listed = await api.query(LIST, as_=LOGISTICS)
    assert password not in json.dumps(listed)


async def test_binding_to_a_missing_vehicle_is_a_typed_error_and_changes_nothing(
    api: Api,
) -> None:
    ids = await _fleet(api.db)
    gps, scanner = _gid(ids, "GPS-TRK-1"), _gid(ids, "SCN-PLANT")
    trk2 = str(to_global_id("Vehicle", ids["TRK-2"]))
    plant = str(to_global_id("Site", ids["plant"]))
    before = {code: await _device(api.db, code) for code in ("GPS-TRK-1", "SCN-PLANT")}

    async def errors(input: dict[str, Any]) -> list[tuple[str | None, str]]:
        got = (await api.data(BIND, {"input": input}, as_=LOGISTICS))["bindDevice"]
        assert got["device"] is None
        return [(e["field"], e["code"]) for e in got["errors"]]

    assert await errors({"deviceId": gps, "vehicleId": str(to_global_id("Vehicle", 2**40))}) \
        == [("vehicleId", "NOT_FOUND")]
    assert await errors({"deviceId": scanner, "siteId": str(to_global_id("Site", 2**40))}) \
        == [("siteId", "NOT_FOUND")]
    # A GPS unit's fixes are stored for its vehicle: never bound to a site.
    assert await errors({"deviceId": gps, "siteId": plant}) == [("siteId", "INVALID")]
    assert await errors({"deviceId": gps}) == [("vehicleId", "INVALID")]
    assert await errors({"deviceId": gps, "vehicleId": trk2, "siteId": plant}) == [
        ("vehicleId", "INVALID")]
    assert await errors({"deviceId": gps, "vehicleId": str(to_global_id("Vehicle",
                                                                       ids["TRK-1"]))}) == [
        ("vehicleId", "CONFLICT")]
    assert await errors({"deviceId": str(to_global_id("Device", 2**40)), "vehicleId": trk2}) \
        == [("deviceId", "NOT_FOUND")]
    assert {code: await _device(api.db, code) for code in before} == before
    assert await _events(api.db) == []


async def test_a_device_is_rebound_to_another_vehicle_or_a_scanner_to_a_site(api: Api) -> None:
    ids = await _fleet(api.db)
    trk2 = str(to_global_id("Vehicle", ids["TRK-2"]))
    plant = str(to_global_id("Site", ids["plant"]))
    moved = (await api.data(BIND, {"input": {"deviceId": _gid(ids, "GPS-TRK-1"),
                                             "vehicleId": trk2}}, as_=LOGISTICS))["bindDevice"]
    assert moved == {"device": {"code": "GPS-TRK-1", "vehicle": {"code": "TRK-2"},
                                "site": None}, "errors": []}
    # A handheld scanner put down at the plant, then taken onto the ship.
    hand = _gid(ids, "SCN-HAND")
    docked = (await api.data(BIND, {"input": {"deviceId": hand, "siteId": plant}},
                             as_=LOGISTICS))["bindDevice"]
    assert docked["device"] == {"code": "SCN-HAND", "vehicle": None, "site": {"code": "BAOSHAN"}}
    ship = str(to_global_id("Vehicle", ids["SHIP-1"]))
    aboard = (await api.data(BIND, {"input": {"deviceId": hand, "vehicleId": ship}},
                             as_=LOGISTICS))["bindDevice"]
    assert aboard["device"] == {"code": "SCN-HAND", "vehicle": {"code": "SHIP-1"},
                                "site": None}
    assert await _device(api.db, "SCN-HAND") == {
        "enabled": True, "password_hash": None, "vehicle": "SHIP-1", "site": None}
    assert [(e["event_type"], e["org_id"], e["actor"], e["payload"]["device"],
             e["payload"]["bound_to"], e["payload"]["vehicle"], e["payload"]["site"],
             e["payload"]["previous_vehicle"], e["payload"]["previous_site"])
            for e in await _events(api.db)] == [
        ("device.bound", None, "logistics.li", "GPS-TRK-1", "TRK-2", "TRK-2", None, "TRK-1",
         None),
        ("device.bound", None, "logistics.li", "SCN-HAND", "BAOSHAN", None, "BAOSHAN", "TRK-1",
         None),
        ("device.bound", None, "logistics.li", "SCN-HAND", "SHIP-1", "SHIP-1", None, None,
         "BAOSHAN"),
    ]


async def test_a_registry_loaded_before_the_change_takes_it_at_its_next_reload(
    api: Api,
) -> None:
    """The ingester's registry is a cache (`KEYLINK_REGISTRY_REFRESH_S`): a device
    disabled after it was loaded is refused once it reloads, and at once by a fresh one."""
    ids = await _fleet(api.db)

    async def no_live(_ids: Iterable[int]) -> dict[int, Fix]:
        return {}

    def pipeline(registry: Registry) -> Pipeline:
        latest = LatestFixes(no_live, lambda v: latest_positions(api.db, v))
        return Pipeline(api.db, registry, Detector(), latest, Partitions(30))

    now = datetime.now(UTC).replace(microsecond=0)

    def fix(seconds: int) -> Message:
        at = now - timedelta(minutes=5) + timedelta(seconds=seconds)
        body = json.dumps({"ts": at.isoformat(), "lat": 31.4, "lon": 121.5}).encode()
        return Message("keylink/v1/devices/GPS-TRK-1/position", body, seconds, now)

    cached = Registry(api.db)
    await cached.refresh()
    await pipeline(cached).process([fix(1)])
    assert await api.db.fetchval("SELECT count(*) FROM position") == 1

    done = (await api.data(DISABLE, {"id": _gid(ids, "GPS-TRK-1")},
                           as_=LOGISTICS))["disableDevice"]
    assert done["errors"] == []
    await pipeline(Registry(api.db)).process([fix(2)])
    reasons = [r["reason"] for r in await api.db.fetch(
        "SELECT reason FROM rejected_message ORDER BY id")]
    assert reasons == ["disabled_device"]
    # The registry loaded before still takes the device's fixes, until it reloads.
    await pipeline(cached).process([fix(3)])
    assert await api.db.fetchval("SELECT count(*) FROM position") == 2
    await cached.refresh()
    await pipeline(cached).process([fix(4)])
    assert await api.db.fetchval("SELECT count(*) FROM position") == 2
    assert await api.db.fetchval("SELECT count(*) FROM rejected_message") == 2


async def test_a_disabled_devices_messages_are_refused_by_the_running_ingester(
    api: Api, database_url: str, mqtt_broker: Mosquitto,
) -> None:
    """End to end over the broker: a fix is stored, the unit is disabled over GraphQL,
    and the ingester refuses the unit's next fix, published right away: it follows the
    registry's changes, however far its full reload (an hour here) is away."""
    fleet = await make_fleet(api.db)
    gps = await api.db.fetchval("SELECT id FROM device WHERE code = 'GPS-0'")
    staff = token("MILL", "logistics", subject="logistics.li")
    client = unique("ing")
    settings = settings_for(database_url, None, mqtt_broker, group=unique("g"), client=client,
                            registry_refresh_s=3600)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    topic = "keylink/v1/devices/GPS-0/position"
    async with ingesting(settings, mqtt_broker):
        with publisher(mqtt_broker) as p:
            await asyncio.to_thread(p.publish, [(topic, position(start))])
            await eventually(lambda: _is(count(api.db, "SELECT count(*) FROM position"), 1))
            done = await api.data(DISABLE, {"id": str(to_global_id("Device", gps))},
                                  as_=staff)
            assert done["disableDevice"]["errors"] == []
            await asyncio.sleep(0.5)  # the change reaches the ingester within a second
            await asyncio.to_thread(
                p.publish, [(topic, position(start + timedelta(seconds=5), lon=20.0001))])
            await eventually(lambda: _is(count(
                api.db, "SELECT count(*) FROM rejected_message"), 1))
    rejected = await api.db.fetchrow("SELECT reason, device_code FROM rejected_message")
    assert rejected is not None and dict(rejected) == {"reason": "disabled_device",
                                                       "device_code": "GPS-0"}
    assert await count(api.db, "SELECT count(*) FROM position") == 1
    assert fleet.trucks
    purge_session(mqtt_broker, client)


async def _is(value: Any, expected: int) -> bool:
    return bool(await value == expected)


def test_the_api_and_the_command_line_know_the_registrys_kinds() -> None:
    from api.cli import DEVICE_KINDS
    from domain.shipments.devices import KINDS
    from resolvers.shipments.devices import DeviceKind

    assert set(KINDS) == {str(k.value) for k in DeviceKind} == set(DEVICE_KINDS)

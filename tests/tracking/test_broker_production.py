"""The production broker config against hostile devices, over TLS, with a real ingester.

The broker is config/mosquitto.conf with only its paths and port changed (see
tests.support.broker); its logins and rules are the file `keylink devices
mosquitto-dynsec` writes from a registry filled with `keylink devices add`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import ssl
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from api import cli
from api.embedded import Mosquitto, free_port
from domain.db import Database
from settings import Settings, SettingsError
from tests.support.broker import (
    PATH_DIRECTIVES,
    PRODUCTION_CONFIG,
    Tls,
    adapted_config,
    directives,
    make_tls,
    production_broker,
)
from tests.tracking.test_ingester import NOW, eventually, ingesting, make_fleet, position
from tracking.ingester import MqttSource, client_id
from tracking.simulator import Publisher

INGEST_PASSWORD = "ingest-s3cret"
SHARE = "$share/keylink-ingest/keylink/v1/devices/+/position"
NOT_AUTHORIZED = 0x87


@dataclass
class Production:
    broker: Mosquitto
    tls: Tls
    passwords: dict[str, str]
    settings: Settings  # the ingester's

    def device(self, code: str, *, client: str | None = None) -> Client:
        return Client(self, client or code, code, self.passwords[code])


@dataclass
class Client:
    """A paho MQTT v5 client over TLS that records what it is sent."""

    production: Production
    client_id: str
    username: str
    password: str
    received: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reason: Any = None
        self.connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.tls_set(ca_certs=str(self.production.tls.ca))
        self.client.username_pw_set(self.username, self.password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, m: self.received.append(m.payload)

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.reason = reason
        self.connected.set()

    def connect(self) -> Any:
        """Connect with a persistent session; the CONNACK's reason."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        broker = self.production.broker
        self.client.connect(broker.host, broker.port, clean_start=False, properties=props)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"
        if self.reason.is_failure:
            self.client.loop_stop()
        return self.reason

    def subscribe(self, topic: str) -> Any:
        done, reasons = threading.Event(), []
        self.client.on_subscribe = lambda _c, _u, _m, rs, _p: (reasons.extend(rs), done.set())
        self.client.subscribe(topic, qos=1)
        assert done.wait(10), "no SUBACK"
        return reasons[0]

    def publish(self, topic: str, payloads: list[bytes]) -> list[int]:
        """Publish at QoS 1; the PUBACKs' reason codes."""
        acks: dict[int, int] = {}
        self.client.on_publish = lambda _c, _u, mid, r, _p: acks.__setitem__(mid, r.value)
        infos = [self.client.publish(topic, p, qos=1) for p in payloads]
        for info in infos:
            info.wait_for_publish(10)
        return [acks[info.mid] for info in infos]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _cli(*argv: str) -> int:
    """`keylink ...` from a test's event loop (each command runs a loop of its own)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(cli.main, list(argv)).result()


def _add(code: str, *args: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert _cli("devices", "add", code, "--kind", "gps_unit", *args) == 0
    return capsys.readouterr().out.rsplit(" ", 1)[1].strip()


@pytest.fixture
async def production(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> AsyncIterator[Production]:
    """The production broker, two trucks with devices DEV-A and DEV-B and an OwnTracks
    phone PHONE-1 on the second, all registered with the CLI."""
    await make_fleet(db, trucks=2)
    port = free_port(0)
    tls = make_tls(tmp_path / "certs")
    url = f"mqtts://keylink-ingest:{INGEST_PASSWORD}@127.0.0.1:{port}"
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MQTT_URL", url)
    passwords = {
        "DEV-A": _add("DEV-A", "--vehicle", "TRUCK-0", capsys=capsys),
        "DEV-B": _add("DEV-B", "--vehicle", "TRUCK-1", capsys=capsys),
        "PHONE-1": _add("PHONE-1", "--vehicle", "TRUCK-1", "--owntracks", "phone",
                        capsys=capsys),
    }
    access = tmp_path / "keylink-dynsec.json"
    assert _cli("devices", "mosquitto-dynsec", "--out", str(access)) == 0
    settings = Settings(database_url=database_url, mqtt_url=url, mqtt_ca_file=str(tls.ca),
                        ingest_batch_ms=50, ingest_metrics_port=0)
    with production_broker(tmp_path / "broker", port, tls, access) as broker:
        yield Production(broker, tls, passwords, settings)


def test_the_test_broker_differs_from_the_shipped_config_only_in_paths_and_port(
    tmp_path: Path,
) -> None:
    tls = Tls(tmp_path / "ca.crt", tmp_path / "server.crt", tmp_path / "server.key")
    shipped = directives(PRODUCTION_CONFIG.read_text())
    adapted = directives(adapted_config(tmp_path / "state", 45678, tls, tmp_path / "a.json"))

    assert [name for name, _ in adapted] == [name for name, _ in shipped]
    changed = {name for (name, value), (_, was) in zip(adapted, shipped, strict=True)
               if value != was}
    assert changed == PATH_DIRECTIVES | {"listener"}
    assert ("listener", "45678 127.0.0.1") in adapted and ("listener", "8883") in shipped
    # The shipped file: TLS only, no anonymous clients, access from the plugin alone
    # (an acl_file would grant every subscription).
    names = dict(shipped)
    assert [v for n, v in shipped if n == "listener"] == ["8883"]
    assert names["certfile"] == "/etc/mosquitto/certs/server.crt"
    assert names["keyfile"] == "/etc/mosquitto/certs/server.key"
    assert names["allow_anonymous"] == "false"
    assert names["plugin_opt_config_file"] == "/etc/mosquitto/keylink-dynsec.json"
    assert not {"acl_file", "password_file", "per_listener_settings"} & set(names)


async def test_a_device_can_neither_join_the_ingest_share_nor_take_the_ingesters_session(
    db: Database, production: Production,
) -> None:
    ingester_id = client_id(production.settings)
    async with ingesting(production.settings, production.broker):
        thief, truck = production.device("DEV-A"), production.device("DEV-B")
        assert not thief.connect().is_failure
        assert not truck.connect().is_failure
        try:
            # Device A asks for the ingesters' round-robin share, and for anything else.
            for topic in (SHARE, "$share/keylink-ingest/owntracks/+/+",
                          "keylink/v1/devices/#", "keylink/v1/devices/DEV-A/position", "#"):
                assert thief.subscribe(topic).is_failure, topic
            first = await asyncio.to_thread(truck.publish, "keylink/v1/devices/DEV-B/position",
                                            _fixes(0, 10))
            # Device A dials in as the ingester: refused, and the ingester stays on.
            impostor = production.device("DEV-A", client=ingester_id)
            assert (await asyncio.to_thread(impostor.connect)).is_failure
            then = await asyncio.to_thread(truck.publish, "keylink/v1/devices/DEV-B/position",
                                           _fixes(10, 10))
            assert first + then == [0] * 20

            async def all_stored() -> bool:
                return await db.fetchval("SELECT count(*) FROM position") == 20
            await eventually(all_stored)
            await asyncio.sleep(0.5)
            assert thief.received == [] and impostor.received == []
        finally:
            thief.close()
            truck.close()


async def test_a_device_publishes_under_its_own_name_and_client_id_only(
    db: Database, production: Production,
) -> None:
    assert production.device("DEV-A", client="DEV-A-2").connect().is_failure
    assert Client(production, "DEV-A", "DEV-A", "wrong").connect().is_failure
    async with ingesting(production.settings, production.broker):
        sent = {}
        for topic in ("keylink/v1/devices/DEV-B/position", "keylink/v1/devices/DEV-A/position"):
            device = production.device("DEV-A")
            assert not device.connect().is_failure
            try:
                sent[topic] = await asyncio.to_thread(device.publish, topic, _fixes(0, 1))
            finally:
                device.close()
        assert sent == {"keylink/v1/devices/DEV-B/position": [NOT_AUTHORIZED],
                        "keylink/v1/devices/DEV-A/position": [0]}

        async def stored() -> bool:
            return await db.fetchval("SELECT count(*) FROM position") == 1
        await eventually(stored)
    assert await db.fetchval("SELECT v.code FROM position p JOIN vehicle v"
                             " ON v.id = p.vehicle_id") == "TRUCK-0"


async def test_devices_and_ingesters_reach_the_broker_over_tls_only(
    db: Database, production: Production,
) -> None:
    # A plain-text client gets no CONNACK from the TLS listener.
    plain = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="DEV-A", protocol=mqtt.MQTTv5)
    plain.username_pw_set("DEV-A", production.passwords["DEV-A"])
    answered = threading.Event()
    plain.on_connect = lambda *_: answered.set()
    plain.connect(production.broker.host, production.broker.port)
    plain.loop_start()
    try:
        assert not answered.wait(2)
    finally:
        plain.loop_stop()
    # A client that does not trust the broker's authority refuses it.
    untrusting = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="DEV-A",
                             protocol=mqtt.MQTTv5)
    untrusting.tls_set()
    with pytest.raises(ssl.SSLCertVerificationError):
        untrusting.connect(production.broker.host, production.broker.port)

    assert production.settings.mqtt_url is not None
    assert production.settings.mqtt_url.startswith("mqtts://")
    async with ingesting(production.settings, production.broker):
        device = production.device("DEV-B")
        assert not device.connect().is_failure
        try:
            assert device.publish("keylink/v1/devices/DEV-B/position", _fixes(0, 1)) == [0]
        finally:
            device.close()

        async def stored() -> bool:
            return await db.fetchval("SELECT count(*) FROM position") == 1
        await eventually(stored)


async def test_an_owntracks_phone_registered_with_the_cli_is_let_through_and_stored(
    db: Database, production: Production, capsys: pytest.CaptureFixture[str],
) -> None:
    # The OwnTracks user must be the device code: the CLI says so instead of
    # registering a phone the broker would refuse.
    assert _cli("devices", "add", "PHONE-2", "--kind", "gps_unit",
                "--owntracks", "driver7/phone") == 1
    assert "the OwnTracks user must be the device code 'PHONE-2'" in capsys.readouterr().err
    assert await db.fetchval("SELECT count(*) FROM device WHERE code = 'PHONE-2'") == 0
    assert await db.fetchval(
        "SELECT owntracks_id FROM device WHERE code = 'PHONE-1'") == "PHONE-1/phone"

    location = {"_type": "location", "tid": "p1", "lat": 31.2304, "lon": 121.4737,
                "tst": int(NOW.timestamp()), "acc": 9, "vel": 42, "cog": 270}
    async with ingesting(production.settings, production.broker):
        phone = production.device("PHONE-1")
        assert not phone.connect().is_failure
        try:
            # OwnTracks subscribes to its friends; the broker refuses, the app carries on.
            assert phone.subscribe("owntracks/+/+").is_failure
            assert phone.publish("owntracks/PHONE-1/phone", [json.dumps(location).encode()]) \
                == [0]
        finally:
            phone.close()

        async def stored() -> bool:
            return await db.fetchval(
                "SELECT count(*) FROM position WHERE source = 'owntracks'") == 1
        await eventually(stored)
    assert await db.fetchval("SELECT v.code FROM position p JOIN vehicle v"
                             " ON v.id = p.vehicle_id") == "TRUCK-1"


async def test_no_device_code_can_pass_for_an_ingester(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MQTT_URL", f"mqtts://keylink-ingest:{INGEST_PASSWORD}@127.0.0.1:8883")
    assert _cli("devices", "add", "keylink-ingest-host-0", "--kind", "gps_unit") == 1
    assert "kept for Keylink's own broker logins" in capsys.readouterr().err
    # One that reached the registry some other way stops the access file being written.
    await db.execute("INSERT INTO device (code, kind, password_hash)"
                     " VALUES ('keylink-ingest-host-0', 'gps_unit', '$7$101$AAAA$BBBB')")
    assert _cli("devices", "mosquitto-dynsec") == 1
    assert "could pass for an ingester" in capsys.readouterr().err


def _fixes(start: int, count: int) -> list[bytes]:
    begin = NOW - timedelta(hours=1)
    return [position(begin + timedelta(seconds=start + i), 20.0 + (start + i) * 0.0001, 20.0)
            for i in range(count)]


def test_the_broker_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MQTT_URL must start with mqtt:// or mqtts://"):
        Settings.from_env({"MQTT_URL": "tcp://broker:1883"})
    with pytest.raises(SettingsError, match="KEYLINK_MQTT_CA_FILE"):
        Settings.from_env({"MQTT_URL": "mqtts://broker", "KEYLINK_MQTT_CA_FILE":
                           str(tmp_path / "missing.crt")})
    ca = tmp_path / "ca.crt"
    ca.write_text("")
    settings = Settings.from_env({"MQTT_URL": "mqtts://u:p@broker", "KEYLINK_MQTT_CA_FILE":
                                  str(ca)})
    assert settings.mqtt_ca_file == str(ca)


def test_an_mqtts_url_without_a_port_dials_8883(tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    settings = Settings(mqtt_url="mqtts://u:p@broker.example", mqtt_ca_file=str(tls.ca))
    loop = asyncio.new_event_loop()
    try:
        source = MqttSource(settings, loop, asyncio.Queue())
    finally:
        loop.close()
    assert (source.host, source.port) == ("broker.example", 8883)
    # `keylink simulate` reaches the broker the same way.
    publisher = Publisher(settings.mqtt_url or "", settings.mqtt_ca_file)
    assert (publisher.host, publisher.port) == ("broker.example", 8883)

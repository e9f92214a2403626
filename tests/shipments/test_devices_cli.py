"""`keylink devices list|disable|enable|rotate-password|bind`: the same domain functions as
GraphQL, run as the command line's actor; the broker's access files follow the registry."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from api import cli
from api.embedded import Mosquitto, free_port
from domain.db import Database
from domain.shipments.devices import verify_password
from tests.support.factory import build
from tests.tracking.test_ingester import _login


@pytest.fixture
def keylink(database_url: str, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Any:
    """Runs `keylink ARGS...` in a thread (it runs its own event loop) against the test's
    database; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MQTT_URL", "mqtt://keylink-ingest:s3cret@127.0.0.1:1883")
    monkeypatch.setenv("KEYLINK_REGISTRY_REFRESH_S", "30")

    async def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(cli.main, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


async def _fleet(db: Database) -> None:
    """Trucks TRK-1 and TRK-2 (the factory's world gives the plant, BAOSHAN)."""
    await build(db)
    for code in ("TRK-1", "TRK-2"):
        await db.execute("INSERT INTO vehicle (code, kind, name) VALUES ($1, 'truck', $1)",
                         code)


async def _row(db: Database, code: str) -> dict[str, Any]:
    row = await db.fetchrow("SELECT d.enabled, d.password_hash, v.code AS vehicle,"
                            " s.code AS site FROM device d"
                            " LEFT JOIN vehicle v ON v.id = d.vehicle_id"
                            " LEFT JOIN site s ON s.id = d.site_id WHERE d.code = $1", code)
    assert row is not None
    return dict(row)


def _password(out: str) -> str:
    return out.strip().rsplit(" ", 1)[1]


async def test_devices_are_listed_as_a_table_and_narrowed(db: Database, keylink: Any) -> None:
    await _fleet(db)
    assert (await keylink("devices", "list"))[:2] == (0, "no devices\n")
    for args in (("GPS-TRK-2", "--kind", "gps_unit", "--vehicle", "TRK-2"),
                 ("GPS-TRK-1", "--kind", "gps_unit", "--vehicle", "TRK-1"),
                 ("SCN-PLANT", "--kind", "scanner", "--site", "BAOSHAN")):
        code, out, _ = await keylink("devices", "add", *args)
        assert code == 0 and out.startswith(f"added {args[0]}; its broker password"), out
    await db.execute("UPDATE device SET password_hash = NULL WHERE code = 'SCN-PLANT'")
    assert (await keylink("devices", "disable", "GPS-TRK-2"))[0] == 0

    code, out, _ = await keylink("devices", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["CODE", "KIND", "VEHICLE", "SITE", "ENABLED", "LOGIN",
                                "CREATED"]
    assert [line.split()[:6] for line in lines[1:]] == [
        ["GPS-TRK-1", "gps_unit", "TRK-1", "-", "yes", "yes"],
        ["GPS-TRK-2", "gps_unit", "TRK-2", "-", "no", "yes"],
        ["SCN-PLANT", "scanner", "-", "BAOSHAN", "yes", "no"],
    ]
    # Columns line up: each starts where its heading does.
    starts = [lines[0].index(h) for h in ("KIND", "VEHICLE", "SITE", "ENABLED")]
    for line in lines[1:]:
        assert all(line[s - 2:s] == "  " and line[s] != " " for s in starts), line

    async def codes(*args: str) -> list[str]:
        code, out, _ = await keylink("devices", "list", *args)
        assert code == 0
        return [line.split()[0] for line in out.splitlines()[1:]]

    assert await codes("--kind", "scanner") == ["SCN-PLANT"]
    assert await codes("--disabled") == ["GPS-TRK-2"]
    assert await codes("--enabled", "--kind", "gps_unit") == ["GPS-TRK-1"]
    assert await codes("--vehicle", "TRK-1") == ["GPS-TRK-1"]
    assert await codes("--site", "BAOSHAN") == ["SCN-PLANT"]
    assert (await keylink("devices", "list", "--vehicle", "NOWHERE"))[1] == "no devices\n"
    with pytest.raises(SystemExit):  # one state at a time
        cli.main(["devices", "list", "--enabled", "--disabled"])


async def test_disable_enable_and_rebind_from_the_command_line(
    db: Database, keylink: Any,
) -> None:
    await _fleet(db)
    assert (await keylink("devices", "add", "GPS-1", "--kind", "gps_unit",
                          "--vehicle", "TRK-1"))[0] == 0
    assert (await keylink("devices", "add", "SCN-1", "--kind", "scanner",
                          "--vehicle", "TRK-1"))[0] == 0

    code, out, _ = await keylink("devices", "disable", "GPS-1")
    assert code == 0 and out.startswith("disabled GPS-1: the ingesters refuse its messages "
                                        "within a second")
    assert (await _row(db, "GPS-1"))["enabled"] is False
    code, _, err = await keylink("devices", "disable", "GPS-1")
    assert code == 1 and err == "keylink devices disable: device GPS-1 is disabled already\n"
    assert (await keylink("devices", "enable", "GPS-1"))[0] == 0
    assert (await _row(db, "GPS-1"))["enabled"] is True

    code, out, _ = await keylink("devices", "bind", "GPS-1", "--vehicle", "TRK-2")
    assert code == 0 and out.startswith("bound GPS-1 to vehicle TRK-2")
    code, out, _ = await keylink("devices", "bind", "SCN-1", "--site", "BAOSHAN")
    assert code == 0 and out.startswith("bound SCN-1 to site BAOSHAN")
    scanner = await _row(db, "SCN-1")
    assert (scanner["vehicle"], scanner["site"]) == (None, "BAOSHAN")

    # Refusals: one line each, exit 1, and the device as it was.
    before = await _row(db, "GPS-1")
    for args, message in (
        (("bind", "GPS-1", "--vehicle", "TRK-9"), "no vehicle 'TRK-9'"),
        (("bind", "GPS-1", "--site", "BAOSHAN"),
         "a gps unit is bound to a vehicle, never to a site"),
        (("bind", "GPS-9", "--vehicle", "TRK-1"), "no device 'GPS-9'"),
        (("enable", "GPS-9"), "no device 'GPS-9'"),
        (("rotate-password", "GPS-9"), "no device 'GPS-9'"),
    ):
        code, out, err = await keylink("devices", *args)
        assert (code, out) == (1, ""), args
        assert err == f"keylink devices {args[0]}: {message}\n", err
    assert await _row(db, "GPS-1") == before
    with pytest.raises(SystemExit):  # a vehicle or a site, not both, not neither
        cli.main(["devices", "bind", "GPS-1"])

    events = [(r["event_type"], r["payload"]["device"], r["actor"], r["org_id"])
              for r in await db.fetch("SELECT * FROM domain_event ORDER BY seq")]
    assert events == [
        ("device.registered", "GPS-1", "keylink:cli", None),
        ("device.registered", "SCN-1", "keylink:cli", None),
        ("device.disabled", "GPS-1", "keylink:cli", None),
        ("device.enabled", "GPS-1", "keylink:cli", None),
        ("device.bound", "GPS-1", "keylink:cli", None),
        ("device.bound", "SCN-1", "keylink:cli", None),
    ]


async def test_adding_a_gps_unit_at_a_site_is_refused(db: Database, keylink: Any) -> None:
    await _fleet(db)
    code, _, err = await keylink("devices", "add", "GPS-2", "--kind", "gps_unit",
                                 "--site", "BAOSHAN")
    assert code == 1 and "never to a site" in err
    code, _, err = await keylink("devices", "add", "GPS-2", "--kind", "gps_unit",
                                 "--vehicle", "TRK-9")
    assert code == 1 and err == "keylink devices add: no vehicle 'TRK-9'\n"
    code, _, err = await keylink("devices", "add", "keylink-ingest", "--kind", "gps_unit")
    assert code == 1 and "kept for Keylink's own broker logins" in err
    assert (await keylink("devices", "add", "GPS-2", "--kind", "gps_unit"))[0] == 0
    code, _, err = await keylink("devices", "add", "GPS-2", "--kind", "gps_unit")
    assert code == 1 and err == "keylink devices add: device 'GPS-2' exists already\n"
    assert await db.fetchval("SELECT count(*) FROM device") == 1


async def test_the_broker_takes_a_rotated_password_and_refuses_a_disabled_device(
    db: Database, keylink: Any, tmp_path: Path,
) -> None:
    """What the README tells an operator: rotate, write the broker's file again, restart
    the broker; the new password logs in and the old one no longer does. Disabled, the
    device's login is gone from the next file."""
    await _fleet(db)
    code, out, _ = await keylink("devices", "add", "GPS-1", "--kind", "gps_unit",
                                 "--vehicle", "TRK-1")
    old = _password(out)
    code, out, err = await keylink("devices", "rotate-password", "GPS-1")
    assert code == 0 and out.startswith("rotated GPS-1; its new broker password")
    assert "mosquitto-dynsec" in err and "restart the broker" in err
    new = _password(out)
    stored = (await _row(db, "GPS-1"))["password_hash"]
    assert verify_password(new, stored) and not verify_password(old, stored)
    event = await db.fetchrow("SELECT payload, actor FROM domain_event"
                              " WHERE event_type = 'device.password_rotated'")
    assert event is not None and event["actor"] == "keylink:cli"
    assert new not in str(event["payload"]) and stored not in str(event["payload"])

    async def broker_logins(name: str) -> dict[str, int]:
        passwd = tmp_path / f"{name}.passwd"
        assert (await keylink("devices", "mosquitto-passwd", "--out", str(passwd)))[0] == 0
        config = tmp_path / f"{name}.conf"
        config.write_text(f"allow_anonymous false\npassword_file {passwd}\n")
        with Mosquitto(tmp_path / name, free_port(0), config=config) as broker:
            return {"new": await asyncio.to_thread(_login, broker, "GPS-1", new),
                    "old": await asyncio.to_thread(_login, broker, "GPS-1", old)}

    rotated = await broker_logins("rotated")
    assert rotated["new"] == 0 and rotated["old"] != 0
    assert (await keylink("devices", "disable", "GPS-1"))[0] == 0
    disabled = await broker_logins("disabled")
    assert disabled["new"] != 0

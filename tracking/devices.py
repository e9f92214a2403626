"""Broker credentials of devices: Mosquitto's access config, made from the registry.

A device logs in to the broker with its device code as user name and as client id. The
registry keeps each device's password as a hash in Mosquitto's own format, so the
broker's logins are the registry's rows written out, plus the ingesters' user, whose
password comes from ``MQTT_URL``. Two forms:

- ``dynsec_config``: the production broker's access, for Mosquitto's dynamic-security
  plugin. Each device may publish under its own topics and nothing else: no
  subscription at all (a device reads nothing from the broker), and only with its code
  as client id. The ingesters' user may only take the shared subscription of its group.
- ``password_file``: a plain password file, for a broker that checks logins only.

Mosquitto 2's format (``mosquitto_passwd``'s default, sha512-pbkdf2) is
``user:$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>``, with a 12-byte salt
and a 64-byte key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from domain.db import Executor
from tracking.topics import DEVICE_CODE, PREFIX

# mosquitto_passwd's own count. Device passwords are random tokens (see `new_password`),
# which no iteration count makes harder to guess; a high one would only slow every
# device's login at the broker.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
INGEST_USER = "keylink-ingest"
# Device codes may not start with this: the system's own logins (the ingesters' user and
# client ids, `keylink-ingest-{hostname}-{n}` by default) do, and a device's code is its
# user name and client id.
RESERVED_PREFIX = "keylink-"


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS,
                  salt: bytes | None = None) -> str:
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, hashed: str) -> bool:
    try:
        _, kind, iterations, salt, key = hashed.split("$")
        if kind != "7":
            return False
        expected = base64.b64decode(key)
        actual = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt),
                                     int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


def new_password() -> str:
    return secrets.token_urlsafe(24)


def ingest_credentials(mqtt_url: str | None) -> tuple[str, str] | None:
    """(user, password) the ingesters log in with, from ``MQTT_URL``."""
    if not mqtt_url:
        return None
    url = urlsplit(mqtt_url)
    if not (url.username and url.password):
        return None
    return unquote(url.username), unquote(url.password)


async def password_file(db: Executor, *, ingest: tuple[str, str] | None) -> str:
    """The password file's text: every enabled device that has a password, then the
    ingesters' user. A disabled device is left out, so the broker refuses it too."""
    rows = await db.fetch(
        "SELECT code, password_hash FROM device"
        " WHERE password_hash IS NOT NULL AND enabled ORDER BY code")
    lines = [f"{r['code']}:{r['password_hash']}" for r in rows]
    if ingest is not None:
        lines.append(f"{ingest[0]}:{hash_password(ingest[1])}")
    return "".join(f"{line}\n" for line in lines)


async def dynsec_config(
    db: Executor, *, ingest: tuple[str, str] | None, group: str, ingest_client_id: str,
) -> str:
    """The dynamic-security plugin's config (JSON): one client and one role per enabled
    device that has a password, and the ingesters' user.

    What is not granted is refused (``defaultACLAccess``): a device publishes under
    ``keylink/v1/devices/{code}/`` and, when it is an OwnTracks app, under
    ``owntracks/{owntracks_id}``; it may subscribe to nothing, so it can neither read
    another device's fixes nor join the ingesters' shared subscription and take its
    share of the messages. Its client id must be its code, so it cannot take over an
    ingester's persistent session either. Raises DeviceError when a device code could
    be an ingester's user name or client id."""
    rows = await db.fetch(
        "SELECT code, owntracks_id, password_hash FROM device"
        " WHERE password_hash IS NOT NULL AND enabled ORDER BY code")
    ingest_prefix = ingest_client_id.split("{", 1)[0]
    clients: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    for r in rows:
        code = r["code"]
        if (ingest is not None and code == ingest[0]) or (
                ingest_prefix and code.startswith(ingest_prefix)):
            raise DeviceError(f"device {code!r} could pass for an ingester (its user "
                              f"{INGEST_USER!r} or a client id {ingest_client_id!r}); "
                              "disable it or register it under another code")
        topics = [f"{PREFIX}/{code}/#"]
        if r["owntracks_id"]:
            topics.append(f"owntracks/{r['owntracks_id']}/#")
        role = f"device/{code}"
        roles.append({"rolename": role, "acls": [
            {"acltype": "publishClientSend", "topic": t, "priority": 0, "allow": True}
            for t in topics]})
        clients.append(_dynsec_client(code, r["password_hash"], role, clientid=code))
    if ingest is not None:
        role = "ingest"
        roles.append({"rolename": role, "acls": [
            *({"acltype": "subscribePattern", "topic": f"$share/{group}/{t}", "priority": 0,
               "allow": True} for t in (f"{PREFIX}/#", "owntracks/#")),
            *({"acltype": "publishClientReceive", "topic": t, "priority": 0, "allow": True}
              for t in (f"{PREFIX}/#", "owntracks/#")),
        ]})
        clients.append(_dynsec_client(ingest[0], hash_password(ingest[1]), role))
    config = {
        "defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                             "subscribe": False, "unsubscribe": True},
        "clients": clients,
        "groups": [],
        "roles": roles,
    }
    return json.dumps(config, indent=2) + "\n"


def _dynsec_client(username: str, hashed: str, role: str,
                   clientid: str | None = None) -> dict[str, Any]:
    # The registry's hash is Mosquitto's own ($7$iterations$salt$key), which the plugin
    # keeps in three fields.
    _, _, iterations, salt, key = hashed.split("$")
    client: dict[str, Any] = {"username": username, "password": key, "salt": salt,
                              "iterations": int(iterations), "roles": [{"rolename": role}]}
    if clientid is not None:
        client["clientid"] = clientid
    return client


def write_file(path: Path, text: str) -> None:
    """Replace ``path`` in one step: a broker reloading it never reads half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)


class DeviceError(ValueError):
    """The device cannot be added as asked; the message says why."""


async def add_device(
    db: Executor, code: str, *, kind: str, vehicle: str | None = None,
    site: str | None = None, owntracks_id: str | None = None,
) -> str:
    """Register a device with a new broker password; returns the password, which is
    stored only as its hash."""
    if not DEVICE_CODE.fullmatch(code):
        raise DeviceError(f"device code {code!r}: 1 to 64 of A-Z a-z 0-9 _ . -")
    if code.startswith(RESERVED_PREFIX):
        raise DeviceError(f"device code {code!r}: codes starting with {RESERVED_PREFIX!r} "
                          "are kept for Keylink's own broker logins")
    if owntracks_id is not None:
        owntracks_id = _owntracks_id(code, owntracks_id)
    vehicle_id = site_id = None
    if vehicle is not None:
        vehicle_id = await db.fetchval("SELECT id FROM vehicle WHERE code = $1", vehicle)
        if vehicle_id is None:
            raise DeviceError(f"no vehicle {vehicle!r}")
    if site is not None:
        site_id = await db.fetchval("SELECT id FROM site WHERE code = $1", site)
        if site_id is None:
            raise DeviceError(f"no site {site!r}")
    if await db.fetchval("SELECT 1 FROM device WHERE code = $1", code):
        raise DeviceError(f"device {code!r} exists already")
    password = new_password()
    await db.execute(
        "INSERT INTO device (code, kind, vehicle_id, site_id, owntracks_id, password_hash)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        code, kind, vehicle_id, site_id, owntracks_id, hash_password(password))
    return password


def _owntracks_id(code: str, given: str) -> str:
    """``{user}/{device}`` of an OwnTracks app; ``given`` may name the device alone.

    The app publishes under ``owntracks/{its user name}/{device}`` and logs in as the
    device, so the user must be the device code: the broker lets a device publish under
    its own name only."""
    user, slash, device = given.rpartition("/")
    if not slash:
        user = code
    if user != code:
        raise DeviceError(
            f"--owntracks {given!r}: the OwnTracks user must be the device code {code!r} "
            f"(the app logs in, and publishes under owntracks/<user>/, as {code}); "
            f"set the app's user name and client id to {code} and give "
            f"--owntracks {code}/{device}")
    if not DEVICE_CODE.fullmatch(device):
        raise DeviceError(f"--owntracks {given!r}: the device level must be 1 to 64 of "
                          "A-Z a-z 0-9 _ . -")
    return f"{code}/{device}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()

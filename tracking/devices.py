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

The hashes are Mosquitto 2's own (``domain.shipments.devices.hash_password``), where the
registry's writes (registering a device, rotating its password) make them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from domain.db import Executor
from domain.shipments.devices import hash_password
from tracking.topics import PREFIX

INGEST_USER = "keylink-ingest"


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
    """The broker's access file cannot be written as the registry stands; the message
    says why."""

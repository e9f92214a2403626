"""Broker credentials of devices: Mosquitto's password file, made from the registry.

A device logs in to the broker with its device code as user name (the ACL then lets
it publish under its own topics only). The registry keeps each device's password as a
hash in Mosquitto's own format, so the password file is the registry's rows written
out, plus the ingesters' user, whose password comes from ``MQTT_URL``.

Mosquitto 2's format (``mosquitto_passwd``'s default, sha512-pbkdf2) is
``user:$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>``, with a 12-byte salt
and a 64-byte key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

from domain.db import Executor

# mosquitto_passwd's own count. Device passwords are random tokens (see `new_password`),
# which no iteration count makes harder to guess; a high one would only slow every
# device's login at the broker.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
INGEST_USER = "keylink-ingest"


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
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", code):
        raise DeviceError(f"device code {code!r}: 1 to 64 of A-Z a-z 0-9 _ . -")
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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()

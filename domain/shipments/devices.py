"""The device registry as the mill's staff manage it: the GPS units, AIS gateways and
barcode scanners that publish to the broker, what each is bound to, whether it may
publish, and its broker password.

The ingester reads the same table (`tracking.registry`, which caches it and reads a
device again as soon as its ``device.*`` event commits, ``tracking.changes``) and the
broker's logins are written from it (`tracking.devices`): a disabled device's messages
are refused as ``disabled_device``, and its login is left out of the next broker access
file, so a device is switched off here and nowhere else. Devices are the mill's alone:
every read binds the viewer's scope and a customer's finds none, and the permission table
below lets only logistics and admin list or change them. Every write takes the actor,
checks the table before anything else, and appends its ``device.*`` event (``org_id``
NULL: the mill's own) last in its transaction.
No event carries a password.

A device logs in with a random password (:func:`new_password`) kept only as a hash in
Mosquitto's own format, so the broker's files are the registry's rows written out. That
format (``mosquitto_passwd``'s default, sha512-pbkdf2) is
``$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>``, with a 12-byte salt and a
64-byte key.

Rows are named by id (a global id over GraphQL) or by code (on the command line): a
:data:`Ref` is either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from domain import events
from domain.actor import Actor, Permissions
from domain.db import Database, Executor, Record
from domain.errors import Conflict, Invalid, NotFound
from domain.tenancy import P, Scope, Where

# A row's id (from a global id) or its code (from the command line).
Ref = int | str

# Who keeps the fleet's devices: the mill's logistics staff, and admins.
KEEPERS = ("logistics", "admin")
PERMISSIONS = Permissions({
    "list": KEEPERS,
    "register": KEEPERS,
    "disable": KEEPERS,
    "enable": KEEPERS,
    "rotate_password": KEEPERS,
    "bind": KEEPERS,
})

# What each kind may be bound to, as the ingester uses it (`tracking.pipeline`): a GPS
# unit's fixes are stored for its vehicle, so it needs one and a site would mean nothing;
# a scanner is a handheld aboard a vehicle or fixed at a dock or warehouse, and a scan
# without a site of its own is placed at the scanner's; an AIS gateway, aboard a ship or
# on a quay, relays whichever vessels it hears (its fixes go to the vessel its MMSI names),
# so what it is bound to says only where it is.
BINDS_TO: Final[dict[str, tuple[str, ...]]] = {
    "gps_unit": ("vehicle",),
    "ais_gateway": ("vehicle", "site"),
    "scanner": ("vehicle", "site"),
}
KINDS: Final = tuple(BINDS_TO)

# The table's own CHECK: a device's code is its MQTT user name, client id and topic level.
DEVICE_CODE: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Device codes may not start with this: the system's own logins (the ingesters' user and
# client ids, `keylink-ingest-{hostname}-{n}` by default) do.
RESERVED_PREFIX: Final = "keylink-"

# mosquitto_passwd's own count. Device passwords are random tokens (see `new_password`),
# which no iteration count makes harder to guess; a high one would only slow every
# device's login at the broker.
PBKDF2_ITERATIONS: Final = 101
SALT_BYTES: Final = 12


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
    """192 random bits, URL-safe: typed into a device's config once, never remembered."""
    return secrets.token_urlsafe(24)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True, slots=True)
class Device:
    id: int
    code: str
    kind: str  # one of KINDS
    vehicle_id: int | None
    vehicle_code: str | None
    site_id: int | None
    site_code: str | None
    owntracks_id: str | None  # "{user}/{device}" of an OwnTracks app
    enabled: bool
    has_login: bool  # a password hash is stored: the broker's files name it
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedPassword:
    """A device with the password just made for it: the only time it is known."""

    device: Device
    password: str


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    """All given conditions must hold; an empty one matches every device."""

    kinds: Sequence[str] = ()
    enabled: bool | None = None
    vehicle: Ref | None = None  # bound to this vehicle
    site: Ref | None = None  # bound to this site


_COLS = ("d.id, d.code, d.kind, d.vehicle_id, v.code AS vehicle_code, d.site_id,"
         " s.code AS site_code, d.owntracks_id, d.enabled,"
         " d.password_hash IS NOT NULL AS has_login, d.created_at")
_FROM = ("device d LEFT JOIN vehicle v ON v.id = d.vehicle_id"
         " LEFT JOIN site s ON s.id = d.site_id")
# Devices are the mill's: the staff's scope binds NULL, a customer's its id.
_MILLS_ONLY = f"{P} IS NULL"


def _devices(rows: Sequence[Record]) -> list[Device]:
    return [Device(**dict(r)) for r in rows]


# --- reads ----------------------------------------------------------------------------


async def list_devices(
    db: Executor, actor: Actor, flt: DeviceFilter, limit: int, after: str | None = None,
) -> list[Device]:
    """One keyset page of devices in code order, after the code ``after``: what an
    operator scans for a unit, and what `keylink devices list` prints."""
    PERMISSIONS.check(actor, "list")
    where = actor.scope.where(_MILLS_ONLY)
    where.any_of("d.kind", flt.kinds)
    where.given(flt.enabled, "d.enabled = {}::boolean")
    _named(where, "d.vehicle_id", "v.code", flt.vehicle)
    _named(where, "d.site_id", "s.code", flt.site)
    where.given(after, "d.code > {}::text")
    rows = await db.fetch(
        f"SELECT {_COLS} FROM {_FROM} WHERE {where.sql()} ORDER BY d.code"
        f" LIMIT {where.arg(limit)}", *where.args)
    return _devices(rows)


async def devices_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Device]:
    """Devices by id, for the staff's loaders; a customer's scope finds none. Which of
    the staff may read them is :data:`PERMISSIONS`' ``list``, checked by the caller."""
    rows = await db.fetch(
        f"SELECT {_COLS} FROM {_FROM} WHERE d.id = ANY($2::bigint[]) AND {_MILLS_ONLY}",
        scope.org_id, list(ids))
    return _devices(rows)


def _named(where: Where, id_column: str, code_column: str, ref: Ref | None) -> None:
    if isinstance(ref, int):
        where.given(ref, f"{id_column} = {{}}::bigint")
    else:
        where.given(ref, f"{code_column} = {{}}::text")


# --- writes ---------------------------------------------------------------------------


async def register_device(
    db: Database, actor: Actor, code: str, *, kind: str, vehicle: Ref | None = None,
    site: Ref | None = None, owntracks_id: str | None = None,
) -> IssuedPassword:
    """Register a device with a new broker password, returned once: only its hash is
    stored. It may be bound to a vehicle and a site its kind allows (:data:`BINDS_TO`),
    or to nothing yet."""
    PERMISSIONS.check(actor, "register")
    if not DEVICE_CODE.fullmatch(code):
        raise Invalid(f"device code {code!r}: 1 to 64 of A-Z a-z 0-9 _ . -", field="code")
    if code.startswith(RESERVED_PREFIX):
        raise Invalid(f"device code {code!r}: codes starting with {RESERVED_PREFIX!r} are "
                      "kept for Keylink's own broker logins", field="code")
    if kind not in BINDS_TO:
        raise Invalid(f"a device is one of {', '.join(KINDS)}, not {kind!r}", field="kind")
    for target, ref in (("vehicle", vehicle), ("site", site)):
        if ref is not None:
            _check_binding(kind, target)
    if owntracks_id is not None:
        owntracks_id = _owntracks_id(code, owntracks_id)
    password = new_password()
    async with db.transaction() as tx:
        vehicle_id = await _vehicle_id(tx, vehicle) if vehicle is not None else None
        site_id = await _site_id(tx, site) if site is not None else None
        if await tx.fetchval("SELECT 1 FROM device WHERE code = $1", code):
            raise Conflict(f"device {code!r} exists already", field="code")
        try:
            pk = await tx.fetchval(
                "INSERT INTO device (code, kind, vehicle_id, site_id, owntracks_id,"
                " password_hash) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                code, kind, vehicle_id, site_id, owntracks_id, hash_password(password))
        except asyncpg.UniqueViolationError as e:
            if e.constraint_name == "device_owntracks_id_key":
                raise Conflict(f"the OwnTracks id {owntracks_id!r} is another device's",
                               field="owntracksId") from e
            raise Conflict(f"device {code!r} exists already", field="code") from e
        device = await _one(tx, pk)
        await _event(tx, "device.registered", device, actor,
                     vehicle=device.vehicle_code, site=device.site_code)
    return IssuedPassword(device, password)


async def disable_device(db: Database, actor: Actor, device: Ref) -> Device:
    """Switch a device off: the ingesters refuse its messages (``disabled_device``) within
    a second (``tracking.changes``), and the broker's next access file leaves its login out."""
    PERMISSIONS.check(actor, "disable")
    async with db.transaction() as tx:
        found = await _locked(tx, device)
        if not found.enabled:
            raise Conflict(f"device {found.code} is disabled already", field="deviceId")
        changed = await _set(tx, found, "enabled = false")
        await _event(tx, "device.disabled", changed, actor)
    return changed


async def enable_device(db: Database, actor: Actor, device: Ref) -> Device:
    """Switch a device back on: its messages are taken again, and its login (if it has
    a password) is back in the broker's next access file."""
    PERMISSIONS.check(actor, "enable")
    async with db.transaction() as tx:
        found = await _locked(tx, device)
        if found.enabled:
            raise Conflict(f"device {found.code} is enabled already", field="deviceId")
        changed = await _set(tx, found, "enabled = true")
        await _event(tx, "device.enabled", changed, actor)
    return changed


async def rotate_password(db: Database, actor: Actor, device: Ref) -> IssuedPassword:
    """Give a device a new random broker password, returned once; the old one stops
    working when the broker next loads its access file, written from the registry. A
    device without a login gets its first one."""
    PERMISSIONS.check(actor, "rotate_password")
    password = new_password()
    async with db.transaction() as tx:
        found = await _locked(tx, device)
        changed = await _set(tx, found, "password_hash = $2", hash_password(password))
        await _event(tx, "device.password_rotated", changed, actor,
                     first_login=not found.has_login)
    return IssuedPassword(changed, password)


async def bind_device(
    db: Database, actor: Actor, device: Ref, *, vehicle: Ref | None = None,
    site: Ref | None = None,
) -> Device:
    """Bind a device to a vehicle or to a site (exactly one), in place of whatever it was
    bound to, as its kind allows (:data:`BINDS_TO`). Its next messages count for the new
    vehicle or site within a second (``tracking.changes``); what it sent before stays with
    the old one."""
    PERMISSIONS.check(actor, "bind")
    if (vehicle is None) == (site is None):
        raise Invalid("bind a device to a vehicle or to a site: name exactly one",
                      field="vehicleId")
    async with db.transaction() as tx:
        found = await _locked(tx, device)
        _check_binding(found.kind, "vehicle" if vehicle is not None else "site")
        vehicle_id = await _vehicle_id(tx, vehicle) if vehicle is not None else None
        site_id = await _site_id(tx, site) if site is not None else None
        if (found.vehicle_id, found.site_id) == (vehicle_id, site_id):
            raise Conflict(f"device {found.code} is bound to "
                           f"{found.vehicle_code or found.site_code} already",
                           field="vehicleId" if vehicle is not None else "siteId")
        changed = await _set(tx, found, "vehicle_id = $2, site_id = $3", vehicle_id, site_id)
        await _event(tx, "device.bound", changed, actor,
                     bound_to=changed.vehicle_code or changed.site_code,
                     vehicle=changed.vehicle_code, site=changed.site_code,
                     previous_vehicle=found.vehicle_code, previous_site=found.site_code)
    return changed


def _check_binding(kind: str, target: str) -> None:
    allowed = BINDS_TO[kind]
    if target not in allowed:
        word = kind.replace("_", " ")
        raise Invalid(f"a {word} is bound to a {' or a '.join(allowed)}, never to a {target}",
                      field=f"{target}Id")


async def _locked(tx: Executor, ref: Ref) -> Device:
    """The device ``ref`` names, locked until the transaction ends."""
    column = "d.id" if isinstance(ref, int) else "d.code"
    row = await tx.fetchrow(
        f"SELECT {_COLS} FROM {_FROM} WHERE {column} = $1 FOR UPDATE OF d", ref)
    if row is None:
        raise NotFound(_missing("device", ref), field="deviceId")
    return Device(**dict(row))


async def _one(tx: Executor, pk: int) -> Device:
    row = await tx.fetchrow(f"SELECT {_COLS} FROM {_FROM} WHERE d.id = $1", pk)
    assert row is not None
    return Device(**dict(row))


async def _set(tx: Executor, device: Device, assignments: str, *values: Any) -> Device:
    """Update the device's row (``$1`` is its id) and read it back."""
    await tx.execute(f"UPDATE device SET {assignments} WHERE id = $1", device.id, *values)
    return await _one(tx, device.id)


async def _vehicle_id(tx: Executor, ref: Ref) -> int:
    column = "id" if isinstance(ref, int) else "code"
    found: int | None = await tx.fetchval(f"SELECT id FROM vehicle WHERE {column} = $1", ref)
    if found is None:
        raise NotFound(_missing("vehicle", ref), field="vehicleId")
    return found


async def _site_id(tx: Executor, ref: Ref) -> int:
    column = "id" if isinstance(ref, int) else "code"
    found: int | None = await tx.fetchval(f"SELECT id FROM site WHERE {column} = $1", ref)
    if found is None:
        raise NotFound(_missing("site", ref), field="siteId")
    return found


def _missing(thing: str, ref: Ref) -> str:
    return f"no such {thing}" if isinstance(ref, int) else f"no {thing} {ref!r}"


async def _event(tx: Executor, event_type: str, device: Device, actor: Actor,
                 **details: Any) -> None:
    """The mill's own event (no customer hears of a device): what changed, never a
    password. Comes last in its transaction (the outbox's lock is held to commit)."""
    await events.append(
        tx, event_type, org_id=None, aggregate_type="device", aggregate_id=device.id,
        payload={"device": device.code, "kind": device.kind, "enabled": device.enabled,
                 **details},
        actor=actor.subject)


def _owntracks_id(code: str, given: str) -> str:
    """``{user}/{device}`` of an OwnTracks app; ``given`` may name the device alone.

    The app publishes under ``owntracks/{its user name}/{device}`` and logs in as the
    device, so the user must be the device code: the broker lets a device publish under
    its own name only."""
    user, slash, device = given.rpartition("/")
    if not slash:
        user = code
    if user != code:
        raise Invalid(
            f"--owntracks {given!r}: the OwnTracks user must be the device code {code!r} "
            f"(the app logs in, and publishes under owntracks/<user>/, as {code}); "
            f"set the app's user name and client id to {code} and give "
            f"--owntracks {code}/{device}", field="owntracksId")
    if not DEVICE_CODE.fullmatch(device):
        raise Invalid(f"--owntracks {given!r}: the device level must be 1 to 64 of "
                      "A-Z a-z 0-9 _ . -", field="owntracksId")
    return f"{code}/{device}"

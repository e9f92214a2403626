"""The address book: each partner's address per document type.

A partner (a customer, a carrier, the mill's own ERP) registers, for each document type,
an address code, the transport, the format and the credentials its system needs. A
sender names only the partner and the document; the exchange resolves the rest
(:func:`resolve`). Staff keep every partner's entries; a customer keeps its own and sees
only its own. Credentials are written and never read back: an entry says only whether it
has them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from domain import events
from domain.actor import Actor, Permissions
from domain.db import Database, Executor
from domain.egress import EgressPolicy, EgressRefused
from domain.errors import Invalid, NotFound
from domain.exchange import mapping, sheets
from domain.tenancy import Scope

__all__ = [
    "DIRECTION",
    "FORMATS",
    "PERMISSIONS",
    "TRANSPORTS",
    "Address",
    "AddressInput",
    "Resolved",
    "addresses",
    "addresses_by_ids",
    "inbound_as2_codes",
    "put_address",
    "remove_address",
    "resolve",
    "resolve_code",
    "resolve_ids",
]

# Which way each document goes, seen from the platform.
DIRECTION: Mapping[str, str] = {
    "order_response": "out", "dispatch_advice": "out", "invoice": "out",
    "certificate": "out", "contract": "out",
    "delivery_schedule": "in", "receiving_advice": "in",
    # A partner's CONTRL or APERAK answering what the platform sent it (any of its
    # EDIFACT addresses takes them too; this one is for a partner that sends nothing else).
    "acknowledgement": "in",
}
TRANSPORTS = ("https", "sftp", "as2")
# The formats each document is written or read in.
FORMATS: Mapping[str, tuple[str, ...]] = {
    "order_response": ("json", "edifact"),
    "dispatch_advice": ("json", "edifact", "csv", "xlsx"),
    "invoice": ("json", "edifact", "csv", "xlsx"),
    "certificate": ("json",),
    "contract": ("json",),
    "delivery_schedule": ("json", "edifact", "csv", "xlsx"),
    "receiving_advice": ("json", "edifact", "csv", "xlsx"),
    "acknowledgement": ("edifact",),
}
# Documents only the mill's own systems take: an entry of the mill's organization.
MILL_DOCUMENTS = frozenset({"contract"})
PERMISSIONS = Permissions({
    # The mill's staff keep any partner's entries (the mill's ERP's among them).
    "manage_any": ("admin", "logistics", "sales"),
    # A customer keeps its own.
    "manage_own": ("customer",),
})
_CODE = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,63}")
_CREDENTIALS = {
    "https": frozenset({"secret"}),
    "sftp": frozenset({"username", "password", "private_key", "host_key"}),
    "as2": frozenset({"certificate"}),
}
_MAX_CREDENTIAL = 16_384
_MAX_OPTIONS = 8_192


@dataclass(frozen=True, slots=True)
class Address:
    id: int
    code: str
    org_id: int
    document_type: str
    direction: str
    transport: str
    format: str
    url: str
    options: dict[str, Any]
    enabled: bool
    has_credentials: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Resolved:
    """An address with its credentials: for the exchange itself, never for a reader."""

    address: Address
    credentials: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AddressInput:
    org_id: int
    document_type: str
    code: str
    transport: str
    format: str
    url: str
    # None: keep the stored ones (an entry changed without retyping its secrets).
    credentials: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    enabled: bool = True


_COLS = ("a.id, a.code, a.org_id, a.document_type, a.transport, a.format, a.url, a.options,"
         " a.enabled, a.credentials <> '{}'::jsonb AS has_credentials, a.created_by,"
         " a.created_at, a.updated_at")


def _address(row: Any) -> Address:
    values = {k: row[k] for k in ("id", "code", "org_id", "document_type", "transport",
                                  "format", "url", "options", "enabled", "has_credentials",
                                  "created_by", "created_at", "updated_at")}
    return Address(direction=DIRECTION[row["document_type"]], **values)


async def addresses(db: Executor, scope: Scope, *, org_id: int | None = None
                    ) -> list[Address]:
    """The entries ``scope`` sees (a customer its own), by partner and document type."""
    rows = await db.fetch(
        f"SELECT {_COLS} FROM exchange_address a WHERE {Scope.owned('a.org_id')}"
        " AND ($2::bigint IS NULL OR a.org_id = $2) ORDER BY a.org_id, a.document_type",
        scope.org_id, org_id)
    return [_address(r) for r in rows]


async def addresses_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Address]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM exchange_address a WHERE {Scope.owned('a.org_id')}"
        " AND a.id = ANY($2::bigint[])", scope.org_id, list(ids))
    return [_address(r) for r in rows]


async def resolve(db: Executor, org_id: int, document_type: str) -> Resolved | None:
    """The partner's enabled address for the document, with its credentials."""
    row = await db.fetchrow(
        f"SELECT {_COLS}, a.credentials FROM exchange_address a WHERE a.org_id = $1"
        " AND a.document_type = $2 AND a.enabled", org_id, document_type)
    return None if row is None else Resolved(_address(row), dict(row["credentials"]))


async def resolve_ids(db: Executor, ids: Sequence[int]) -> dict[int, Resolved]:
    """The addresses of ``ids``, enabled or not, with their credentials."""
    rows = await db.fetch(
        f"SELECT {_COLS}, a.credentials FROM exchange_address a WHERE a.id = ANY($1::bigint[])",
        list(ids))
    return {r["id"]: Resolved(_address(r), dict(r["credentials"])) for r in rows}


async def resolve_code(db: Executor, code: str) -> Resolved | None:
    """The address a sender names by its code, enabled or not."""
    row = await db.fetchrow(
        f"SELECT {_COLS}, a.credentials FROM exchange_address a WHERE a.code = $1", code)
    return None if row is None else Resolved(_address(row), dict(row["credentials"]))


async def inbound_as2_codes(db: Executor) -> list[str]:
    """The codes of the enabled addresses partners send documents to over AS2."""
    rows = await db.fetch(
        "SELECT code FROM exchange_address WHERE transport = 'as2' AND enabled"
        " AND document_type = ANY($1::text[]) ORDER BY id",
        [t for t, d in DIRECTION.items() if d == "in"])
    return [r["code"] for r in rows]


async def put_address(db: Database, actor: Actor, data: AddressInput, *,
                      policy: EgressPolicy) -> tuple[Address, str | None]:
    """Registers (or replaces) the partner's address for one document type. Returns the
    entry and, for an https address registered without a signing secret, the secret
    generated for it (shown once)."""
    await _check_actor(db, actor, data.org_id, data.document_type)
    _check(data)
    table = _mapping(data)
    await _check_destination(data.transport, data.url, policy)
    generated = None
    credentials = data.credentials
    if credentials is not None:
        credentials = _checked_credentials(data.transport, credentials)
    async with db.transaction() as tx:
        if data.transport == "https" and "secret" not in (credentials or {}):
            # Documents to an https address are signed: without a secret given or kept,
            # one is made and shown once.
            kept = await tx.fetchval(
                "SELECT credentials ? 'secret' FROM exchange_address WHERE org_id = $1"
                " AND document_type = $2 AND transport = 'https'",
                data.org_id, data.document_type)
            if credentials is not None or not kept:
                generated = "whsec_" + secrets.token_urlsafe(32)
                credentials = {**(credentials or {}), "secret": generated}
        row = await tx.fetchrow(
            "INSERT INTO exchange_address AS a (code, org_id, document_type, transport,"
            " format, url, credentials, options, enabled, created_by)"
            " VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, '{}'::jsonb), $8, $9, $10)"
            " ON CONFLICT (org_id, document_type) DO UPDATE SET code = EXCLUDED.code,"
            " transport = EXCLUDED.transport, format = EXCLUDED.format, url = EXCLUDED.url,"
            " credentials = coalesce($7, a.credentials), options = EXCLUDED.options,"
            " enabled = EXCLUDED.enabled, updated_at = now()"
            f" RETURNING {_COLS}",
            data.code, data.org_id, data.document_type, data.transport, data.format,
            data.url, credentials, data.options or {}, data.enabled, actor.subject)
        if row is None:  # pragma: no cover - the upsert always returns its row
            raise NotFound("no such address")
        if table is not None and DIRECTION[data.document_type] == "in":
            # What the partner's files are read with: its mapping of the document type.
            await mapping.store_mapping(tx, data.org_id, table, actor=actor.subject)
        await events.append(
            tx, "exchange.address_registered", org_id=data.org_id,
            aggregate_type="exchange_address", aggregate_id=row["id"], actor=actor.subject,
            payload={"code": data.code, "document": data.document_type,
                     "transport": data.transport, "format": data.format})
    return _address(row), generated


async def remove_address(db: Database, actor: Actor, address_id: int) -> Address:
    """Removes an entry no document was exchanged through; one with documents is
    disabled instead, so their archive keeps the address they went to."""
    async with db.transaction() as tx:
        row = await tx.fetchrow(f"SELECT {_COLS} FROM exchange_address a WHERE a.id = $1"
                                " FOR UPDATE", address_id)
        if row is None or not actor.acts_for(row["org_id"]):
            raise NotFound("no such address", field="addressId")
        await _check_actor(tx, actor, row["org_id"], row["document_type"])
        used = await tx.fetchval("SELECT 1 FROM exchange_document WHERE address_id = $1"
                                 " LIMIT 1", address_id)
        if used:
            await tx.execute("UPDATE exchange_address SET enabled = false, updated_at = now()"
                             " WHERE id = $1", address_id)
        else:
            await tx.execute("DELETE FROM exchange_address WHERE id = $1", address_id)
        await events.append(
            tx, "exchange.address_removed", org_id=row["org_id"],
            aggregate_type="exchange_address", aggregate_id=address_id, actor=actor.subject,
            payload={"code": row["code"], "document": row["document_type"]})
    return _address(row)


async def _check_actor(db: Executor, actor: Actor, org_id: int, document_type: str) -> None:
    if actor.is_customer:
        PERMISSIONS.check(actor, "manage_own")
        actor.check_acts_for(org_id, field="organizationId")
        if document_type in MILL_DOCUMENTS:
            raise Invalid("this document goes to the mill's own systems",
                          field="documentType")
        return
    PERMISSIONS.check(actor, "manage_any")
    kind = await db.fetchval("SELECT kind FROM organization WHERE id = $1", org_id)
    if kind is None:
        raise NotFound("no such organization", field="organizationId")
    if document_type in MILL_DOCUMENTS and kind != "mill":
        raise Invalid("this document goes to the mill's own systems: register it for the "
                      "mill's organization", field="documentType")


def _check(data: AddressInput) -> None:
    if not _CODE.fullmatch(data.code):
        raise Invalid("an address code is upper-case letters, digits, '.', '_' and '-', at "
                      "most 64", field="code")
    if data.document_type not in DIRECTION:
        raise Invalid(f"documents are {', '.join(DIRECTION)}", field="documentType")
    if data.transport not in TRANSPORTS:
        raise Invalid(f"transports are {', '.join(TRANSPORTS)}", field="transport")
    if data.format not in FORMATS[data.document_type]:
        raise Invalid(f"a {data.document_type} is exchanged as "
                      f"{', '.join(FORMATS[data.document_type])}", field="format")
    if data.format in ("csv", "xlsx") and not (data.options or {}).get("mapping"):
        raise Invalid("a CSV or XLSX address names its mapping in options.mapping",
                      field="options")
    if len(str(data.options or {})) > _MAX_OPTIONS:
        raise Invalid(f"options are at most {_MAX_OPTIONS} characters", field="options")


def _mapping(data: AddressInput) -> mapping.Mapping | None:
    """A CSV or XLSX address's mapping, checked: one for its document type, and for a
    document the partner sends, giving the fields the platform reads
    (:data:`domain.exchange.sheets.TARGETS`)."""
    if data.format not in ("csv", "xlsx"):
        return None
    try:
        table = mapping.Mapping.from_json((data.options or {}).get("mapping"))
        if table.document != data.document_type:
            raise mapping.BadMapping([f"document: {data.document_type}, the address's"])
        if DIRECTION[data.document_type] == "in":
            mapping.check_targets(table, sheets.TARGETS[data.document_type])
    except mapping.BadMapping as exc:
        raise Invalid(f"options.mapping is {exc.message}", field="options") from None
    return table


def _checked_credentials(transport: str, credentials: dict[str, Any]) -> dict[str, Any]:
    allowed = _CREDENTIALS[transport]
    unknown = sorted(set(credentials) - allowed)
    if unknown:
        raise Invalid(f"a {transport} address takes credentials {', '.join(sorted(allowed))}"
                      f", not {unknown[0]}", field="credentials")
    for key, value in credentials.items():
        if not isinstance(value, str) or not value or len(value) > _MAX_CREDENTIAL \
                or "\x00" in value:
            raise Invalid(f"{key} is a text of at most {_MAX_CREDENTIAL} characters",
                          field="credentials")
    if transport == "sftp":
        if "host_key" not in credentials or "username" not in credentials:
            raise Invalid("an SFTP address pins the server's host key and names the user",
                          field="credentials")
        if not ({"password", "private_key"} & set(credentials)):
            raise Invalid("an SFTP address logs in with a password or a private key",
                          field="credentials")
    if transport == "as2" and "certificate" not in credentials:
        raise Invalid("an AS2 address carries the partner's certificate",
                      field="credentials")
    return dict(credentials)


async def _check_destination(transport: str, url: str, policy: EgressPolicy) -> None:
    """The egress policy at registration, as for webhooks: the host resolves only to
    addresses the platform may reach (checked again on every connection)."""
    try:
        if transport == "sftp":
            parts = urlsplit(url)
            if parts.scheme != "sftp" or not parts.hostname or parts.username \
                    or parts.password or not parts.path.startswith("/"):
                raise Invalid("an SFTP address is sftp://host[:port]/directory (the user "
                              "goes in the credentials)", field="url")
            await policy.addresses(parts.hostname, parts.port or 22)
        else:
            destination = await policy.check_url(url)
            if transport == "as2" and destination.scheme not in ("https", "http"):
                raise Invalid("an AS2 station's URL is http(s)", field="url")
    except EgressRefused as exc:
        raise Invalid(f"this address cannot be reached from the platform: {exc}",
                      field="url") from None
    except ValueError:
        raise Invalid("not a valid URL", field="url") from None

"""The exchange's types: an address book entry and a document with its life."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.exchange import addresses, documents
from resolvers.common import loaders
from resolvers.exchange.loaders import AddressByIdLoader
from resolvers.loaders import OrganizationByIdLoader
from resolvers.parties import Organization
from resolvers.relay import Node

# A document's text is shown up to this size; larger ones are fetched whole elsewhere.
MAX_SHOWN_BYTES = 256 * 1024


@strawberry.enum(description="A business document the exchange carries.")
class DocumentType(enum.Enum):
    ORDER_RESPONSE = strawberry.enum_value(
        "order_response", description="The mill confirms a customer's order (ORDRSP).")
    DISPATCH_ADVICE = strawberry.enum_value(
        "dispatch_advice", description="A shipment leg has left, each coil a package with "
        "its SSCC (DESADV).")
    INVOICE = strawberry.enum_value(
        "invoice", description="An invoice when a settlement is issued, a credit note when "
        "a claim is credited (INVOIC).")
    CERTIFICATE = strawberry.enum_value(
        "certificate", description="A coil's inspection certificate, EN 10168 as JSON.")
    CONTRACT = strawberry.enum_value(
        "contract", description="A contract made on the platform, to the mill's ERP.")
    DELIVERY_SCHEDULE = strawberry.enum_value(
        "delivery_schedule", description="A customer's delivery schedule (DELFOR), into "
        "its production plan.")
    RECEIVING_ADVICE = strawberry.enum_value(
        "receiving_advice", description="What arrived at a customer's store (RECADV).")
    ACKNOWLEDGEMENT = strawberry.enum_value(
        "acknowledgement", description="A partner's CONTRL or APERAK answering a document "
        "the platform sent it: marks that document acknowledged, or dead when it rejects "
        "it. Taken at any of the partner's EDIFACT addresses too.")


@strawberry.enum(description="How documents travel to and from an address.")
class ExchangeTransport(enum.Enum):
    HTTPS = strawberry.enum_value("https", description="A signed HTTPS POST.")
    SFTP = strawberry.enum_value("sftp", description="Dropped on (or picked up from) an "
                                 "SFTP server.")
    AS2 = strawberry.enum_value("as2", description="AS2 (RFC 4130), signed, with a signed "
                                "receipt (MDN).")


@strawberry.enum(description="What a document is written in.")
class ExchangeFormat(enum.Enum):
    JSON = strawberry.enum_value("json", description="The platform's own JSON.")
    EDIFACT = strawberry.enum_value("edifact", description="UN/EDIFACT.")
    CSV = strawberry.enum_value("csv", description="CSV through the partner's mapping.")
    XLSX = strawberry.enum_value("xlsx", description="XLSX through the partner's mapping.")


@strawberry.enum(description="Which way a document goes, seen from the platform.")
class ExchangeDirection(enum.Enum):
    OUT = strawberry.enum_value("out", description="Sent to the partner.")
    IN = strawberry.enum_value("in", description="Received from the partner.")


@strawberry.enum(description="Where a document stands.")
class DocumentStatus(enum.Enum):
    PENDING = strawberry.enum_value("pending", description="Waiting to be sent.")
    SENT = strawberry.enum_value("sent", description="The transport took it.")
    ACKNOWLEDGED = strawberry.enum_value(
        "acknowledged", description="The partner's system acknowledged it (an MDN, a "
        "receipt, a CONTRL or APERAK).")
    FAILED = strawberry.enum_value("failed", description="An attempt failed; it is tried "
                                   "again after a pause.")
    DEAD = strawberry.enum_value("dead", description="Its last attempt failed, or the "
                                 "partner refused it for good; both parties were told.")
    ACCEPTED = strawberry.enum_value("accepted", description="Received and applied.")
    REFUSED = strawberry.enum_value("refused", description="Received and refused as a "
                                    "whole, with every reason.")


@strawberry.type(description="A partner's address for one document type: the transport, "
                 "the format and where. Its credentials are never shown.")
class ExchangeAddress(Node):
    code: str = strawberry.field(description="The address code a sender names.")
    document_type: DocumentType = strawberry.field(description="The document it takes or "
                                                   "sends.")
    direction: ExchangeDirection = strawberry.field(description="Which way it goes.")
    transport: ExchangeTransport = strawberry.field(description="How.")
    format: ExchangeFormat = strawberry.field(description="In what.")
    url: str = strawberry.field(description="Where: an https URL, sftp://host/directory, "
                                "or the AS2 station's URL.")
    options: JSON = strawberry.field(description="The format's settings (interchange ids, "
                                     "the mapping of a CSV or XLSX address).")
    enabled: bool = strawberry.field(description="Whether documents go through it.")
    has_credentials: bool = strawberry.field(description="Whether credentials are stored "
                                             "(they are never shown).")
    created_at: dt.datetime = strawberry.field(description="When it was registered.")
    updated_at: dt.datetime = strawberry.field(description="When it last changed.")
    org_pk: strawberry.Private[int]

    @strawberry.field(description="The partner whose address it is.")
    async def organization(self, info: Info[Any, Any]) -> Organization | None:
        found = await loaders(info).get(OrganizationByIdLoader).load(self.org_pk)
        return Organization.of(found) if found is not None else None

    @classmethod
    def of(cls, a: addresses.Address) -> ExchangeAddress:
        return cls(pk=a.id, code=a.code, document_type=DocumentType(a.document_type),
                   direction=ExchangeDirection(a.direction),
                   transport=ExchangeTransport(a.transport), format=ExchangeFormat(a.format),
                   url=a.url, options=JSON(a.options), enabled=a.enabled,
                   has_credentials=a.has_credentials, created_at=a.created_at,
                   updated_at=a.updated_at, org_pk=a.org_id)


@strawberry.type(description="A document sent or received, as it went over the wire, with "
                 "its life.")
class ExchangeDocument(Node):
    document_type: DocumentType = strawberry.field(description="What it is.")
    direction: ExchangeDirection = strawberry.field(description="Which way it went.")
    business_key: str = strawberry.field(description="The business event it carries, e.g. "
                                         "`leg:42:departed`: one address gets it once.")
    format: ExchangeFormat = strawberry.field(description="What it is written in.")
    name: str = strawberry.field(description="Its file name.")
    content_type: str = strawberry.field(description="Its media type.")
    sha256: str = strawberry.field(description="SHA-256 of its bytes, hex.")
    byte_size: int = strawberry.field(description="Its size in bytes.")
    status: DocumentStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="Attempts to send it so far.")
    next_attempt_at: dt.datetime | None = strawberry.field(
        description="When it is tried next, while it waits.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed.")
    receipt: JSON | None = strawberry.field(description="What the partner acknowledged, or "
                                            "every reason a document received was refused.")
    created_at: dt.datetime = strawberry.field(description="When it was made or received.")
    updated_at: dt.datetime = strawberry.field(description="When it last changed.")
    address_pk: strawberry.Private[int]

    @strawberry.field(description="The address it went to or came from.")
    async def address(self, info: Info[Any, Any]) -> ExchangeAddress | None:
        found = await loaders(info).get(AddressByIdLoader).load(self.address_pk)
        return ExchangeAddress.of(found) if found is not None else None

    @strawberry.field(description="Its text (EDIFACT, JSON, CSV) as sent or received, when "
                      "it is text and at most 256 KiB; null otherwise.")
    async def content(self, info: Info[Any, Any]) -> str | None:
        if self.byte_size > MAX_SHOWN_BYTES or self.format == ExchangeFormat.XLSX:
            return None
        ctx = info.context
        bodies = await documents.document_bodies(ctx.db, ctx.loaders.scope, [self.pk])
        try:
            return bodies[self.pk].decode("utf-8") if self.pk in bodies else None
        except UnicodeDecodeError:
            return None

    @classmethod
    def of(cls, d: documents.Document) -> ExchangeDocument:
        return cls(pk=d.id, document_type=DocumentType(d.document_type),
                   direction=ExchangeDirection(d.direction), business_key=d.business_key,
                   format=ExchangeFormat(d.format), name=d.name, content_type=d.content_type,
                   sha256=d.body_sha256, byte_size=d.byte_size, status=DocumentStatus(d.status),
                   attempts=d.attempts, next_attempt_at=d.next_attempt_at,
                   last_error=d.last_error,
                   receipt=JSON(d.receipt) if d.receipt is not None else None,
                   created_at=d.created_at,
                   updated_at=d.updated_at, address_pk=d.address_id)

"""Keeping the address book, and sending a document again."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.actor import Actor
from domain.egress import EgressPolicy
from domain.errors import Invalid
from domain.exchange import addresses, documents
from resolvers.common import INPUT, UserError, act, ctx
from resolvers.exchange.types import (
    DocumentType,
    ExchangeAddress,
    ExchangeDocument,
    ExchangeFormat,
    ExchangeTransport,
)
from resolvers.relay import expect_id


@strawberry.input(description="A partner's address for one document type; registering "
                  "one for a type that has one replaces it.")
class PutExchangeAddressInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The partner (global id): a customer names itself.")
    document_type: DocumentType = strawberry.field(description="The document.")
    code: str = strawberry.field(description="Its address code: upper-case letters, digits, "
                                 "`.`, `_` and `-`, e.g. `FAW-VW.DESADV`.")
    transport: ExchangeTransport = strawberry.field(description="How it travels.")
    format: ExchangeFormat = strawberry.field(description="What it is written in.")
    url: str = strawberry.field(description="An https URL, sftp://host[:port]/directory, or "
                                "the AS2 station's URL; checked against the egress policy.")
    credentials: JSON | None = strawberry.field(
        default=None, description="Secrets, by transport: https `secret` (generated when "
        "absent and shown once); sftp `username`, `host_key` (the server's public key, "
        "pinned) and `password` or `private_key`; as2 `certificate` (the partner's PEM). "
        "Omit to "
        "keep those stored; never shown again.")
    options: JSON | None = strawberry.field(
        default=None, description="EDIFACT: `sender` and `recipient` interchange ids; CSV or "
        "XLSX: `mapping`; AS2: `as2_from`, `as2_to`.")
    enabled: bool = strawberry.field(default=True, description="Documents go through it.")


@strawberry.type(description="Result of `putExchangeAddress`.")
class PutExchangeAddressPayload:
    address: ExchangeAddress | None = strawberry.field(description="The entry as stored.")
    generated_secret: str | None = strawberry.field(
        description="The signing secret generated for an https address, shown only now.")
    errors: list[UserError] = strawberry.field(description="Why nothing was stored.")


@strawberry.input(description="Names an address book entry.")
class ExchangeAddressIdInput:
    address_id: strawberry.ID = strawberry.field(description="Global id of the entry.")


@strawberry.type(description="Result of `removeExchangeAddress`.")
class RemoveExchangeAddressPayload:
    address: ExchangeAddress | None = strawberry.field(
        description="The entry removed (disabled when documents went through it).")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Names a document.")
class ExchangeDocumentIdInput:
    document_id: strawberry.ID = strawberry.field(description="Global id of the document.")


@strawberry.type(description="Result of `resendExchangeDocument`.")
class ResendExchangeDocumentPayload:
    document: ExchangeDocument | None = strawberry.field(description="The document, due "
                                                         "now.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


def _object(value: Any, name: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise Invalid(f"{name} are an object", field=name)
    return value


@strawberry.type
class ExchangeMutations:
    @strawberry.mutation(description="Register a partner's address for a document type: "
                         "the mill's staff (admin, logistics, sales) for any partner, a "
                         "customer for itself. The URL's host is checked against the egress "
                         "policy as a webhook's is.")
    async def put_exchange_address(
        self, info: Info[Any, Any], input: Annotated[PutExchangeAddressInput, INPUT],
    ) -> PutExchangeAddressPayload:
        async def run(who: Actor) -> tuple[ExchangeAddress, str | None]:
            settings = ctx(info).services.settings
            policy = EgressPolicy.of(settings.webhook_allow,
                                     production=not settings.development)
            credentials, options = _object(input.credentials, "credentials"), _object(
                input.options, "options")
            made, secret = await addresses.put_address(
                ctx(info).db, who, addresses.AddressInput(
                    org_id=expect_id(input.organization_id, "Organization"),
                    document_type=str(input.document_type.value), code=input.code,
                    transport=str(input.transport.value), format=str(input.format.value),
                    url=input.url, credentials=credentials, options=options,
                    enabled=input.enabled), policy=policy)
            return ExchangeAddress.of(made), secret

        done, errors = await act(info, run)
        return PutExchangeAddressPayload(address=done[0] if done else None,
                                         generated_secret=done[1] if done else None,
                                         errors=errors)

    @strawberry.mutation(description="Remove an address book entry (disabled instead when "
                         "documents went through it, so the archive keeps where they went).")
    async def remove_exchange_address(
        self, info: Info[Any, Any], input: Annotated[ExchangeAddressIdInput, INPUT],
    ) -> RemoveExchangeAddressPayload:
        async def run(who: Actor) -> ExchangeAddress:
            gone = await addresses.remove_address(
                ctx(info).db, who, expect_id(input.address_id, "ExchangeAddress"))
            return ExchangeAddress.of(gone)

        done, errors = await act(info, run)
        return RemoveExchangeAddressPayload(address=done, errors=errors)

    @strawberry.mutation(description="Send a document again, whatever became of it (the "
                         "mill's staff: admin, logistics, sales, finance).")
    async def resend_exchange_document(
        self, info: Info[Any, Any], input: Annotated[ExchangeDocumentIdInput, INPUT],
    ) -> ResendExchangeDocumentPayload:
        async def run(who: Actor) -> ExchangeDocument:
            again = await documents.resend(
                ctx(info).db, who, expect_id(input.document_id, "ExchangeDocument"))
            return ExchangeDocument.of(again)

        done, errors = await act(info, run)
        return ResendExchangeDocumentPayload(document=done, errors=errors)

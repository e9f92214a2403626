"""Reading the exchange: the address book and the documents, each party its own."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.exchange import addresses, documents
from resolvers.common import ctx, customer_id_of, viewer
from resolvers.exchange.loaders import DocumentByIdLoader
from resolvers.exchange.types import (
    DocumentStatus,
    DocumentType,
    ExchangeAddress,
    ExchangeDirection,
    ExchangeDocument,
)
from resolvers.relay import DEFAULT_PAGE, Connection, after_id, check_first, connection

FIRST = strawberry.argument(description="Page size.")
AFTER = strawberry.argument(description="`endCursor` of the previous page.")


@strawberry.input(description="Narrows `exchangeDocuments`; all given conditions must hold.")
class ExchangeDocumentFilter:
    statuses: list[DocumentStatus] | None = strawberry.field(
        default=None, description="In any of these states.")
    document_types: list[DocumentType] | None = strawberry.field(
        default=None, description="Of any of these types.")
    direction: ExchangeDirection | None = strawberry.field(
        default=None, description="Only sent, or only received.")


@strawberry.type
class ExchangeQueries:
    @strawberry.field(description="The address book: the mill's staff see every partner's "
                      "entries, a customer its own. Credentials are never shown.")
    async def exchange_addresses(
        self, info: Info[Any, Any],
        organization_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="Only this partner's entries (global id).")] = None,
    ) -> list[ExchangeAddress]:
        who = await viewer(info)
        found = await addresses.addresses(ctx(info).db, who.scope,
                                          org_id=customer_id_of(organization_id))
        return [ExchangeAddress.of(a) for a in found]

    @strawberry.field(description="Documents sent and received, newest first: the mill's "
                      "staff see every partner's, a customer its own.")
    async def exchange_documents(
        self, info: Info[Any, Any],
        filter: Annotated[ExchangeDocumentFilter | None, strawberry.argument(
            description="Conditions the documents must meet.")] = None,
        first: Annotated[int, FIRST] = DEFAULT_PAGE,
        after: Annotated[str | None, AFTER] = None,
    ) -> Connection[ExchangeDocument]:
        who = await viewer(info)
        check_first(first)
        flt = filter or ExchangeDocumentFilter()
        found = await documents.documents(
            ctx(info).db, who.scope, documents.DocumentFilter(
                statuses=[str(s.value) for s in flt.statuses or []],
                document_types=[str(t.value) for t in flt.document_types or []],
                direction=str(flt.direction.value) if flt.direction else None),
            first + 1, after_id(after))
        cache = ctx(info).loaders.get(DocumentByIdLoader)
        for d in found:
            cache.prime(d.id, d)
        return connection([(ExchangeDocument.of(d), [d.id]) for d in found], first,
                          after is not None)

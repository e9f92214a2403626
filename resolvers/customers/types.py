"""The customer's overview, its credit, payments and credit approvals as GraphQL types."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.customers import model
from domain.customers import reads as domain
from resolvers import parties
from resolvers.common import ctx, loaders
from resolvers.contracts.loaders import ContractByIdLoader, SettlementByIdLoader
from resolvers.contracts.types import Contract
from resolvers.loaders import OrganizationByIdLoader, SpecByIdLoader
from resolvers.relay import Node, expect_id
from resolvers.settlements import Settlement


async def _organization(info: Info[Any, Any], pk: int) -> parties.Organization | None:
    found = await loaders(info).get(OrganizationByIdLoader).load(pk)
    return parties.Organization.of(found) if found else None


async def _spec(info: Info[Any, Any], pk: int) -> parties.SteelSpec | None:
    found = await loaders(info).get(SpecByIdLoader).load(pk)
    return parties.SteelSpec.of(found) if found else None


async def _contract(info: Info[Any, Any], pk: int) -> Contract | None:
    found = await loaders(info).get(ContractByIdLoader).load(pk)
    return Contract.of(found) if found else None


@strawberry.type(description="A customer's credit as it stands. Amounts add up in the "
                 "customer's currency.")
class CustomerCredit:
    limit: Decimal | None = strawberry.field(
        description="The limit finance set; null when none is set (then nothing is held "
        "for approval), and for a customer the mill does not show its limit to.")
    shown_to_customer: bool = strawberry.field(
        description="Whether the customer sees its own limit and headroom.")
    receivables: Decimal = strawberry.field(
        description="What its issued invoices (issued or overdue) still ask: their totals "
        "less the payments received against them.")
    overdue: Decimal = strawberry.field(
        description="The part of the receivables past its due day.")
    exposure: Decimal = strawberry.field(
        description="The value of its confirmed contracts not yet invoiced: a confirmed, "
        "in-production, partly or wholly shipped contract without an issued invoice at its "
        "lines' tonnes and prices; one invoiced at what is still to ship.")
    headroom: Decimal | None = strawberry.field(
        description="limit - receivables - exposure; null where `limit` is. A confirmation "
        "whose value goes beyond it waits for finance's approval.")
    set_by: str | None = strawberry.field(description="Who set the limit (staff only).")
    set_at: dt.datetime | None = strawberry.field(description="When (staff only).")
    customer_pk: strawberry.Private[int]

    @strawberry.field(description="The customer.")
    async def customer(self, info: Info[Any, Any]) -> parties.Organization | None:
        return await _organization(info, self.customer_pk)

    @classmethod
    def of(cls, c: model.Credit) -> CustomerCredit:
        return cls(limit=c.limit, shown_to_customer=c.shown_to_customer,
                   receivables=c.receivables, overdue=c.overdue, exposure=c.exposure,
                   headroom=c.headroom, set_by=c.set_by, set_at=c.set_at,
                   customer_pk=c.customer_org_id)


@strawberry.type(description="What was delivered and invoiced in a month, of one spec.")
class SalesMonth:
    month: dt.date = strawberry.field(description="The first day of the invoices' month.")
    tonnes: Decimal = strawberry.field(description="Tonnes shipped on the lines invoiced.")
    revenue: Decimal = strawberry.field(description="Those tonnes at the lines' prices.")
    spec_pk: strawberry.Private[int]

    @strawberry.field(description="The spec.")
    async def spec(self, info: Info[Any, Any]) -> parties.SteelSpec | None:
        return await _spec(info, self.spec_pk)


@strawberry.type(description="The prices agreed for a spec on the contracts signed in a "
                 "month (confirmed ones and later).")
class SpecPrice:
    month: dt.date = strawberry.field(description="The first day of the signing month.")
    average_price: Decimal = strawberry.field(
        description="Per tonne, weighted by the lines' tonnes.")
    min_price: Decimal = strawberry.field(description="The lowest line price.")
    max_price: Decimal = strawberry.field(description="The highest line price.")
    tonnes: Decimal = strawberry.field(description="Tonnes contracted.")
    contracts: int = strawberry.field(description="Contracts signed.")
    spec_pk: strawberry.Private[int]

    @strawberry.field(description="The spec.")
    async def spec(self, info: Info[Any, Any]) -> parties.SteelSpec | None:
        return await _spec(info, self.spec_pk)


@strawberry.type(description="The customer's open contracts (confirmed, in production, "
                 "partly shipped) now, and which are late: a line predicted to arrive after "
                 "its window, as `progress.isLate` says.")
class OpenContracts:
    contracts: int = strawberry.field(description="Open contracts.")
    lines: int = strawberry.field(description="Their lines.")
    open_tonnes: Decimal = strawberry.field(description="Tonnes still to ship.")
    open_value: Decimal = strawberry.field(description="Those tonnes at the lines' prices.")
    late_contracts: int = strawberry.field(description="Contracts with a late line.")
    late_lines: int = strawberry.field(description="Late lines.")
    late_pks: strawberry.Private[list[int]]

    @strawberry.field(description="The late contracts (at most 50).")
    async def late(self, info: Info[Any, Any]) -> list[Contract]:
        found = await loaders(info).get(ContractByIdLoader).load_many(self.late_pks)
        return [Contract.of(c) for c in found if c is not None]


@strawberry.type(description="Quality disputes and claims in the period.")
class ClaimFigures:
    disputes: int = strawberry.field(description="Disputes opened.")
    tonnes: Decimal = strawberry.field(description="Tonnes they concern.")
    disputes_closed: int = strawberry.field(description="Of those, closed.")
    average_days_to_close: Decimal | None = strawberry.field(
        description="Days from opening to closing, on average, of those closed.")
    disputes_open: int = strawberry.field(description="Disputes open now (any period).")
    claims: int = strawberry.field(description="Claims submitted.")
    claimed: Decimal = strawberry.field(description="Amounts claimed.")
    agreed: Decimal = strawberry.field(description="Amounts agreed of those.")


@strawberry.type(description="Urges on late lines in the period, and how fast the mill "
                 "answered.")
class UrgeFigures:
    opened: int = strawberry.field(description="Urge tickets opened.")
    resolved: int = strawberry.field(description="Of those, resolved.")
    open: int = strawberry.field(description="Of those, still open.")
    answered_in_time: int = strawberry.field(
        description="First answered (acknowledged, promised or resolved) within the "
        "ticket's answer time.")
    average_hours_to_answer: Decimal | None = strawberry.field(
        description="Hours to the first answer, on average.")
    average_hours_to_resolve: Decimal | None = strawberry.field(
        description="Hours to resolution, on average, of those resolved.")


@strawberry.type(description="One customer at a glance, for the mill's sales and finance "
                 "(a customer reads its own): each part is computed only when asked for.")
class CustomerOverview:
    since: dt.date = strawberry.field(description="First day of the period.")
    until: dt.date = strawberry.field(description="Last day of the period.")
    o: strawberry.Private[domain.Overview]

    @strawberry.field(description="The customer.")
    async def customer(self, info: Info[Any, Any]) -> parties.Organization | None:
        return await _organization(info, self.o.customer_org_id)

    @strawberry.field(description="Tonnes and revenue delivered and invoiced, by month of "
                      "invoice and spec, oldest first.")
    async def sales_by_month(self, info: Info[Any, Any]) -> list[SalesMonth]:
        rows = await domain.sales_by_month(ctx(info).db, self.o)
        return [SalesMonth(month=r.month, tonnes=r.tonnes, revenue=r.revenue,
                           spec_pk=r.spec_id) for r in rows]

    @strawberry.field(description="Prices agreed per spec and month of signing, by spec then "
                      "month.")
    async def price_history(
        self, info: Info[Any, Any],
        spec_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="Only this spec.")] = None,
    ) -> list[SpecPrice]:
        pk = None if spec_id is None else expect_id(spec_id, "SteelSpec")
        rows = await domain.price_history(ctx(info).db, self.o, pk)
        return [SpecPrice(month=r.month, average_price=r.average_price,
                          min_price=r.min_price, max_price=r.max_price, tonnes=r.tonnes,
                          contracts=r.contracts, spec_pk=r.spec_id) for r in rows]

    @strawberry.field(description="Open contracts now, and how many are late.")
    async def open_contracts(self, info: Info[Any, Any]) -> OpenContracts:
        r = await domain.open_contracts(ctx(info).db, self.o)
        return OpenContracts(contracts=r.contracts, lines=r.lines, open_tonnes=r.open_t,
                             open_value=r.open_value, late_contracts=r.late_contracts,
                             late_lines=r.late_lines, late_pks=r.late_ids)

    @strawberry.field(description="Disputes and claims in the period.")
    async def claims(self, info: Info[Any, Any]) -> ClaimFigures:
        r = await domain.claims(ctx(info).db, self.o)
        return ClaimFigures(
            disputes=r.disputes, tonnes=r.tonnes, disputes_closed=r.disputes_closed,
            average_days_to_close=r.average_days_to_close, disputes_open=r.disputes_open,
            claims=r.claims, claimed=r.claimed, agreed=r.agreed)

    @strawberry.field(description="Urges opened in the period and how fast they were "
                      "answered.")
    async def urges(self, info: Info[Any, Any]) -> UrgeFigures:
        r = await domain.urges(ctx(info).db, self.o)
        return UrgeFigures(
            opened=r.opened, resolved=r.resolved, open=r.open,
            answered_in_time=r.answered_in_time,
            average_hours_to_answer=r.average_hours_to_answer,
            average_hours_to_resolve=r.average_hours_to_resolve)

    @strawberry.field(description="Credit as it stands (whatever the period).")
    async def credit(self, info: Info[Any, Any]) -> CustomerCredit:
        return CustomerCredit.of(await domain.credit(ctx(info).db, self.o))


@strawberry.enum(description="Where a credit approval stands.")
class CreditApprovalStatus(enum.Enum):
    PENDING = strawberry.enum_value("pending", description="Waiting for finance.")
    APPROVED = strawberry.enum_value("approved", description="Approved: the contract is "
                                     "confirmed.")
    REFUSED = strawberry.enum_value("refused", description="Refused: the contract stays a "
                                    "draft.")


@strawberry.type(description="A contract whose confirmation would go beyond its customer's "
                 "credit headroom, held as a draft for finance (the mill's staff only).")
class CreditApproval(Node):
    status: CreditApprovalStatus = strawberry.field(description="Where it stands.")
    amount: Decimal = strawberry.field(description="The contract's value.")
    credit_limit: Decimal = strawberry.field(description="The limit when it was held.")
    headroom: Decimal = strawberry.field(description="The headroom when it was held.")
    requested_by: str = strawberry.field(description="Who confirmed the contract.")
    requested_at: dt.datetime = strawberry.field(description="When.")
    decided_by: str | None = strawberry.field(description="Who of finance decided.")
    decided_at: dt.datetime | None = strawberry.field(description="When.")
    note: str | None = strawberry.field(description="Finance's note; why, when refused.")
    contract_pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]

    @strawberry.field(description="The contract held.")
    async def contract(self, info: Info[Any, Any]) -> Contract | None:
        return await _contract(info, self.contract_pk)

    @strawberry.field(description="Its customer.")
    async def customer(self, info: Info[Any, Any]) -> parties.Organization | None:
        return await _organization(info, self.customer_pk)

    @classmethod
    def of(cls, a: model.Approval) -> CreditApproval:
        return cls(pk=a.id, status=CreditApprovalStatus(a.status), amount=a.amount,
                   credit_limit=a.credit_limit, headroom=a.headroom,
                   requested_by=a.requested_by, requested_at=a.requested_at,
                   decided_by=a.decided_by, decided_at=a.decided_at, note=a.note,
                   contract_pk=a.contract_id, customer_pk=a.customer_org_id)


@strawberry.type(description="A payment received against a settlement's invoice.")
class Payment(Node):
    reference: str = strawberry.field(description="The bank's or the ERP's reference.")
    amount: Decimal = strawberry.field(description="The amount, in the invoice's currency.")
    paid_on: dt.date = strawberry.field(description="The day it was received.")
    recorded_at: dt.datetime = strawberry.field(description="When it was recorded.")
    settlement_pk: strawberry.Private[int]

    @strawberry.field(description="The settlement paid.")
    async def settlement(self, info: Info[Any, Any]) -> Settlement | None:
        found = await loaders(info).get(SettlementByIdLoader).load(self.settlement_pk)
        return Settlement.of(found) if found else None

    @classmethod
    def of(cls, p: model.Payment) -> Payment:
        return cls(pk=p.id, reference=p.reference, amount=p.amount, paid_on=p.paid_on,
                   recorded_at=p.recorded_at, settlement_pk=p.settlement_id)

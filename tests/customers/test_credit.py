"""A customer's credit through the API: finance sets a limit, payments settle invoices
(as the ERP's `payment` records do), and receivables, overdue amounts, exposure and
headroom follow; a customer sees its own figures, its limit only when the mill shows it,
and another customer's nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from domain.calendar import mill_today
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import World, build

FINANCE = token("BAOSTEEL", "finance", subject="finance.li")
SALES = token("BAOSTEEL", "sales", subject="sales.zhang")

SET = """mutation($input: SetCreditLimitInput!) { setCreditLimit(input: $input) {
    credit { limit shownToCustomer receivables overdue exposure headroom setBy
             customer { code } }
    errors { field code message } } }"""
PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
    payment { reference amount paidOn settlement { number } }
    settlement { number invoiceStatus paidOn outstanding payments { reference amount } }
    errors { field code message } } }"""
ISSUE = """mutation($input: TransitionSettlementInput!) { transitionSettlement(input: $input) {
    settlement { invoiceStatus totalAmount dueOn } errors { message } } }"""
CREDIT = """query($c: ID) { customerOverview(customerId: $c) { customer { code }
    credit { limit shownToCustomer receivables overdue exposure headroom setBy } } }"""


def org(w: World, code: str) -> str:
    return to_global_id("Organization", w.org[code])


async def issued(api: Api, w: World, cust: str, days_ago: int) -> dict[str, Any]:
    """The customer's settlement issued ``days_ago`` days ago, due 30 days after."""
    got = await api.data(ISSUE, {"input": {
        "settlementId": to_global_id("Settlement", w.settlement[cust]), "action": "ISSUE",
        "on": (mill_today() - timedelta(days=days_ago)).isoformat()}}, as_=FINANCE)
    assert got["transitionSettlement"]["errors"] == []
    settlement: dict[str, Any] = got["transitionSettlement"]["settlement"]
    return settlement


async def unbilled(api: Api, w: World, cust: str) -> Decimal:
    """What of the customer's in-production contract is still to ship, at its price."""
    value: Decimal = await api.db.fetchval(
        "SELECT round((quantity_t - shipped_t) * unit_price, 2) FROM contract_line"
        " WHERE id = $1", w.line[cust])
    return value


async def test_finance_sets_a_limit_and_the_figures_follow_invoices_and_payments(
        api: Api) -> None:
    w = await build(api.db)
    faw = org(w, "FAW-VW")
    # Without a limit: the figures, no headroom. The contract is not invoiced: whole.
    got = (await api.data(CREDIT, {"c": faw}, as_=FINANCE))["customerOverview"]["credit"]
    assert got == {"limit": None, "shownToCustomer": False, "receivables": "0.00",
                   "overdue": "0.00", "exposure": "624060.00", "headroom": None, "setBy": None}

    refused = await api.data(SET, {"input": {"customerId": faw, "limit": "1000000"}},
                             as_=SALES)
    assert refused["setCreditLimit"]["errors"] == [{
        "field": None, "code": "FORBIDDEN", "message": "this needs the role finance or admin"}]
    assert (await api.data(SET, {"input": {"customerId": faw, "limit": "1000000.005"}},
                           as_=FINANCE))["setCreditLimit"]["errors"][0]["field"] == "limit"
    done = (await api.data(SET, {"input": {"customerId": faw, "limit": "1000000"}},
                           as_=FINANCE))["setCreditLimit"]
    assert done["errors"] == []
    assert done["credit"]["limit"] == "1000000.00"
    assert done["credit"]["headroom"] == "375940.00"
    assert done["credit"]["setBy"] == "finance.li"

    # Issued 40 days ago, due 10 days ago: overdue; the contract now counts what is left.
    invoice = await issued(api, w, "FAW-VW", 40)
    total = Decimal(invoice["totalAmount"])
    left = await unbilled(api, w, "FAW-VW")
    credit = (await api.data(CREDIT, {"c": faw}, as_=FINANCE))["customerOverview"]["credit"]
    assert Decimal(credit["receivables"]) == Decimal(credit["overdue"]) == total
    assert Decimal(credit["exposure"]) == left
    assert Decimal(credit["headroom"]) == Decimal(1_000_000) - total - left

    pay = {"reference": "BANK-0001", "settlementNumber": "ST-FAW-VW", "amount": "10000.00",
           "paidOn": (mill_today() - timedelta(days=2)).isoformat()}
    part = (await api.data(PAY, {"input": pay}, as_=FINANCE))["recordPayment"]
    assert part["errors"] == []
    assert part["payment"] == {"reference": "BANK-0001", "amount": "10000.00",
                               "paidOn": pay["paidOn"], "settlement": {"number": "ST-FAW-VW"}}
    assert part["settlement"]["invoiceStatus"] == "ISSUED"  # past due, not yet marked
    assert Decimal(part["settlement"]["outstanding"]) == total - 10000
    credit = (await api.data(CREDIT, {"c": faw}, as_=FINANCE))["customerOverview"]["credit"]
    assert Decimal(credit["receivables"]) == total - 10000

    # More than the invoice asks is refused; so is a payment before the invoice.
    over = {**pay, "reference": "BANK-0002", "amount": str(total)}
    got = (await api.data(PAY, {"input": over}, as_=FINANCE))["recordPayment"]
    assert got["errors"][0]["code"] == "CONFLICT" and got["payment"] is None
    early = {**pay, "reference": "BANK-0002",
             "paidOn": (mill_today() - timedelta(days=41)).isoformat()}
    got = (await api.data(PAY, {"input": early}, as_=FINANCE))["recordPayment"]
    assert got["errors"][0]["field"] == "paidOn"
    # A draft invoice takes no payment.
    draft = {**pay, "reference": "BANK-0003", "settlementNumber": "ST-GALANZ"}
    got = (await api.data(PAY, {"input": draft}, as_=FINANCE))["recordPayment"]
    assert got["errors"][0]["code"] == "INVALID_TRANSITION"
    assert got["errors"][0]["field"] == "settlementNumber"
    # Sales may not record payments.
    got = (await api.data(PAY, {"input": {**pay, "reference": "BANK-0004"}},
                          as_=SALES))["recordPayment"]
    assert got["errors"][0]["code"] == "FORBIDDEN"

    rest = {**pay, "reference": "BANK-0005", "amount": str(total - 10000),
            "paidOn": (mill_today() - timedelta(days=1)).isoformat()}
    paid = (await api.data(PAY, {"input": rest}, as_=FINANCE))["recordPayment"]
    assert paid["errors"] == []
    assert paid["settlement"]["invoiceStatus"] == "PAID"
    assert paid["settlement"]["paidOn"] == rest["paidOn"]
    assert paid["settlement"]["outstanding"] == "0"
    assert [p["reference"] for p in paid["settlement"]["payments"]] == ["BANK-0001",
                                                                        "BANK-0005"]
    credit = (await api.data(CREDIT, {"c": faw}, as_=FINANCE))["customerOverview"]["credit"]
    assert credit["receivables"] == credit["overdue"] == "0.00"
    assert Decimal(credit["headroom"]) == Decimal(1_000_000) - left
    events = await api.db.fetch(
        "SELECT event_type, org_id, actor FROM domain_event WHERE event_type IN"
        " ('payment.created', 'settlement.paid', 'credit.limit_set') ORDER BY seq")
    assert [(e["event_type"], e["org_id"]) for e in events] == [
        ("credit.limit_set", None), ("payment.created", w.org["FAW-VW"]),
        ("payment.created", w.org["FAW-VW"]), ("settlement.paid", w.org["FAW-VW"])]


async def test_a_customer_sees_its_limit_only_when_shown_and_another_customers_nothing(
        api: Api) -> None:
    w = await build(api.db)
    faw, galanz = org(w, "FAW-VW"), org(w, "GALANZ")
    await api.data(SET, {"input": {"customerId": faw, "limit": "700000"}}, as_=FINANCE)
    own = token("FAW-VW")
    for named in (faw, None):
        got = (await api.data(CREDIT, {"c": named}, as_=own))["customerOverview"]
        assert got["customer"] == {"code": "FAW-VW"}
        assert (got["credit"]["limit"], got["credit"]["headroom"],
                got["credit"]["setBy"]) == (None, None, None)
        assert got["credit"]["exposure"] == "624060.00"
    # Another customer's overview, or one that does not exist: nothing, alike.
    theirs = await api.query(CREDIT, {"c": faw}, as_=token("GALANZ"))
    nowhere = await api.query(CREDIT, {"c": to_global_id("Organization", 2**40)},
                              as_=token("GALANZ"))
    assert theirs == nowhere == {"data": {"customerOverview": None}}
    # Nor may a customer set a limit, its own or another's.
    for named in (faw, galanz):
        got = await api.data(SET, {"input": {"customerId": named, "limit": "1"}},
                             as_=token("GALANZ"))
        assert got["setCreditLimit"]["errors"][0]["code"] == "FORBIDDEN"

    await api.data(SET, {"input": {"customerId": faw, "limit": "700000",
                                   "shownToCustomer": True}}, as_=FINANCE)
    got = (await api.data(CREDIT, {"c": None}, as_=own))["customerOverview"]["credit"]
    assert (got["limit"], got["headroom"], got["shownToCustomer"]) == (
        "700000.00", "75940.00", True)
    assert got["setBy"] is None
    assert (await api.query(CREDIT, {"c": faw}, as_=token("GALANZ"))) == {
        "data": {"customerOverview": None}}
    # The mill names the customer; the mill itself has no overview.
    assert (await api.data(CREDIT, {"c": None}, as_=FINANCE))["customerOverview"] is None
    assert (await api.data(CREDIT, {"c": org(w, "BAOSTEEL")}, as_=FINANCE)
            )["customerOverview"] is None


async def test_payments_are_fenced_like_their_settlements(api: Api) -> None:
    w = await build(api.db)
    await issued(api, w, "FAW-VW", 5)
    got = (await api.data(PAY, {"input": {
        "reference": "BANK-FAW-1", "settlementNumber": "ST-FAW-VW", "amount": "100.00",
        "paidOn": mill_today().isoformat()}}, as_=FINANCE))["recordPayment"]
    assert got["errors"] == []
    pk = await api.db.fetchval("SELECT id FROM payment WHERE reference = 'BANK-FAW-1'")
    gid = to_global_id("Payment", pk)
    q = "query($id: ID!) { node(id: $id) { id ... on Payment { amount } } }"
    assert (await api.data(q, {"id": gid}, as_=token("FAW-VW")))["node"] == {
        "id": gid, "amount": "100.00"}
    assert (await api.data(q, {"id": gid}, as_=token("GALANZ")))["node"] is None

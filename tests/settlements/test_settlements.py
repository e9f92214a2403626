"""Settlements drawn up by finance: weighed tonnes of the coils that left the mill at the
lines' prices, agreed claims deducted in the same transaction, the invoice's steps, each
an event, every sum exact to the cent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.db import Database
from domain.disputes import claims
from domain.disputes import writes as disputes
from domain.disputes.claims import ClaimInput, ClaimStep
from domain.errors import Conflict, Forbidden, Invalid, InvalidTransition
from domain.settlements import writes as settling
from domain.settlements.writes import InvoiceInput
from resolvers.relay import to_global_id
from tests.disputes.test_disputes import ROLES, actor_for, customer, dispute_input, staff
from tests.support.api import Api, token
from tests.support.factory import NOW, World, build


async def shipping_world(db: Database) -> World:
    """FAW-VW's contract partially shipped: coil 0 at its warehouse (measured 0.82 mm
    against the nominal 0.8), coil 1 aboard a departed train, coil 2 on a leg not yet
    loaded; a second line at another price with one 4,123.4 kg coil delivered. Its draft
    settlement from the factory is still there."""
    w = await build(db)
    faw, coils = w.org["FAW-VW"], w.coils["FAW-VW"]
    await db.execute("UPDATE contract SET status = 'partially_shipped' WHERE id = $1",
                     w.contract["FAW-VW"])
    await db.execute("UPDATE coil SET thickness_mm = 0.82 WHERE id = $1", coils[0])
    line2 = await db.fetchval(
        "INSERT INTO contract_line (contract_id, customer_org_id, line_no, spec_id, quantity_t,"
        " unit_price, delivery_from, delivery_to, transport_mode) SELECT contract_id,"
        " customer_org_id, 2, spec_id, 10, 4999.99, delivery_from, delivery_to, 'rail'"
        " FROM contract_line WHERE id = $1 RETURNING id", w.line["FAW-VW"])
    extra = await db.fetchval(
        "INSERT INTO coil (coil_no, kind, heat_id, spec_id, line_id, customer_org_id,"
        " thickness_mm, width_mm, weight_kg, produced_at) VALUES ('FAW-VW-L2', 'cold_rolled',"
        " $1, $2, $3, $4, 0.8, 1250, 4123.4, $5) RETURNING id",
        w.heat, w.spec["FAW-VW"], line2, faw, NOW)
    for coil in (coils[0], extra):
        await db.execute("INSERT INTO coil_location (coil_id, site_id, since) VALUES ($1, $2,"
                         " $3)", coil, w.site["FAW-VW"], NOW)
    shipment = await db.fetchval("INSERT INTO shipment (number, status) VALUES ('SH-1',"
                                 " 'in_transit') RETURNING id")
    for seq, (status, coil) in enumerate((("departed", coils[1]), ("planned", coils[2])), 1):
        leg = await db.fetchval(
            "INSERT INTO shipment_leg (shipment_id, seq, mode, origin_site_id,"
            " destination_site_id, planned_departure, planned_arrival, status) VALUES"
            " ($1, $2, 'rail', $3, $4, $5::timestamptz, $5::timestamptz + interval '2 days', $6)"
            " RETURNING id",
            shipment, seq, w.site["plant"], w.site["FAW-VW"], NOW, status)
        await db.execute("INSERT INTO leg_coil VALUES ($1, $2)", leg, coil)
    return w


async def agreed_claim(db: Database, w: World, amount: str) -> int:
    d = await disputes.open_dispute(db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    await disputes.transition(db, staff(w, "quality"), d.id, "process", None)
    c = await claims.submit(db, customer(w), ClaimInput(d.id, Decimal(amount), "CNY", "credit"))
    await claims.transition(db, staff(w, "quality"), ClaimStep(c.id, "assess"))
    await claims.transition(db, staff(w, "finance"), ClaimStep(c.id, "agree"))
    return c.id


async def test_drawn_up_from_the_shipped_coils_with_the_agreed_claims(db: Database) -> None:
    w = await shipping_world(db)
    finance, contract = staff(w, "finance"), w.contract["FAW-VW"]
    claim = await agreed_claim(db, w, "1234.56")
    # The factory's draft took the deduction; it must be void before another is drawn up.
    with pytest.raises(Conflict, match="ST-FAW-VW"):
        await settling.draw_up(db, finance, contract)
    await settling.move_invoice(db, finance, InvoiceInput(w.settlement["FAW-VW"], "void",
                                                          note="weights were estimated"))
    for bad in (Decimal("0.001"), Decimal(-1), Decimal("NaN")):
        with pytest.raises(Invalid):
            await settling.draw_up(db, finance, contract, freight=bad)
    s = await settling.draw_up(db, finance, contract, surcharges=Decimal("596.15"),
                               freight=Decimal("2205.50"))
    # Line 1: 7,800 kg shipped (coil 2 is not loaded yet) x 5,200.50 = 40,563.90;
    # line 2: 4.123 t x 4,999.99 = 20,614.96 (20,614.958...); goods 61,178.86.
    assert (s.actual_weight_t, s.goods_amount, s.unit_price) == (
        Decimal("11.923"), Decimal("61178.86"), Decimal("5131.16"))
    # Coil 0 at nominal 0.8 mm instead of 0.82: 3,900 x 0.8 / 0.82 = 3,804.878 kg.
    assert s.theoretical_weight_t == Decimal("11.828")
    assert (s.surcharges, s.freight, s.claim_deductions, s.total_amount) == (
        Decimal("596.15"), Decimal("2205.50"), Decimal("1234.56"), Decimal("62745.95"))
    assert (s.invoice_status, s.currency, s.number[:4]) == ("draft", "CNY", "BSS-")
    moved = await db.fetchval("SELECT settlement_id FROM quality_claim WHERE id = $1", claim)
    assert moved == s.id
    # The void settlement keeps its figures; a second one is refused.
    assert await db.fetchval("SELECT claim_deductions FROM settlement WHERE id = $1",
                             w.settlement["FAW-VW"]) == Decimal("1234.56")
    with pytest.raises(Conflict, match=s.number):
        await settling.draw_up(db, finance, contract)
    event = await db.fetchrow("SELECT org_id, payload FROM domain_event"
                              " WHERE event_type = 'settlement.drawn_up'")
    assert event is not None and event["org_id"] == w.org["FAW-VW"]
    assert event["payload"]["total_amount"] == "62745.95"
    assert event["payload"]["contract"] == ["C-FAW-VW"]
    # Notification texts name a settlement by its number, as they name a dispute.
    assert event["payload"]["number"] == s.number


async def test_who_and_when_a_settlement_may_be_drawn_up(db: Database) -> None:
    w = await shipping_world(db)
    for role in ROLES:
        if role in ("finance", "admin"):
            continue
        with pytest.raises(Forbidden):
            await settling.draw_up(db, actor_for(w, role), w.contract["GALANZ"])
    # GALANZ's contract is in production, and nothing of it has left the mill.
    with pytest.raises(InvalidTransition, match="in_production"):
        await settling.draw_up(db, staff(w, "admin"), w.contract["GALANZ"])
    await db.execute("UPDATE contract SET status = 'shipped' WHERE id = $1",
                     w.contract["GALANZ"])
    await db.execute("DELETE FROM settlement WHERE id = $1", w.settlement["GALANZ"])
    await db.execute("DELETE FROM processing_feedback WHERE coil_id = ANY($1::bigint[])",
                     w.coils["GALANZ"])
    with pytest.raises(InvalidTransition, match="no coil"):
        await settling.draw_up(db, staff(w, "admin"), w.contract["GALANZ"])
    assert await db.fetchval("SELECT count(*) FROM settlement WHERE contract_id = $1",
                             w.contract["GALANZ"]) == 0


async def test_the_invoice_moves_as_the_table_allows(db: Database) -> None:
    w = await shipping_world(db)
    finance, sid = staff(w, "finance"), w.settlement["FAW-VW"]
    today = await db.fetchval("SELECT mill_today()")
    for role in ROLES:
        if role not in ("finance", "admin"):
            with pytest.raises(Forbidden):
                await settling.move_invoice(db, actor_for(w, role), InvoiceInput(sid, "issue"))
    for action in ("pay", "mark_overdue"):
        with pytest.raises(InvalidTransition):
            await settling.move_invoice(db, finance, InvoiceInput(sid, action))
    with pytest.raises(Invalid, match="future"):
        await settling.move_invoice(db, finance, InvoiceInput(sid, "issue",
                                                              on=today + timedelta(days=1)))
    issued = await settling.move_invoice(db, finance, InvoiceInput(
        sid, "issue", on=today - timedelta(days=40), payment_days=30))
    assert (issued.invoice_status, issued.issued_on, issued.due_on) == (
        "issued", today - timedelta(days=40), today - timedelta(days=10))
    with pytest.raises(Invalid, match="before the invoice"):
        await settling.move_invoice(db, finance, InvoiceInput(sid, "pay",
                                                              on=today - timedelta(days=41)))
    assert (await settling.move_invoice(db, finance, InvoiceInput(sid, "mark_overdue"))
            ).invoice_status == "overdue"
    paid = await settling.move_invoice(db, finance, InvoiceInput(sid, "pay"))
    assert (paid.invoice_status, paid.paid_on) == ("paid", today)
    with pytest.raises(InvalidTransition):
        await settling.move_invoice(db, finance, InvoiceInput(sid, "void", note="x"))
    # Not overdue before the due day; no void without a reason.
    other = w.settlement["GALANZ"]
    await settling.move_invoice(db, finance, InvoiceInput(other, "issue"))
    with pytest.raises(InvalidTransition, match="not yet overdue"):
        await settling.move_invoice(db, finance, InvoiceInput(other, "mark_overdue"))
    with pytest.raises(Invalid, match="why"):
        await settling.move_invoice(db, finance, InvoiceInput(other, "void", note=" "))
    kinds = [r["event_type"] for r in await db.fetch(
        "SELECT event_type FROM domain_event WHERE aggregate_type = 'settlement' ORDER BY seq")]
    assert kinds == ["settlement.issued", "settlement.overdue", "settlement.paid",
                     "settlement.issued"]


async def test_an_agreement_and_a_new_settlement_never_miss_each_other(db: Database) -> None:
    w = await shipping_world(db)
    finance = staff(w, "finance")
    d = await disputes.open_dispute(db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    await disputes.transition(db, staff(w, "quality"), d.id, "process", None)
    await settling.move_invoice(db, finance, InvoiceInput(w.settlement["FAW-VW"], "void",
                                                          note="redo"))
    for _ in range(5):
        c = await claims.submit(db, customer(w), ClaimInput(d.id, Decimal("10.01"), "CNY",
                                                            "credit"))
        await claims.transition(db, staff(w, "quality"), ClaimStep(c.id, "assess"))
        drawn, _ = await asyncio.gather(
            settling.draw_up(db, finance, w.contract["FAW-VW"]),
            claims.transition(db, finance, ClaimStep(c.id, "agree")))
        deducted = await db.fetchval("SELECT claim_deductions FROM settlement WHERE id = $1",
                                     drawn.id)
        total = await db.fetchval("SELECT sum(agreed_amount) FROM quality_claim")
        assert deducted == total
        await settling.move_invoice(db, finance, InvoiceInput(drawn.id, "void", note="again"))


DRAW = """mutation($input: DrawUpSettlementInput!) { drawUpSettlement(input: $input) {
    settlement { id number actualWeightT unitPrice goodsAmount freight claimDeductions
                 totalAmount invoiceStatus } errors { field message code } } }"""
MOVE = """mutation($input: TransitionSettlementInput!) { transitionSettlement(input: $input) {
    settlement { invoiceStatus issuedOn dueOn } errors { field message code } } }"""


async def test_finance_draws_up_over_graphql_and_the_customer_sees_its_own(api: Api) -> None:
    w = await shipping_world(api.db)
    await api.db.execute("UPDATE settlement SET invoice_status = 'void'")
    contract = to_global_id("Contract", w.contract["FAW-VW"])
    refused = await api.data(DRAW, {"input": {"contractId": contract}}, as_=token("FAW-VW"))
    assert refused["drawUpSettlement"]["errors"][0]["code"] == "FORBIDDEN"
    drawn = (await api.data(DRAW, {"input": {"contractId": contract, "freight": "1500.5"}},
                            as_=token("BAOSTEEL", "finance")))["drawUpSettlement"]
    assert drawn["errors"] == []
    s = drawn["settlement"]
    assert {k: s[k] for k in ("actualWeightT", "unitPrice", "goodsAmount", "freight",
                              "claimDeductions", "totalAmount", "invoiceStatus")} == {
        "actualWeightT": "11.923", "unitPrice": "5131.16", "goodsAmount": "61178.86",
        "freight": "1500.50", "claimDeductions": "0.00", "totalAmount": "62679.36",
        "invoiceStatus": "DRAFT"}
    issued = await api.data(MOVE, {"input": {"settlementId": s["id"], "action": "ISSUE",
                                             "paymentDays": 45}}, as_=token("BAOSTEEL", "admin"))
    assert issued["transitionSettlement"]["errors"] == []
    assert issued["transitionSettlement"]["settlement"]["invoiceStatus"] == "ISSUED"
    q = 'query($n: String) { settlement(number: $n) { totalAmount invoiceStatus } }'
    mine = await api.data(q, {"n": s["number"]}, as_=token("FAW-VW"))
    assert mine["settlement"] == {"totalAmount": "62679.36", "invoiceStatus": "ISSUED"}
    assert (await api.data(q, {"n": s["number"]}, as_=token("GALANZ")))["settlement"] is None
    again = await api.data(DRAW, {"input": {"contractId": contract}},
                           as_=token("BAOSTEEL", "finance"))
    assert again["drawUpSettlement"]["errors"][0]["code"] == "CONFLICT"


async def test_overdue_invoices_are_marked_and_paying_settles_a_shipped_contract(
    db: Database,
) -> None:
    w = await build(db)
    finance = staff(w, "finance")
    today = await db.fetchval("SELECT mill_today()")
    late, current = w.settlement["FAW-VW"], w.settlement["GALANZ"]
    await settling.move_invoice(db, finance, InvoiceInput(
        late, "issue", on=today - timedelta(days=40), payment_days=30))
    await settling.move_invoice(db, finance, InvoiceInput(current, "issue", payment_days=30))
    now = datetime.now(UTC)
    assert await settling.mark_overdue(db, now) == 1
    assert await settling.mark_overdue(db, now) == 0  # marked once
    statuses = {r["id"]: r["invoice_status"] for r in await db.fetch(
        "SELECT id, invoice_status FROM settlement")}
    assert (statuses[late], statuses[current]) == ("overdue", "issued")
    event = await db.fetchrow("SELECT actor, org_id FROM domain_event"
                              " WHERE event_type = 'settlement.overdue'")
    assert event is not None and event["actor"] == settling.SYSTEM.subject
    assert event["org_id"] == w.org["FAW-VW"]
    # Paid: FAW-VW's contract has shipped everything, so it is settled; GALANZ's has not.
    await db.execute("UPDATE contract SET status = 'shipped' WHERE id = $1",
                     w.contract["FAW-VW"])
    await db.execute("UPDATE contract_line SET status = 'shipped' WHERE contract_id = $1",
                     w.contract["FAW-VW"])
    for sid in (late, current):
        await settling.move_invoice(db, finance, InvoiceInput(sid, "pay"))
    contracts = {r["id"]: r["status"] for r in await db.fetch("SELECT id, status FROM contract")}
    assert contracts[w.contract["FAW-VW"]] == "settled"
    assert contracts[w.contract["GALANZ"]] == "in_production"
    assert await db.fetchval("SELECT status FROM contract_line WHERE contract_id = $1",
                             w.contract["FAW-VW"]) == "settled"
    assert [r["org_id"] for r in await db.fetch(
        "SELECT org_id FROM domain_event WHERE event_type = 'contract.settled'")] == [
            w.org["FAW-VW"]]

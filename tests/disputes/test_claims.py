"""Claims: every transition for every role, exact decimal arithmetic on the settlement,
and what the customer sees of it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.db import Database, Executor
from domain.disputes import claims
from domain.disputes import writes as disputes
from domain.disputes.claims import ClaimInput, ClaimStep
from domain.errors import Forbidden, Invalid, InvalidTransition, NotFound
from domain.settlements import deductions
from domain.settlements import reads as settlements
from domain.settlements import writes as settling
from domain.settlements.writes import InvoiceInput
from domain.tenancy import Scope
from resolvers.relay import to_global_id
from tests.disputes.test_disputes import (
    ROLES,
    actor_for,
    customer,
    delivered_world,
    dispute_input,
    staff,
)
from tests.support.api import Api, token
from tests.support.factory import World

CLAIM_STATES = ("submitted", "assessed", "agreed", "partially_agreed", "rejected", "credited")
GOODS = Decimal("60908.26")  # the factory's settlement: goods 60,908.26 + freight 1,200
FREIGHT = Decimal("1200")


async def claiming(db: Database, w: World) -> int:
    d = await disputes.open_dispute(db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    await disputes.transition(db, staff(w, "quality"), d.id, "process", None)
    return d.id


async def claim_in(db: Database, w: World, dispute_id: int, state: str,
                   amount: str = "1000.00") -> int:
    c = await claims.submit(db, customer(w), ClaimInput(dispute_id, Decimal(amount), "CNY",
                                                        "credit"))
    agreed = Decimal(amount) if state in ("agreed", "partially_agreed", "credited") else None
    await db.execute("UPDATE quality_claim SET status = $2, agreed_amount = $3 WHERE id = $1",
                     c.id, state, agreed)
    return c.id


def step_for(action: str) -> ClaimStep:
    return ClaimStep(claim_id=0, action=action,
                     agreed_amount=Decimal("400.10") if action == "partially_agree" else None,
                     credit_note="CN-1" if action == "credit" else None, note="reason")


async def test_every_claim_transition_for_every_role(db: Database) -> None:
    w = await delivered_world(db)
    dispute = await claiming(db, w)
    for action, rule in claims.TRANSITIONS.items():
        source = sorted(rule.sources)[0]
        for role in ROLES:
            pk = await claim_in(db, w, dispute, source)
            step = step_for(action)
            try:
                done = await claims.transition(
                    db, actor_for(w, role), ClaimStep(pk, step.action, step.agreed_amount,
                                                      step.credit_note, step.note))
            except Forbidden:
                assert role not in rule.roles, (action, role)
                continue
            assert role in rule.roles, (action, role)
            assert done.status == rule.target
        for state in CLAIM_STATES:
            if state in rule.sources:
                continue
            pk = await claim_in(db, w, dispute, state)
            with pytest.raises(InvalidTransition):
                await claims.transition(db, staff(w, "admin"), ClaimStep(
                    pk, action, step_for(action).agreed_amount, step_for(action).credit_note,
                    "reason"))
    # Only the customer submits, and only on its own dispute.
    for role in ROLES[1:]:
        with pytest.raises(Forbidden):
            await claims.submit(db, staff(w, role),
                                ClaimInput(dispute, Decimal(1), "CNY", "credit"))
    other = customer(w, "GALANZ")
    with pytest.raises(NotFound):
        await claims.submit(db, other, ClaimInput(dispute, Decimal(1), "CNY", "credit"))


async def test_the_first_claim_moves_the_dispute_to_claiming(db: Database) -> None:
    w = await delivered_world(db)
    d = await disputes.open_dispute(db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    with pytest.raises(InvalidTransition):
        await claims.submit(db, customer(w), ClaimInput(d.id, Decimal(1), "CNY", "credit"))
    await disputes.transition(db, staff(w, "quality"), d.id, "process", None)
    c = await claims.submit(db, customer(w), ClaimInput(d.id, Decimal("12.5"), "cny",
                                                        "downgrade", note="B-grade price"))
    assert (c.amount, c.currency, c.status) == (Decimal("12.50"), "CNY", "submitted")
    assert c.number.startswith("CL-") and c.contract_id == w.contract["FAW-VW"]
    assert (await disputes.disputes_by_ids(db, Scope.everything(), [d.id]))[0].status \
        == "claiming"
    # Undecided claims hold the dispute in claiming.
    await disputes.record(db, staff(w, "quality"), d.id, "root_cause", "coil set")
    with pytest.raises(InvalidTransition, match=c.number):
        await disputes.transition(db, staff(w, "quality"), d.id, "correct", None)


async def test_amounts_are_exact_to_the_cent_and_in_the_contracts_currency(
        db: Database) -> None:
    w = await delivered_world(db)
    d = await claiming(db, w)
    for amount, currency, field in (("0.001", "CNY", "amount"), ("-5", "CNY", "amount"),
                                    ("0", "CNY", "amount"), ("NaN", "CNY", "amount"),
                                    ("1e20", "CNY", "amount"), ("10", "EUR", "currency")):
        with pytest.raises(Invalid) as refused:
            await claims.submit(db, customer(w),
                                ClaimInput(d, Decimal(amount), currency, "credit"))
        assert refused.value.field == field
    pk = await claim_in(db, w, d, "assessed", "999.99")
    for agreed in ("999.99", "1000", "0.005", "0"):
        with pytest.raises(Invalid):
            await claims.transition(db, staff(w, "finance"),
                                    ClaimStep(pk, "partially_agree", Decimal(agreed)))
    with pytest.raises(Invalid, match="why"):
        await claims.transition(db, staff(w, "finance"), ClaimStep(pk, "reject"))


async def test_agreed_amounts_are_deducted_on_the_settlement_to_the_cent(db: Database) -> None:
    w = await delivered_world(db)
    d = await claiming(db, w)
    finance = staff(w, "finance")
    first = await claim_in(db, w, d, "assessed", "1234.57")
    second = await claim_in(db, w, d, "assessed", "0.30")
    third = await claim_in(db, w, d, "assessed", "500.00")
    await claims.transition(db, finance, ClaimStep(first, "agree"))
    await claims.transition(db, finance, ClaimStep(second, "partially_agree", Decimal("0.10")))
    await claims.transition(db, finance, ClaimStep(third, "reject", note="not our defect"))
    s = (await settlements.settlements_by_ids(db, Scope.everything(),
                                              [w.settlement["FAW-VW"]]))[0]
    # 0.1 + 0.2 in floats is 0.30000000000000004: here every sum is exact.
    assert s.claim_deductions == Decimal("1234.67")
    assert s.total_amount == GOODS + FREIGHT - Decimal("1234.67") == Decimal("60873.59")
    credited = await claims.transition(db, finance, ClaimStep(first, "credit",
                                                              credit_note="CN-2026-0042"))
    assert (credited.status, credited.credit_note, credited.settlement_id) == (
        "credited", "CN-2026-0042", w.settlement["FAW-VW"])
    with pytest.raises(Invalid):
        await claims.transition(db, finance, ClaimStep(second, "credit"))


async def new_settlement(tx: Executor, w: World) -> int:
    """FAW-VW's contract's next settlement, worth 1,000.00, as finance would draw it up."""
    sid: int = await tx.fetchval(
        "INSERT INTO settlement (number, contract_id, customer_org_id, currency,"
        " theoretical_weight_t, actual_weight_t, unit_price, goods_amount) VALUES"
        " ('ST-2', $1, $2, 'CNY', 1, 1, 1000, 1000) RETURNING id",
        w.contract["FAW-VW"], w.org["FAW-VW"])
    return sid


async def test_a_claim_agreed_before_settlement_is_deducted_when_it_comes(db: Database) -> None:
    w = await delivered_world(db)
    await db.execute("UPDATE settlement SET invoice_status = 'void' WHERE id = $1",
                     w.settlement["FAW-VW"])
    d = await claiming(db, w)
    pk = await claim_in(db, w, d, "assessed", "250.25")
    agreed = await claims.transition(db, staff(w, "quality"), ClaimStep(pk, "agree"))
    assert agreed.settlement_id is None
    async with db.transaction() as tx:
        new = await new_settlement(tx, w)
        assert await deductions.apply_agreed_claims(tx, new) == Decimal("250.25")
        assert await deductions.apply_agreed_claims(tx, new) == Decimal(0)
    s = (await settlements.settlements_by_ids(db, Scope.everything(), [new]))[0]
    assert (s.claim_deductions, s.total_amount) == (Decimal("250.25"), Decimal("749.75"))


async def test_an_issued_invoice_is_not_changed_by_a_later_claim(db: Database) -> None:
    w = await delivered_world(db)
    finance = staff(w, "finance")
    sid = w.settlement["FAW-VW"]
    await settling.move_invoice(db, finance, InvoiceInput(sid, "issue"))
    d = await claiming(db, w)
    pk = await claim_in(db, w, d, "assessed", "300.00")
    agreed = await claims.transition(db, finance, ClaimStep(pk, "agree"))
    assert agreed.settlement_id is None  # credited apart, not taken off the invoice
    s = (await settlements.settlements_by_ids(db, Scope.everything(), [sid]))[0]
    assert (s.claim_deductions, s.total_amount) == (0, GOODS + FREIGHT)
    credited = await claims.transition(db, finance, ClaimStep(pk, "credit",
                                                              credit_note="CN-2026-0043"))
    assert (credited.status, credited.credit_note) == ("credited", "CN-2026-0043")


async def test_a_credited_claim_is_not_deducted_again_on_a_new_settlement(
    db: Database,
) -> None:
    w = await delivered_world(db)
    finance = staff(w, "finance")
    sid = w.settlement["FAW-VW"]
    await settling.move_invoice(db, finance, InvoiceInput(sid, "issue"))
    d = await claiming(db, w)
    credited = await claim_in(db, w, d, "assessed", "300.00")
    waiting = await claim_in(db, w, d, "assessed", "40.00")
    await claims.transition(db, finance, ClaimStep(credited, "agree"))
    await claims.transition(db, finance, ClaimStep(credited, "credit",
                                                   credit_note="CN-2026-0044"))
    await claims.transition(db, finance, ClaimStep(waiting, "agree"))
    await settling.move_invoice(db, finance, InvoiceInput(sid, "void", note="wrong freight"))
    async with db.transaction() as tx:
        new = await new_settlement(tx, w)
        # Only the claim not yet credited: the customer has had the other already.
        assert await deductions.apply_agreed_claims(tx, new) == Decimal("40.00")


async def test_an_invoice_below_zero_is_not_issued(db: Database) -> None:
    w = await delivered_world(db)
    finance = staff(w, "finance")
    d = await claiming(db, w)
    pk = await claim_in(db, w, d, "assessed", "90000.00")
    await claims.transition(db, finance, ClaimStep(pk, "agree"))
    with pytest.raises(Invalid, match="credit note"):
        await settling.move_invoice(db, finance, InvoiceInput(w.settlement["FAW-VW"], "issue"))


SETTLEMENT = """query($id: ID!) { node(id: $id) { ... on Settlement { goodsAmount freight
    claimDeductions totalAmount claims { number status amount agreedAmount
    dispute { number } } } } }"""
SUBMIT = """mutation($input: SubmitClaimInput!) { submitClaim(input: $input) {
    claim { id number status amount } errors { field message code } } }"""
DECIDE = """mutation($input: TransitionClaimInput!) { transitionClaim(input: $input) {
    claim { status agreedAmount settlement { number totalAmount } }
    errors { field message code } } }"""


async def test_the_customer_sees_its_own_settlement_with_the_deduction(api: Api) -> None:
    w = await delivered_world(api.db)
    d = await claiming(api.db, w)
    faw, galanz = token("FAW-VW"), token("GALANZ")
    dispute = to_global_id("QualityDispute", d)
    submitted = await api.data(SUBMIT, {"input": {
        "disputeId": dispute, "amount": "1000.10", "currency": "CNY", "basis": "CREDIT"}},
        as_=faw)
    assert submitted["submitClaim"]["errors"] == []
    claim = submitted["submitClaim"]["claim"]["id"]
    for who, action, code in ((faw, "ASSESS", "FORBIDDEN"), (galanz, "ASSESS", "NOT_FOUND"),
                              (token("BAOSTEEL", "finance"), "ASSESS", "FORBIDDEN"),
                              (token("BAOSTEEL", "admin"), "CREDIT", "INVALID_TRANSITION")):
        refused = await api.data(DECIDE, {"input": {"claimId": claim, "action": action}},
                                 as_=who)
        assert refused["transitionClaim"]["errors"][0]["code"] == code, (action, code)
    await api.data(DECIDE, {"input": {"claimId": claim, "action": "ASSESS"}},
                   as_=token("BAOSTEEL", "quality"))
    agreed = await api.data(DECIDE, {"input": {
        "claimId": claim, "action": "PARTIALLY_AGREE", "agreedAmount": "800.05"}},
        as_=token("BAOSTEEL", "finance"))
    assert agreed["transitionClaim"] == {"errors": [], "claim": {
        "status": "PARTIALLY_AGREED", "agreedAmount": "800.05",
        "settlement": {"number": "ST-FAW-VW", "totalAmount": "61308.21"}}}
    sid = to_global_id("Settlement", w.settlement["FAW-VW"])
    mine = (await api.data(SETTLEMENT, {"id": sid}, as_=faw))["node"]
    assert mine == {"goodsAmount": "60908.26", "freight": "1200.00",
                    "claimDeductions": "800.05", "totalAmount": "61308.21",
                    "claims": [{"number": mine["claims"][0]["number"],
                                "status": "PARTIALLY_AGREED", "amount": "1000.10",
                                "agreedAmount": "800.05",
                                "dispute": {"number": mine["claims"][0]["dispute"]["number"]}}]}
    assert (await api.data(SETTLEMENT, {"id": sid}, as_=galanz))["node"] is None
    assert (await api.data('query($id: ID!) { node(id: $id) { id } }', {"id": claim},
                           as_=galanz))["node"] is None
    kinds = [r["event_type"] for r in await api.db.fetch(
        "SELECT event_type FROM domain_event WHERE event_type LIKE 'claim.%' AND org_id = $1"
        " ORDER BY seq", w.org["FAW-VW"])]
    assert kinds == ["claim.submitted", "claim.assessed", "claim.partially_agreed"]


async def test_a_settlement_by_number_for_its_customer_only(api: Api) -> None:
    w = await delivered_world(api.db)
    q = """query($n: String, $id: ID) { settlement(number: $n, id: $id) { number
           actualWeightT unitPrice totalAmount invoiceStatus } }"""
    mine = await api.data(q, {"n": "ST-FAW-VW"}, as_=token("FAW-VW"))
    assert mine["settlement"] == {"number": "ST-FAW-VW", "actualWeightT": "11.712",
                                  "unitPrice": "5200.50", "totalAmount": "62108.26",
                                  "invoiceStatus": "DRAFT"}
    by_id = await api.data(q, {"id": to_global_id("Settlement", w.settlement["FAW-VW"])},
                           as_=token("BAOSTEEL", "finance"))
    assert by_id == mine
    for n in ("ST-FAW-VW", "ST-NONE"):
        assert (await api.data(q, {"n": n}, as_=token("GALANZ")))["settlement"] is None
    both = await api.query(q, {"n": "ST-FAW-VW", "id": "x"}, as_=token("FAW-VW"))
    assert both["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

"""Drawing up a contract's settlement and moving its invoice, by the mill's finance staff.

A contract has one settlement that is not void. It is drawn up from the contract's lines
(their unit prices) and the coils of those lines that have left the mill (their weighed
kilograms); agreed claims not yet deducted anywhere are deducted in the same transaction.
The invoice then moves::

    draft --issue--> issued --pay--> paid
    issued --mark_overdue (past due)--> overdue --pay--> paid
    draft | issued | overdue --void (with a reason)--> void

Paying settles a contract whose goods have all left the mill (``contract.settled``);
invoices past their due day are marked overdue by the push worker (``mark_overdue``)
when finance has not done so. Each step appends a ``settlement.*`` event for the
customer. Amounts are exact to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain import events
from domain.actor import Actor, Permissions
from domain.checks import bounded
from domain.db import Database, Executor
from domain.disputes.writes import clean_text
from domain.errors import Conflict, Invalid, InvalidTransition, NotFound
from domain.settlements.deductions import apply_agreed_claims
from domain.settlements.reads import Settlement, settlements_by_ids
from domain.shipments import shipping
from domain.shipments.shipping import LEFT_MILL
from domain.tenancy import Scope

CENT = Decimal("0.01")
KG = Decimal("0.001")
# A contract is settled once goods have left the mill, and before it is closed.
SETTLEABLE = ("partially_shipped", "shipped", "settled")
@dataclass(frozen=True, slots=True)
class InvoiceStep:
    sources: frozenset[str]
    target: str


STEPS: dict[str, InvoiceStep] = {
    "issue": InvoiceStep(frozenset({"draft"}), "issued"),
    "pay": InvoiceStep(frozenset({"issued", "overdue"}), "paid"),
    "mark_overdue": InvoiceStep(frozenset({"issued"}), "overdue"),
    "void": InvoiceStep(frozenset({"draft", "issued", "overdue"}), "void"),
}
EVENTS = {"issue": "issued", "pay": "paid", "mark_overdue": "overdue", "void": "voided"}
# Who may settle: finance draws a settlement up and moves its invoice on.
FINANCE = ("finance", "admin")
PERMISSIONS = Permissions({"draw_up": FINANCE, "move_invoice": FINANCE})


def cents(value: Decimal, name: str) -> Decimal:
    """A charge of zero or more, to the cent: a third decimal is refused, not rounded."""
    bounded(value, name, below=Decimal(10) ** 14)
    if value != value.quantize(CENT):
        raise Invalid("is exact to the cent: at most two decimal places", field=name)
    return value.quantize(CENT)


@dataclass(frozen=True, slots=True)
class Goods:
    """What the shipped coils of a contract come to."""

    coils: int
    actual_t: Decimal
    theoretical_t: Decimal
    goods: Decimal
    unit_price: Decimal


def goods_of(lines: list[Any]) -> Goods:
    """Per line: weighed tonnes to the kilogram times the line's price, to the cent; the
    settlement's unit price is their tonnage-weighted average."""
    actual = theoretical = goods = Decimal(0)
    coils = 0
    for line in lines:
        tonnes = (Decimal(line["actual_kg"]) / 1000).quantize(KG, ROUND_HALF_UP)
        actual += tonnes
        theoretical += (Decimal(line["theoretical_kg"]) / 1000).quantize(KG, ROUND_HALF_UP)
        goods += (tonnes * line["unit_price"]).quantize(CENT, ROUND_HALF_UP)
        coils += line["coils"]
    price = (goods / actual).quantize(CENT, ROUND_HALF_UP) if actual else Decimal(0)
    return Goods(coils, actual, theoretical, goods, price)


# Theoretical weight is by nominal dimensions: a coil's weighed kilograms scaled by the
# spec's nominal cross-section over the coil's own (length is the same in both).
_LINES = f"""
SELECT l.id, l.line_no, l.unit_price, count(c.id) AS coils,
       coalesce(sum(c.weight_kg), 0) AS actual_kg,
       coalesce(sum(c.weight_kg * s.thickness_mm * s.width_mm
                    / (c.thickness_mm * c.width_mm)), 0) AS theoretical_kg
FROM contract_line l JOIN steel_spec s ON s.id = l.spec_id
LEFT JOIN coil c ON c.line_id = l.id AND {LEFT_MILL}
WHERE l.contract_id = $1 AND l.status <> 'cancelled'
GROUP BY l.id ORDER BY l.line_no"""


async def _lock_contract(tx: Executor, contract_id: int) -> Any:
    row = await tx.fetchrow(
        "SELECT id, number, customer_org_id, currency, status FROM contract WHERE id = $1"
        " FOR NO KEY UPDATE", contract_id)
    if row is None:
        raise NotFound("no such contract", field="contractId")
    return row


async def draw_up(db: Database, actor: Actor, contract_id: int, *,
                  surcharges: Decimal = Decimal(0), freight: Decimal = Decimal(0)
                  ) -> Settlement:
    """Finance draws up the settlement of a contract whose goods have left the mill."""
    PERMISSIONS.check(actor, "draw_up")
    surcharges, freight = cents(surcharges, "surcharges"), cents(freight, "freight")
    async with db.transaction() as tx:
        contract = await _lock_contract(tx, contract_id)
        if contract["status"] not in SETTLEABLE:
            raise InvalidTransition(
                f"contract {contract['number']} is {contract['status']}: a settlement is "
                f"drawn up once goods have shipped and before it closes", field="contractId")
        current = await tx.fetchrow(
            "SELECT number, invoice_status FROM settlement WHERE contract_id = $1"
            " AND invoice_status <> 'void' ORDER BY id DESC LIMIT 1", contract_id)
        if current is not None:
            raise Conflict(f"contract {contract['number']} already has settlement "
                           f"{current['number']} ({current['invoice_status']}); void it "
                           "to draw up another", field="contractId")
        goods = goods_of(await tx.fetch(_LINES, contract_id))
        if goods.coils == 0:
            raise InvalidTransition(f"no coil of contract {contract['number']} has left "
                                    "the mill yet", field="contractId")
        pk = await tx.fetchval("SELECT nextval(pg_get_serial_sequence('settlement', 'id'))")
        number = await tx.fetchval(
            "INSERT INTO settlement (id, number, contract_id, customer_org_id, currency,"
            " theoretical_weight_t, actual_weight_t, unit_price, goods_amount, surcharges,"
            " freight) OVERRIDING SYSTEM VALUE VALUES ($1::bigint, 'BSS-' || to_char(now()"
            " AT TIME ZONE 'Asia/Shanghai', 'YYYY') || '-' || lpad($1::bigint::text, 6, '0'),"
            " $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING number",
            pk, contract_id, contract["customer_org_id"], contract["currency"],
            goods.theoretical_t, goods.actual_t, goods.unit_price, goods.goods, surcharges,
            freight)
        deducted = await apply_agreed_claims(tx, pk)
        found = (await settlements_by_ids(tx, Scope.everything(), [pk]))[0]
        await _event(tx, found, contract["number"], actor, "drawn_up", {
            "coils": goods.coils, "actual_weight_t": goods.actual_t,
            "goods_amount": goods.goods, "surcharges": surcharges, "freight": freight,
            "claim_deductions": deducted, "total_amount": found.total_amount})
        assert number == found.number
        return found


@dataclass(frozen=True)
class InvoiceInput:
    settlement_id: int
    action: str
    on: date | None = None
    payment_days: int = 30
    note: str | None = None


async def move_invoice(db: Database, actor: Actor, data: InvoiceInput) -> Settlement:
    """Finance issues, marks paid or overdue, or voids a settlement's invoice."""
    PERMISSIONS.check(actor, "move_invoice")
    step = STEPS.get(data.action)
    if step is None:
        raise Invalid(f"actions are {', '.join(STEPS)}", field="action")
    note = clean_text(data.note, "note", required=False)
    if data.action == "void" and note is None:
        raise Invalid("say why the settlement is void", field="note")
    if not 0 <= data.payment_days <= 365:
        raise Invalid("must be between 0 and 365 days", field="paymentDays")
    async with db.transaction() as tx:
        today: date = await tx.fetchval("SELECT mill_today()")
        contract_id = await tx.fetchval(
            "SELECT contract_id FROM settlement WHERE id = $1", data.settlement_id)
        if contract_id is not None:
            # The contract first, as claims and drawing up lock it: the order is one.
            await _lock_contract(tx, contract_id)
        row = await tx.fetchrow(
            "SELECT s.id, s.number, s.invoice_status, s.issued_on, s.due_on, k.number AS"
            " contract FROM settlement s JOIN contract k ON k.id = s.contract_id"
            " WHERE s.id = $1 FOR UPDATE OF s", data.settlement_id)
        if row is None:
            raise NotFound("no such settlement", field="settlementId")
        if row["invoice_status"] not in step.sources:
            raise InvalidTransition(
                f"an invoice that is {row['invoice_status']} cannot {data.action}; only one "
                f"that is {' or '.join(sorted(step.sources))} can", field="action")
        on = _day(data, row, today)
        if data.action == "issue":
            total = await tx.fetchval("SELECT total_amount FROM settlement WHERE id = $1",
                                      row["id"])
            if total < 0:
                raise Invalid(f"the agreed claims exceed what is invoiced ({total}): credit "
                              "the customer with a credit note instead", field="action")
        await tx.execute(
            "UPDATE settlement SET invoice_status = $2,"
            " issued_on = CASE WHEN $2 = 'issued' THEN $3 ELSE issued_on END,"
            " due_on = CASE WHEN $2 = 'issued' THEN $3::date + $4::int ELSE due_on END,"
            " paid_on = CASE WHEN $2 = 'paid' THEN $3 ELSE paid_on END WHERE id = $1",
            row["id"], step.target, on, data.payment_days)
        found = (await settlements_by_ids(tx, Scope.everything(), [row["id"]]))[0]
        await _event(tx, found, row["contract"], actor, EVENTS[data.action], {
            "from": row["invoice_status"], "on": on.isoformat(), "note": note,
            "total_amount": found.total_amount})
        if data.action == "pay":
            await _settle_contract(tx, contract_id, actor)
        return found


async def _settle_contract(tx: Executor, contract_id: int, actor: Actor) -> None:
    """Paid, a contract whose goods have all left the mill is settled."""
    settled = await tx.fetchrow(
        "UPDATE contract SET status = 'settled', updated_at = now()"
        " WHERE id = $1 AND status = 'shipped' RETURNING number, customer_org_id,"
        " (SELECT sum(shipped_t) FROM contract_line WHERE contract_id = $1) AS shipped_t",
        contract_id)
    if settled is None:
        return
    await tx.execute("UPDATE contract_line SET status = 'settled'"
                     " WHERE contract_id = $1 AND status = 'shipped'", contract_id)
    await shipping.announce(tx, [shipping.ContractMoved(
        contract_id, settled["number"], settled["customer_org_id"], "settled",
        settled["shipped_t"])], actor=actor.subject)


@dataclass(frozen=True, slots=True)
class PaidInFull:
    """An invoice its payments settled, and the contract that paying it settled."""

    settlement: Settlement
    contract: str
    was: str
    settled: shipping.ContractMoved | None


async def paid_by_payments(tx: Executor, settlement_ids: list[int]) -> list[PaidInFull]:
    """Issued (or overdue) invoices whose payments now cover their total become paid, on
    the day of the payment that completed them, and a contract whose goods have all left
    the mill is settled, as :func:`move_invoice` pays one: in the caller's transaction,
    which appends the events (``settlement.paid``, ``contract.settled``) itself, last."""
    rows = await tx.fetch(
        "UPDATE settlement s SET invoice_status = 'paid', paid_on = p.last_on"
        " FROM (SELECT settlement_id, sum(amount) AS paid, max(paid_on) AS last_on"
        "       FROM payment WHERE settlement_id = ANY($1::bigint[])"
        "       GROUP BY settlement_id) p"
        " WHERE s.id = p.settlement_id AND s.invoice_status IN ('issued', 'overdue')"
        " AND p.paid >= s.total_amount"
        # A subquery of RETURNING sees the rows as the statement found them.
        " RETURNING s.id, s.contract_id, (SELECT o.invoice_status FROM settlement o"
        " WHERE o.id = s.id) AS was,"
        " (SELECT number FROM contract WHERE id = s.contract_id) AS contract",
        settlement_ids)
    out = []
    for r in sorted(rows, key=lambda r: r["id"]):
        found = (await settlements_by_ids(tx, Scope.everything(), [r["id"]]))[0]
        settled = await tx.fetchrow(
            "UPDATE contract SET status = 'settled', updated_at = now()"
            " WHERE id = $1 AND status = 'shipped' RETURNING number, customer_org_id,"
            " (SELECT sum(shipped_t) FROM contract_line WHERE contract_id = $1) AS shipped_t",
            r["contract_id"])
        moved = None
        if settled is not None:
            await tx.execute("UPDATE contract_line SET status = 'settled'"
                             " WHERE contract_id = $1 AND status = 'shipped'", r["contract_id"])
            moved = shipping.ContractMoved(r["contract_id"], settled["number"],
                                           settled["customer_org_id"], "settled",
                                           settled["shipped_t"])
        out.append(PaidInFull(found, r["contract"], r["was"], moved))
    return out


def paid_event_payload(paid: PaidInFull) -> dict[str, Any]:
    """The ``settlement.paid`` payload of an invoice its payments settled."""
    s = paid.settlement
    assert s.paid_on is not None
    return {"settlement": s.number, "number": s.number, "contract": [paid.contract],
            "currency": s.currency.strip(), "from": paid.was, "on": s.paid_on.isoformat(),
            "note": None, "total_amount": s.total_amount, "by": "payments"}


# Who marks invoices overdue when no one of finance has.
SYSTEM = Actor.system("keylink:invoice-watch")


async def mark_overdue(db: Database, now: datetime) -> int:
    """Issued invoices past their due day become overdue, each with its
    ``settlement.overdue`` event, as finance would mark them: a periodic job of the push
    worker. Returns how many."""
    # The mill's day as the database tells it, the day move_invoice judges by (``now``,
    # the periodic job's time, would disagree near midnight if the clocks differ).
    due = await db.fetch(
        "SELECT id FROM settlement WHERE invoice_status = 'issued' AND due_on < mill_today()"
        " ORDER BY due_on, id")
    done = 0
    for row in due:
        try:
            await move_invoice(db, SYSTEM, InvoiceInput(row["id"], "mark_overdue"))
        except (InvalidTransition, Invalid):
            continue  # paid, voided or marked meanwhile, or the day turned over
        done += 1
    return done


def _day(data: InvoiceInput, row: Any, today: date) -> date:
    """The day of the step: given or today, never in the future; payment not before the
    invoice; overdue only once the due day has passed."""
    on = data.on or today
    if on > today:
        raise Invalid(f"{on} is in the future", field="on")
    if data.action == "pay" and row["issued_on"] is not None and on < row["issued_on"]:
        raise Invalid(f"paid before the invoice was issued on {row['issued_on']}", field="on")
    if data.action == "mark_overdue" and row["due_on"] is not None and row["due_on"] >= on:
        raise InvalidTransition(f"the invoice is due on {row['due_on']}, not yet overdue",
                                field="action")
    return on


async def _event(tx: Executor, s: Settlement, contract: str, actor: Actor, happening: str,
                 payload: dict[str, Any]) -> None:
    await events.append(
        tx, f"settlement.{happening}", org_id=s.customer_org_id, aggregate_type="settlement",
        aggregate_id=s.id, actor=actor.subject,
        payload={"settlement": s.number, "number": s.number, "contract": [contract],
                 "currency": s.currency.strip(), **payload})


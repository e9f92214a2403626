"""Claims for compensation on a quality dispute, and what they deduct from settlements.

``submitted -> assessed -> agreed | partially_agreed | rejected``, then an agreed or
partially agreed claim ``-> credited`` once finance has credited the customer. The
customer submits (while its dispute is processing or claiming; the first claim moves a
processing dispute on to claiming); quality assesses; quality or finance decide; finance
credits. An agreed amount is deducted on the contract's settlement at once while that is
a draft, or when the contract's settlement is drawn up (see
:func:`domain.settlements.deductions.apply_agreed_claims`); one agreed after the invoice was issued
is credited apart, with a credit note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain import events
from domain.actor import CUSTOMER, Actor
from domain.checks import bounded
from domain.db import Database, Executor
from domain.disputes import writes as disputes
from domain.disputes.writes import QUALITY
from domain.errors import Forbidden, Invalid, InvalidTransition, NotFound
from domain.settlements import deductions
from domain.tenancy import Scope

BASES = ("replacement", "downgrade", "credit")
DECIDE = frozenset({"quality", "finance", "admin"})
FINANCE = frozenset({"finance", "admin"})
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ClaimTransition:
    sources: frozenset[str]
    target: str
    roles: frozenset[str]


TRANSITIONS: dict[str, ClaimTransition] = {
    "assess": ClaimTransition(frozenset({"submitted"}), "assessed", QUALITY),
    "agree": ClaimTransition(frozenset({"assessed"}), "agreed", DECIDE),
    "partially_agree": ClaimTransition(frozenset({"assessed"}), "partially_agreed", DECIDE),
    "reject": ClaimTransition(frozenset({"assessed"}), "rejected", DECIDE),
    "credit": ClaimTransition(frozenset({"agreed", "partially_agreed"}), "credited", FINANCE),
}


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    number: str
    dispute_id: int
    customer_org_id: int
    contract_id: int
    status: str
    basis: str
    currency: str
    amount: Decimal
    agreed_amount: Decimal | None
    settlement_id: int | None
    credit_note: str | None
    submitted_by: str
    submitted_at: datetime
    updated_at: datetime


_COLS = ("q.id, q.number, q.dispute_id, q.customer_org_id, q.contract_id, q.status, q.basis,"
         " q.currency, q.amount, q.agreed_amount, q.settlement_id, q.credit_note,"
         " q.submitted_by, q.submitted_at, q.updated_at")


async def claims_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Claim]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM quality_claim q WHERE q.id = ANY($2::bigint[])"
        f" AND {Scope.owned('q.customer_org_id')}", scope.org_id, list(ids))
    return [Claim(**dict(r)) for r in rows]


async def _grouped(db: Executor, scope: Scope, column: str, ids: Sequence[int]
                   ) -> dict[int, list[Claim]]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM quality_claim q WHERE q.{column} = ANY($2::bigint[])"
        f" AND {Scope.owned('q.customer_org_id')} ORDER BY q.id", scope.org_id, list(ids))
    out: dict[int, list[Claim]] = {}
    for r in rows:
        out.setdefault(r[column], []).append(Claim(**dict(r)))
    return out


async def claims_by_dispute_ids(db: Executor, scope: Scope, ids: Sequence[int]
                                ) -> dict[int, list[Claim]]:
    return await _grouped(db, scope, "dispute_id", ids)


async def claims_by_settlement_ids(db: Executor, scope: Scope, ids: Sequence[int]
                                   ) -> dict[int, list[Claim]]:
    return await _grouped(db, scope, "settlement_id", ids)


def money(value: Decimal, name: str) -> Decimal:
    """A positive amount to the cent: more digits would be rounded, so they are refused."""
    bounded(value, name, below=Decimal(10) ** 14)
    if value <= 0:
        raise Invalid("must be positive", field=name)
    if value != value.quantize(CENT):
        raise Invalid("is exact to the cent: at most two decimal places", field=name)
    return value.quantize(CENT)


@dataclass(frozen=True)
class ClaimInput:
    dispute_id: int
    amount: Decimal
    currency: str
    basis: str
    contract_id: int | None = None
    note: str | None = None


async def submit(db: Database, actor: Actor, data: ClaimInput) -> Claim:
    if data.basis not in BASES:
        raise Invalid(f"bases are {', '.join(BASES)}", field="basis")
    amount = money(data.amount, "amount")
    note = disputes.clean_text(data.note, "note", required=False)
    async with db.transaction() as tx:
        row = await disputes.lock(tx, actor, data.dispute_id)
        if not actor.may(CUSTOMER):
            raise Forbidden("a claim is submitted by the customer of the dispute")
        if row["status"] not in ("processing", "claiming"):
            raise InvalidTransition(
                f"claims are submitted while the dispute is processing or claiming, not "
                f"{row['status']}", field="disputeId")
        contract = await _contract(tx, data.dispute_id, data.contract_id)
        if data.currency.upper() != contract["currency"].strip():
            raise Invalid(f"contract {contract['number']} is settled in "
                          f"{contract['currency']}", field="currency")
        moved = row["status"] == "processing"
        if moved:
            await disputes.move(tx, actor, row, "claim", note)
        pk = await tx.fetchval("SELECT nextval(pg_get_serial_sequence('quality_claim', 'id'))")
        number = await tx.fetchval(
            "INSERT INTO quality_claim (id, number, dispute_id, customer_org_id, contract_id,"
            " basis, currency, amount, submitted_by) OVERRIDING SYSTEM VALUE VALUES ($1::bigint,"
            " 'CL-' || to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYY') || '-'"
            " || lpad($1::bigint::text, 6, '0'), $2, $3, $4, $5, $6, $7, $8) RETURNING number",
            pk, data.dispute_id, row["customer_org_id"], contract["id"], data.basis,
            contract["currency"], amount, actor.subject)
        detail = {"claim": number, "amount": amount, "currency": contract["currency"],
                  "basis": data.basis, "contract": contract["number"]}
        await disputes.add_step(tx, data.dispute_id, actor, "claim_submitted", None,
                                "submitted", note, detail, claim_id=pk)
        if moved:
            await disputes.dispute_event(tx, row, actor, "claiming", {"from": "processing"})
        await _event(tx, row, actor, pk, "submitted", detail)
        return (await claims_by_ids(tx, Scope.everything(), [pk]))[0]


async def _contract(tx: Executor, dispute_id: int, contract_id: int | None) -> Any:
    """The contract to claim against: one whose coils the dispute names."""
    rows = await tx.fetch(
        "SELECT DISTINCT k.id, k.number, k.currency FROM dispute_coil dc"
        " JOIN coil c ON c.id = dc.coil_id JOIN contract_line l ON l.id = c.line_id"
        " JOIN contract k ON k.id = l.contract_id WHERE dc.dispute_id = $1 ORDER BY k.id",
        dispute_id)
    if contract_id is None:
        if len(rows) != 1:
            raise Invalid("the dispute's coils serve several contracts: name one",
                          field="contractId")
        return rows[0]
    for r in rows:
        if r["id"] == contract_id:
            return r
    raise NotFound("no contract of this dispute's coils has that id", field="contractId")


@dataclass(frozen=True)
class ClaimStep:
    claim_id: int
    action: str
    agreed_amount: Decimal | None = None
    credit_note: str | None = None
    note: str | None = None


async def transition(db: Database, actor: Actor, data: ClaimStep) -> Claim:
    step = TRANSITIONS.get(data.action)
    if step is None:
        raise Invalid(f"actions are {', '.join(TRANSITIONS)}", field="action")
    note = disputes.clean_text(data.note, "note", required=False)
    async with db.transaction() as tx:
        # The contract first, as drawing up its settlement does: an agreement and a new
        # settlement never miss each other, and the two never deadlock.
        await tx.execute(
            "SELECT 1 FROM contract k JOIN quality_claim q ON q.contract_id = k.id"
            f" WHERE q.id = $2 AND {Scope.owned('q.customer_org_id')} FOR NO KEY UPDATE OF k",
            actor.scope.org_id, data.claim_id)
        claim = await tx.fetchrow(
            "SELECT q.id, q.number, q.dispute_id, q.contract_id, q.status, q.amount,"
            " q.currency, q.agreed_amount FROM quality_claim q WHERE q.id = $2"
            f" AND {Scope.owned('q.customer_org_id')} FOR UPDATE",
            actor.scope.org_id, data.claim_id)
        if claim is None:
            raise NotFound("no such claim", field="claimId")
        if not actor.may(step.roles):
            raise Forbidden(f"to {data.action} a claim needs the role "
                            f"{' or '.join(sorted(step.roles))}")
        if claim["status"] not in step.sources:
            raise InvalidTransition(
                f"a claim that is {claim['status']} cannot {data.action}", field="action")
        agreed = _agreed(data, claim, note)
        await tx.execute(
            "UPDATE quality_claim SET status = $2, agreed_amount = $3, credit_note ="
            " coalesce($4, credit_note), updated_at = now() WHERE id = $1",
            claim["id"], step.target, agreed, data.credit_note)
        detail: dict[str, Any] = {"claim": claim["number"], "amount": claim["amount"],
                                  "currency": claim["currency"]}
        if agreed is not None:
            detail["agreed_amount"] = agreed
        if data.action in ("agree", "partially_agree"):
            assert agreed is not None
            found = await deductions.deduct_claim(tx, claim["id"], claim["contract_id"],
                                                   agreed)
            detail["settlement"] = found
        if data.action == "credit":
            detail["credit_note"] = data.credit_note
        await disputes.add_step(tx, claim["dispute_id"], actor, f"claim_{step.target}",
                                claim["status"], step.target, note, detail,
                                claim_id=claim["id"])
        dispute = await tx.fetchrow("SELECT id, number, customer_org_id FROM quality_dispute"
                                    " WHERE id = $1", claim["dispute_id"])
        await _event(tx, dispute, actor, claim["id"], step.target, detail)
        return (await claims_by_ids(tx, Scope.everything(), [claim["id"]]))[0]


def _agreed(data: ClaimStep, claim: Any, note: str | None) -> Decimal | None:
    """The agreed amount the claim carries after this step."""
    if data.action == "agree":
        if data.agreed_amount is not None and data.agreed_amount != claim["amount"]:
            raise Invalid("agreeing grants the whole amount; use partially_agree",
                          field="agreedAmount")
        amount: Decimal = claim["amount"]
        return amount
    if data.action == "partially_agree":
        if data.agreed_amount is None:
            raise Invalid("say how much is agreed", field="agreedAmount")
        agreed = money(data.agreed_amount, "agreedAmount")
        if agreed >= claim["amount"]:
            raise Invalid(f"a partial agreement is less than the {claim['amount']} claimed",
                          field="agreedAmount")
        return agreed
    if data.action == "reject" and note is None:
        raise Invalid("say why the claim is rejected", field="note")
    if data.action == "credit":
        if not (data.credit_note or "").strip():
            raise Invalid("name the credit note or invoice the amount was credited on",
                          field="creditNote")
        if len(data.credit_note or "") > 100:
            raise Invalid("is limited to 100 characters", field="creditNote")
    if data.agreed_amount is not None:
        raise Invalid("an amount is agreed only by agree or partially_agree",
                      field="agreedAmount")
    kept: Decimal | None = claim["agreed_amount"]
    return kept


async def _event(tx: Executor, dispute: Any, actor: Actor, claim_id: int, happening: str,
                 payload: dict[str, Any]) -> None:
    about = await disputes.facets(tx, dispute["id"])
    await events.append(
        tx, f"claim.{happening}", org_id=dispute["customer_org_id"],
        aggregate_type="quality_claim", aggregate_id=claim_id, actor=actor.subject,
        payload={"dispute": dispute["number"], **about, **payload})

"""What finance sets and decides: a customer's credit limit (and whether the customer
sees it), and the approval of a contract held beyond the customer's headroom.

Approving confirms the contract, production orders and all, as sales' confirmation
would have (without a second check: finance decided knowing the headroom); refusing
leaves it a draft, which sales may confirm again later (and which is then checked
again). Each step appends a ``credit.*`` event, the mill's own (it names the limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain import events
from domain.actor import Actor
from domain.contracts import reads as contract_reads
from domain.contracts import writes as contract_writes
from domain.contracts.model import Contract
from domain.customers.credit import credit_of
from domain.customers.model import APPROVAL_COLS, DECISIONS, PERMISSIONS, Approval, Credit
from domain.db import Database
from domain.disputes.writes import clean_text
from domain.errors import Invalid, InvalidTransition, NotFound
from domain.parties import customer_acted_for
from domain.settlements.writes import cents
from domain.tenancy import Scope


@dataclass(frozen=True, slots=True)
class CreditInput:
    customer_org_id: int
    # None: no limit (and so no check).
    limit: Decimal | None
    shown_to_customer: bool = False


async def set_credit(db: Database, actor: Actor, data: CreditInput) -> Credit:
    """Finance sets (or clears) a customer's credit limit and whether it sees it."""
    PERMISSIONS.check(actor, "set_credit")
    org = await customer_acted_for(db, actor, data.customer_org_id)
    limit = None if data.limit is None else cents(data.limit, "limit")
    async with db.transaction() as tx:
        before = await tx.fetchrow(
            "SELECT credit_limit, shown_to_customer FROM customer_credit"
            " WHERE customer_org_id = $1 FOR UPDATE", org)
        await tx.execute(
            "INSERT INTO customer_credit (customer_org_id, credit_limit, shown_to_customer,"
            " set_by) VALUES ($1, $2, $3, $4) ON CONFLICT (customer_org_id) DO UPDATE SET"
            " credit_limit = EXCLUDED.credit_limit,"
            " shown_to_customer = EXCLUDED.shown_to_customer, set_by = EXCLUDED.set_by,"
            " set_at = now()", org, limit, data.shown_to_customer, actor.subject)
        found = (await credit_of(tx, [org]))[org]
        await events.append(
            tx, "credit.limit_set", org_id=None, aggregate_type="organization",
            aggregate_id=org, actor=actor.subject,
            payload={"customer_org_id": org,
                     "before": None if before is None else before["credit_limit"],
                     "credit_limit": limit, "shown_to_customer": data.shown_to_customer,
                     "headroom": found.headroom})
        return found


@dataclass(frozen=True, slots=True)
class Decision:
    approval: Approval
    contract: Contract


async def decide(db: Database, actor: Actor, approval_id: int, decision: str,
                 note: str | None = None) -> Decision:
    """Finance approves (the contract is confirmed) or refuses (it stays a draft, and a
    reason is required) a pending approval."""
    PERMISSIONS.check(actor, "decide_approval")
    target = DECISIONS.get(decision)
    if target is None:
        raise Invalid(f"decisions are {', '.join(DECISIONS)}", field="decision")
    text = clean_text(note, "note", required=decision == "refuse")
    async with db.transaction() as tx:
        # The contract first, as confirming it locks it: the order is one.
        contract_id = await tx.fetchval(
            "SELECT contract_id FROM credit_approval WHERE id = $1", approval_id)
        if contract_id is None:
            raise NotFound("no such credit approval", field="approvalId")
        await tx.execute("SELECT 1 FROM contract WHERE id = $1 FOR UPDATE", contract_id)
        row = await tx.fetchrow(
            f"SELECT {APPROVAL_COLS} FROM credit_approval a WHERE a.id = $1 FOR UPDATE",
            approval_id)
        assert row is not None
        if row["status"] != "pending":
            raise InvalidTransition(f"the approval is already {row['status']}",
                                    field="decision")
        done = await tx.fetchrow(
            "UPDATE credit_approval a SET status = $2, decided_by = $3, decided_at = now(),"
            f" note = $4 WHERE a.id = $1 RETURNING {APPROVAL_COLS}",
            approval_id, target, actor.subject, text)
        assert done is not None
        approval = Approval(**dict(done))
        if target == "approved":
            # Its rows, then its event: the events come last in the transaction.
            contract = await contract_writes.confirm_approved(tx, contract_id,
                                                              actor=actor.subject)
        else:
            [contract] = await contract_reads.contracts_by_ids(tx, Scope.everything(),
                                                               [contract_id])
        await events.append(
            tx, f"credit.{target}", org_id=None, aggregate_type="credit_approval",
            aggregate_id=approval.id, actor=actor.subject,
            payload={"contract": contract.number, "customer_org_id": approval.customer_org_id,
                     "amount": approval.amount, "headroom": approval.headroom,
                     "note": text})
        return Decision(approval, contract)

"""Agreed claims deducted on a contract's settlement, in the caller's transaction: the
claims area deducts one as it is agreed, the settlements' writes take in those waiting
when a settlement is drawn up."""

from __future__ import annotations

from decimal import Decimal

from domain.db import Executor


async def deduct_claim(tx: Executor, claim_id: int, contract_id: int, amount: Decimal
                       ) -> str | None:
    """Deduct an agreed claim on its contract's settlement (the latest that is not void)
    while that is still a draft, in the caller's transaction; returns the settlement's
    number. Without a settlement yet, the claim waits for :func:`apply_agreed_claims`.
    An invoice already issued (or paid) is never changed after the fact: the claim then
    stays with no settlement, for finance to credit with a credit note, or, until it is
    credited, for the settlement that replaces a voided one."""
    row = await tx.fetchrow(
        "SELECT id, number, invoice_status FROM settlement WHERE contract_id = $1"
        " AND invoice_status <> 'void' ORDER BY id DESC LIMIT 1 FOR UPDATE", contract_id)
    if row is None or row["invoice_status"] != "draft":
        return None
    await tx.execute("UPDATE settlement SET claim_deductions = claim_deductions + $2"
                     " WHERE id = $1", row["id"], amount)
    await tx.execute("UPDATE quality_claim SET settlement_id = $2 WHERE id = $1",
                     claim_id, row["id"])
    number: str = row["number"]
    return number


async def apply_agreed_claims(tx: Executor, settlement_id: int) -> Decimal:
    """Deduct on a new settlement the agreed claims of its contract that no settlement
    carries yet, or only a void one; whoever writes a settlement calls this in the same
    transaction. Returns what was deducted. (A void settlement keeps its figures as they
    were; its claims move on to the settlement that replaces it.)"""
    total: Decimal | None = await tx.fetchval(
        """WITH taken AS (
             UPDATE quality_claim q SET settlement_id = s.id FROM settlement s
             WHERE s.id = $1 AND q.contract_id = s.contract_id
               AND q.agreed_amount IS NOT NULL
               AND ((q.settlement_id IS NULL AND q.status <> 'credited')
                    OR q.settlement_id IN (SELECT v.id FROM settlement v
                    WHERE v.contract_id = s.contract_id AND v.invoice_status = 'void'))
             RETURNING q.agreed_amount)
           UPDATE settlement SET claim_deductions = claim_deductions
               + (SELECT coalesce(sum(agreed_amount), 0) FROM taken)
           WHERE id = $1 RETURNING (SELECT coalesce(sum(agreed_amount), 0) FROM taken)""",
        settlement_id)
    return total or Decimal(0)

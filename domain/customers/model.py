"""The customers area's records, the states of a credit approval and who may do what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.actor import Permissions

# Finance sets limits and decides approvals; sales and finance read the approvals.
PERMISSIONS = Permissions({
    "set_credit": ("finance", "admin"),
    "decide_approval": ("finance", "admin"),
    "read_approvals": ("finance", "sales", "admin"),
})

# pending --approve--> approved (the contract is confirmed)
# pending --refuse--> refused (the contract stays a draft)
DECISIONS = {"approve": "approved", "refuse": "refused"}

# The overview reads at most this many days at once.
MAX_PERIOD_DAYS = 731


@dataclass(frozen=True, slots=True)
class Credit:
    """A customer's credit as it stands: the limit (None: none set, so no check), what
    it owes, what is overdue, what is confirmed but not invoiced, and what is left."""

    customer_org_id: int
    limit: Decimal | None
    shown_to_customer: bool
    receivables: Decimal
    overdue: Decimal
    exposure: Decimal
    set_by: str | None
    set_at: datetime | None

    @property
    def headroom(self) -> Decimal | None:
        if self.limit is None:
            return None
        return self.limit - self.receivables - self.exposure


@dataclass(frozen=True, slots=True)
class Approval:
    id: int
    contract_id: int
    customer_org_id: int
    status: str
    amount: Decimal
    credit_limit: Decimal
    headroom: Decimal
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None


APPROVAL_COLS = (
    "a.id, a.contract_id, a.customer_org_id, a.status, a.amount, a.credit_limit, a.headroom,"
    " a.requested_by, a.requested_at, a.decided_by, a.decided_at, a.note")


@dataclass(frozen=True, slots=True)
class Payment:
    id: int
    reference: str
    settlement_id: int
    customer_org_id: int
    amount: Decimal
    paid_on: date
    recorded_at: datetime

"""GraphQL types of the hotline: urge tickets and their history."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from domain.hotline import writes as hotline
from resolvers.common import loaders
from resolvers.contracts.loaders import LineByIdLoader
from resolvers.hotline.loaders import StepsByTicketLoader
from resolvers.relay import Node

if TYPE_CHECKING:
    from resolvers.contracts.types import ContractLine


@strawberry.enum(description="Where an urge stands: `OPEN -> ACKNOWLEDGED -> PROMISED -> "
                 "RESOLVED`.")
class UrgeStatus(enum.Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    PROMISED = "promised"
    RESOLVED = "resolved"


@strawberry.enum(description="What happened in one step of an urge ticket.")
class UrgeAction(enum.Enum):
    OPENED = strawberry.enum_value("opened", description="The customer urged the line.")
    URGED_AGAIN = strawberry.enum_value(
        "urged_again", description="The customer urged again while the ticket was open.")
    ACKNOWLEDGED = strawberry.enum_value(
        "acknowledged", description="The mill took it up.")
    PROMISED = strawberry.enum_value(
        "promised", description="The mill promised a date (or revised its promise).")
    RESOLVED = strawberry.enum_value("resolved", description="The mill closed the matter.")
    ESCALATED = strawberry.enum_value(
        "escalated", description="No answer in time: handed to the next person.")


@strawberry.type(description="One step of an urge ticket, kept for good.")
class UrgeStep:
    action: UrgeAction = strawberry.field(description="What happened.")
    actor: str = strawberry.field(description="Who did it (`system` for an escalation).")
    occurred_at: dt.datetime = strawberry.field(description="When.")
    note: str | None = strawberry.field(description="What they said, if anything.")
    needed_by: dt.date | None = strawberry.field(description="Date needed after this step.")
    promised_date: dt.date | None = strawberry.field(
        description="Date promised after this step, if any.")
    assignee: str | None = strawberry.field(description="Who held the ticket after this step.")
    escalation_level: int = strawberry.field(
        description="0 with the sales owner, 1 and up along the escalation chain.")

    @classmethod
    def of(cls, s: hotline.UrgeStep) -> UrgeStep:
        return cls(action=UrgeAction(s.action), actor=s.actor, occurred_at=s.occurred_at,
                   note=s.note, needed_by=s.needed_by, promised_date=s.promised_date,
                   assignee=s.assignee, escalation_level=s.level)


@strawberry.type(description="A customer's urge of a late contract line, and the mill's "
                 "answers, with the whole history.")
class UrgeTicket(Node):
    number: str = strawberry.field(description="Reference to quote, e.g. `URG-000042`.")
    status: UrgeStatus = strawberry.field(description="Where it stands.")
    reason: str = strawberry.field(description="What the customer said is late, and why.")
    needed_by: dt.date = strawberry.field(description="The date the customer needs it by.")
    opened_by: str = strawberry.field(description="Who urged.")
    opened_at: dt.datetime = strawberry.field(description="When.")
    assignee: str | None = strawberry.field(
        description="The mill user who must answer now; null when nobody is named.")
    escalation_level: int = strawberry.field(
        description="0 with the contract's sales owner; each escalation adds one.")
    answer_within_minutes: int = strawberry.field(
        description="Time each person has for the next answer, in minutes.")
    due_at: dt.datetime | None = strawberry.field(
        description="When the next answer is owed (a promise: the end of the promised "
        "day); past it the ticket escalates. Null once resolved.")
    overdue: bool = strawberry.field(description="The next answer is late.")
    promised_date: dt.date | None = strawberry.field(description="The date the mill promised.")
    resolution: str | None = strawberry.field(description="How the mill resolved it.")
    acknowledged_at: dt.datetime | None = strawberry.field(description="When acknowledged.")
    promised_at: dt.datetime | None = strawberry.field(description="When last promised.")
    resolved_at: dt.datetime | None = strawberry.field(description="When resolved.")
    updated_at: dt.datetime = strawberry.field(description="Last change.")
    line_pk: strawberry.Private[int]

    @strawberry.field(description="The contract line urged.")
    async def line(self, info: Info[Any, Any]) -> Annotated[
            ContractLine, strawberry.lazy("resolvers.contracts.types")] | None:
        from resolvers.contracts.types import ContractLine

        found = await loaders(info).get(LineByIdLoader).load(self.line_pk)
        return ContractLine.of(found) if found else None

    @strawberry.field(description="Every step so far, oldest first.")
    async def history(self, info: Info[Any, Any]) -> list[UrgeStep]:
        steps = await loaders(info).get(StepsByTicketLoader).load(self.pk)
        return [UrgeStep.of(s) for s in steps]

    @classmethod
    def of(cls, t: hotline.UrgeTicket) -> UrgeTicket:
        now = dt.datetime.now(dt.UTC)
        return cls(
            pk=t.id, number=t.number, status=UrgeStatus(t.status), reason=t.reason,
            needed_by=t.needed_by, opened_by=t.opened_by, opened_at=t.opened_at,
            assignee=t.assignee, escalation_level=t.level,
            answer_within_minutes=int(t.answer_within.total_seconds() // 60),
            due_at=t.due_at, overdue=t.overdue(now), promised_date=t.promised_date,
            resolution=t.resolution, acknowledged_at=t.acknowledged_at,
            promised_at=t.promised_at, resolved_at=t.resolved_at, updated_at=t.updated_at,
            line_pk=t.line_id,
        )

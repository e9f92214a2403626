"""GraphQL types of the service area: surveys and answers, results, contribution, tiers
and service levels."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.types import Info

from domain.service import contribution as contribution_figures
from domain.service import surveys as survey_records
from domain.service import tiers
from resolvers.common import loaders, viewer
from resolvers.contracts.types import TransportMode
from resolvers.loaders import OrganizationByIdLoader
from resolvers.parties import Organization
from resolvers.relay import to_global_id
from resolvers.service.loaders import AnswersBySurveyLoader


@strawberry.enum(description="What a survey asks about.")
class SurveyArea(enum.Enum):
    DISPUTE = strawberry.enum_value(
        "dispute", description="A quality dispute, once the customer accepted its correction.")
    HOTLINE = strawberry.enum_value("hotline", description="An urge, once it was resolved.")
    QUARTERLY = strawberry.enum_value(
        "quarterly", description="The mill's service over a quarter, asked once it ended.")


async def _customer(info: Info[Any, Any], org_id: int) -> Organization | None:
    found = await loaders(info).get(OrganizationByIdLoader).load(org_id)
    return Organization.of(found) if found else None


@strawberry.type(description="One contact's answer to a survey.")
class SurveyAnswer:
    contact: str = strawberry.field(description="Who answered (the token's subject).")
    rating: int = strawberry.field(description="1 (poor) to 5 (excellent).")
    comment: str | None = strawberry.field(description="What they said, if anything.")
    answered_at: dt.datetime = strawberry.field(description="When first answered.")
    updated_at: dt.datetime = strawberry.field(description="When last changed.")

    @classmethod
    def of(cls, a: survey_records.SurveyAnswer) -> SurveyAnswer:
        return cls(contact=a.contact, rating=a.rating, comment=a.comment,
                   answered_at=a.answered_at, updated_at=a.updated_at)


@strawberry.type(description="A short satisfaction survey sent to a customer about one "
                 "subject; each of its contacts answers it once (again, to change the "
                 "answer while it is open).")
class Survey:
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    number: str = strawberry.field(description="Reference, e.g. `SVY-000042`.")
    area: SurveyArea = strawberry.field(description="What it asks about.")
    subject: str = strawberry.field(
        description="The dispute's number, the urge's, or the quarter (`2026-Q3`).")
    question: str = strawberry.field(description="What it asks, besides the rating.")
    sent_at: dt.datetime = strawberry.field(description="When it was sent.")
    closes_at: dt.datetime = strawberry.field(description="Answers are taken until then.")
    open: bool = strawberry.field(description="It still takes answers.")

    @strawberry.field(description="Global id, for `answerSurvey`.")
    def id(self) -> strawberry.ID:
        return to_global_id("Survey", self.pk)

    @strawberry.field(description="The customer asked.")
    async def customer(self, info: Info[Any, Any]) -> Organization | None:
        return await _customer(info, self.customer_pk)

    @strawberry.field(description="Its answers, oldest first: a customer sees its own "
                      "organization's, the mill's staff all.")
    async def answers(self, info: Info[Any, Any]) -> list[SurveyAnswer]:
        found = await loaders(info).get(AnswersBySurveyLoader).load(self.pk)
        return [SurveyAnswer.of(a) for a in found]

    @strawberry.field(description="The viewer's own answer, if it gave one.")
    async def my_answer(self, info: Info[Any, Any]) -> SurveyAnswer | None:
        me = (await viewer(info)).subject
        found = await loaders(info).get(AnswersBySurveyLoader).load(self.pk)
        return next((SurveyAnswer.of(a) for a in found if a.contact == me), None)

    @classmethod
    def of(cls, s: survey_records.Survey) -> Survey:
        return cls(pk=s.id, customer_pk=s.customer_org_id, number=s.number,
                   area=SurveyArea(s.area), subject=s.subject, question=s.question,
                   sent_at=s.sent_at, closes_at=s.closes_at,
                   open=s.open(dt.datetime.now(dt.UTC)))


@strawberry.type(description="Survey answers of one period, per customer and area (or "
                 "summed over them): a series of these, oldest first, is the trend.")
class SurveyResult:
    customer_pk: strawberry.Private[int | None]
    area: SurveyArea | None = strawberry.field(description="Null when summed over areas.")
    period: str = strawberry.field(description="`2026-Q3` or `2026-07`.")
    period_start: dt.date = strawberry.field(description="The period's first day.")
    surveys: int = strawberry.field(description="Surveys sent in the period.")
    answers: int = strawberry.field(description="Answers to them.")
    average_rating: Decimal | None = strawberry.field(
        description="Their mean rating, to two places; null without answers.")
    low_ratings: int = strawberry.field(
        description="Answers at or under the low mark (`KEYLINK_SURVEY_LOW_RATING`).")
    distribution: list[int] = strawberry.field(
        description="How many answers rated 1, 2, 3, 4 and 5.")

    @strawberry.field(description="The customer; null when summed over customers.")
    async def customer(self, info: Info[Any, Any]) -> Organization | None:
        return None if self.customer_pk is None else await _customer(info, self.customer_pk)

    @classmethod
    def of(cls, r: survey_records.ResultRow) -> SurveyResult:
        return cls(customer_pk=r.customer_org_id,
                   area=SurveyArea(r.area) if r.area else None, period=r.period,
                   period_start=r.period_start, surveys=r.surveys, answers=r.answers,
                   average_rating=r.average_rating, low_ratings=r.low_ratings,
                   distribution=list(r.distribution))


@strawberry.type(description="A tier of customers: the share of the ranking it takes and "
                 "the service it is owed (a level left null is the global setting's).")
class ServiceTier:
    code: str = strawberry.field(description="`key`, `major`, `standard`, ...")
    position: int = strawberry.field(description="1 for the best tier.")
    share_pct: Decimal | None = strawberry.field(
        description="Share of the ranked customers it takes after the tiers above it, in "
        "%; null for the last, which takes the rest.")
    urge_answer_minutes: int | None = strawberry.field(
        description="Minutes for each answer to an urge; null: "
        "`KEYLINK_URGE_ANSWER_MINUTES`.")
    dispute_response_hours: int | None = strawberry.field(
        description="Hours to take a new dispute up; null: `KEYLINK_DISPUTE_RESPONSE_HOURS`.")
    dispute_resolution_days: int | None = strawberry.field(
        description="Days from opening to completion aimed for; null: "
        "`KEYLINK_DISPUTE_RESOLUTION_DAYS`.")
    updated_by: str = strawberry.field(description="Who set it last.")
    updated_at: dt.datetime = strawberry.field(description="When.")

    @classmethod
    def of(cls, t: tiers.ServiceTier) -> ServiceTier:
        return cls(code=t.code, position=t.position, share_pct=t.share_pct,
                   urge_answer_minutes=t.urge_answer_minutes,
                   dispute_response_hours=t.dispute_response_hours,
                   dispute_resolution_days=t.dispute_resolution_days,
                   updated_by=t.updated_by, updated_at=t.updated_at)


@strawberry.type(description="One customer's contribution over a period: revenue less "
                 "claims and freight.")
class CustomerContribution:
    customer_pk: strawberry.Private[int]
    rank: int = strawberry.field(description="1 for the highest contribution.")
    revenue: Decimal = strawberry.field(
        description="Invoiced settlements issued in the period (goods, surcharges and "
        "freight charged), before claim deductions.")
    claims: Decimal = strawberry.field(
        description="Amounts agreed on claims decided in the period.")
    freight: Decimal = strawberry.field(
        description="What moving the steel cost: shipped tonnes of the invoiced contracts "
        "times the freight rate of each line's mode.")
    contribution: Decimal = strawberry.field(description="revenue - claims - freight.")
    tonnes: Decimal = strawberry.field(description="Tonnes shipped on those contracts.")
    currency: str = strawberry.field(description="The currency of every amount.")
    tier: str = strawberry.field(description="The tier this rank earns under the rule now.")

    @strawberry.field(description="The customer.")
    async def customer(self, info: Info[Any, Any]) -> Organization | None:
        return await _customer(info, self.customer_pk)

    @classmethod
    def of(cls, c: contribution_figures.Contribution) -> CustomerContribution:
        return cls(customer_pk=c.customer_org_id, rank=c.rank, revenue=c.revenue,
                   claims=c.claims, freight=c.freight, contribution=c.contribution,
                   tonnes=c.tonnes, currency=c.currency, tier=c.tier)


@strawberry.type(description="A customer's tier as last computed, with the figures it came "
                 "from.")
class CustomerTier:
    customer_pk: strawberry.Private[int]
    tier: str = strawberry.field(description="The tier's code.")
    rank: int = strawberry.field(description="Its place in the ranking, 1 first.")
    revenue: Decimal = strawberry.field(description="As in `contributionRanking`.")
    claims: Decimal = strawberry.field(description="As in `contributionRanking`.")
    freight: Decimal = strawberry.field(description="As in `contributionRanking`.")
    contribution: Decimal = strawberry.field(description="revenue - claims - freight.")
    currency: str = strawberry.field(description="The currency of the amounts.")
    period_from: dt.date = strawberry.field(description="First day of the period ranked.")
    period_to: dt.date = strawberry.field(description="Last day of the period ranked.")
    computed_by: str = strawberry.field(description="Who computed it (or the daily job).")
    computed_at: dt.datetime = strawberry.field(description="When.")

    @strawberry.field(description="The customer.")
    async def customer(self, info: Info[Any, Any]) -> Organization | None:
        return await _customer(info, self.customer_pk)

    @classmethod
    def of(cls, t: tiers.CustomerTier) -> CustomerTier:
        return cls(customer_pk=t.customer_org_id, tier=t.tier, rank=t.rank,
                   revenue=t.revenue, claims=t.claims, freight=t.freight,
                   contribution=t.contribution, currency=t.currency,
                   period_from=t.period_from, period_to=t.period_to,
                   computed_by=t.computed_by, computed_at=t.computed_at)


@strawberry.type(description="What a customer is owed: its tier's levels, else the global "
                 "settings.")
class ServiceLevel:
    customer_pk: strawberry.Private[int]
    tier: str | None = strawberry.field(
        description="Its tier (null without one, and for a customer reading its own).")
    urge_answer_minutes: int = strawberry.field(description="Minutes for each urge answer.")
    dispute_response_hours: int = strawberry.field(
        description="Hours to take a new dispute up.")
    dispute_resolution_days: int = strawberry.field(
        description="Days from a dispute's opening to its completion aimed for.")
    from_tier: list[str] = strawberry.field(
        description="Which of the levels come from the tier, as field names; the rest are "
        "the global settings.")

    @strawberry.field(description="The customer.")
    async def customer(self, info: Info[Any, Any]) -> Organization | None:
        return await _customer(info, self.customer_pk)

    @classmethod
    def of(cls, s: tiers.ServiceLevel, *, show_tier: bool) -> ServiceLevel:
        names = {"urge_answer_minutes": "urgeAnswerMinutes",
                 "dispute_response_hours": "disputeResponseHours",
                 "dispute_resolution_days": "disputeResolutionDays"}
        return cls(customer_pk=s.customer_org_id, tier=s.tier if show_tier else None,
                   urge_answer_minutes=s.urge_answer_minutes,
                   dispute_response_hours=s.dispute_response_hours,
                   dispute_resolution_days=s.dispute_resolution_days,
                   from_tier=sorted(names[k] for k in s.from_tier) if show_tier else [])


@strawberry.type(description="What the mill pays to move a tonne by one mode.")
class FreightRate:
    transport_mode: TransportMode = strawberry.field(description="The mode.")
    per_tonne: Decimal = strawberry.field(description="Cost per tonne.")
    currency: str = strawberry.field(description="Its currency.")
    updated_by: str = strawberry.field(description="Who set it.")
    updated_at: dt.datetime = strawberry.field(description="When.")

    @classmethod
    def of(cls, r: tiers.FreightRate) -> FreightRate:
        return cls(transport_mode=TransportMode(r.transport_mode), per_tonne=r.per_tonne,
                   currency=r.currency, updated_by=r.updated_by, updated_at=r.updated_at)

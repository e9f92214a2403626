"""Service queries: surveys (a customer's own, the mill's all), their results and trend,
the contribution ranking, tiers, service levels and freight rates (the mill's)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.calendar import mill_today
from domain.errors import DomainError
from domain.service import contribution, surveys, tiers
from domain.service.model import PERMISSIONS
from resolvers.common import ctx, customer_id_of, customer_of, viewer
from resolvers.relay import (
    DEFAULT_PAGE,
    BadInput,
    Connection,
    after_id,
    check_first,
    connection,
    expect_id,
)
from resolvers.service.types import (
    CustomerContribution,
    CustomerTier,
    FreightRate,
    ServiceLevel,
    ServiceTier,
    Survey,
    SurveyArea,
    SurveyResult,
)

T = TypeVar("T")


class Refused(BadInput):
    """A domain refusal of a query, reported under the domain's own code (`FORBIDDEN`,
    `INVALID`, `NOT_FOUND`)."""

    def __init__(self, exc: DomainError) -> None:
        super().__init__(exc.message)
        self.code = exc.code


async def _domain(run: Awaitable[T]) -> T:
    try:
        return await run
    except DomainError as exc:
        raise Refused(exc) from None


@strawberry.enum(description="The periods survey results are grouped by.")
class ResultPeriod(enum.Enum):
    QUARTER = "quarter"
    MONTH = "month"


@strawberry.input(description="Narrows `surveys`; all given conditions must hold.")
class SurveyFilter:
    areas: list[SurveyArea] | None = strawberry.field(
        default=None, description="Any of these areas.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this customer's (for the mill's staff).")
    unanswered_only: bool = strawberry.field(
        default=False, description="Only open surveys the viewer has not answered.")


@strawberry.type
class ServiceQueries:
    @strawberry.field(description="Satisfaction surveys, newest first: a customer's own, the "
                      "mill's staff all.")
    async def surveys(
        self, info: Info[Any, Any],
        filter: Annotated[SurveyFilter | None, strawberry.argument(
            description="Conditions the surveys must meet.")] = None,
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(
            description="`endCursor` of the previous page.")] = None,
    ) -> Connection[Survey]:
        who = await viewer(info)
        check_first(first)
        f = filter or SurveyFilter()
        flt = surveys.SurveyFilter(
            areas=[str(a.value) for a in f.areas or []],
            customer_org_id=customer_id_of(f.customer_id),
            unanswered_by=who.subject if f.unanswered_only else None,
            open_at=dt.datetime.now(dt.UTC) if f.unanswered_only else None)
        actor = await ctx(info).actor()
        rows = await surveys.list_surveys(ctx(info).db, actor.scope, flt, first + 1,
                                          after_id(after))
        return connection([(Survey.of(s), [s.id]) for s in rows], first, after is not None)

    @strawberry.field(description="One survey by its global id (a customer's own).")
    async def survey(
        self, info: Info[Any, Any],
        id: Annotated[strawberry.ID, strawberry.argument(description="Its global id.")],
    ) -> Survey | None:
        actor = await ctx(info).actor()
        found = await surveys.surveys_by_ids(ctx(info).db, actor.scope,
                                             [expect_id(id, "Survey")])
        return Survey.of(found[0]) if found else None

    @strawberry.field(description="Survey results per period (oldest first: the trend), per "
                      "customer and area unless summed over them; for the mill's staff "
                      "(anyone else is refused, `FORBIDDEN`).")
    async def survey_results(
        self, info: Info[Any, Any],
        since: Annotated[dt.date | None, strawberry.argument(
            description="First day of surveys sent; default: a year ago.")] = None,
        until: Annotated[dt.date | None, strawberry.argument(
            description="Last day; default: today.")] = None,
        by: Annotated[ResultPeriod, strawberry.argument(
            description="Periods to group by.")] = ResultPeriod.QUARTER,
        customer_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="Only this customer.")] = None,
        areas: Annotated[list[SurveyArea] | None, strawberry.argument(
            description="Only these areas.")] = None,
        per_customer: Annotated[bool, strawberry.argument(
            description="One row per customer (false: summed over customers).")] = True,
        per_area: Annotated[bool, strawberry.argument(
            description="One row per area (false: summed over areas).")] = True,
    ) -> list[SurveyResult]:
        await viewer(info)
        today = mill_today()
        rows = await _domain(surveys.results(
            ctx(info).db, await ctx(info).actor(), since=since or today - dt.timedelta(days=365),
            until=until or today, by=by.value, customer_org_id=customer_id_of(customer_id),
            areas=[str(a.value) for a in areas or []], per_customer=per_customer,
            per_area=per_area, low_rating=ctx(info).services.settings.survey_low_rating))
        return [SurveyResult.of(r) for r in rows]

    @strawberry.field(description="Every customer's contribution over a period (revenue less "
                      "claims and freight), the highest first, with the tier its rank earns; "
                      "for sales, finance and admin (anyone else is refused, `FORBIDDEN`).")
    async def contribution_ranking(
        self, info: Info[Any, Any],
        from_: Annotated[dt.date | None, strawberry.argument(
            name="from", description="First day; default: a year before `to`.")] = None,
        to: Annotated[dt.date | None, strawberry.argument(
            description="Last day; default: yesterday.")] = None,
        currency: Annotated[str, strawberry.argument(
            description="Only amounts in this currency.")] = contribution.DEFAULT_CURRENCY,
    ) -> list[CustomerContribution]:
        await viewer(info)
        last = to or mill_today() - dt.timedelta(days=1)
        first_day = from_ or last - contribution.PERIOD + dt.timedelta(days=1)
        rows = await _domain(contribution.ranking(
            ctx(info).db, await ctx(info).actor(), first_day, last, currency))
        return [CustomerContribution.of(c) for c in rows]

    @strawberry.field(description="Each customer's tier as last computed, best rank first; "
                      "for the mill's staff (anyone else is refused, `FORBIDDEN`).")
    async def customer_tiers(
        self, info: Info[Any, Any],
        customer_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="Only this customer.")] = None,
    ) -> list[CustomerTier]:
        await viewer(info)
        actor = await ctx(info).actor()
        await _domain(_allowed(actor, "read_tiers"))
        rows = await tiers.customer_tiers(ctx(info).db, customer_id_of(customer_id))
        return [CustomerTier.of(t) for t in rows]

    @strawberry.field(description="The tiers, best first: the rule that ranks customers into "
                      "them and the service each is owed; for the mill's staff (anyone else "
                      "is refused, `FORBIDDEN`).")
    async def service_tiers(self, info: Info[Any, Any]) -> list[ServiceTier]:
        await viewer(info)
        await _domain(_allowed(await ctx(info).actor(), "read_tiers"))
        return [ServiceTier.of(t) for t in await tiers.service_tiers(ctx(info).db)]

    @strawberry.field(description="What a customer is owed (urge answer time, dispute "
                      "targets): a customer its own (without its tier), the mill's staff "
                      "any customer's.")
    async def service_level(
        self, info: Info[Any, Any],
        customer_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="The customer (staff must name one; a customer is its own).")]
        = None,
    ) -> ServiceLevel:
        await viewer(info)
        actor = await ctx(info).actor()
        org = await _domain(_customer(info, customer_id))
        settings = ctx(info).services.settings
        level = await tiers.service_level(ctx(info).db, org, tiers.Defaults(
            settings.urge_answer_minutes, settings.dispute_response_hours,
            settings.dispute_resolution_days))
        return ServiceLevel.of(level, show_tier=PERMISSIONS.allows(actor, "read_tiers"))

    @strawberry.field(description="What the mill pays to move a tonne by each mode, the "
                      "freight of `contributionRanking`; for sales, finance and admin (anyone "
                      "else is refused, `FORBIDDEN`).")
    async def freight_rates(self, info: Info[Any, Any]) -> list[FreightRate]:
        await viewer(info)
        await _domain(_allowed(await ctx(info).actor(), "read_contribution"))
        return [FreightRate.of(r) for r in await tiers.freight_rates(ctx(info).db)]


async def _allowed(actor: Actor, action: str) -> None:
    PERMISSIONS.check(actor, action)


async def _customer(info: Info[Any, Any], customer_id: str | None) -> int:
    return await customer_of(ctx(info).db, await ctx(info).actor(), customer_id)

"""Service mutations: a customer answers a survey; the mill sets its tiers and freight
rates and ranks its customers again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.calendar import mill_today
from domain.service import contribution, surveys, tiers
from resolvers.common import INPUT, UserError, act, ctx
from resolvers.contracts.types import TransportMode
from resolvers.relay import expect_id
from resolvers.service.types import CustomerTier, FreightRate, ServiceTier, Survey, SurveyAnswer


@strawberry.input(description="A contact's answer to its organization's survey.")
class AnswerSurveyInput:
    survey_id: strawberry.ID = strawberry.field(description="Global id of the survey.")
    rating: int = strawberry.field(description="1 (poor) to 5 (excellent).")
    comment: str | None = strawberry.field(
        default=None, description="What went well or did not, up to 2,000 characters.")


@strawberry.type(description="Result of `answerSurvey`.")
class AnswerSurveyPayload:
    survey: Survey | None = strawberry.field(description="The survey answered.")
    answer: SurveyAnswer | None = strawberry.field(description="The answer as stored.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="One tier: its code, the share of the ranking it takes and "
                  "its service levels (null: the global setting).")
class ServiceTierInput:
    code: str = strawberry.field(description="Lower-case letters, digits and _, e.g. `key`.")
    share_pct: Decimal | None = strawberry.field(
        default=None, description="Share of the ranked customers after the tiers above, in "
        "%; none for the last tier, which takes the rest.")
    urge_answer_minutes: int | None = strawberry.field(
        default=None, description="Minutes for each urge answer.")
    dispute_response_hours: int | None = strawberry.field(
        default=None, description="Hours to take a new dispute up.")
    dispute_resolution_days: int | None = strawberry.field(
        default=None, description="Days from a dispute's opening to its completion.")


@strawberry.input(description="Replace the tiers, best first.")
class SetServiceTiersInput:
    tiers: list[ServiceTierInput] = strawberry.field(description="Every tier, best first.")


@strawberry.type(description="Result of `setServiceTiers`.")
class SetServiceTiersPayload:
    tiers: list[ServiceTier] | None = strawberry.field(description="The tiers as now set.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="What moving a tonne by one mode costs the mill.")
class FreightRateInput:
    transport_mode: TransportMode = strawberry.field(description="The mode.")
    per_tonne: Decimal = strawberry.field(description="Cost per tonne, to the cent.")
    currency: str = strawberry.field(description="ISO 4217 code, e.g. `CNY`.")


@strawberry.input(description="Replace the freight rates; a mode left out costs nothing.")
class SetFreightRatesInput:
    rates: list[FreightRateInput] = strawberry.field(description="One per mode at most.")


@strawberry.type(description="Result of `setFreightRates`.")
class SetFreightRatesPayload:
    rates: list[FreightRate] | None = strawberry.field(description="The rates as now set.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.input(description="Rank the customers over a period and store their tiers.")
class RecomputeCustomerTiersInput:
    from_: dt.date | None = strawberry.field(
        name="from", default=None, description="First day; default: a year before `to`.")
    to: dt.date | None = strawberry.field(default=None,
                                          description="Last day; default: yesterday.")
    currency: str = strawberry.field(default=contribution.DEFAULT_CURRENCY,
                                     description="Only amounts in this currency.")


@strawberry.type(description="Result of `recomputeCustomerTiers`.")
class RecomputeCustomerTiersPayload:
    tiers: list[CustomerTier] | None = strawberry.field(
        description="Every customer's tier as now stored, best rank first.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type
class ServiceMutations:
    @strawberry.mutation(description="A customer's contact answers its organization's survey; "
                         "answering again replaces the answer while the survey is open. A "
                         "low rating is the mill's event `service.low_rating`.")
    async def answer_survey(
        self, info: Info[Any, Any], input: Annotated[AnswerSurveyInput, INPUT],
    ) -> AnswerSurveyPayload:
        async def run(who: Actor) -> tuple[surveys.Survey, surveys.SurveyAnswer]:
            return await surveys.answer(
                ctx(info).db, who, expect_id(input.survey_id, "Survey"), input.rating,
                input.comment, low_rating=ctx(info).services.settings.survey_low_rating)

        done, errors = await act(info, run)
        if done is None:
            return AnswerSurveyPayload(survey=None, answer=None, errors=errors)
        return AnswerSurveyPayload(survey=Survey.of(done[0]), answer=SurveyAnswer.of(done[1]),
                                   errors=errors)

    @strawberry.mutation(description="Replace the tiers: the rule that ranks customers into "
                         "them and their service levels (role: admin). Customers already "
                         "ranked take their tiers by the new rule at once.")
    async def set_service_tiers(
        self, info: Info[Any, Any], input: Annotated[SetServiceTiersInput, INPUT],
    ) -> SetServiceTiersPayload:
        async def run(who: Actor) -> list[tiers.ServiceTier]:
            return await tiers.set_service_tiers(ctx(info).db, who, [
                tiers.TierInput(t.code, t.share_pct, t.urge_answer_minutes,
                                t.dispute_response_hours, t.dispute_resolution_days)
                for t in input.tiers])

        done, errors = await act(info, run)
        return SetServiceTiersPayload(
            tiers=[ServiceTier.of(t) for t in done] if done is not None else None,
            errors=errors)

    @strawberry.mutation(description="Replace the freight rates per tonne and mode (roles: "
                         "finance, admin).")
    async def set_freight_rates(
        self, info: Info[Any, Any], input: Annotated[SetFreightRatesInput, INPUT],
    ) -> SetFreightRatesPayload:
        async def run(who: Actor) -> list[tiers.FreightRate]:
            return await tiers.set_freight_rates(ctx(info).db, who, [
                (r.transport_mode.value, r.per_tonne, r.currency) for r in input.rates])

        done, errors = await act(info, run)
        return SetFreightRatesPayload(
            rates=[FreightRate.of(r) for r in done] if done is not None else None,
            errors=errors)

    @strawberry.mutation(description="Rank the customers by contribution over a period and "
                         "store their tiers (roles: sales, finance, admin); the push worker "
                         "does so daily over the past year.")
    async def recompute_customer_tiers(
        self, info: Info[Any, Any],
        input: Annotated[RecomputeCustomerTiersInput | None, INPUT] = None,
    ) -> RecomputeCustomerTiersPayload:
        given = input or RecomputeCustomerTiersInput()

        async def run(who: Actor) -> list[tiers.CustomerTier]:
            last = given.to or mill_today() - dt.timedelta(days=1)
            first = given.from_ or last - contribution.PERIOD + dt.timedelta(days=1)
            return await contribution.recompute(ctx(info).db, who, first, last,
                                                given.currency)

        done, errors = await act(info, run)
        return RecomputeCustomerTiersPayload(
            tiers=[CustomerTier.of(t) for t in done] if done is not None else None,
            errors=errors)

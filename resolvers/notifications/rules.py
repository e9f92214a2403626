"""Push rules, webhook subscriptions and their delivery log over GraphQL."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.egress import EgressPolicy
from domain.push import rules
from resolvers.common import INPUT, UserError, act, ctx, viewer
from resolvers.relay import (
    DEFAULT_PAGE,
    Connection,
    after_id,
    check_first,
    connection,
    expect_id,
    to_global_id,
)


@strawberry.enum(description="Where a rule delivers.")
class PushChannel(enum.Enum):
    INBOX = strawberry.enum_value("inbox", description="The `notifications` inbox.")
    WEBHOOK = strawberry.enum_value("webhook", description="A signed POST to a webhook.")
    EMAIL = strawberry.enum_value("email", description="An e-mail through the server's SMTP.")


@strawberry.enum(description="When a rule delivers.")
class PushCadence(enum.Enum):
    INSTANT = strawberry.enum_value("instant", description="Each event at once.")
    HOURLY = strawberry.enum_value("hourly", description="One digest per hour.")
    DAILY = strawberry.enum_value("daily", description="One digest per day (local midnight).")


@strawberry.enum(description="Where a delivery stands.")
class DeliveryStatus(enum.Enum):
    QUEUED = strawberry.enum_value("queued", description="Waiting for its (next) try.")
    HELD = strawberry.enum_value("held", description="Waiting for its digest.")
    DELIVERED = strawberry.enum_value("delivered", description="Accepted by the receiver.")
    DEAD = strawberry.enum_value("dead", description="The last try failed; dead-lettered.")


@strawberry.type(description="Which events reach whom, through which channel, when.")
class PushRule:
    pk: strawberry.Private[int]
    name: str = strawberry.field(description="A name for people.")
    event_types: list[str] = strawberry.field(
        description="Event types, e.g. `shipment.delayed`, a whole area `shipment.*`, or `*`.")
    personal: bool = strawberry.field(
        description="For its creator alone (else for the whole organization).")
    contracts: list[str] = strawberry.field(description="Only these contract numbers.")
    grades: list[str] = strawberry.field(description="Only these steel grades.")
    transport_modes: list[str] = strawberry.field(description="Only road, rail or water.")
    destinations: list[str] = strawberry.field(description="Only these destination site codes.")
    min_delay_hours: Decimal | None = strawberry.field(
        description="Only events late by at least this many hours.")
    channel: PushChannel = strawberry.field(description="Where it delivers.")
    webhook_id: strawberry.ID | None = strawberry.field(description="Its webhook subscription.")
    email_to: str | None = strawberry.field(description="Its e-mail address.")
    quiet_start: dt.time | None = strawberry.field(
        description="Quiet hours start (recipient's local time); deliveries wait.")
    quiet_end: dt.time | None = strawberry.field(description="Quiet hours end.")
    cadence: PushCadence = strawberry.field(description="Instant, or a digest.")
    created_at: dt.datetime = strawberry.field(description="When it was made.")

    @strawberry.field(description="Global id.")
    def id(self) -> strawberry.ID:
        return to_global_id("PushRule", self.pk)

    @classmethod
    def of(cls, r: Any) -> PushRule:
        return cls(
            pk=r["id"], name=r["name"], event_types=list(r["event_types"]),
            personal=r["user_subject"] is not None, contracts=list(r["contracts"]),
            grades=list(r["grades"]), transport_modes=list(r["transport_modes"]),
            destinations=list(r["destinations"]), min_delay_hours=r["min_delay_hours"],
            channel=PushChannel(r["channel"]),
            webhook_id=to_global_id("WebhookSubscription", r["webhook_id"])
            if r["webhook_id"] else None,
            email_to=r["email_to"], quiet_start=r["quiet_start"], quiet_end=r["quiet_end"],
            cadence=PushCadence(r["cadence"]), created_at=r["created_at"])


@strawberry.type(description="An endpoint that receives POSTs signed as Standard Webhooks "
                 "(`webhook-id`, `webhook-timestamp`, `webhook-signature`); see the README.")
class WebhookSubscription:
    pk: strawberry.Private[int]
    url: str = strawberry.field(description="Where deliveries are posted.")
    description: str | None = strawberry.field(description="A note for people.")
    enabled: bool = strawberry.field(description="False once deleted.")
    created_at: dt.datetime = strawberry.field(description="When it was made.")

    @strawberry.field(description="Global id.")
    def id(self) -> strawberry.ID:
        return to_global_id("WebhookSubscription", self.pk)

    @classmethod
    def of(cls, r: Any) -> WebhookSubscription:
        return cls(pk=r["id"], url=r["url"], description=r["description"],
                   enabled=r["enabled"], created_at=r["created_at"])


@strawberry.type(description="One webhook or e-mail delivery and how its tries went.")
class Delivery:
    pk: strawberry.Private[int]
    idempotency_key: str = strawberry.field(
        description="Sent as `Keylink-Idempotency-Key`: the same on every try.")
    channel: PushChannel = strawberry.field(description="Webhook or e-mail.")
    event_type: str = strawberry.field(description="The event's type, or `digest`.")
    event_sequence: int | None = strawberry.field(description="The event's outbox sequence.")
    status: DeliveryStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="Tries so far.")
    next_attempt_at: dt.datetime | None = strawberry.field(
        description="When it is tried next, while queued.")
    last_error: str | None = strawberry.field(
        description="Why the last try failed, as a short reason: `timeout`, "
        "`connection_refused`, `connection_failed`, `connection_error`, `tls_error`, "
        "`protocol_error`, `dns_error`, `address_not_allowed`, `https_required`, "
        "`http_<status>` (e.g. `http_503`; redirects are not followed), ... Never the "
        "receiver's answer.")
    response_status: int | None = strawberry.field(
        description="The receiver's HTTP status, when it answered.")
    created_at: dt.datetime = strawberry.field(description="When it was queued.")
    delivered_at: dt.datetime | None = strawberry.field(description="When it was accepted.")

    @strawberry.field(description="Global id.")
    def id(self) -> strawberry.ID:
        return to_global_id("Delivery", self.pk)

    @classmethod
    def of(cls, r: Any) -> Delivery:
        return cls(
            pk=r["id"], idempotency_key=str(r["idempotency_key"]),
            channel=PushChannel(r["channel"]), event_type=r["event_type"],
            event_sequence=r["event_seq"], status=DeliveryStatus(r["status"]),
            attempts=r["attempts"],
            next_attempt_at=r["next_attempt_at"] if r["status"] == "queued" else None,
            last_error=r["last_error"], response_status=r["response_status"],
            created_at=r["created_at"], delivered_at=r["delivered_at"])


@strawberry.input(description="A new push rule.")
class CreatePushRuleInput:
    name: str = strawberry.field(description="A name for people.")
    event_types: list[str] = strawberry.field(
        description="`shipment.delayed`, `shipment.*` or `*`.")
    channel: PushChannel = strawberry.field(default=PushChannel.INBOX,
                                            description="Where it delivers.")
    personal: bool = strawberry.field(
        default=False, description="For the caller alone, not the whole organization.")
    contracts: list[str] = strawberry.field(default_factory=list,
                                            description="Only these contract numbers.")
    grades: list[str] = strawberry.field(default_factory=list,
                                         description="Only these grades.")
    transport_modes: list[str] = strawberry.field(default_factory=list,
                                                  description="Only road, rail or water.")
    destinations: list[str] = strawberry.field(default_factory=list,
                                               description="Only these destination sites.")
    min_delay_hours: Decimal | None = strawberry.field(
        default=None, description="Only events late by at least this many hours.")
    webhook_id: strawberry.ID | None = strawberry.field(
        default=None, description="The webhook subscription (channel WEBHOOK).")
    email_to: str | None = strawberry.field(default=None,
                                            description="The address (channel EMAIL).")
    quiet_start: dt.time | None = strawberry.field(
        default=None, description="Quiet hours start, recipient's local time.")
    quiet_end: dt.time | None = strawberry.field(default=None,
                                                 description="Quiet hours end.")
    cadence: PushCadence = strawberry.field(default=PushCadence.INSTANT,
                                            description="Instant or a digest.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Mill staff: follow this customer only (else all).")


@strawberry.type(description="Result of `createPushRule`.")
class CreatePushRulePayload:
    rule: PushRule | None = strawberry.field(description="The new rule.")
    errors: list[UserError] = strawberry.field(description="Why it was not made.")


@strawberry.input(description="Names one object by its global id.")
class PushIdInput:
    id: strawberry.ID = strawberry.field(description="Global id.")


@strawberry.type(description="Result of a deletion.")
class PushDeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="What was deleted.")
    errors: list[UserError] = strawberry.field(description="Why not.")


@strawberry.input(description="A new webhook subscription.")
class CreateWebhookSubscriptionInput:
    url: str = strawberry.field(
        description="https URL that receives the POSTs; its host must resolve to public "
        "addresses only (http and private ranges only where the operator allows them).")
    description: str | None = strawberry.field(default=None, description="A note.")


@strawberry.type(description="Result of `createWebhookSubscription`.")
class CreateWebhookSubscriptionPayload:
    webhook: WebhookSubscription | None = strawberry.field(description="The subscription.")
    secret: str | None = strawberry.field(
        description="The signing secret, shown only now: keep it to verify signatures.")
    errors: list[UserError] = strawberry.field(description="Why it was not made.")


@strawberry.type(description="Result of `redeliver`.")
class RedeliverPayload:
    delivery: Delivery | None = strawberry.field(description="The delivery, queued again.")
    errors: list[UserError] = strawberry.field(description="Why not.")


@strawberry.type
class PushRuleQueries:
    @strawberry.field(description="The viewer's organization's push rules and its own.")
    async def push_rules(
        self, info: Info[Any, Any],
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description="`endCursor`.")] = None,
    ) -> Connection[PushRule]:
        who = await ctx(info).actor()
        check_first(first)
        rows = await rules.rules_page(ctx(info).db, who, first + 1, after_id(after))
        return connection([(PushRule.of(r), [r["id"]]) for r in rows], first, after is not None)

    @strawberry.field(description="The viewer's organization's webhook subscriptions.")
    async def webhook_subscriptions(self, info: Info[Any, Any]) -> list[WebhookSubscription]:
        who = await viewer(info)
        return [WebhookSubscription.of(r)
                for r in await rules.webhooks(ctx(info).db, who.organization.id)]

    @strawberry.field(description="The delivery log: the organization's webhook and e-mail "
                      "deliveries, newest first, with each one's tries and last error.")
    async def webhook_deliveries(
        self, info: Info[Any, Any],
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description="`endCursor`.")] = None,
        webhook_id: Annotated[strawberry.ID | None, strawberry.argument(
            description="Only this subscription's.")] = None,
        status: Annotated[DeliveryStatus | None, strawberry.argument(
            description="Only those in this state (DEAD: the dead letters).")] = None,
    ) -> Connection[Delivery]:
        who = await viewer(info)
        check_first(first)
        hook = expect_id(webhook_id, "WebhookSubscription") if webhook_id else None
        before = after_id(after)
        rows = await rules.deliveries_page(
            ctx(info).db, who.organization.id, webhook_id=hook,
            status=str(status.value) if status else None, first=first + 1, after=before)
        return connection([(Delivery.of(r), [r["id"]]) for r in rows], first, after is not None)


@strawberry.type
class PushRuleMutations:
    @strawberry.mutation(description="Make a push rule.")
    async def create_push_rule(
        self, info: Info[Any, Any], input: Annotated[CreatePushRuleInput, INPUT]
    ) -> CreatePushRulePayload:
        async def run(who: Actor) -> PushRule:
            data = rules.RuleInput(
                name=input.name, event_types=input.event_types, channel=str(input.channel.value),
                personal=input.personal, contracts=input.contracts, grades=input.grades,
                transport_modes=input.transport_modes, destinations=input.destinations,
                min_delay_hours=input.min_delay_hours,
                webhook_id=expect_id(input.webhook_id, "WebhookSubscription")
                if input.webhook_id else None,
                email_to=input.email_to, quiet_start=input.quiet_start,
                quiet_end=input.quiet_end, cadence=str(input.cadence.value),
                watch_org_id=expect_id(input.customer_id, "Organization")
                if input.customer_id else None)
            smtp = ctx(info).services.settings.smtp_url is not None
            return PushRule.of(await rules.create_rule(ctx(info).db, who, data,
                                                       smtp=smtp))

        rule, errors = await act(info, run)
        return CreatePushRulePayload(rule=rule, errors=errors)

    @strawberry.mutation(description="Delete a push rule of the viewer's (or its "
                         "organization's).")
    async def delete_push_rule(
        self, info: Info[Any, Any], input: Annotated[PushIdInput, INPUT]
    ) -> PushDeletePayload:
        async def run(who: Actor) -> strawberry.ID:
            await rules.delete_rule(ctx(info).db, who, expect_id(input.id, "PushRule"))
            return input.id

        done, errors = await act(info, run)
        return PushDeletePayload(deleted_id=done, errors=errors)

    @strawberry.mutation(description="Register a webhook endpoint; the payload carries its "
                         "signing secret, shown only this once.")
    async def create_webhook_subscription(
        self, info: Info[Any, Any], input: Annotated[CreateWebhookSubscriptionInput, INPUT]
    ) -> CreateWebhookSubscriptionPayload:
        async def run(who: Actor) -> tuple[WebhookSubscription, str]:
            settings = ctx(info).services.settings
            policy = EgressPolicy.of(settings.webhook_allow, production=not settings.development)
            row, secret = await rules.create_webhook(ctx(info).db, who, input.url,
                                                     input.description, policy)
            return WebhookSubscription.of(row), secret

        made, errors = await act(info, run)
        return CreateWebhookSubscriptionPayload(
            webhook=made[0] if made else None, secret=made[1] if made else None, errors=errors)

    @strawberry.mutation(description="Stop a webhook subscription: its rules and queued "
                         "deliveries stop with it.")
    async def delete_webhook_subscription(
        self, info: Info[Any, Any], input: Annotated[PushIdInput, INPUT]
    ) -> PushDeletePayload:
        async def run(who: Actor) -> strawberry.ID:
            await rules.delete_webhook(ctx(info).db, who,
                                       expect_id(input.id, "WebhookSubscription"))
            return input.id

        done, errors = await act(info, run)
        return PushDeletePayload(deleted_id=done, errors=errors)

    @strawberry.mutation(description="Queue a dead-lettered delivery again for a fresh round "
                         "of tries (same idempotency key).")
    async def redeliver(
        self, info: Info[Any, Any], input: Annotated[PushIdInput, INPUT]
    ) -> RedeliverPayload:
        async def run(who: Actor) -> Delivery:
            return Delivery.of(await rules.redeliver(ctx(info).db, who,
                                                     expect_id(input.id, "Delivery")))

        done, errors = await act(info, run)
        return RedeliverPayload(delivery=done, errors=errors)

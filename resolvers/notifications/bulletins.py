"""Bulletins over GraphQL: read them, publish them (mill staff), say what interests you."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.actor import Actor
from domain.push import bulletins
from resolvers.common import INPUT, UserError, act, ctx, viewer
from resolvers.relay import DEFAULT_PAGE, Connection, Node, after_id, check_first, connection


@strawberry.type(description="A note from the mill on a new material or technique.")
class Bulletin(Node):
    title: str = strawberry.field(description="Headline.")
    body: str = strawberry.field(description="The note, as written.")
    grades: list[str] = strawberry.field(description="Steel grades it concerns.")
    topics: list[str] = strawberry.field(description="Topics it concerns, lower case.")
    published_at: dt.datetime = strawberry.field(description="When it was published.")

    @classmethod
    def of(cls, b: bulletins.Bulletin) -> Bulletin:
        return cls(pk=b.id, title=b.title, body=b.body, grades=b.grades, topics=b.topics,
                   published_at=b.published_at)


@strawberry.type(description="What a customer wants bulletins about: one shared grade or "
                 "topic is enough.")
class BulletinInterests:
    grades: list[str] = strawberry.field(description="Steel grades.")
    topics: list[str] = strawberry.field(description="Topics, lower case.")


@strawberry.input(description="A new bulletin.")
class PublishBulletinInput:
    title: str = strawberry.field(description="Headline, up to 200 characters.")
    body: str = strawberry.field(description="The note, up to 20,000 characters.")
    grades: list[str] = strawberry.field(default_factory=list, description="Grades it concerns.")
    topics: list[str] = strawberry.field(default_factory=list, description="Topics it concerns.")


@strawberry.type(description="Result of `publishBulletin`.")
class PublishBulletinPayload:
    bulletin: Bulletin | None = strawberry.field(description="The bulletin.")
    pushed_to: int = strawberry.field(description="Customers whose interests it matched.")
    errors: list[UserError] = strawberry.field(description="Why it was not published.")


@strawberry.input(description="The viewer's organization's interests, replacing the old.")
class SetBulletinInterestsInput:
    grades: list[str] = strawberry.field(default_factory=list, description="Steel grades.")
    topics: list[str] = strawberry.field(default_factory=list, description="Topics.")


@strawberry.type(description="Result of `setBulletinInterests`.")
class SetBulletinInterestsPayload:
    interests: BulletinInterests | None = strawberry.field(description="As now set.")
    errors: list[UserError] = strawberry.field(description="Why they were not set.")


@strawberry.type
class BulletinQueries:
    @strawberry.field(description="Bulletins, newest first.")
    async def bulletins(
        self, info: Info[Any, Any],
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")]
        = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description="`endCursor`.")] = None,
        grade: Annotated[str | None, strawberry.argument(description="Only this grade.")]
        = None,
        topic: Annotated[str | None, strawberry.argument(description="Only this topic.")]
        = None,
    ) -> Connection[Bulletin]:
        await viewer(info)
        check_first(first)
        found = await bulletins.page(ctx(info).db, first=first + 1, after=after_id(after),
                                     grade=grade, topic=topic)
        return connection([(Bulletin.of(b), [b.id]) for b in found], first, after is not None)

    @strawberry.field(description="What the viewer's organization wants bulletins about.")
    async def bulletin_interests(self, info: Info[Any, Any]) -> BulletinInterests:
        who = await viewer(info)
        found = await bulletins.interests(ctx(info).db, who.organization.id)
        return BulletinInterests(grades=found.grades, topics=found.topics)


@strawberry.type
class BulletinMutations:
    @strawberry.mutation(description="Publish a bulletin (mill staff); customers whose "
                         "interests share a grade or topic get it in their inbox at once.")
    async def publish_bulletin(
        self, info: Info[Any, Any], input: Annotated[PublishBulletinInput, INPUT]
    ) -> PublishBulletinPayload:
        async def run(who: Actor) -> tuple[bulletins.Bulletin, int]:
            return await bulletins.publish(ctx(info).db, title=input.title, body=input.body,
                                           grades=input.grades, topics=input.topics,
                                           actor=who)

        done, errors = await act(info, run)
        return PublishBulletinPayload(bulletin=Bulletin.of(done[0]) if done else None,
                                      pushed_to=done[1] if done else 0, errors=errors)

    @strawberry.mutation(description="Say which grades and topics the viewer's organization "
                         "wants bulletins about (customers).")
    async def set_bulletin_interests(
        self, info: Info[Any, Any], input: Annotated[SetBulletinInterestsInput, INPUT]
    ) -> SetBulletinInterestsPayload:
        async def run(who: Actor) -> BulletinInterests:
            found = await bulletins.set_interests(ctx(info).db, who,
                                                  input.grades, input.topics)
            return BulletinInterests(grades=found.grades, topics=found.topics)

        done, errors = await act(info, run)
        return SetBulletinInterestsPayload(interests=done, errors=errors)

"""What every area's resolvers share: the context accessor, typed mutation errors."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry
from strawberry.types import Info

from domain.db import Executor
from domain.errors import DomainError
from domain.parties import customer_acted_for
from resolvers.relay import BadInput, expect_id

if TYPE_CHECKING:
    from api.context import Context, Viewer
    from domain.actor import Actor
    from resolvers.loaders import Loaders

T = TypeVar("T")

# Every mutation takes its request as one `input` argument.
INPUT = strawberry.argument(description="The request: see its type for each field.")


def ctx(info: Info[Any, Any]) -> Context:
    context: Context = info.context
    return context


def loaders(info: Info[Any, Any]) -> Loaders:
    return ctx(info).loaders


async def viewer(info: Info[Any, Any]) -> Viewer:
    return await ctx(info).viewer()


def customer_id_of(customer_id: str | None) -> int | None:
    """The organization a `customerId` argument names, if any."""
    return expect_id(customer_id, "Organization") if customer_id is not None else None


async def customer_of(db: Executor, who: Actor, customer_id: str | None) -> int:
    """The customer a request acts for, as the domain decides
    (:func:`domain.parties.customer_acted_for`)."""
    return await customer_acted_for(db, who, customer_id_of(customer_id))


@strawberry.enum(description="Why a mutation did not do what was asked.")
class ErrorCode(enum.Enum):
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="The object does not exist or is not yours."
    )
    FORBIDDEN = strawberry.enum_value("FORBIDDEN", description="Your role may not do this.")
    INVALID = strawberry.enum_value("INVALID", description="An input value is not acceptable.")
    INVALID_TRANSITION = strawberry.enum_value(
        "INVALID_TRANSITION", description="The object's state does not allow this step."
    )
    CONFLICT = strawberry.enum_value("CONFLICT", description="It was already done.")
    BAD_USER_INPUT = strawberry.enum_value(
        "BAD_USER_INPUT", description="An id or value is malformed."
    )
    OUT_OF_SPEC = strawberry.enum_value(
        "OUT_OF_SPEC", description="Certified values lie outside the limits of the coil's "
        "spec; the message names each one."
    )
    OUT_OF_SEQUENCE = strawberry.enum_value(
        "OUT_OF_SEQUENCE", description="A step before one it must follow (a production stage "
        "before an earlier stage of its route); the message names that one."
    )
    OVER_TOLERANCE = strawberry.enum_value(
        "OVER_TOLERANCE", description="More than the plan allows, tolerance included; the "
        "message says how much is allowed."
    )
    INFEASIBLE = strawberry.enum_value(
        "INFEASIBLE", description="Lines cannot be made in their windows against the mill's "
        "capacity and shortest route; the message names each with its earliest delivery, "
        "and the mill's staff may accept them with `acceptInfeasible`."
    )
    TOO_LARGE = strawberry.enum_value(
        "TOO_LARGE", description="A file is over a configured limit: its size, what it "
        "unpacks to, its rows or its cells."
    )


@strawberry.type(description="An expected failure of a mutation, part of its payload.")
class UserError:
    field: str | None = strawberry.field(
        description="The input field at fault, in camelCase, when there is one."
    )
    message: str = strawberry.field(description="What went wrong, for a person to read.")
    code: ErrorCode = strawberry.field(description="What went wrong, for a program.")


def user_error(exc: Exception) -> UserError:
    if isinstance(exc, DomainError):
        return UserError(field=exc.field, message=exc.message, code=ErrorCode[exc.code])
    if isinstance(exc, BadInput):
        return UserError(field="id", message=str(exc), code=ErrorCode.BAD_USER_INPUT)
    raise exc


async def act(
    info: Info[Any, Any], action: Callable[[Actor], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """Run a mutation as the request's actor; the domain decides what it may do, and its
    refusals and other expected failures come back as typed errors."""
    who = await ctx(info).actor()
    try:
        return await action(who), []
    except (DomainError, BadInput) as exc:
        return None, [user_error(exc)]

"""Expected failures of domain operations. The API turns each into a typed error in a
mutation payload: ``code`` is stable and machine-readable, ``field`` names the input
field at fault when there is one."""

from __future__ import annotations


class DomainError(Exception):
    code = "INVALID"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    code = "NOT_FOUND"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class InvalidTransition(DomainError):
    code = "INVALID_TRANSITION"


class Invalid(DomainError):
    code = "INVALID"


class Conflict(DomainError):
    code = "CONFLICT"


class OutOfSequence(DomainError):
    """A step taken before one it must follow (a stage before an earlier one on the
    route); it may be taken once that one is."""

    code = "OUT_OF_SEQUENCE"


class OverTolerance(DomainError):
    """A quantity beyond what the plan allows, tolerance included."""

    code = "OVER_TOLERANCE"


class Infeasible(DomainError):
    """Lines that cannot be made in their windows against the mill's capacity and the
    shortest route; the message names each, with its earliest delivery."""

    code = "INFEASIBLE"

"""Error masking and codes: every error a client sees carries ``extensions.code``.

Expected refusals keep their message: ``UNAUTHENTICATED`` (no, bad or expired token),
``BAD_USER_INPUT`` (a malformed id, cursor or page size), ``FORBIDDEN``, the limits of
:mod:`api.limits`, ``GRAPHQL_PARSE_FAILED`` and ``GRAPHQL_VALIDATION_FAILED``.
Anything else is a bug: the client gets ``INTERNAL_SERVER_ERROR`` with the request id,
and the log gets the traceback under the same id.
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from api import metrics
from api.auth import AuthError
from api.context import ForbiddenError
from resolvers.relay import BadInput

log = logging.getLogger("keylink.graphql")

EXPECTED: tuple[type[Exception], ...] = (AuthError, BadInput, ForbiddenError)


def classify(error: GraphQLError, request_id: str | None) -> GraphQLError:
    original = error.original_error
    if isinstance(original, GraphQLError) and original is not error:
        original = original.original_error
    if original is None:
        code = (error.extensions or {}).get("code")
        if code is None:
            if isinstance(error, GraphQLSyntaxError):
                code = "TOO_MANY_TOKENS" if "tokens" in error.message else "GRAPHQL_PARSE_FAILED"
            else:
                code = "GRAPHQL_VALIDATION_FAILED"
        metrics.GRAPHQL_ERRORS.labels(code).inc()
        return _with(error, error.message, {**(error.extensions or {}), "code": code})
    if isinstance(original, EXPECTED):
        code = getattr(original, "code", "BAD_USER_INPUT")
        metrics.GRAPHQL_ERRORS.labels(code).inc()
        return _with(error, str(original), {"code": code})
    metrics.GRAPHQL_ERRORS.labels("INTERNAL_SERVER_ERROR").inc()
    log.error(
        "unexpected error in %s", ".".join(map(str, error.path or [])) or "operation",
        exc_info=(type(original), original, original.__traceback__),
    )
    return _with(error, "Unexpected error.",
                 {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id})


def _with(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message, nodes=error.nodes, source=error.source, positions=error.positions,
        path=error.path, original_error=None, extensions=extensions,
    )

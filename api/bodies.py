"""Request bodies are limited before they are read.

A body that states a larger Content-Length is refused before any of it is received; one
sent without a length (chunked) is counted as it arrives and refused at the limit, so no
request makes the API hold more than the limit in memory. File uploads (multipart) have
their own, larger limit and must state their length; without a valid token, an upload is
held to the limit of other bodies. A plant's records (``POST /feeds/records``) are streamed
into their batch as they arrive, never held: they have a limit of their own, far larger,
counted the same way (the route reads nothing before it has checked the token).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import AuthError, bearer

MULTIPART = "multipart/form-data"
# The path whose body is a feed of records, bounded by ``feed_max_bytes``.
FEED_PATH = "/feeds/records"


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a body passes its limit while it arrives."""


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None, **extensions: Any) -> Response:
    """A refusal before GraphQL runs, in GraphQL's own shape."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    return JSONResponse(body, status_code=status, headers=headers)


class BodyLimitMiddleware:
    """Refuses request bodies over ``body_max_bytes`` (``upload_max_bytes`` for
    multipart, ``feed_max_bytes`` for a feed of records) with 413, before they are read or
    while they arrive."""

    def __init__(self, app: ASGIApp, *, body_max_bytes: int, upload_max_bytes: int,
                 feed_max_bytes: int | None = None) -> None:
        self.app = app
        self.body_max_bytes = body_max_bytes
        self.upload_max_bytes = upload_max_bytes
        self.feed_max_bytes = feed_max_bytes or body_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        feed = scope.get("path") == FEED_PATH
        upload = content_type.startswith(MULTIPART) and not feed
        limit = self.upload_max_bytes if upload else self.body_max_bytes
        what = "an upload" if upload else "a request body"
        if feed:
            limit, what = self.feed_max_bytes, "a feed of records"
        if upload and limit > self.body_max_bytes and not await _signed_in(scope, headers):
            # Only a signed-in user may send a file: no resolver would take one from anyone
            # else, and the body would be read and spooled before any resolver runs.
            upload, limit = False, self.body_max_bytes
            what = "an upload without a valid token"
        length = headers.get(b"content-length", b"").decode("latin-1")
        if length.isdigit() and int(length) > limit:
            await _too_large(limit, what)(scope, receive, send)
            return
        if upload and not length.isdigit():
            await error_response(411, "LENGTH_REQUIRED", "an upload must state its "
                                 "Content-Length")(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:  # pragma: no cover - nothing answers before reading its body
                raise
            await _too_large(limit, what)(scope, receive, send)


async def _signed_in(scope: Scope, headers: dict[bytes, bytes]) -> bool:
    """Whether the request carries a valid token (True where the app has no services to
    tell, as before it starts)."""
    services = getattr(getattr(scope.get("app"), "state", None), "services", None)
    if services is None:
        return True
    try:
        token = bearer(headers.get(b"authorization", b"").decode("latin-1") or None)
        if token is None:
            return False
        await services.codec.authenticate(token)
    except AuthError:
        return False
    return True


def _too_large(limit: int, what: str) -> Response:
    return error_response(413, "PAYLOAD_TOO_LARGE", f"{what} is limited to {limit:,} bytes",
                          headers={"connection": "close"})


class JSONTooDeep(json.JSONDecodeError):
    """JSON nested deeper than the parser can follow: refused like malformed JSON."""


def decode_json(data: str | bytes) -> object:
    """``json.loads``, with nesting too deep to parse refused as bad JSON, not a crash."""
    try:
        return json.loads(data)
    except RecursionError:
        raise JSONTooDeep("JSON is nested too deeply", "", 0) from None

"""The ASGI application: `/graphql` (HTTP and graphql-transport-ws), health and metrics."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import redis.asyncio as aioredis
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as ASGIScope
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api import evidence, logs, metrics, telemetry
from api.auth import TokenCodec
from api.context import Context, Services
from api.feed import EventFeed
from api.schema import build_schema
from api.settings import Settings
from domain.db import Database

log = logging.getLogger("keylink.api")

GRAPHQL_RESPONSE = "application/graphql-response+json"
# How the API is served, by `keylink serve` and `keylink dev` alike. Subscription
# messages are small JSON: compressing each one costs more CPU than it saves bytes, and
# under load that CPU is the delivery latency.
SERVER_OPTIONS: dict[str, Any] = {"ws_per_message_deflate": False, "log_config": None}
MULTIPART = "multipart/form-data"
ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", "/live", "/live/"})
# The live page: plain files, no build step (api/static/live/README.md).
LIVE_DIR = Path(__file__).parent / "static" / "live"


class GraphQLApp(GraphQL[Context, None]):
    """strawberry's ASGI view with our context and GraphQL-over-HTTP media types."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.development else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            keep_alive=True,
            keep_alive_interval=15,
            # File uploads (GraphQL multipart request spec). Tokens travel in a header,
            # never a cookie, so a cross-site form cannot post as a signed-in user.
            multipart_uploads_enabled=True,
        )
        self.upload_max_bytes = settings.upload_max_bytes

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        services: Services = request.app.state.services
        return Context(request=request, response=response, services=services,
                       request_id=logs.request_id.get() or uuid.uuid4().hex)

    def encode_json(self, data: object) -> str:
        # JSON scalars (geofences, event details) hold what the database stored, read
        # with exact decimals: they go out as the JSON numbers they were written as.
        return json.dumps(data, default=_json_number, separators=(",", ":"))

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub = await super().get_sub_response(request)
        sub.keylink_accept = request.headers.get("accept", "")  # type: ignore[attr-defined]
        return sub

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        accept = getattr(sub_response, "keylink_accept", "")
        if not _prefers_graphql_response(accept):
            response = super().create_response(response_data, sub_response)
            response.headers["content-type"] = "application/json"
            return response
        # GraphQL over HTTP: a request that could not be executed at all is a 400 and
        # carries no `data`; anything that executed is a 200, errors or not.
        if isinstance(response_data, dict) and _is_request_error(response_data):
            response_data = {k: v for k, v in response_data.items() if k != "data"}  # type: ignore[assignment]
            sub_response.status_code = 400
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = GRAPHQL_RESPONSE
        return response

    async def __call__(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        too_large = self._oversized_upload(request)
        if too_large is not None:
            await too_large(scope, receive, send)
            return
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = _http_error(request, exc)
        await response(scope, receive, send)

    def _oversized_upload(self, request: Request) -> Response | None:
        """A multipart request is refused before it is read when it says it is larger
        than the upload limit, or does not say how large it is."""
        if not request.headers.get("content-type", "").lower().startswith(MULTIPART):
            return None
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) <= self.upload_max_bytes:
            return None
        status = 413 if length.isdigit() else 411
        message = (f"an upload is limited to {self.upload_max_bytes:,} bytes"
                   if status == 413 else "an upload must state its Content-Length")
        code = "PAYLOAD_TOO_LARGE" if status == 413 else "LENGTH_REQUIRED"
        return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]},
                            status_code=status)


# Errors that mean nothing was executed: the request itself was at fault.
REQUEST_ERRORS = frozenset({
    "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "QUERY_TOO_DEEP",
    "TOO_MANY_ALIASES", "TOO_MANY_TOKENS", "QUERY_TOO_COSTLY", "TOO_MANY_OVERLAPPING_FIELDS",
})


def _json_number(value: object) -> float:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _is_request_error(body: GraphQLHTTPResponse) -> bool:
    errors = cast(list[dict[str, Any]], body.get("errors") or [])
    return body.get("data") is None and bool(errors) and all(
        (e.get("extensions") or {}).get("code") in REQUEST_ERRORS for e in errors
    )


def _prefers_graphql_response(accept: str) -> bool:
    """Whether the Accept header ranks application/graphql-response+json first."""
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.lower()] = max(q, weights.get(media.lower(), 0.0))
    ours = weights.get(GRAPHQL_RESPONSE, 0.0)
    legacy = max(weights.get("application/json", 0.0), weights.get("*/*", 0.0) / 2)
    return ours > 0 and ours >= legacy


def _http_error(request: Request, exc: HTTPException) -> Response:
    """Errors before GraphQL runs (bad JSON, a mutation over GET) in GraphQL's own shape."""
    status, headers = exc.status_code, {}
    if request.method == "GET" and "GET" in exc.reason:
        status, headers = 405, {"allow": "POST"}  # a mutation may only be POSTed
    code = {405: "METHOD_NOT_ALLOWED"}.get(status, "BAD_REQUEST")
    body = {"errors": [{"message": exc.reason, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers)


class RequestIdMiddleware:
    """Gives each HTTP request an id (or takes `X-Request-Id`), logs it, counts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        token = logs.request_id.set(rid)
        # Label by route, never by raw path: unknown paths must not grow the metrics.
        path = scope.get("path", "")
        route = path if path in ROUTES else "other"
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                elapsed = time.perf_counter() - started
                metrics.HTTP_REQUESTS.labels(route, scope.get("method", ""), str(status)).inc()
                metrics.HTTP_LATENCY.labels(route).observe(elapsed)
            logs.request_id.reset(token)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    checks: dict[str, str] = {}
    try:
        await services.db.fetchval("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    if services.redis is None:
        checks["redis"] = "not configured"
    else:
        try:
            await services.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v in ("ok", "not configured") for v in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


async def metrics_endpoint(request: Request) -> Response:
    return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")


# Keep the live page to its own origin: scripts, styles and the WebSocket only from
# here ('self' covers ws: and wss: to the same host under CSP 3; a bare `ws:` would let
# a script reach any host), no framing, no referrer (the page never puts the token in a
# URL; this makes sure no URL of it leaks elsewhere either).
LIVE_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; connect-src 'self'; frame-ancestors 'none';"
    " base-uri 'none'; form-action 'self'",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
}


class LiveFiles(StaticFiles):
    """The live page's files, served with LIVE_HEADERS."""

    async def get_response(self, path: str, scope: ASGIScope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(LIVE_HEADERS)
        return response


def create_app(settings: Settings, *, services: Services | None = None) -> Starlette:
    """The API. Without ``services`` it opens its own database pool and Redis client."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        if not settings.database_url:
            raise RuntimeError("DATABASE_URL is not set")
        db = await Database.connect(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        redis = aioredis.from_url(settings.redis_url) if settings.redis_url else None
        feed = EventFeed(settings.database_url)
        await feed.start()
        app.state.services = Services(
            db=db, codec=TokenCodec.from_settings(settings), redis=redis, feed=feed,
            settings=settings,
        )
        log.info("api ready", extra={"environment": settings.environment})
        try:
            yield
        finally:
            await feed.stop()
            if redis is not None:
                await redis.aclose()
            await db.close()

    graphql = GraphQLApp(settings)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/evidence/{evidence_id}", evidence.download, methods=["GET"]),
            Mount("/live", LiveFiles(directory=LIVE_DIR, html=True), name="live"),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestIdMiddleware)
    telemetry.instrument_app(app)
    app.state.settings = settings
    return app

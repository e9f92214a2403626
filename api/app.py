"""The ASGI application: `/graphql` (HTTP and graphql-transport-ws), the plant's record
feeds (`/feeds/...`, see api/records.py), health and metrics."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as ASGIScope
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from api import bodies, evidence, exchange, logs, metrics, records, sockets, telemetry
from api.auth import AuthError, TokenCodec
from api.context import Context, Services
from api.documents import PersistedQueries
from api.feed import EventFeed
from api.ratelimit import RateLimitMiddleware, RateLimits, client_address, user_key
from api.schema import build_schema
from domain import redisclient
from domain.db import Database
from settings import Settings

log = logging.getLogger("keylink.api")

GRAPHQL_RESPONSE = "application/graphql-response+json"
# How the API is served, by `keylink serve` and `keylink dev` alike. Subscription
# messages are small JSON: compressing each one costs more CPU than it saves bytes, and
# under load that CPU is the delivery latency. What a client sends over a WebSocket
# (connection_init, subscribe) is a few kilobytes: one message is held to 1 MiB (the
# socket is closed with 1009), not the server's default of 16 MiB.
WS_MAX_MESSAGE_BYTES = 1024 * 1024
SERVER_OPTIONS: dict[str, Any] = {"ws_per_message_deflate": False, "log_config": None,
                                  "ws_max_size": WS_MAX_MESSAGE_BYTES,
                                  # A request head must come in whole within seconds.
                                  "http": sockets.HeadTimeoutProtocol}
# Names the process (its pid) that accepted a WebSocket, as `/readyz` does for a request.
WORKER_HEADER = b"x-keylink-worker"
ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", "/live", "/live/",
                    "/feeds/records", "/feeds/schemas"})
# The live page: plain files, no build step (api/static/live/README.md).
LIVE_DIR = Path(__file__).parent / "static" / "live"
# GraphiQL (development only), its files served from here (api/static/graphiql/README.md).
GRAPHIQL_DIR = Path(__file__).parent / "static" / "graphiql"


class GraphQLApp(GraphQL[Context, None]):
    """strawberry's ASGI view with our context and GraphQL-over-HTTP media types."""

    graphql_transport_ws_handler_class = sockets.TransportWSHandler
    websocket_adapter_class = sockets.WebSocketAdapter

    def __init__(self, settings: Settings, rate_limits: RateLimits) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.development else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            keep_alive=True,
            keep_alive_interval=15,
            # File uploads (GraphQL multipart request spec). Tokens travel in a header,
            # never a cookie, so a cross-site form cannot post as a signed-in user.
            multipart_uploads_enabled=True,
            # A socket signs in with connection_init (on_ws_connect) within this time.
            connection_init_wait_timeout=timedelta(seconds=settings.ws_auth_timeout_s),
            allowed_origins=settings.cors_origin_list,
        )
        self.rate_limits = rate_limits
        self.sockets = sockets.SocketCount(settings.ws_max_per_address)
        self.expiry = sockets.Expiry(settings.ws_auth_timeout_s)
        self.persisted = PersistedQueries()

    async def execute_single(
        self, request: Request, request_adapter: Any, sub_response: Response,
        context: Context, root_value: None, request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Apollo's automatic persisted queries, over GET and POST (api/documents.py).
        query, refusal = self.persisted.resolve(request_data.query, request_data.extensions)
        if refusal is not None:
            return ExecutionResult(data=None, errors=[refusal])
        if query is not request_data.query:
            request_data = dataclasses.replace(request_data, query=query)
        return await super().execute_single(request, request_adapter, sub_response, context,
                                            root_value, request_data)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        services: Services = request.app.state.services
        return Context(request=request, response=response, services=services,
                       request_id=logs.request_id.get() or uuid.uuid4().hex, graphql=True)

    def decode_json(self, data: str | bytes) -> object:
        return bodies.decode_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return bodies.decode_json(data)
        except bodies.JSONTooDeep as exc:
            raise HTTPException(400, "Unable to parse request body: JSON nested too "
                                "deeply") from exc
        except json.JSONDecodeError as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse((GRAPHIQL_DIR / "index.html").read_text(encoding="utf-8"),
                            headers=GRAPHIQL_HEADERS)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A socket is acknowledged only with a valid token, within its budget, and
        closed when that token has expired."""
        try:
            viewer = await context.viewer()
        except AuthError as exc:
            raise ConnectionRejectionError({"message": str(exc)}) from exc
        socket = cast(WebSocket, context.request)
        key = user_key(viewer.organization.code, viewer.subject)
        retry = await self.rate_limits.check("socket", key, context.services.redis)
        if retry is not None:
            await socket.close(sockets.TOO_MANY_REQUESTS,
                               f"too many new connections; retry in {retry} s")
            raise ConnectionRejectionError()
        self.expiry.watch(socket, viewer.expires_at)
        return await super().on_ws_connect(context)  # acknowledged, with no payload

    def encode_json(self, data: object) -> str:
        # JSON scalars (geofences, event details) hold what the database stored, read
        # with exact decimals: they go out as the JSON numbers they were written as.
        # Decimal fields are already strings, as the schema writes them; an answer the
        # read planner made in SQL is spliced in as the bytes PostgreSQL wrote.
        # Text, not bytes: strawberry sends bytes over a WebSocket as a binary frame,
        # which a browser's GraphQL client does not read as a message.
        try:
            return orjson.dumps(data, default=_json_number).decode()
        except orjson.JSONEncodeError:  # an integer past 64 bits in a JSON scalar
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
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = _http_error(request, exc)
        await response(scope, receive, send)

    async def _socket(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        address = client_address(scope)
        if not self.sockets.enter(address):
            cap = self.sockets.cap
            await sockets.deny(scope, receive, send, bodies.error_response(
                429, "TOO_MANY_CONNECTIONS",
                f"at most {cap} open connections from one address"))
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.expiry.forget(scope)
            self.sockets.leave(address)


# Errors that mean nothing was executed: the request itself was at fault.
REQUEST_ERRORS = frozenset({
    "BAD_REQUEST", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "QUERY_TOO_DEEP",
    "TOO_MANY_ALIASES", "TOO_MANY_TOKENS", "QUERY_TOO_COSTLY", "TOO_MANY_OVERLAPPING_FIELDS",
    "PERSISTED_QUERY_NOT_FOUND",
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
    return bodies.error_response(status, code, exc.reason, headers=headers)


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
            elif message["type"] == "websocket.accept":
                # Which process holds the socket: one of several `keylink serve` workers.
                message["headers"] = [*message.get("headers", ()),
                                      (b"x-request-id", rid.encode()),
                                      (WORKER_HEADER, str(os.getpid()).encode())]
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
    # `worker`: the process that answered, one of `keylink serve --workers N`.
    return JSONResponse({"ready": ready, **checks, "worker": os.getpid()},
                        status_code=200 if ready else 503)


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


# GraphiQL likewise, but its editor sets inline styles.
GRAPHIQL_HEADERS = {
    **LIVE_HEADERS,
    "content-security-policy": "default-src 'self'; script-src 'self';"
    " style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:;"
    " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
}


class LiveFiles(StaticFiles):
    """The live page's (or GraphiQL's) files, served with ``headers``."""

    def __init__(self, *, directory: Path, headers: dict[str, str] = LIVE_HEADERS,
                 html: bool = False) -> None:
        super().__init__(directory=directory, html=html)
        self.headers = headers

    async def get_response(self, path: str, scope: ASGIScope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(self.headers)
        return response


def edge_middleware(settings: Settings, rate_limits: RateLimits) -> list[Middleware]:
    """What every request and socket passes before the API sees it, outermost first:
    CORS (so that a browser can read even a refusal), the request id, the rate limits,
    then the body limit."""
    stack = []
    if settings.cors_origin_list:
        stack.append(Middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origin_list),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "accept", "x-request-id"],
            expose_headers=["x-request-id", "retry-after"], max_age=600))
    stack += [
        Middleware(RequestIdMiddleware),
        Middleware(RateLimitMiddleware, limits=rate_limits),
        Middleware(bodies.BodyLimitMiddleware, body_max_bytes=settings.body_max_bytes,
                   upload_max_bytes=settings.upload_max_bytes,
                   feed_max_bytes=settings.feed_max_bytes),
    ]
    return stack


def app_from_environment() -> Starlette:
    """The API of one `keylink serve` worker process (uvicorn's app factory). Workers are
    started afresh, not forked: each reads the settings from the environment it inherits
    from `keylink serve` (which checked them before starting any), and sets up its own
    logging and tracing."""
    settings = Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    telemetry.setup("keylink-api")
    return create_app(settings)


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
        redis = redisclient.connect(settings.redis_url) if settings.redis_url else None
        feed = EventFeed(settings.database_url)
        await feed.start()
        app.state.services = Services(
            db=db, codec=TokenCodec.from_settings(settings), redis=redis, feed=feed,
            settings=settings,
        )
        # Plan imports whose process died are taken over by any API process.
        await app.state.services.imports.watch()
        log.info("api ready", extra={"environment": settings.environment})
        try:
            yield
        finally:
            await app.state.services.imports.stop()
            await feed.stop()
            if redis is not None:
                await redis.aclose()
            await db.close()

    rate_limits = RateLimits(settings)
    graphql = GraphQLApp(settings, rate_limits)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/evidence/{evidence_id}", evidence.download, methods=["GET"]),
            Route("/feeds/records", records.post_records, methods=["POST"]),
            Route("/exchange/inbox/{code}", exchange.post_document, methods=["POST"]),
            Route("/exchange/as2", exchange.post_as2, methods=["POST"]),
            Route("/feeds/batches/{batch_id}", records.get_batch, methods=["GET"]),
            Route("/feeds/schemas", records.list_schemas, methods=["GET"]),
            Route("/feeds/schemas/{kind}.schema.json", records.get_schema, methods=["GET"]),
            Mount("/live", LiveFiles(directory=LIVE_DIR, html=True), name="live"),
            *([Mount("/graphiql", LiveFiles(directory=GRAPHIQL_DIR, headers=GRAPHIQL_HEADERS))]
              if settings.development else []),
        ],
        middleware=edge_middleware(settings, rate_limits),
        lifespan=lifespan,
    )
    telemetry.instrument_app(app)
    app.state.settings = settings
    app.state.feed_gate = records.FeedGate.of(settings)
    return app

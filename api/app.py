"""The ASGI application: `/graphql` (HTTP and graphql-transport-ws), health and metrics."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api import logs, metrics
from api.auth import TokenCodec
from api.context import Context, Services
from api.feed import EventFeed
from api.schema import build_schema
from api.settings import Settings
from domain.db import Database

log = logging.getLogger("keylink.api")

GRAPHQL_RESPONSE = "application/graphql-response+json"


class GraphQLApp(GraphQL[Context, None]):
    """strawberry's ASGI view with our context and GraphQL-over-HTTP media types."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.development else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            keep_alive=True,
            keep_alive_interval=15,
        )

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        services: Services = request.app.state.services
        return Context(request=request, response=response, services=services,
                       request_id=logs.request_id.get() or uuid.uuid4().hex)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub = await super().get_sub_response(request)
        # GraphQL over HTTP: answer in the newer media type when the client accepts it.
        sub.headers["x-keylink-accept"] = request.headers.get("accept", "")
        return sub

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        accept = sub_response.headers.get("x-keylink-accept", "")
        del sub_response.headers["x-keylink-accept"]
        response = super().create_response(response_data, sub_response)
        if GRAPHQL_RESPONSE in accept or ("application/json" not in accept and "*/*" not in accept
                                          and accept):
            response.headers["content-type"] = GRAPHQL_RESPONSE
            # A request error (nothing executed) is a 400 in this media type.
            if isinstance(response_data, dict) and response_data.get("data") is None \
                    and response_data.get("errors") and not sub_response.status_code:
                response.status_code = 400
        else:
            response.headers["content-type"] = "application/json"
        return response


class RequestIdMiddleware:
    """Gives each HTTP request an id (or takes `X-Request-Id`), logs it, counts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        token = logs.request_id.set(rid)
        route = scope.get("path", "")
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
            db=db, codec=TokenCodec.from_settings(settings), redis=redis, feed=feed
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
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestIdMiddleware)
    return app

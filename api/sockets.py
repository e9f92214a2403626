"""WebSockets on /graphql (graphql-transport-ws): who may hold one, and for how long.

- Any connection, before it is a WebSocket or a request, must send its request head whole
  within REQUEST_HEAD_TIMEOUT_S or is closed (HeadTimeoutProtocol, uvicorn's protocol).

- A socket must sign in with a valid token in `connection_init` within
  KEYLINK_WS_AUTH_TIMEOUT_S: one that sends no `connection_init` in time is closed with
  4408, one whose token is missing or refused with 4403 at once. So no unauthenticated
  socket outlives the timeout.
- A socket whose token expires is closed (4403) once the sign-in timeout has passed
  after its expiry: its subscriptions have ended by then, and it may sign in again.
- One client address holds at most KEYLINK_WS_MAX_PER_ADDRESS open sockets per API
  process; the handshake of one more is refused with 429.
- A client that goes away is the normal end of a socket: its operations' failed sends
  are logged at debug level, not as errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import Any

from graphql import GraphQLError
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected
from websockets.exceptions import ConnectionClosed

log = logging.getLogger("keylink.api.sockets")

# Seconds a connection has to send a request's head (request line and headers) whole.
REQUEST_HEAD_TIMEOUT_S = 10.0

# Close codes of graphql-transport-ws.
FORBIDDEN = 4403
TOO_MANY_REQUESTS = 4429

# What a send to a client that has gone away raises: strawberry's error, raised from
# Starlette's, raised from the server's (uvicorn's, or the websockets library's).
_GONE = (WebSocketDisconnected, WebSocketDisconnect, ClientDisconnected, ConnectionClosed)


def client_gone(error: BaseException) -> bool:
    """Whether ``error`` says the client closed its socket (not merely that some
    connection, a database's say, failed)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, _GONE):
            return True
        seen = seen.__cause__
    return False


async def deny(scope: Scope, receive: Receive, send: Send, response: Response) -> None:
    """Refuse a WebSocket handshake with ``response`` (an HTTP status and body) where the
    server can send one, else with a plain refusal (HTTP 403)."""
    websocket = WebSocket(scope, receive=receive, send=send)
    if "websocket.http.response" in scope.get("extensions", {}):
        await websocket.send_denial_response(response)
    else:  # pragma: no cover - uvicorn supports the denial response
        await websocket.close(code=1008)


class HeadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing a connection whose request head (request line and
    headers) has not come in whole within ``timeout`` seconds of the connection, or of the
    request's first byte on a kept-alive connection.

    uvicorn waits for a request head for ever: a client opening connections and sending
    nothing, or a header a minute, would hold them (and their file descriptors) as long as
    it likes, before the API or its socket cap sees anything."""

    timeout: float = REQUEST_HEAD_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._wait_for_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._wait_for_head()

    def on_headers_complete(self) -> None:
        self._head_done()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_done()
        super().connection_lost(exc)

    def _wait_for_head(self) -> None:
        self._head_timer = self.loop.call_later(self.timeout, self._head_too_slow)

    def _head_done(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class SocketCount:
    """Open sockets per client address, in this process."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: Counter[str] = Counter()

    def enter(self, address: str) -> bool:
        """Count one more socket for ``address``; False (and not counted) over the cap."""
        if self.cap and self._open[address] >= self.cap:
            return False
        self._open[address] += 1
        return True

    def leave(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]


class Expiry:
    """Closes signed-in sockets when their token has expired, ``grace`` seconds late."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def watch(self, socket: WebSocket, expires_at: float) -> None:
        self.forget(socket.scope)
        self._tasks[id(socket.scope)] = asyncio.create_task(
            self._close_at(socket, expires_at + self.grace))

    def forget(self, scope: Scope) -> None:
        task = self._tasks.pop(id(scope), None)
        if task is not None:
            task.cancel()

    @staticmethod
    async def _close_at(socket: WebSocket, when: float) -> None:
        await asyncio.sleep(max(0.0, when - time.time()))
        if socket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(*_GONE, RuntimeError):
                await socket.close(FORBIDDEN, "token expired")


class WebSocketAdapter(ASGIWebSocketAdapter):
    """strawberry's adapter, whose close is a no-op on a socket already closed (a
    refusal may close it before strawberry does)."""

    async def close(self, code: int, reason: str) -> None:
        if WebSocketState.DISCONNECTED in (self.ws.application_state, self.ws.client_state):
            return
        await super().close(code, reason)


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, None]):
    """graphql-transport-ws, with a client's going away logged as what it is, and each
    operation sent over the socket spending its user's operations budget, as over HTTP."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and message["id"] not in self.operations:
            refusal = await self._spend()
            if refusal is not None:
                await self.send_message(
                    {"id": message["id"], "type": "error", "payload": [refusal.formatted]})
                return
        await super().handle_subscribe(message)

    async def _spend(self) -> GraphQLError | None:
        """Spend one unit of the signed-in user's operations budget; the refusal when
        none is left."""
        from api.ratelimit import user_key

        limits = getattr(self.view, "rate_limits", None)
        if limits is None or not limits.enabled("http"):
            return None
        viewer = await self.context.viewer()  # signed in at connection_init
        key = user_key(viewer.organization.code, viewer.subject)
        retry = await limits.check("http", key, self.context.services.redis)
        if retry is None:
            return None
        return GraphQLError(limits.message("http", retry),
                            extensions={"code": "RATE_LIMITED", "retryAfter": retry})

    async def handle_task_exception(self, error: Exception) -> None:
        if client_gone(error):
            log.debug("client closed its socket during an operation",
                      extra={"error": type(error).__name__})
            return
        await super().handle_task_exception(error)

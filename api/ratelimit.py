"""Rate limits: a budget of HTTP operations a minute per token (per client address for a
request without a valid token), and of new WebSockets a minute per address and per token.
A token's budget is its bearer's (organization and subject), whichever token they use.

The budgets are sliding-window counters of the `limits` library, kept in Redis when the
API has it (so that every replica draws on the same budget) and in the process when it
has not. A refusal is a 429 with a GraphQL error coded RATE_LIMITED and `Retry-After`.
Should Redis fail, requests pass: a rate limit is not worth an outage.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from typing import Any, Literal

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import AuthError, bearer
from api.bodies import error_response
from api.sockets import deny
from settings import Settings

log = logging.getLogger("keylink.api.ratelimit")

Budget = Literal["http", "socket"]
# What HTTP paths spend the operations budget: the API itself, not health checks,
# metrics or the live page's static files.
LIMITED_PATHS = ("/graphql", "/evidence/", "/feeds/")
_KEY_PREFIX = "keylink:ratelimit"


def client_address(scope: Scope) -> str:
    """The client's address as the server saw it (behind a proxy, as the proxy told it
    through the headers uvicorn trusts: FORWARDED_ALLOW_IPS), as budgets and socket caps
    count it: an IPv6 address by its /64, which one subscriber is given whole."""
    client = scope.get("client")
    return address_key(str(client[0])) if client else "unknown"


def address_key(host: str) -> str:
    """``host`` as one client: an IPv4 address (mapped into IPv6 or not) as is, an IPv6
    address by the /64 network it is in."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def user_key(org_code: str, subject: str) -> str:
    """The budget of whom a valid token names: a new token does not bring a new one."""
    return f"user:{org_code}/{subject}"


class RateLimits:
    """The API's budgets; ``check`` spends one unit and says how long to wait if none
    is left."""

    def __init__(self, settings: Settings) -> None:
        self._items: dict[Budget, RateLimitItem | None] = {
            "http": _per_minute(settings.rate_limit_per_minute),
            "socket": _per_minute(settings.socket_rate_per_minute),
        }
        self._limiter: SlidingWindowCounterRateLimiter | None = None
        self._storage: Storage | None = None
        self._warned_at = 0.0

    def enabled(self, budget: Budget) -> bool:
        return self._items[budget] is not None

    def _strategy(self, redis: Any) -> SlidingWindowCounterRateLimiter:
        if self._limiter is None:
            if redis is not None:
                self._storage = _SharedRedisStorage(redis)
            else:
                self._storage = MemoryStorage()
            self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        return self._limiter

    async def check(self, budget: Budget, key: str, redis: Any = None) -> int | None:
        """Spend one unit of ``budget`` for ``key``: None when allowed, else the seconds
        to wait before asking again."""
        item = self._items[budget]
        if item is None:
            return None
        limiter = self._strategy(redis)
        try:
            if await limiter.hit(item, budget, key):
                return None
            stats = await limiter.get_window_stats(item, budget, key)
        except StorageError as exc:
            now = time.monotonic()
            if now - self._warned_at > 60:  # once a minute, not once a request
                self._warned_at = now
                log.warning("rate limits not applied: their storage failed",
                            extra={"error": repr(exc.storage_error)})
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    def message(self, budget: Budget, retry_after: int) -> str:
        item = self._items[budget]
        assert item is not None
        what = "operations" if budget == "http" else "new connections"
        return (f"too many requests: at most {item.amount} {what} a minute; retry in "
                f"{retry_after} s")

    def refusal(self, budget: Budget, retry_after: int) -> Response:
        return error_response(
            429, "RATE_LIMITED", self.message(budget, retry_after),
            headers={"retry-after": str(retry_after)}, retryAfter=retry_after)


class _SharedRedisStorage(RedisStorage):
    """The `limits` Redis storage on the API's own client (``domain/redisclient.py``): its
    connections, not a pool of the library's, and one server or a cluster alike. The
    sliding window's two keys share a hash tag, so its scripts keep to one slot."""

    def __init__(self, client: Any) -> None:
        self._client = client
        super().__init__("async+redis://", implementation="redispy", wrap_exceptions=True,
                         key_prefix=_KEY_PREFIX)

    def configure_bridge(self) -> None:
        client = self._client
        bridge: Any = self.bridge
        bridge.storage = client
        bridge.connection_getter = lambda _readonly: client


def _per_minute(amount: int) -> RateLimitItem | None:
    return RateLimitItemPerMinute(amount) if amount > 0 else None


class RateLimitMiddleware:
    """Spends the HTTP budget on API requests and the socket budget on WebSocket
    handshakes, refusing with 429 before anything is read."""

    def __init__(self, app: ASGIApp, *, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        path: str = scope.get("path", "")
        budget: Budget | None = None
        if kind == "http" and path.startswith(LIMITED_PATHS) and scope["method"] != "OPTIONS":
            budget = "http"
        elif kind == "websocket":
            budget = "socket"
        if budget is None or not self.limits.enabled(budget):
            await self.app(scope, receive, send)
            return
        services = _services(scope)
        key = await _http_key(scope, services) if budget == "http" else None
        key = key or "address:" + client_address(scope)
        retry = await self.limits.check(budget, key, getattr(services, "redis", None))
        if retry is None:
            await self.app(scope, receive, send)
            return
        response = self.limits.refusal(budget, retry)
        if kind == "http":
            await response(scope, receive, send)
        else:
            await deny(scope, receive, send, response)


def _services(scope: Scope) -> Any:
    app = scope.get("app")
    return getattr(getattr(app, "state", None), "services", None)


async def _http_key(scope: Scope, services: Any) -> str | None:
    """The budget of a request's token when it verifies; None for the address's."""
    if services is None:
        return None
    headers = dict(scope.get("headers") or [])
    try:
        token = bearer(headers.get(b"authorization", b"").decode("latin-1") or None)
        if token is None:
            return None
        claims = await services.codec.authenticate_request(scope, token)
    except AuthError:
        return None
    return user_key(claims.org_code, claims.subject)

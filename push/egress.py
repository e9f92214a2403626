"""HTTP under the egress policy (``domain.egress``): an httpx transport whose every new
connection resolves the host once, checks every address it resolved to, and connects to
those checked addresses only.

The check sits in the connection layer (httpcore's network backend), not in front of
the request: the URL, the ``Host`` header, TLS's server name and certificate check all
keep the host name, while the socket goes to an address the policy accepted a moment
before. A DNS answer that changes between registration and delivery, or between two
deliveries, is judged afresh on each new connection. Environment proxies are ignored
(a proxy would be the address connected to, and would reach anything) and redirects
are left to the caller (the push worker does not follow them).
"""

from __future__ import annotations

import ssl
import typing

import httpcore
import httpx

from domain.egress import EgressPolicy


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy accepts; ``plain``: for connections that
    will carry no TLS."""

    def __init__(self, policy: EgressPolicy, *, plain: bool) -> None:
        self.policy = policy
        self.plain = plain
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.addresses(host, port, plain=self.plain)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,  # noqa: ASYNC109
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not an egress destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _transport(policy: EgressPolicy, *, plain: bool, limits: httpx.Limits,
               verify: ssl.SSLContext | bool) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(verify=verify, trust_env=False, limits=limits)
    # httpx builds its pool without a way to pass a network backend: the same pool,
    # built again with the guarded one.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(policy, plain=plain))
    return transport


class EgressTransport(httpx.AsyncBaseTransport):
    """Sends ``http`` and ``https`` requests through connections the policy checked;
    a refused destination raises ``domain.egress.EgressRefused`` from the request."""

    def __init__(self, policy: EgressPolicy, *, limits: httpx.Limits | None = None,
                 verify: ssl.SSLContext | bool = True) -> None:
        limits = limits or httpx.Limits()
        self._secure = _transport(policy, plain=False, limits=limits, verify=verify)
        self._plain = _transport(policy, plain=True, limits=limits, verify=verify)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return await self._plain.handle_async_request(request)
        return await self._secure.handle_async_request(request)

    async def aclose(self) -> None:
        await self._secure.aclose()
        await self._plain.aclose()


def client(policy: EgressPolicy, *, timeout: float, limits: httpx.Limits | None = None,
           headers: dict[str, str] | None = None,
           verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """An httpx client that reaches only what ``policy`` allows and follows no
    redirect."""
    return httpx.AsyncClient(
        transport=EgressTransport(policy, limits=limits, verify=verify), timeout=timeout,
        follow_redirects=False, trust_env=False, headers=headers)

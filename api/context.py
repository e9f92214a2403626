"""The per-request context: who is asking, and the loaders built for them."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket

from api.auth import INTEGRATION, MILL_ROLES, AuthError, Claims, TokenCodec, bearer
from api.feed import POLL_SECONDS, EventFeed
from api.livebus import LiveBus
from domain import parties
from domain.actor import Actor
from domain.db import Database
from domain.parties import Organization
from domain.tenancy import Scope
from resolvers.loaders import Loaders
from settings import Settings

# Organizations change rarely; a short cache saves a statement on every request and
# is safe across replicas because a stale entry only lives this long.
_ORG_CACHE_SECONDS = 30.0


class ForbiddenError(Exception):
    code = "FORBIDDEN"


@dataclass(frozen=True)
class Viewer:
    subject: str
    organization: Organization
    roles: frozenset[str]
    expires_at: int
    # The record kinds a plant system's (integration) token may feed.
    feeds: frozenset[str] = frozenset()

    def check_unexpired(self) -> None:
        """Long-lived operations (subscriptions) end when their token does."""
        if time.time() > self.expires_at:
            raise AuthError("token expired")

    @property
    def scope(self) -> Scope:
        if self.organization.kind == "mill":
            return Scope.everything()
        return Scope.customer(self.organization.id)

    @property
    def is_customer(self) -> bool:
        return self.organization.kind == "customer"

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


class OrganizationCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Organization | None]] = {}

    async def get(self, db: Database, code: str) -> Organization | None:
        now = time.monotonic()
        hit = self._entries.get(code)
        if hit is not None and now - hit[0] < _ORG_CACHE_SECONDS:
            return hit[1]
        org = await parties.organization_by_code(db, code)
        self._entries[code] = (now, org)
        return org


@dataclass
class Services:
    """What the app holds for its lifetime and every request shares."""

    db: Database
    codec: TokenCodec
    organizations: OrganizationCache = field(default_factory=OrganizationCache)
    redis: Any = None
    feed: EventFeed | None = None
    # What resolvers read of the configuration (e.g. the hotline's answer time).
    settings: Settings = field(default_factory=Settings)
    _live: LiveBus | None = field(default=None, init=False, repr=False)

    @property
    def live(self) -> LiveBus | None:
        """The process's one Redis pub/sub connection, opened by the first subscriber
        that needs it; None without Redis."""
        if self._live is None and self.redis is not None:
            self._live = LiveBus(self.redis)
        return self._live

    async def wait_for_events(self) -> None:
        if self.feed is None:
            await asyncio.sleep(POLL_SECONDS)
        else:
            await self.feed.wait()


@dataclass
class Context:
    request: Request | WebSocket
    response: Any
    services: Services
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Set by strawberry from the graphql-transport-ws `connection_init` payload.
    connection_params: dict[str, Any] | None = None
    # GraphQL's context: a plant system's token reads nothing here (it writes records
    # through /feeds only), although it belongs to the mill.
    graphql: bool = False
    _viewer: Viewer | None = None
    _actor: Actor | None = None
    _loaders: Loaders | None = None

    @property
    def db(self) -> Database:
        return self.services.db

    def _token(self) -> str | None:
        params = self.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        if isinstance(raw, str):
            return bearer(raw)
        token = params.get("token")
        if isinstance(token, str):
            return token
        return bearer(self.request.headers.get("authorization"))

    async def viewer(self) -> Viewer:
        """The authenticated viewer; raises AuthError (UNAUTHENTICATED) otherwise."""
        if self._viewer is None:
            token = self._token()
            if token is None:
                raise AuthError("authentication required: send `Authorization: Bearer <token>`")
            claims = await self.services.codec.authenticate_request(self.request.scope, token)
            if self.graphql and INTEGRATION in claims.roles:
                raise AuthError("an integration token writes records through /feeds; it "
                                "reads nothing over GraphQL")
            self._viewer = await self._resolve(claims)
            self._loaders = Loaders(self.db, self._viewer.scope, self.services.redis,
                                    await self.actor())
        return self._viewer

    async def actor(self) -> Actor:
        """Who acts in this request, built once from its viewer: the domain's writes
        take it and decide from it what is allowed."""
        if self._actor is None:
            who = await self.viewer()
            self._actor = Actor(who.subject, who.organization.id, who.roles, who.is_customer,
                                feeds=who.feeds)
        return self._actor

    async def _resolve(self, claims: Claims) -> Viewer:
        org = await self.services.organizations.get(self.db, claims.org_code)
        if org is None:
            raise AuthError("invalid token: unknown organization")
        # The role decides the scope: customer for an organization of kind customer,
        # the mill's roles for the mill; anything else (a carrier) gets nothing.
        if claims.is_customer and org.kind != "customer":
            raise AuthError(f"invalid token: role customer is only for an organization of "
                            f"kind customer, and {org.code} is a {org.kind}")
        if not claims.is_customer and (org.kind != "mill" or not claims.roles <= MILL_ROLES):
            raise AuthError(f"invalid token: the mill's roles are only for the mill, and "
                            f"{org.code} is a {org.kind}")
        return Viewer(claims.subject, org, claims.roles, claims.expires_at, claims.feeds)

    @property
    def loaders(self) -> Loaders:
        """Loaders for the viewer; every root field awaits :meth:`viewer` first."""
        if self._loaders is None:
            raise AuthError("authentication required")
        return self._loaders

"""Bearer tokens: issue and verify JWTs.

Claims: ``sub`` (who), the organization's code (``org``), the roles (``roles``, a list)
and ``exp``; a plant system's token (role ``integration``) also lists the record kinds it
may feed (``kinds``). The organization, roles and kinds claims may be renamed, or be
dotted paths into nested claims (``realm_access.roles``), for tokens from an identity
provider.

Keys: HS256 with ``KEYLINK_JWT_SECRET``; or RS256, verified with ``KEYLINK_JWT_PUBLIC_KEY``
and (for ``keylink token`` only) signed with ``KEYLINK_JWT_PRIVATE_KEY``; or the keys an
identity provider publishes at ``KEYLINK_JWT_JWKS_URL``, chosen by the token's ``kid``.
With ``KEYLINK_JWT_ISSUER`` and ``KEYLINK_JWT_AUDIENCE`` set, ``iss`` and ``aud`` must
match (and tokens issued here carry them). Whoever issued it, a token must carry ``exp``
and live at most :data:`MAX_TTL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from domain.feeds.kinds import KINDS
from settings import Settings, SettingsError

log = logging.getLogger("keylink.auth")

CUSTOMER = "customer"
# A plant's own system (ERP, MES, logistics) feeding records: a machine credential of the
# mill's organization, alone in its token, which names the kinds it may write.
INTEGRATION = "integration"
MILL_ROLES = frozenset({"sales", "production", "quality", "logistics", "finance", "admin",
                        INTEGRATION})
ROLES = MILL_ROLES | {CUSTOMER}
# In a token's kinds claim: every kind, those added later too.
ALL_KINDS = "*"

# A token's lifetime is bounded so that a leaked one does not live for ever: on issue,
# and on verification (exp - iat, or exp - now without iat), whoever issued it.
MAX_TTL_SECONDS = 366 * 86400
LEEWAY_SECONDS = 30

# What an identity provider may sign with: asymmetric algorithms only, so that a public
# key can never be used as an HMAC secret.
JWKS_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                   "ES256", "ES384", "ES512", "EdDSA")
# The key set is fetched again in the background once it is this old ...
JWKS_LIFESPAN_SECONDS = 300.0
# ... and at most this often, however many tokens name a key it does not know.
JWKS_MIN_REFRESH_SECONDS = 30.0
JWKS_TIMEOUT_SECONDS = 5.0
# Where a request's verified token and its claims are kept (the ASGI scope's state).
_VERIFIED = "keylink.verified_token"


class AuthError(Exception):
    """The request carries no usable credentials. Maps to ``UNAUTHENTICATED``."""

    code = "UNAUTHENTICATED"


@dataclass(frozen=True)
class Claims:
    subject: str
    org_code: str
    roles: frozenset[str]
    expires_at: int
    # The record kinds an integration token may feed; empty for any other token.
    feeds: frozenset[str] = frozenset()

    @property
    def is_customer(self) -> bool:
        return CUSTOMER in self.roles


def _pem(value: str) -> str:
    if "-----BEGIN" in value:
        return value
    return Path(value).expanduser().read_text(encoding="ascii")


def claim(payload: dict[str, Any], name: str) -> Any:
    """The claim ``name``, or the nested one at a dotted path (``realm_access.roles``).

    A claim whose name itself holds dots (``https://example.com/roles``) is found as is.
    Returns None when there is no such claim.
    """
    if name in payload:
        return payload[name]
    value: Any = payload
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class JwksKeys:
    """An identity provider's signing keys from its JWKS URL, by ``kid``.

    Fetched with PyJWT's :class:`~jwt.PyJWKClient` in a worker thread, never on the event
    loop, one fetch at a time. A set older than ``lifespan`` is refreshed in the background
    while its keys go on serving; a ``kid`` the set does not have makes a fetch at once
    (keys rotate), but fetches start at most every ``min_refresh`` seconds, so tokens with
    made-up ``kid`` values cannot make the provider's endpoint a target. When a fetch fails,
    the last set that was fetched stays in use.
    """

    def __init__(
        self, url: str, *, lifespan: float = JWKS_LIFESPAN_SECONDS,
        min_refresh: float = JWKS_MIN_REFRESH_SECONDS, timeout: float = JWKS_TIMEOUT_SECONDS,
    ) -> None:
        self.url = url
        self.lifespan = lifespan
        self.min_refresh = min_refresh
        # PyJWKClient's own cache is off: this class keeps the keys, so that a lookup
        # that needs no fetch never reaches the client (nor its lock) at all.
        self._client = PyJWKClient(url, cache_jwk_set=False, cache_keys=False,
                                   timeout=timeout)
        self._keys: dict[str, PyJWK] = {}
        self._loaded_at: float | None = None
        self._tried_at: float | None = None
        self._fetch: asyncio.Task[None] | None = None
        self.fetches = 0  # fetches started, for metrics and tests

    async def key(self, kid: str) -> PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            if self._stale() and self._may_fetch():
                self._start_fetch()  # the known key goes on serving meanwhile
            return key
        if self._may_fetch():
            await asyncio.shield(self._start_fetch())
            key = self._keys.get(kid)
        if key is None and self._loaded_at is None:
            raise AuthError("cannot verify the token: the identity provider's signing keys "
                            "could not be fetched")
        if key is None:
            raise AuthError("invalid token: its key (kid) is not among the identity "
                            "provider's signing keys")
        return key

    def _stale(self) -> bool:
        return self._loaded_at is None or time.monotonic() - self._loaded_at >= self.lifespan

    def _may_fetch(self) -> bool:
        if self._fetch is not None and not self._fetch.done():
            return True  # join the fetch under way
        return self._tried_at is None or time.monotonic() - self._tried_at >= self.min_refresh

    def _start_fetch(self) -> asyncio.Task[None]:
        running = self._fetch
        if (running is not None and not running.done()
                and running.get_loop() is asyncio.get_running_loop()):
            return running
        self._tried_at = time.monotonic()
        self.fetches += 1
        self._fetch = asyncio.get_running_loop().create_task(self._load())
        return self._fetch

    async def _load(self) -> None:
        try:
            keys = await asyncio.to_thread(self._client.get_signing_keys, True)
        except Exception as exc:  # down, or no usable keys, or not even JSON: all the same
            log.warning("JWKS fetch failed; keeping the keys fetched before",
                        extra={"url": self.url, "error": str(exc), "kept": len(self._keys)})
            return
        self._keys = {k.key_id: k for k in keys
                      if k.key_id and k.key_type != "oct" and k.algorithm_name in JWKS_ALGORITHMS}
        self._loaded_at = time.monotonic()


class TokenCodec:
    def __init__(
        self, *, algorithm: str | None, verify_key: Any, sign_key: Any | None,
        issuer: str | None = None, audience: str | None = None, org_claim: str = "org",
        roles_claim: str = "roles", kinds_claim: str = "kinds", jwks: JwksKeys | None = None,
    ) -> None:
        self.algorithm = algorithm
        self._verify_key = verify_key
        self._sign_key = sign_key
        self.issuer = issuer
        self.audience = audience
        self.org_claim = org_claim
        self.roles_claim = roles_claim
        self.kinds_claim = kinds_claim
        self.jwks = jwks

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCodec:
        common: dict[str, Any] = {
            "issuer": settings.jwt_issuer, "audience": settings.jwt_audience,
            "org_claim": settings.jwt_org_claim, "roles_claim": settings.jwt_roles_claim,
            "kinds_claim": settings.jwt_kinds_claim,
        }
        if settings.jwt_jwks_url:
            return cls(algorithm=None, verify_key=None, sign_key=None,
                       jwks=JwksKeys(settings.jwt_jwks_url), **common)
        if settings.jwt_public_key:
            private = _pem(settings.jwt_private_key) if settings.jwt_private_key else None
            public = _pem(settings.jwt_public_key)
            return cls(algorithm="RS256", verify_key=public, sign_key=private, **common)
        if settings.jwt_secret:
            secret = settings.jwt_secret
            return cls(algorithm="HS256", verify_key=secret, sign_key=secret, **common)
        raise SettingsError(
            "no token key: set KEYLINK_JWT_SECRET (HS256, 32+ characters), "
            "KEYLINK_JWT_PUBLIC_KEY (RS256) or KEYLINK_JWT_JWKS_URL (an identity provider)"
        )

    def issue(
        self, *, org: str, roles: Iterable[str], subject: str, ttl_seconds: int = 3600,
        kinds: Iterable[str] = (),
    ) -> str:
        """A signed token; ``kinds`` (names of record kinds, or ``*``) only, and always,
        for the integration role."""
        roles = sorted(set(roles))
        unknown = set(roles) - ROLES
        if not roles or unknown:
            raise ValueError(f"roles must be among {sorted(ROLES)}; got {roles}")
        if CUSTOMER in roles and len(roles) > 1:
            raise ValueError("a customer token carries no mill role")
        feeds = _issued_kinds(roles, kinds)
        if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl must be between 1 and {MAX_TTL_SECONDS} seconds")
        if self.jwks is not None:
            raise SettingsError("tokens come from the identity provider at "
                                "KEYLINK_JWT_JWKS_URL; Keylink does not sign any")
        if self._sign_key is None or self.algorithm is None:
            raise SettingsError("RS256 signing needs KEYLINK_JWT_PRIVATE_KEY")
        now = int(time.time())
        payload: dict[str, Any] = {"sub": subject, "iat": now, "exp": now + ttl_seconds}
        _put(payload, self.org_claim, org)
        _put(payload, self.roles_claim, roles)
        if feeds:
            _put(payload, self.kinds_claim, feeds)
        if self.issuer is not None:
            payload["iss"] = self.issuer
        if self.audience is not None:
            payload["aud"] = self.audience
        return jwt.encode(payload, self._sign_key, algorithm=self.algorithm)

    def verify(self, token: str) -> Claims:
        """Verify with the configured key. Tokens of an identity provider (whose keys may
        have to be fetched) go through :meth:`authenticate`."""
        if self.jwks is not None:
            raise RuntimeError("keys from KEYLINK_JWT_JWKS_URL are fetched: use authenticate()")
        assert self.algorithm is not None
        return self._claims(self._decode(token, self._verify_key, [self.algorithm]))

    async def authenticate_request(self, scope: MutableMapping[str, Any], token: str
                                   ) -> Claims:
        """:meth:`authenticate`, once per HTTP request: the claims are kept in the ASGI
        ``scope``'s state, so that the rate limits, which verify the token first, and
        the request's context share one verification. A WebSocket verifies as it signs
        in."""
        if scope.get("type") != "http":
            return await self.authenticate(token)
        state = scope.setdefault("state", {})
        kept = state.get(_VERIFIED)
        if kept is not None and kept[0] == token:
            claims: Claims = kept[1]
            return claims
        claims = await self.authenticate(token)
        state[_VERIFIED] = (token, claims)
        return claims

    async def authenticate(self, token: str) -> Claims:
        """Verify a token, fetching the identity provider's keys when they are needed."""
        if self.jwks is None:
            return self.verify(token)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("invalid token: no key id (kid) in its header")
        if header.get("alg") not in JWKS_ALGORITHMS:
            raise AuthError(f"invalid token: algorithm {header.get('alg')!r} is not accepted")
        key = await self.jwks.key(kid)
        return self._claims(self._decode(token, key, list(JWKS_ALGORITHMS)))

    def _decode(self, token: str, key: Any, algorithms: Sequence[str]) -> dict[str, Any]:
        required = ["sub", "exp"]
        if self.issuer is not None:
            required.append("iss")
        if self.audience is not None:
            required.append("aud")
        try:
            payload: dict[str, Any] = jwt.decode(
                token, key, algorithms=list(algorithms), leeway=LEEWAY_SECONDS,
                issuer=self.issuer, audience=self.audience,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        _check_lifetime(payload)
        return payload

    def _claims(self, payload: dict[str, Any]) -> Claims:
        subject, org = payload["sub"], claim(payload, self.org_claim)
        if not isinstance(subject, str) or not subject:
            raise AuthError("invalid token: `sub` must be a non-empty string")
        if not isinstance(org, str) or not org:
            raise AuthError(f"invalid token: claim `{self.org_claim}` (the organization's "
                            "code) is missing or not a string")
        roles = _roles(claim(payload, self.roles_claim), self.roles_claim)
        feeds = (_kinds(claim(payload, self.kinds_claim), self.kinds_claim)
                 if INTEGRATION in roles else frozenset())
        return Claims(subject, org, roles, int(payload["exp"]), feeds)


def _check_lifetime(payload: dict[str, Any]) -> None:
    exp = payload["exp"]
    # A NumericDate is a JSON number (RFC 7519); PyJWT also takes a string of digits.
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise AuthError("invalid token: `exp` must be a number of seconds since 1970")
    iat = payload.get("iat")
    start = iat if isinstance(iat, int | float) else time.time()
    if exp - start > MAX_TTL_SECONDS:
        raise AuthError(f"invalid token: it lives longer than {MAX_TTL_SECONDS} seconds "
                        "(exp - iat, or exp - now without iat)")


def _roles(value: Any, name: str) -> frozenset[str]:
    """The Keylink roles among the claim's values; others (an identity provider's own,
    such as ``offline_access``) grant nothing and are left out."""
    values = _values(value)
    if values is None:
        raise AuthError(f"invalid token: claim `{name}` (the roles) is missing or not a list")
    roles = frozenset(v for v in values if isinstance(v, str) and v in ROLES)
    if not roles:
        raise AuthError(f"invalid token: claim `{name}` holds none of the roles "
                        + ", ".join(sorted(ROLES)))
    if CUSTOMER in roles and len(roles) > 1:
        raise AuthError("invalid token: a customer token carries no mill role")
    if INTEGRATION in roles and len(roles) > 1:
        raise AuthError("invalid token: an integration token carries no other role")
    return roles


def _values(value: Any) -> list[Any] | None:
    """A claim's values: a list, or a string separated by spaces or commas."""
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, list):
        return value
    return None


def _kinds(value: Any, name: str) -> frozenset[str]:
    """The record kinds an integration token may feed (``*``: all of them). Names that
    are no kind of this release grant nothing and are left out: a token may name a kind
    ahead of the release that brings it, and its records are refused as forbidden until
    then."""
    values = _values(value)
    if values is None:
        raise AuthError(f"invalid token: an integration token lists the record kinds it may "
                        f"feed in claim `{name}`, which is missing or not a list")
    if ALL_KINDS in values:
        return frozenset(KINDS)
    return frozenset(v for v in values if isinstance(v, str) and v in KINDS)


def _issued_kinds(roles: Sequence[str], kinds: Iterable[str]) -> list[str]:
    """The kinds claim of a token to issue: the known kinds an integration token names,
    sorted, or ``["*"]``; no other token names any."""
    wanted = sorted({k.strip() for k in kinds if k.strip()})
    if INTEGRATION not in roles:
        if wanted:
            raise ValueError("only an integration token names record kinds")
        return []
    if len(roles) > 1:
        raise ValueError("an integration token carries no other role")
    if not wanted:
        raise ValueError(f"an integration token names the record kinds it may feed: some of "
                         f"{', '.join(sorted(KINDS))}, or {ALL_KINDS} for all")
    if ALL_KINDS in wanted:
        if len(wanted) > 1:
            raise ValueError(f"{ALL_KINDS} stands for every kind: name it alone")
        return [ALL_KINDS]
    unknown = [k for k in wanted if k not in KINDS]
    if unknown:
        raise ValueError(f"no record kind {', '.join(unknown)}: kinds are "
                         f"{', '.join(sorted(KINDS))}, or {ALL_KINDS} for all")
    return wanted


def _put(payload: dict[str, Any], name: str, value: Any) -> None:
    """Set the claim at a dotted path, making the objects on the way; a namespaced name
    (``https://example.com/roles``) is one claim."""
    if "/" in name:
        payload[name] = value
        return
    *parents, last = name.split(".")
    target = payload
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def bearer(header: str | None) -> str | None:
    """The token in an ``Authorization: Bearer ...`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header must be `Bearer <token>`")
    return token.strip()

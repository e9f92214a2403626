"""Bearer tokens: issue and verify JWTs.

Claims: ``sub`` (who), ``org`` (organization code), ``roles`` (list), ``exp``.
HS256 with ``KEYLINK_JWT_SECRET``; or RS256, verified with ``KEYLINK_JWT_PUBLIC_KEY``
and (for ``keylink token`` only) signed with ``KEYLINK_JWT_PRIVATE_KEY``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from api.settings import Settings, SettingsError

CUSTOMER = "customer"
MILL_ROLES = frozenset({"sales", "production", "quality", "logistics", "finance", "admin"})
ROLES = MILL_ROLES | {CUSTOMER}

# A token's lifetime is bounded so that a leaked one does not live for ever.
MAX_TTL_SECONDS = 366 * 86400
LEEWAY_SECONDS = 30


class AuthError(Exception):
    """The request carries no usable credentials. Maps to ``UNAUTHENTICATED``."""

    code = "UNAUTHENTICATED"


@dataclass(frozen=True)
class Claims:
    subject: str
    org_code: str
    roles: frozenset[str]
    expires_at: int

    @property
    def is_customer(self) -> bool:
        return CUSTOMER in self.roles


def _pem(value: str) -> str:
    if "-----BEGIN" in value:
        return value
    return Path(value).expanduser().read_text(encoding="ascii")


class TokenCodec:
    def __init__(self, *, algorithm: str, verify_key: Any, sign_key: Any | None) -> None:
        self.algorithm = algorithm
        self._verify_key = verify_key
        self._sign_key = sign_key

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenCodec:
        if settings.jwt_public_key:
            private = _pem(settings.jwt_private_key) if settings.jwt_private_key else None
            public = _pem(settings.jwt_public_key)
            return cls(algorithm="RS256", verify_key=public, sign_key=private)
        if settings.jwt_secret:
            secret = settings.jwt_secret
            return cls(algorithm="HS256", verify_key=secret, sign_key=secret)
        raise SettingsError(
            "no token key: set KEYLINK_JWT_SECRET (HS256, 32+ characters) or "
            "KEYLINK_JWT_PUBLIC_KEY (RS256)"
        )

    def issue(
        self, *, org: str, roles: Iterable[str], subject: str, ttl_seconds: int = 3600
    ) -> str:
        roles = sorted(set(roles))
        unknown = set(roles) - ROLES
        if not roles or unknown:
            raise ValueError(f"roles must be among {sorted(ROLES)}; got {roles}")
        if CUSTOMER in roles and len(roles) > 1:
            raise ValueError("a customer token carries no mill role")
        if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl must be between 1 and {MAX_TTL_SECONDS} seconds")
        if self._sign_key is None:
            raise SettingsError("RS256 signing needs KEYLINK_JWT_PRIVATE_KEY")
        now = int(time.time())
        payload = {"sub": subject, "org": org, "roles": roles, "iat": now, "exp": now + ttl_seconds}
        return jwt.encode(payload, self._sign_key, algorithm=self.algorithm)

    def verify(self, token: str) -> Claims:
        try:
            payload = jwt.decode(
                token, self._verify_key, algorithms=[self.algorithm], leeway=LEEWAY_SECONDS,
                options={"require": ["sub", "org", "roles", "exp"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        roles = payload["roles"]
        if not isinstance(roles, list) or not roles or not set(roles) <= ROLES:
            raise AuthError("invalid token: unknown roles")
        if CUSTOMER in roles and len(set(roles)) > 1:
            raise AuthError("invalid token: a customer token carries no mill role")
        if not isinstance(payload["org"], str) or not isinstance(payload["sub"], str):
            raise AuthError("invalid token: malformed claims")
        return Claims(payload["sub"], payload["org"], frozenset(roles), int(payload["exp"]))


def bearer(header: str | None) -> str | None:
    """The token in an ``Authorization: Bearer ...`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header must be `Bearer <token>`")
    return token.strip()

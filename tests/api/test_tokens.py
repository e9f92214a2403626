"""Tokens from an identity provider: keys from a JWKS URL (served here over HTTP on
loopback, with RSA keys made in the test), rotation, a bounded refetch rate, `iss` and
`aud`, configurable (nested) claims, a bounded lifetime, and roles that fit the kind of
the organization."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from api.app import create_app
from api.auth import MAX_TTL_SECONDS, AuthError, JwksKeys, TokenCodec
from api.context import Services
from domain.db import Database
from settings import Settings, SettingsError
from tests.support.api import SECRET
from tests.support.factory import build

ISSUER = "https://idp.example.com/realms/keylink"
AUDIENCE = "keylink-api"
VIEWER = "{ viewer { subject roles isCustomer organization { code kind } } }"


class Jwks:
    """A JWKS endpoint on 127.0.0.1: the keys it publishes can change while it runs."""

    def __init__(self) -> None:
        self.private: dict[str, rsa.RSAPrivateKey] = {}
        self.published: list[str] = []
        self.hits = 0
        # When set, each request waits for `release` (at most 5 s) before answering.
        self.hold = False
        self.release = threading.Event()
        self.held_too_long = False
        self.arrived = threading.Event()
        self.garbage = False  # answer with something that is not a key set
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.hits += 1
                jwks.arrived.set()
                if jwks.hold and not jwks.release.wait(5):
                    jwks.held_too_long = True
                body = json.dumps({"keys": [jwks.jwk(kid) for kid in jwks.published]}).encode()
                if jwks.garbage:
                    body = b"<html>maintenance</html>"
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/realms/keylink/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add_key(self, kid: str, *, publish: bool = True) -> None:
        self.private[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)

    def jwk(self, kid: str) -> dict[str, Any]:
        data: dict[str, Any] = RSAAlgorithm.to_jwk(self.private[kid].public_key(), as_dict=True)
        return {**data, "kid": kid, "use": "sig", "alg": "RS256"}

    def sign(self, kid: str, payload: dict[str, Any]) -> str:
        return jwt.encode(payload, self.private[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def idp() -> Iterator[Jwks]:
    jwks = Jwks()
    jwks.add_key("k1")
    jwks.thread.start()
    try:
        yield jwks
    finally:
        jwks.release.set()
        jwks.server.shutdown()
        jwks.server.server_close()


def keycloak_settings(idp: Jwks, **changes: Any) -> Settings:
    return Settings(jwt_jwks_url=idp.url, jwt_issuer=ISSUER, jwt_audience=AUDIENCE,
                    jwt_org_claim="keylink_org", jwt_roles_claim="realm_access.roles",
                    **changes)


def codec_for(idp: Jwks, *, min_refresh: float = 30.0) -> TokenCodec:
    codec = TokenCodec.from_settings(keycloak_settings(idp))
    codec.jwks = JwksKeys(idp.url, min_refresh=min_refresh)
    return codec


def keycloak_token(idp: Jwks, kid: str = "k1", **changes: Any) -> str:
    """A token shaped as Keycloak issues one, roles nested under `realm_access`."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": "f3a1c2d4", "iat": now, "exp": now + 300,
        "keylink_org": "FAW-VW", "typ": "Bearer", "azp": "keylink-web",
        "realm_access": {"roles": ["offline_access", "uma_authorization", "customer"]},
    }
    payload.update(changes)
    return idp.sign(kid, {k: v for k, v in payload.items() if v is not None})


@pytest.fixture
async def client_for(db: Database) -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    async def make(codec: TokenCodec) -> httpx.AsyncClient:
        services = Services(db=db, codec=codec)
        app = create_app(Settings(jwt_secret=SECRET, environment="development"),
                         services=services)
        app.state.services = services
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="http://keylink.test")
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()


async def viewer(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    r = await client.post("/graphql", json={"query": VIEWER},
                          headers={"authorization": f"Bearer {token}"})
    body: dict[str, Any] = r.json()
    return body


# --- An identity provider's tokens through the API ------------------------------------


async def test_a_keycloak_token_with_nested_roles_is_accepted(
    db: Database, idp: Jwks, client_for: Any
) -> None:
    await build(db)
    client = await client_for(codec_for(idp))

    body = await viewer(client, keycloak_token(idp))

    assert "errors" not in body, body
    assert body["data"]["viewer"] == {
        "subject": "f3a1c2d4", "roles": ["customer"], "isCustomer": True,
        "organization": {"code": "FAW-VW", "kind": "CUSTOMER"}}
    assert idp.hits == 1
    # Later requests use the cached keys.
    for _ in range(3):
        assert "errors" not in await viewer(client, keycloak_token(idp))
    assert idp.hits == 1


async def test_wrong_or_missing_issuer_and_audience_are_refused(idp: Jwks) -> None:
    codec = codec_for(idp)
    assert (await codec.authenticate(keycloak_token(idp))).org_code == "FAW-VW"
    for changes, reason in (
        ({"iss": "https://other.example.com/realms/x"}, "(?i)issuer"),
        ({"iss": None}, "iss"),
        ({"aud": "another-app"}, "(?i)audience"),
        ({"aud": None}, "aud"),
    ):
        with pytest.raises(AuthError, match=reason):
            await codec.authenticate(keycloak_token(idp, **changes))


async def test_roles_must_be_at_the_configured_path(idp: Jwks) -> None:
    codec = codec_for(idp)
    flat = keycloak_token(idp, realm_access=None, roles=["customer"])
    with pytest.raises(AuthError, match=r"realm_access\.roles"):
        await codec.authenticate(flat)
    only_idp_roles = keycloak_token(idp, realm_access={"roles": ["offline_access"]})
    with pytest.raises(AuthError, match="none of the roles"):
        await codec.authenticate(only_idp_roles)
    mixed = keycloak_token(idp, realm_access={"roles": ["customer", "finance"]})
    with pytest.raises(AuthError, match="no mill role"):
        await codec.authenticate(mixed)


async def test_a_rotated_key_is_fetched_when_a_token_names_it(idp: Jwks) -> None:
    codec = codec_for(idp, min_refresh=0.2)
    await codec.authenticate(keycloak_token(idp, "k1"))
    idp.add_key("k2", publish=False)
    with pytest.raises(AuthError, match="kid"):
        await codec.authenticate(keycloak_token(idp, "k2"))
    fetched = idp.hits

    idp.published = ["k2"]  # the provider rotates: k2 in, k1 out
    await asyncio.sleep(0.25)

    claims = await codec.authenticate(keycloak_token(idp, "k2"))
    assert claims.subject == "f3a1c2d4"
    assert idp.hits == fetched + 1
    await asyncio.sleep(0.25)
    with pytest.raises(AuthError, match="kid"):  # the retired key is gone with the refetch
        await codec.authenticate(keycloak_token(idp, "k1"))


async def test_a_flood_of_unknown_kids_fetches_at_most_once(idp: Jwks) -> None:
    codec = codec_for(idp)  # the default: at most one fetch every 30 s
    await codec.authenticate(keycloak_token(idp))
    assert idp.hits == 1
    idp.add_key("k2", publish=False)

    bogus = [idp.sign("k2", {"sub": "x"}) for _ in range(1)] + [
        jwt.encode({"sub": "x"}, idp.private["k1"], algorithm="RS256",
                   headers={"kid": f"made-up-{i}"}) for i in range(200)]
    results = await asyncio.gather(*(codec.authenticate(t) for t in bogus),
                                   return_exceptions=True)

    assert all(isinstance(r, AuthError) for r in results)
    assert idp.hits == 1  # the set was fetched moments ago: no refetch at all
    # A known key still works meanwhile.
    assert (await codec.authenticate(keycloak_token(idp))).org_code == "FAW-VW"


async def test_concurrent_first_requests_share_one_fetch(idp: Jwks) -> None:
    codec = codec_for(idp)
    results = await asyncio.gather(*(codec.authenticate(keycloak_token(idp))
                                     for _ in range(20)))
    assert {c.org_code for c in results} == {"FAW-VW"}
    assert idp.hits == 1


async def test_fetching_the_keys_does_not_block_the_event_loop(idp: Jwks) -> None:
    """The endpoint answers only once this event loop tells it to: were the fetch run on
    the loop, the loop could not tell it, and the endpoint would give up waiting."""
    codec = codec_for(idp)
    idp.hold = True
    pending = asyncio.create_task(codec.authenticate(keycloak_token(idp)))
    while not idp.arrived.is_set():  # noqa: ASYNC110 - the endpoint runs in a thread
        await asyncio.sleep(0.01)
    idp.release.set()  # runs only if the loop is free while the fetch waits

    claims = await asyncio.wait_for(pending, 10)

    assert claims.org_code == "FAW-VW"
    assert not idp.held_too_long


async def test_keys_stay_in_use_while_the_provider_is_unreachable(idp: Jwks) -> None:
    codec = codec_for(idp, min_refresh=0.05)
    assert codec.jwks is not None
    codec.jwks.lifespan = 0.05
    await codec.authenticate(keycloak_token(idp))
    idp.server.shutdown()
    idp.server.server_close()
    await asyncio.sleep(0.1)

    for _ in range(3):  # stale: each starts a background fetch, which fails
        assert (await codec.authenticate(keycloak_token(idp))).org_code == "FAW-VW"
        await asyncio.sleep(0.1)
    assert codec.jwks.fetches > 1


async def test_a_provider_that_sends_no_key_set_gets_nobody_in(idp: Jwks) -> None:
    idp.garbage = True
    codec = codec_for(idp)
    with pytest.raises(AuthError, match="could not be fetched"):
        await codec.authenticate(keycloak_token(idp))


async def test_symmetric_tokens_are_refused_with_a_jwks(idp: Jwks) -> None:
    codec = codec_for(idp)
    forged = jwt.encode({"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "keylink_org": "FAW-VW",
                         "realm_access": {"roles": ["customer"]},
                         "exp": int(time.time()) + 60}, "k" * 32, algorithm="HS256",
                        headers={"kid": "k1"})
    with pytest.raises(AuthError, match="algorithm"):
        await codec.authenticate(forged)
    with pytest.raises(AuthError, match="kid"):
        await codec.authenticate(jwt.encode({"sub": "x"}, idp.private["k1"], algorithm="RS256"))


# --- Lifetime, for every kind of key --------------------------------------------------


async def test_an_over_long_lifetime_is_refused_on_verification(idp: Jwks) -> None:
    now = int(time.time())
    too_long = MAX_TTL_SECONDS + 3600
    codec = codec_for(idp)
    with pytest.raises(AuthError, match="lives longer"):
        await codec.authenticate(keycloak_token(idp, iat=now, exp=now + too_long))
    with pytest.raises(AuthError, match="lives longer"):
        await codec.authenticate(keycloak_token(idp, iat=None, exp=now + too_long))
    # Issued long ago with a long life, valid for a little longer still: refused too.
    with pytest.raises(AuthError, match="lives longer"):
        await codec.authenticate(keycloak_token(idp, iat=now - too_long, exp=now + 60))
    with pytest.raises(AuthError, match="exp"):
        await codec.authenticate(keycloak_token(idp, exp=None))

    hs = TokenCodec.from_settings(Settings(jwt_secret=SECRET))
    own = jwt.encode({"sub": "x", "org": "FAW-VW", "roles": ["customer"], "iat": now,
                      "exp": now + too_long}, SECRET, algorithm="HS256")
    with pytest.raises(AuthError, match="lives longer"):
        hs.verify(own)
    without_exp = jwt.encode({"sub": "x", "org": "FAW-VW", "roles": ["customer"]}, SECRET,
                             algorithm="HS256")
    with pytest.raises(AuthError, match="exp"):
        hs.verify(without_exp)


async def test_times_that_are_not_numbers_are_refused_not_a_crash(
    db: Database, client_for: Any
) -> None:
    await build(db)
    client = await client_for(TokenCodec.from_settings(Settings(jwt_secret=SECRET)))
    now = int(time.time())
    for exp in (str(now + 600), f"{now + 600}.0", True):
        signed = jwt.encode({"sub": "x", "org": "FAW-VW", "roles": ["customer"], "iat": now,
                             "exp": exp}, SECRET, algorithm="HS256")
        body = await viewer(client, signed)
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "UNAUTHENTICATED", (exp, error)
        assert "exp" in error["message"]


# --- Issuing, with iss, aud and the configured claim names ----------------------------


def test_issued_tokens_carry_issuer_audience_and_claim_paths() -> None:
    settings = Settings(jwt_secret=SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE,
                        jwt_roles_claim="realm_access.roles")
    codec = TokenCodec.from_settings(settings)
    token = codec.issue(org="BAOSTEEL", roles=["sales", "admin"], subject="clerk")

    payload = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert payload["iss"] == ISSUER and payload["aud"] == AUDIENCE
    assert payload["realm_access"] == {"roles": ["admin", "sales"]}
    assert codec.verify(token).roles == {"sales", "admin"}
    other = TokenCodec.from_settings(settings.replace(jwt_audience="another-app"))
    with pytest.raises(AuthError, match=r"(?i)audience"):
        other.verify(token)
    # A token with an `aud` is refused where no audience is configured.
    with pytest.raises(AuthError, match=r"(?i)audience"):
        TokenCodec.from_settings(settings.replace(jwt_audience=None)).verify(token)


def test_jwks_settings_are_checked() -> None:
    base = {"KEYLINK_JWT_ISSUER": ISSUER, "KEYLINK_JWT_AUDIENCE": AUDIENCE}
    ok = Settings.from_env({**base, "KEYLINK_JWT_JWKS_URL": "https://idp.example.com/certs"})
    assert ok.jwt_jwks_url == "https://idp.example.com/certs"
    assert Settings.from_env({**base, "KEYLINK_JWT_JWKS_URL": "http://127.0.0.1:8080/certs"})
    for env, match in (
        ({**base, "KEYLINK_JWT_JWKS_URL": "http://idp.example.com/certs"}, "https"),
        ({**base, "KEYLINK_JWT_JWKS_URL": "file:///etc/keys.json"}, "https"),
        ({"KEYLINK_JWT_JWKS_URL": "https://idp.example.com/certs"}, "KEYLINK_JWT_ISSUER"),
        ({**base, "KEYLINK_JWT_JWKS_URL": "https://idp.example.com/certs",
          "KEYLINK_JWT_SECRET": "s" * 40}, "replaces"),
        ({"KEYLINK_JWT_ROLES_CLAIM": "realm_access..roles"}, "KEYLINK_JWT_ROLES_CLAIM"),
    ):
        with pytest.raises(SettingsError, match=match):
            Settings.from_env(env)


# --- Roles that fit the organization --------------------------------------------------


async def test_roles_must_fit_the_kind_of_the_organization(
    db: Database, client_for: Any
) -> None:
    await build(db)
    await db.execute("INSERT INTO organization (code, name, kind) "
                     "VALUES ('SINOTRANS', 'Sinotrans', 'carrier')")
    codec = TokenCodec.from_settings(Settings(jwt_secret=SECRET))
    client = await client_for(codec)

    for org, roles, says in (
        ("SINOTRANS", ["customer"], "SINOTRANS is a carrier"),
        ("BAOSTEEL", ["customer"], "BAOSTEEL is a mill"),
        ("FAW-VW", ["quality"], "FAW-VW is a customer"),
        ("SINOTRANS", ["logistics"], "SINOTRANS is a carrier"),
    ):
        body = await viewer(client, codec.issue(org=org, roles=roles, subject="s"))
        assert body["data"] is None or body["data"]["viewer"] is None, body
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert says in error["message"], error

    mill = await viewer(client, codec.issue(org="BAOSTEEL", roles=["quality"], subject="s"))
    assert mill["data"]["viewer"]["organization"]["kind"] == "MILL"

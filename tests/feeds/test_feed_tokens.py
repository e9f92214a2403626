"""A plant system's token: the integration role, alone, of the mill's organization, with
the kinds it may write in a claim of its own (renamed or nested for an identity
provider, as the others are); `keylink token --kinds` issues one."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from api.auth import AuthError, TokenCodec
from domain.db import Database
from domain.feeds.kinds import KINDS
from settings import Settings, SettingsError
from tests.feeds.support import bearer, feed_api, ndjson, org, seed_parties
from tests.support.api import CODEC, SECRET

CLI_SECRET = "s" * 40


def signed(**claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "erp", "org": "BAOSTEEL", "iat": now, "exp": now + 600,
                       **claims}, SECRET, algorithm="HS256")


def test_an_integration_token_carries_the_kinds_it_names() -> None:
    tok = CODEC.issue(org="BAOSTEEL", roles=["integration"], subject="erp",
                      kinds=["organization"])

    claims = CODEC.verify(tok)

    assert jwt.decode(tok, SECRET, algorithms=["HS256"])["kinds"] == ["organization"]
    assert claims.roles == {"integration"} and claims.feeds == {"organization"}
    assert not claims.is_customer


def test_a_star_stands_for_every_kind() -> None:
    tok = CODEC.issue(org="BAOSTEEL", roles=["integration"], subject="erp", kinds=["*"])

    assert jwt.decode(tok, SECRET, algorithms=["HS256"])["kinds"] == ["*"]
    assert CODEC.verify(tok).feeds == frozenset(KINDS)


@pytest.mark.parametrize(("roles", "kinds", "says"), [
    (["integration"], [], "names the record kinds"),
    (["integration"], ["janitor"], "no record kind janitor"),
    (["integration"], ["*", "organization"], "name it alone"),
    (["integration", "admin"], ["organization"], "no other role"),
    (["admin"], ["organization"], "only an integration token"),
])
def test_tokens_that_do_not_fit_are_not_issued(roles: list[str], kinds: list[str],
                                               says: str) -> None:
    with pytest.raises(ValueError, match=says):
        CODEC.issue(org="BAOSTEEL", roles=roles, subject="erp", kinds=kinds)


def test_verifying_reads_the_kinds_and_ignores_those_it_does_not_know() -> None:
    listed = CODEC.verify(signed(roles=["integration"], kinds="organization, shipment-v9"))
    staff = CODEC.verify(signed(roles=["admin"], kinds=["organization"]))

    assert listed.feeds == {"organization"}
    assert staff.feeds == frozenset()  # only an integration token feeds
    with pytest.raises(AuthError, match="claim `kinds`"):
        CODEC.verify(signed(roles=["integration"]))
    with pytest.raises(AuthError, match="no other role"):
        CODEC.verify(signed(roles=["integration", "sales"], kinds=["organization"]))


def test_the_kinds_claim_may_be_renamed_and_nested() -> None:
    settings = Settings(jwt_secret=SECRET, jwt_kinds_claim="keylink.feeds")
    codec = TokenCodec.from_settings(settings)

    tok = codec.issue(org="BAOSTEEL", roles=["integration"], subject="erp",
                      kinds=["organization"])

    assert jwt.decode(tok, SECRET, algorithms=["HS256"])["keylink"] == {
        "feeds": ["organization"]}
    assert codec.verify(tok).feeds == {"organization"}
    with pytest.raises(SettingsError, match="KEYLINK_JWT_KINDS_CLAIM"):
        Settings.from_env({"KEYLINK_JWT_KINDS_CLAIM": "keylink..feeds"})


async def test_an_integration_token_belongs_to_the_mill(db: Database) -> None:
    await seed_parties(db)
    customers = signed(org="FAW-VW", roles=["integration"], kinds=["organization"])

    async with feed_api(db) as feed:
        r = await feed.post(ndjson([org("ACME")]), customers)
        viewer = await feed.client.post(
            "/graphql", json={"query": "{ viewer { roles organization { code } } }"},
            headers=bearer(signed(roles=["integration"], kinds=["organization"])))

    assert r.status_code == 401
    assert "only for the mill" in r.json()["errors"][0]["message"]
    # It writes records; over GraphQL it reads nothing, not even the mill's data.
    refused = viewer.json()["errors"][0]
    assert refused["extensions"]["code"] == "UNAUTHENTICATED"
    assert "reads nothing over GraphQL" in refused["message"]

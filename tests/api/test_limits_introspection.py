"""In production, reading the schema (`__schema`, `__type`) takes a valid token;
development keeps it open for GraphiQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from graphql import get_introspection_query

from api.app import create_app
from api.context import Services
from domain.db import Database
from settings import Settings
from tests.support.api import CODEC, SECRET, Api, token
from tests.support.factory import build

PRODUCTION = Settings(jwt_secret=SECRET, environment="production")

READING_THE_SCHEMA = {
    "schema": "{ __schema { queryType { name } } }",
    "type": '{ __type(name: "Coil") { name } }',
    "in a fragment": "{ ...S } fragment S on Query { __schema { types { name } } }",
    "in an inline fragment": "{ ... on Query { __type(name: \"Query\") { name } } }",
    "beside a field": "{ __typename __schema { queryType { name } } }",
    "graphiql": get_introspection_query(descriptions=True),
}


@pytest.fixture
async def production_api(db: Database) -> AsyncIterator[Api]:
    services = Services(db=db, codec=CODEC)
    app = create_app(PRODUCTION, services=services)
    app.state.services = services
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://keylink.test") as client:
        yield Api(client, db)


@pytest.mark.parametrize("document", READING_THE_SCHEMA.values(), ids=READING_THE_SCHEMA.keys())
async def test_introspection_without_a_valid_token_is_refused_in_production(
    production_api: Api, document: str
) -> None:
    await build(production_api.db)
    expired = jwt.encode({"sub": "x", "org": "FAW-VW", "roles": ["customer"], "exp": 1000},
                         SECRET, algorithm="HS256")
    for bearer in (None, "not-a-jwt", expired, token("NO-SUCH-ORG")):
        body = await production_api.query(document, as_=bearer)
        assert body["data"] is None, body
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
        assert "introspection" in body["errors"][0]["message"]


@pytest.mark.parametrize("document", READING_THE_SCHEMA.values(), ids=READING_THE_SCHEMA.keys())
async def test_introspection_with_a_token_works_in_production(
    production_api: Api, document: str
) -> None:
    await build(production_api.db)
    for bearer in (token("FAW-VW"), token("BAOSTEEL", "sales")):
        body = await production_api.query(document, as_=bearer)
        assert "errors" not in body and body["data"], body


async def test_typename_is_not_introspection(production_api: Api) -> None:
    body = await production_api.query("{ __typename }")
    assert body == {"data": {"__typename": "Query"}}


async def test_development_keeps_introspection_open(api: Api) -> None:
    body = await api.query(READING_THE_SCHEMA["schema"])
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}



async def test_production_errors_do_not_suggest_field_names(
    production_api: Api, api: Api
) -> None:
    document = "{ contrac { id } }"
    body = await production_api.query(document)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "contracts" not in body["errors"][0]["message"], body
    assert "Did you mean" in (await api.query(document))["errors"][0]["message"]

"""Each kind's JSON Schema: the files shipped in the package are what the code declares,
and the API serves the same, a valid schema that records are checked against."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import jsonschema_rs
import pytest

from domain.db import Database
from domain.feeds.kinds import KINDS
from domain.feeds.schema_files import SCHEMA_DIR, file_name, render, write
from tests.feeds.support import Feed, bearer, feed_api, integration_token, org, seed_parties
from tests.support.api import SETTINGS, token


def test_the_shipped_schema_files_match_the_kinds() -> None:
    stale = "domain/feeds/schemas is stale: run `python -m domain.feeds.schema_files`"
    shipped = {p.name for p in SCHEMA_DIR.glob("*.schema.json")}
    assert shipped == {file_name(k) for k in KINDS.values()}, stale
    for kind in KINDS.values():
        assert (SCHEMA_DIR / file_name(kind)).read_text(encoding="utf-8") == render(kind), stale


def test_writing_the_files_removes_those_of_kinds_that_are_gone(tmp_path: Path) -> None:
    folder = tmp_path
    (folder / "retired-kind.schema.json").write_text("{}")

    written = write(folder)

    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)
    assert len(written) == len(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_schema_is_a_valid_json_schema(kind: str) -> None:
    schema = json.loads(render(KINDS[kind]))
    assert jsonschema_rs.meta.is_valid(schema)


@pytest.fixture
async def feed(db: Database) -> AsyncIterator[Feed]:
    await seed_parties(db)
    async with feed_api(db) as f:
        yield f


async def test_the_api_lists_the_kinds_and_serves_each_schema(feed: Feed) -> None:
    listed = await feed.client.get("/feeds/schemas")
    assert listed.status_code == 200
    kinds = {k["kind"]: k for k in listed.json()["kinds"]}
    assert set(kinds) == set(KINDS)
    link = kinds["organization"]["schema"]
    assert link == "/feeds/schemas/organization.schema.json"

    r = await feed.client.get(link)

    assert r.status_code == 200
    assert r.headers["content-type"] == "application/schema+json"
    assert r.text == (SCHEMA_DIR / "organization.schema.json").read_text(encoding="utf-8")
    schema = r.json()
    assert schema["$id"] == kinds["organization"]["id"]
    validator = jsonschema_rs.validator_for(schema)
    assert validator.is_valid(org("ACME", 3))
    assert validator.is_valid({"kind": "organization", "key": "ACME",
                               "version": "2026-03-01T08:00:00+08:00", "retire": True})
    for wrong in (org("ACME") | {"data": {"name": "Acme", "kind": "supplier"}},
                  org("ACME") | {"retire": True},
                  org("ACME") | {"colour": "blue"},
                  {"kind": "organization", "key": "ACME", "data": {"name": "Acme",
                                                                   "kind": "customer"}}):
        assert not validator.is_valid(wrong), wrong
    cached = await feed.client.get(link, headers={"if-none-match": r.headers["etag"]})
    assert cached.status_code == 304


async def test_a_record_the_schema_refuses_is_refused_by_the_feed(feed: Feed) -> None:
    schema = (await feed.client.get("/feeds/schemas/organization.schema.json")).json()
    record = org("ACME") | {"data": {"name": "", "kind": "customer"}}
    assert not jsonschema_rs.validator_for(schema).is_valid(record)

    r = await feed.client.post("/feeds/records", content=json.dumps(record).encode(),
                               headers={"content-type": "application/x-ndjson",
                                        **bearer(integration_token())})

    assert r.status_code == 422
    assert r.json()["rejections"][0]["field"] == "data.name"


async def test_an_unknown_kind_has_no_schema(feed: Feed) -> None:
    r = await feed.client.get("/feeds/schemas/janitor.schema.json")

    assert r.status_code == 404
    assert "/feeds/schemas" in r.json()["errors"][0]["message"]


async def test_in_production_the_schemas_take_a_token(db: Database) -> None:
    await seed_parties(db)
    async with feed_api(db, SETTINGS.replace(environment="production")) as feed:
        anonymous = await feed.client.get("/feeds/schemas/organization.schema.json")
        listed = await feed.client.get("/feeds/schemas")
        signed_in = await feed.client.get("/feeds/schemas/organization.schema.json",
                                          headers=bearer(token("BAOSTEEL", "admin")))

    assert anonymous.status_code == listed.status_code == 401
    assert signed_in.status_code == 200

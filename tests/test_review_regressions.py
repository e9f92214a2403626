"""Holes found in review, each with the test that would have caught it."""

from __future__ import annotations

import asyncio

import jwt

from domain import events
from domain.db import Database
from resolvers.relay import encode_cursor, to_global_id
from tests.support.api import SECRET, Api, token
from tests.support.factory import build

RECORD = """mutation($input: RecordProgressInput!) { recordProgress(input: $input) {
    errors { field code } } }"""


async def test_customer_token_carrying_mill_roles_is_refused(api: Api) -> None:
    w = await build(api.db)
    forged = jwt.encode({"sub": "x", "org": "FAW-VW", "roles": ["customer", "quality"],
                         "exp": 4102444800}, SECRET, algorithm="HS256")
    q = """mutation($id: ID!) { issueCertificate(input: {coilId: $id, yieldStrengthMpa: "1",
           tensileStrengthMpa: "2", elongationPct: "3"}) { errors { code } } }"""
    body = await api.query(q, {"id": to_global_id("Coil", w.coils["GALANZ"][1])}, as_=forged)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await api.db.fetchval("SELECT count(*) FROM quality_certificate") == 2


async def test_bad_values_are_typed_errors_not_internal_ones(api: Api) -> None:
    w = await build(api.db)
    mill = token("BAOSTEEL", "production")
    line = to_global_id("ContractLine", w.line["FAW-VW"])
    for bad, field in ((
            {"occurredAt": "2026-01-01T08:00:00"}, "occurredAt"),
            ({"tonnes": "NaN"}, "tonnes"), ({"tonnes": "Infinity"}, "tonnes"),
            ({"tonnes": "1e20"}, "tonnes")):
        data = await api.data(RECORD, {"input": {"lineId": line, "stage": "CASTING",
                                                 "tonnes": "1", **bad}}, as_=mill)
        assert data["recordProgress"]["errors"] == [{"field": field, "code": "INVALID"}], bad
    assert await api.db.fetchval("SELECT count(*) FROM progress_event") == 2


async def test_foreign_or_malformed_cursors_and_ids_are_bad_input(api: Api) -> None:
    await build(api.db)
    faw = token("FAW-VW")
    huge = to_global_id("Contract", 2**70)
    asks = [
        ('query($c: String) { contracts(after: $c) { nodes { number } } }',
         {"c": encode_cursor(["x", "y"])}),
        ('query($c: String) { contracts(orderBy: {field: SIGNED_ON}, after: $c)'
         ' { nodes { number } } }', {"c": encode_cursor(["not-a-date", 1])}),
        ('query($c: String) { settlements(after: $c) { nodes { number } } }',
         {"c": encode_cursor(["abc"])}),
        ('query($id: ID) { contract(id: $id) { number } }', {"id": huge}),
    ]
    for q, variables in asks:
        body = await api.query(q, variables, as_=faw)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (q, body)
    nodes = await api.data('query($ids: [ID!]!) { nodes(ids: $ids) { id } }',
                           {"ids": [huge, "garbage"]}, as_=faw)
    assert nodes["nodes"] == [None, None]


async def test_http_status_follows_graphql_over_http(api: Api) -> None:
    accept = {"accept": "application/graphql-response+json"}
    r = await api.client.get("/graphql", params={
        "query": 'mutation { confirmContract(input: {contractId: "x"}) { errors { code } } }'})
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"

    executed = await api.client.post("/graphql", json={"query": "{ viewer { subject } }"},
                                     headers=accept)
    assert executed.status_code == 200
    assert executed.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    refused = await api.client.post("/graphql", json={"query": "{ nope }"}, headers=accept)
    assert refused.status_code == 400 and "data" not in refused.json()

    prefers_json = await api.client.post(
        "/graphql", json={"query": "{ nope }"},
        headers={"accept": "application/graphql-response+json;q=0.5, application/json"})
    assert prefers_json.headers["content-type"].startswith("application/json")

    bad_json = await api.client.post("/graphql", content=b"{not json",
                                     headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    assert bad_json.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_metrics_do_not_grow_with_unknown_paths(api: Api) -> None:
    await api.client.get("/no-such-path-xyz")
    assert "no-such-path-xyz" not in (await api.client.get("/metrics")).text


async def test_certificate_follows_the_coil_owner_not_a_copy(api: Api) -> None:
    w = await build(api.db)
    coil = w.coils["FAW-VW"][0]
    await api.db.execute(
        "UPDATE coil SET customer_org_id = $2, line_id = $3 WHERE id = $1",
        coil, w.org["GALANZ"], w.line["GALANZ"])
    q = "query($id: ID!) { node(id: $id) { ... on QualityCertificate { certNo } } }"
    cert = {"id": to_global_id("QualityCertificate", w.certificate["FAW-VW"])}
    assert (await api.data(q, cert, as_=token("FAW-VW")))["node"] is None
    assert (await api.data(q, cert, as_=token("GALANZ")))["node"] == {"certNo": "QC-FAW-VW"}


async def test_outbox_sequence_order_is_commit_order(db: Database) -> None:
    w = await build(db)
    first_inserted = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> None:
        async with db.transaction() as tx:
            await events.append(tx, "test.slow", org_id=w.org["FAW-VW"],
                                aggregate_type="t", aggregate_id=1, payload={}, actor=None)
            first_inserted.set()
            await release.wait()

    async def fast() -> None:
        await first_inserted.wait()
        async with db.transaction() as tx:
            await events.append(tx, "test.fast", org_id=w.org["FAW-VW"],
                                aggregate_type="t", aggregate_id=2, payload={}, actor=None)

    slow_task, fast_task = asyncio.create_task(slow()), asyncio.create_task(fast())
    await first_inserted.wait()
    await asyncio.sleep(0.3)
    # The fast writer waits for the slow one's commit, so a reader cannot see it first.
    assert [e.event_type for e in await events.read_after(db, 0)] == []
    release.set()
    await asyncio.gather(slow_task, fast_task)
    assert [e.event_type for e in await events.read_after(db, 0)] == ["test.slow", "test.fast"]

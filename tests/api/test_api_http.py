"""The HTTP surface: auth, media types, GET, health, metrics, limits."""

from __future__ import annotations

import jwt
import pytest

from tests.support.api import SECRET, Api, token
from tests.support.factory import build

VIEWER = "{ viewer { subject roles isCustomer organization { code kind } } }"


async def test_no_token_bad_signature_and_expired_are_unauthenticated(api: Api) -> None:
    await build(api.db)
    forged = jwt.encode({"sub": "x", "org": "FAW-VW", "roles": ["customer"], "exp": 4102444800},
                        "another-secret-another-secret-xx", algorithm="HS256")
    expired = jwt.encode({"sub": "x", "org": "FAW-VW", "roles": ["customer"], "exp": 1000},
                         SECRET, algorithm="HS256")
    for bearer in (None, forged, expired, "not-a-jwt"):
        body = await api.query(VIEWER, as_=bearer)
        assert body["data"] is None or body["data"]["viewer"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body


async def test_viewer_names_the_token_bearer(api: Api) -> None:
    await build(api.db)
    data = await api.data(VIEWER, as_=token("FAW-VW", subject="buyer.li"))
    assert data["viewer"] == {"subject": "buyer.li", "roles": ["customer"], "isCustomer": True,
                              "organization": {"code": "FAW-VW", "kind": "CUSTOMER"}}


async def test_customer_token_for_mill_org_is_refused(api: Api) -> None:
    await build(api.db)
    body = await api.query(VIEWER, as_=token("BAOSTEEL", "customer"))
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphql_response_media_type_and_request_errors(api: Api) -> None:
    r = await api.client.post("/graphql", json={"query": "{ __typename }"},
                              headers={"accept": "application/graphql-response+json"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/graphql-response+json")
    assert r.json() == {"data": {"__typename": "Query"}}

    r = await api.client.post("/graphql", json={"query": "{ nope }"},
                              headers={"accept": "application/graphql-response+json"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"

    r = await api.client.post("/graphql", json={"query": "{ nope }"},
                              headers={"accept": "application/json"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")

    r = await api.client.post("/graphql", json={"query": "{ "})
    assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_get_runs_queries_but_not_mutations(api: Api) -> None:
    r = await api.client.get("/graphql", params={"query": "{ __typename }"})
    assert r.status_code == 200 and r.json()["data"] == {"__typename": "Query"}
    r = await api.client.get(
        "/graphql", params={"query": 'mutation { confirmContract(input: {contractId: "x"})'
                                     " { errors { code } } }"})
    assert r.status_code in (400, 405)


async def test_health_readiness_and_metrics(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    await api.client.post("/graphql", json={"query": "{ __typename }"})
    text = (await api.client.get("/metrics")).text
    assert 'keylink_http_requests_total{method="POST",route="/graphql",status="200"}' in text


async def test_request_id_is_echoed(api: Api) -> None:
    r = await api.client.post("/graphql", json={"query": "{ __typename }"},
                              headers={"x-request-id": "abc123"})
    assert r.headers["x-request-id"] == "abc123"


@pytest.mark.parametrize(("query", "code"), [
    ("{ " + "viewer { organization { " * 1 + "code } } }", None),
    ("{ contracts { nodes { " + "lines { contract { " * 6 + "number" + " } }" * 6 + " } } }",
     "QUERY_TOO_DEEP"),
    ("{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }", "TOO_MANY_ALIASES"),
    ("{ " + " ".join("__typename" for _ in range(5000)) + " }", "TOO_MANY_TOKENS"),
    ("{ contracts(first: 100) { nodes { lines { coils(first: 100) { nodes { heat {"
     " coils(first: 100) { nodes { coilNo } } } } } } } } }", "QUERY_TOO_COSTLY"),
])
async def test_limits_refuse_with_a_code(api: Api, query: str, code: str | None) -> None:
    await build(api.db)
    body = await api.query(query, as_=token("FAW-VW"))
    if code is None:
        assert "errors" not in body
    else:
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == code, body


async def test_unexpected_errors_are_masked_with_request_id(api: Api) -> None:
    await build(api.db)
    await api.db.execute("ALTER TABLE contract RENAME COLUMN incoterm TO incoterm_gone")
    # The read planner's statement fails too, and leaves the field to the resolvers.
    r = await api.client.post(
        "/graphql", json={"query": "{ contracts { nodes { number incoterm } } }"},
        headers={"authorization": f"Bearer {token('FAW-VW')}", "x-request-id": "req-42"})
    error = r.json()["errors"][0]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}
    assert "incoterm" not in r.text


async def test_introspection_counts_toward_aliases_and_cost(api: Api) -> None:
    aliased = "{ " + " ".join(f"t{i}: __schema {{ types {{ name }} }}" for i in range(31)) + " }"
    body = await api.query(aliased)
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"
    fan = ("{ a: __schema { ...S } b: __schema { ...S } c: __schema { ...S } }"
           " fragment S on __Schema { types { fields { args { type { fields { args {"
           " name } } } } } } }")
    body = await api.query(fan)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_graphiql_introspection_fits_the_budget(api: Api) -> None:
    from graphql import get_introspection_query

    body = await api.query(get_introspection_query(descriptions=True))
    assert "errors" not in body and body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_deeply_nested_fragments_are_refused_not_skipped(api: Api) -> None:
    inner = "contracts(first: 100) { nodes { lines { coils(first: 100) { nodes { coilNo } } } } }"
    query = "{ " + "... on Query { " * 70 + inner + " }" * 70 + " }"
    body = await api.query(query, as_=token("FAW-VW"))
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"


async def test_variable_defaults_are_costed_as_they_will_run(api: Api) -> None:
    query = """query($n: Int = 100) { contracts(first: $n) { nodes { lines {
        coils(first: $n) { nodes { heat { coils(first: $n) { nodes { coilNo } } } } } } } } }"""
    body = await api.query(query, as_=token("FAW-VW"))
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_nodes_cost_by_the_number_of_ids(api: Api) -> None:
    ids = ", ".join(f'"{i}"' for i in range(100))
    # 100 ids x 100 coils x 10 fields: past the budget only if the ids are counted.
    query = ("{ nodes(ids: [" + ids + "]) { ... on Heat { coils(first: 100) { nodes {"
             " coilNo kind weightKg thicknessMm widthMm heat { heatNo grade } } } } } }")
    body = await api.query(query, as_=token("FAW-VW"))
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_track_points_are_costed_like_a_page(api: Api) -> None:
    query = """{ shipments(first: 100) { nodes { a: track(maxPoints: 5000) { latitude }
                 b: track(maxPoints: 5000) { latitude } } } }"""
    body = await api.query(query, as_=token("FAW-VW"))
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_a_subscription_over_http_is_told_to_use_a_websocket(
        api: Api, caplog: pytest.LogCaptureFixture) -> None:
    await build(api.db)
    sub = 'subscription { shipmentPositions(shipmentId: "U2hpcG1lbnQ6MQ==") { shipmentIds } }'
    auth = {"authorization": f"Bearer {token('BAOSTEEL', 'logistics')}"}
    with caplog.at_level("ERROR"):
        r = await api.client.post("/graphql", json={"query": sub}, headers=auth)
        body = r.json()
        assert body.get("data") is None, body
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST", error
        assert "WebSocket" in error["message"] and "graphql-transport-ws" in error["message"]
        r = await api.client.get("/graphql", params={"query": sub}, headers={
            **auth, "accept": "application/graphql-response+json"})
        assert r.status_code == 400
        assert r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # Not an unexpected error: nothing is logged as one.
    assert not [rec for rec in caplog.records if rec.levelname == "ERROR"]


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

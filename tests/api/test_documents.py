"""The request path: documents parsed and validated once by their hash, the limits still
checked on every request, Apollo's automatic persisted queries over POST and GET, and
answers written with exact decimals."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from api.documents import Bounded, DocumentCache
from tests.support.api import Api, token
from tests.support.factory import build

FAW = token("FAW-VW", subject="buyer.faw")
CONTRACTS = "{ contracts(first: 5) { nodes { number lines { lineNo quantityT unitPrice } } } }"
PAGED = """query Paged($n: Int!) { contracts(first: $n) { nodes { number
  lines { coils(first: 100) { nodes { coilNo } } } } } }"""


def _documents(api: Api) -> DocumentCache:
    app: Any = api.client._transport.app  # type: ignore[attr-defined]
    graphql = next(r.endpoint for r in app.routes if getattr(r, "path", "") == "/graphql")
    cache: DocumentCache = graphql.schema.documents
    return cache


def _hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


async def _post(api: Api, body: dict[str, Any], **headers: str) -> Any:
    r = await api.client.post("/graphql", json=body,
                              headers={"authorization": f"Bearer {FAW}", **headers})
    return r


async def test_a_document_is_validated_once_and_its_limits_checked_every_time(api: Api) -> None:
    await build(api.db)
    cache = _documents(api)
    first = await api.data(CONTRACTS, as_=FAW)
    known = cache.get(CONTRACTS)
    assert known is not None and known.valid
    assert await api.data(CONTRACTS, as_=FAW) == first
    assert cache.get(CONTRACTS) is known

    # Cost follows the variables: the same valid document is refused when they ask more.
    assert "errors" not in await api.query(PAGED, {"n": 2}, as_=FAW)
    assert cache.get(PAGED) is not None and cache.get(PAGED).valid  # type: ignore[union-attr]
    refused = await api.query(PAGED, {"n": 100}, as_=FAW)
    assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "errors" not in await api.query(PAGED, {"n": 3}, as_=FAW)


async def test_an_invalid_document_reports_its_errors_each_time(api: Api) -> None:
    cache = _documents(api)
    for _ in range(2):
        body = await api.query("{ contracts { nope } }", as_=FAW)
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "nope" in body["errors"][0]["message"]
    known = cache.get("{ contracts { nope } }")
    assert known is not None and not known.valid


def test_the_caches_are_bounded_in_entries_and_bytes() -> None:
    lru: Bounded[str] = Bounded(max_entries=3, max_bytes=10)
    for key in "abc":
        lru.put(key, key, 3)
    assert lru.get("a") == "a"  # now the most recent
    lru.put("d", "d", 3)
    assert lru.get("b") is None and len(lru) == 3 and lru.bytes == 9
    lru.put("e", "e", 5)  # 14 bytes: the oldest go until it fits
    assert lru.bytes <= 10 and lru.get("e") == "e"
    lru.put("huge", "x", 11)
    assert lru.get("huge") is None


async def test_persisted_queries_as_apollo_sends_them(api: Api) -> None:
    await build(api.db)
    digest = _hash(CONTRACTS)
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}

    unknown = (await _post(api, {"extensions": persisted})).json()
    assert unknown == {"data": None, "errors": [{
        "message": "PersistedQueryNotFound",
        "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
    # The media type of GraphQL over HTTP makes it a request error.
    r = await _post(api, {"extensions": persisted},
                    accept="application/graphql-response+json")
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    full = (await _post(api, {"query": CONTRACTS, "extensions": persisted})).json()
    assert "errors" not in full and full["data"]["contracts"]["nodes"]
    again = (await _post(api, {"extensions": persisted})).json()
    assert again == full
    # Apollo sends hashed queries over GET, the extensions as JSON in the URL.
    r = await api.client.get("/graphql", params={"extensions": json.dumps(persisted)},
                             headers={"authorization": f"Bearer {FAW}",
                                      "accept": "application/json"})
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json() == full

    wrong = {"persistedQuery": {"version": 1, "sha256Hash": _hash("{ viewer { subject } }")}}
    mismatch = (await _post(api, {"query": CONTRACTS, "extensions": wrong})).json()
    assert mismatch["data"] is None
    assert mismatch["errors"][0]["message"] == "provided sha does not match query"
    assert mismatch["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    bad = (await _post(api, {"query": CONTRACTS,
                             "extensions": {"persistedQuery": {"version": 2}}})).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_answers_keep_exact_decimals(api: Api) -> None:
    await build(api.db)
    r = await _post(api, {"query": CONTRACTS})
    assert r.headers["content-type"].startswith("application/json")
    line = r.json()["data"]["contracts"]["nodes"][0]["lines"][0]
    rows = await api.db.fetch("SELECT quantity_t::text AS q, unit_price::text AS p"
                              " FROM contract_line WHERE line_no = $1", line["lineNo"])
    assert (line["quantityT"], line["unitPrice"]) in {(x["q"], x["p"]) for x in rows}

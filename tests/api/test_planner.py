"""The read planner answers exactly as the resolvers do: the same queries through both
paths (`KEYLINK_READ_PLANNER` on and off) give equal answers, errors and nulls
included; planned root fields cost one statement."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from typing import Any

import pytest
from graphql import (
    GraphQLError,
    GraphQLObjectType,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    parse,
    print_ast,
    validate,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.schema.schema_converter import GraphQLCoreConverter

from api.planner import PLANNED
from api.schema import build_schema
from bench.baseline import DISPUTE, SHIPMENTS
from bench.baseline import QUERY as BENCH_QUERY
from domain.db import Database, count_statements
from settings import PROJECT_ROOT, Settings
from tests.api import test_readme_examples as readme
from tests.support.api import MILL_ROLES, Api, _client, token

FAW = token("FAW-VW", subject="buyer.faw")
GALANZ = token("GALANZ", subject="buyer.galanz")
MILL = token("BAOSTEEL", *MILL_ROLES, subject="sales.zhang")

PAGE = """query Page($first: Int!, $after: String, $coils: Int!) {
  contracts(first: $first, after: $after) {
    __typename
    edges { cursor node { id number status currency incoterm signedOn confirmedAt
      salesOwner createdAt updatedAt customer { id code name kind } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { ...Lines }
  } }
fragment Lines on Contract { lines { id lineNo quantityT unitPrice amount transportMode
  transitDays firmness status shippedT deliveryWindow { start end }
  deliverySite { code name kind latitude longitude timeZone owner { code } }
  spec { id code grade standard product thicknessMm widthMm coating customerPartNumber
         coilNominalWeightT }
  progress { currentStage stagesDone stageCount shareDone plannedFinish predictedFinish
    predictedDelivery lateDays isLate stages { stage plannedStart plannedEnd plannedTonnes
    actualStart actualEnd actualTonnes completed delayDays } }
  coils(first: $coils) { pageInfo { hasNextPage endCursor startCursor }
    edges { cursor node { id coilNo kind thicknessMm widthMm weightKg qualityStatus
      producedAt heat { heatNo grade tappedAt weightT } contractLine { lineNo }
      certificate { id certNo certificateType yieldStrengthMpa tensileStrengthMpa
        elongationPct coatingDesignation coatingMassGM2 issuedAt issuedBy contentHash
        limitsRevision } } } } } }"""


@pytest.fixture
async def both(seeded_db: Database) -> AsyncIterator[tuple[Api, Api]]:
    async for planned in _client(seeded_db):
        async for resolved in _client(seeded_db, Settings(read_planner="off")):
            yield planned, resolved


async def same(both: tuple[Api, Api], query: str, variables: dict[str, Any] | None = None,
               *, as_: str = FAW) -> tuple[dict[str, Any], list[str]]:
    planned, resolved = both
    with count_statements() as seen:
        answer = await planned.query(query, variables, as_=as_)
    expected = await resolved.query(query, variables, as_=as_)
    assert answer == expected
    # The viewer's organization is cached for a while: not the answer's statement.
    return answer, [s for s in seen if "FROM organization WHERE code = $1" not in s]


async def test_the_benchmark_page_is_one_statement(both: tuple[Api, Api]) -> None:
    answer, seen = await same(both, BENCH_QUERY)
    assert answer["data"]["contracts"]["nodes"], answer
    assert len(seen) == 1, seen


async def test_the_benchmarks_shipments_and_dispute_answer_alike(
        both: tuple[Api, Api], seeded_db: Database) -> None:
    for who in (FAW, GALANZ, MILL):
        answer, seen = await same(both, SHIPMENTS, as_=who)
        assert "errors" not in answer and len(seen) == 1
    assert any(s["latestPosition"] and s["legs"]
               for s in answer["data"]["shipments"]["nodes"]), answer
    number = await seeded_db.fetchval("SELECT number FROM quality_dispute ORDER BY id LIMIT 1")
    for who in (FAW, GALANZ, MILL):
        answer, seen = await same(both, DISPUTE, {"n": number}, as_=who)
        assert "errors" not in answer and len(seen) == 1
    assert answer["data"]["dispute"]["suspects"]["nodes"], answer
    paged = """query($n: String!, $after: String) { dispute(number: $n) {
      timeline(first: 2, after: $after) { edges { cursor node { action actor occurredAt
        actorOrganization { code } } } pageInfo { hasNextPage endCursor } }
      suspects(first: 3, after: $after) { edges { cursor node { whereNow sameParent
        coil { id coilNo } site { code } vehicle { code } line { lineNo } } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
      coils { coilNo } customer { code } foundSite { code } } }"""
    after = None
    for _ in range(3):
        answer, seen = await same(both, paged, {"n": number, "after": after}, as_=MILL)
        assert "errors" not in answer and len(seen) == 1
        after = answer["data"]["dispute"]["suspects"]["pageInfo"]["endCursor"]


SHIPMENT_PAGE = """query($first: Int!, $after: String, $flt: ShipmentFilter) {
  shipments(first: $first, after: $after, filter: $flt) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id number status createdAt updatedAt eta delayed
      currentLeg { seq status eta etaConfidence promisedBy }
      latestPosition { fixTime latitude longitude speedKmh heading accuracyM }
      legs { seq mode status plannedDeparture plannedArrival actualDeparture actualArrival
             eta etaConfidence delayed promisedBy shipment { number }
             origin { code kind owner { code } } destination { id code name }
             vehicle { id code kind name plate mmsi imo reportedDestination reportedEta
                       voyageHeardAt } } } } } }"""


@pytest.mark.parametrize("who", [FAW, GALANZ, MILL])
async def test_pages_through_shipments_alike(both: tuple[Api, Api], who: str) -> None:
    after = None
    for flt in (None, {"mode": ["WATER"]}, {"delayedOnly": True}, {"status": ["IN_TRANSIT"]}):
        answer, seen = await same(both, SHIPMENT_PAGE, {"first": 5, "after": None,
                                                        "flt": flt}, as_=who)
        assert "errors" not in answer and len(seen) == 1
    for _ in range(3):
        answer, seen = await same(both, SHIPMENT_PAGE, {"first": 4, "after": after},
                                  as_=who)
        assert "errors" not in answer and len(seen) == 1
        info = answer["data"]["shipments"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]


@pytest.mark.parametrize("who", [FAW, GALANZ, MILL])
async def test_pages_through_contracts_alike(both: tuple[Api, Api], who: str) -> None:
    after = None
    for _ in range(3):
        answer, seen = await same(both, PAGE, {"first": 7, "after": after, "coils": 3},
                                  as_=who)
        assert "errors" not in answer and len(seen) == 1
        info = answer["data"]["contracts"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]


async def test_empty_pages_errors_and_nulls_alike(both: tuple[Api, Api]) -> None:
    await same(both, PAGE, {"first": 0, "after": None, "coils": 0})
    refused, _ = await same(both, "{ contracts(first: 101) { nodes { number } } }")
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    bad, _ = await same(both, PAGE, {"first": 2, "after": "bm9wZQ==", "coils": 1})
    assert bad["errors"]
    anonymous = await both[0].query(PAGE, {"first": 2, "after": None, "coils": 1})
    assert anonymous == await both[1].query(PAGE, {"first": 2, "after": None, "coils": 1})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    one = """query($n: String) { contract(number: $n) { number lines { lineNo } } }"""
    missing, _ = await same(both, one, {"n": "NOPE"})
    assert missing == {"data": {"contract": None}}
    mine = (await both[1].data("{ contracts(first: 1) { nodes { number } } }", as_=FAW))
    number = mine["contracts"]["nodes"][0]["number"]
    theirs, _ = await same(both, one, {"n": number}, as_=GALANZ)
    assert theirs == {"data": {"contract": None}}
    found, seen = await same(both, one, {"n": number})
    assert found["data"]["contract"]["number"] == number and len(seen) == 1


async def test_a_field_without_a_form_leaves_its_root_to_the_resolvers(
        both: tuple[Api, Api]) -> None:
    query = """{ contracts(first: 3) { nodes { number lines { lineNo
      urgeTickets { number } } } } viewer { subject } }"""
    answer, seen = await same(both, query)
    assert "errors" not in answer and len(seen) > 1


async def test_node_is_planned_for_planned_types(both: tuple[Api, Api]) -> None:
    ids = await both[0].data("{ contracts(first: 1) { nodes { id lines { id spec { id } "
                             "coils(first: 1) { nodes { id certificate { id } } } } } } }",
                             as_=FAW)
    contract = ids["contracts"]["nodes"][0]
    line = contract["lines"][0]
    query = """query($id: ID!) { node(id: $id) { __typename id ... on Contract { number }
      ...Line ... on Coil { coilNo } ... on Settlement { number } } }
      fragment Line on ContractLine { lineNo spec { grade } }"""
    for gid in (contract["id"], line["id"], line["spec"]["id"]):
        for who in (FAW, GALANZ, MILL):
            answer, seen = await same(both, query, {"id": gid}, as_=who)
            assert "errors" not in answer and len(seen) == 1
    unknown, _ = await same(both, query, {"id": "not an id"})
    assert unknown == {"data": {"node": None}}


# Selections drawn over the planned types, compared on both paths.

SCHEMA = build_schema()._schema


def _fields(type_: GraphQLObjectType) -> list[str]:
    planned = PLANNED[type_.name]
    names = ["__typename"]
    if planned.table and any(i.name == "Node" for i in type_.interfaces):
        names.append("id")
    for name, f in type_.fields.items():
        definition = f.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        target = get_named_type(f.type)
        if definition is None or definition.python_name not in planned.fields:
            continue
        if isinstance(target, GraphQLObjectType) and target.name not in PLANNED \
                and not target.name.endswith("Connection"):
            continue
        names.append(name)
    return names


def _selection(data: st.DataObject, type_: GraphQLObjectType, depth: int) -> str:
    names = _fields(type_)
    leaves = [n for n in names if n == "__typename" or not isinstance(
        get_named_type(type_.fields[n].type), GraphQLObjectType)]
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=5, unique=True))
    chosen.append(data.draw(st.sampled_from(leaves)))  # never an empty selection
    parts = []
    for name in dict.fromkeys(chosen):
        key = data.draw(st.sampled_from([name, f"a_{name}: {name}"]))
        if name == "__typename":
            parts.append(key)
            continue
        target = get_named_type(type_.fields[name].type)
        if not isinstance(target, GraphQLObjectType):
            parts.append(key)
        elif depth >= 4:
            continue
        elif target.name.endswith("Connection"):
            first = data.draw(st.integers(min_value=0, max_value=3))
            parts.append(f"{key}(first: {first}) {{ {_page(data, target, depth)} }}")
        else:
            parts.append(f"{key} {{ {_selection(data, target, depth + 1)} }}")
    return " ".join(parts)


def _page(data: st.DataObject, connection: GraphQLObjectType, depth: int) -> str:
    node = get_named_type(connection.fields["nodes"].type)
    assert isinstance(node, GraphQLObjectType)
    parts = []
    if data.draw(st.booleans()):
        parts.append(f"nodes {{ {_selection(data, node, depth + 1)} }}")
    if data.draw(st.booleans()):
        parts.append(f"edges {{ cursor node {{ {_selection(data, node, depth + 1)} }} }}")
    info = data.draw(st.lists(st.sampled_from(
        ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"]), unique=True))
    if info or not parts:
        parts.append(f"pageInfo {{ {' '.join(info) or 'hasNextPage'} }}")
    return " ".join(parts)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_drawn_selections_answer_alike(both: tuple[Api, Api], data: st.DataObject) -> None:
    who = data.draw(st.sampled_from([FAW, GALANZ, MILL]))
    root = data.draw(st.sampled_from(["contracts", "shipments"]))
    first = data.draw(st.integers(min_value=0, max_value=4))
    connection = get_named_type(SCHEMA.query_type.fields[root].type)  # type: ignore[union-attr]
    assert isinstance(connection, GraphQLObjectType)
    query = f"{{ {root}(first: {first}) {{ {_page(data, connection, 0)} }} }}"
    answer, seen = await same(both, query, as_=who)
    assert "errors" not in answer, (query, answer)
    assert len(seen) == 1, query


def _suite_queries() -> list[str]:
    """Every query document without variables written in the tests of contracts,
    shipments, disputes, quality, settlements and the API itself, and every README
    example: what both paths must answer alike."""
    found = [print_ast(op) for op in readme.operations()
             if op.operation is OperationType.QUERY and not op.variable_definitions]
    for area in ("contracts", "shipments", "disputes", "api", "quality", "settlements"):
        for path in sorted((PROJECT_ROOT / "tests" / area).glob("test_*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                    continue
                text = node.value.strip()
                if not text.startswith(("{", "query")):
                    continue
                try:
                    document = parse(text)
                except GraphQLError:
                    continue
                ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
                if len(ops) == 1 and ops[0].operation is OperationType.QUERY \
                        and not ops[0].variable_definitions \
                        and not validate(SCHEMA, document):
                    found.append(text)
    return list(dict.fromkeys(found))


SUITE = _suite_queries()


async def test_every_query_of_the_suite_and_the_readme_answers_alike(
        both: tuple[Api, Api]) -> None:
    assert len(SUITE) > 20
    planned = 0
    for query in SUITE:
        for who in (FAW, MILL):
            _, seen = await same(both, query, as_=who)
            planned += len(seen) == 1
    assert planned >= 5, "the planner answered hardly any of them"

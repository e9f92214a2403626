"""Limits that bound the work of checking a document: fragments spread under fragments
are costed once, and repeated copies of one field are refused before graphql-core's
merge check spends long on them, while the server keeps answering."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    parse,
    validate,
)
from graphql.language import Visitor, visit
from graphql.validation import specified_rules
from graphql.validation.rules import overlapping_fields_can_be_merged as overlap
from hypothesis import given, settings
from hypothesis import strategies as st

from api.context import Services
from api.limits import Limits, Walker, bounded_overlap_rule, check
from api.schema import build_schema
from domain.db import Database
from settings import Settings, SettingsError
from tests.support.api import CODEC, Api, graphql_ws, token

SCHEMA = build_schema()._schema
LIMITS = Limits(max_depth=12, max_aliases=30, max_tokens=4000, max_cost=100000)


def fan_out(levels: int, leaf: str = "__typename") -> str:
    """Each fragment spreads the next twice: 2^levels copies of ``leaf`` once expanded."""
    parts = ["query { ...F0 }"]
    parts += [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    parts.append(f"fragment F{levels} on Query {{ {leaf} }}")
    return "\n".join(parts)


def selections(document: str) -> int:
    """How many selections (fields, fragment spreads, inline fragments) a document has."""
    count = 0

    class Counter(Visitor):
        def enter(self, node: object, *_: object) -> None:
            nonlocal count
            if isinstance(node, FieldNode | FragmentSpreadNode | InlineFragmentNode):
                count += 1

    visit(parse(document), Counter())
    return count


def walk(document: str) -> tuple[Walker, list[str]]:
    doc = parse(document)
    op = doc.definitions[0]
    walker = Walker(SCHEMA, doc, {})
    _, errors = check(LIMITS, walker, op)  # type: ignore[arg-type]
    return walker, [e.extensions["code"] for e in errors if e.extensions]


@pytest.mark.parametrize("levels", [4, 10, 16, 22, 40])
def test_the_walk_visits_each_selection_once_however_fragments_fan_out(levels: int) -> None:
    leaf = "contracts(first: 3) { nodes { number } }"
    walker, codes = walk(fan_out(levels, leaf))
    # 2^levels expansions, but each selection is looked at once.
    assert walker.visits <= selections(fan_out(levels, leaf))
    tally = walker.walk(parse(fan_out(levels, leaf)).definitions[0])  # type: ignore[arg-type]
    # Each copy costs the page (3), its nodes (3) and their numbers (3), as if expanded.
    assert tally.cost == 2**levels * 9 and tally.depth == 3
    assert codes == (["QUERY_TOO_COSTLY"] if 2**levels * 9 > LIMITS.max_cost else [])


def test_fragment_costs_scale_with_where_they_are_spread() -> None:
    # One fragment spread at the root and under a page of 50: the second counts 50 times.
    doc = ("{ contract(number: \"x\") { ...L } contracts(first: 50) { nodes { ...L } } }"
           " fragment L on Contract { a: number lines { lineNo } }")
    walker, codes = walk(doc)
    tally = walker.walk(parse(doc).definitions[0])  # type: ignore[arg-type]
    per_contract = 1 + 10 + 10  # number, ten lines, their numbers
    assert tally.cost == (1 + per_contract) + 50 + 50 * (1 + per_contract)
    assert tally.aliases == 2 and tally.depth == 4 and codes == []


def test_aliases_in_a_fanned_out_fragment_count_at_every_spread() -> None:
    _, codes = walk(fan_out(5, "a: __typename"))
    assert codes == ["TOO_MANY_ALIASES"]  # 32 aliases once expanded


def test_fragment_chains_past_the_guard_are_refused_without_recursing() -> None:
    chain = ["query { ...F0 }"]
    chain += [f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(300)]
    chain.append("fragment F300 on Query { __typename }")
    walker, codes = walk("\n".join(chain))
    assert codes == ["QUERY_TOO_DEEP"] and walker.visits <= 70


def test_a_fragment_reused_deeper_is_held_to_the_guard() -> None:
    # F is costed first near the root, then spread again under 60 inline fragments: the
    # guard counts where it is spread, not where it was first costed.
    deep = "... on Query { " * 60 + "...F" + " }" * 60
    doc = ("{ ...F " + deep + " } fragment F on Query { ... on Query { ... on Query {"
           " ... on Query { ... on Query { __typename } } } } }")
    assert walk(doc)[1] == ["QUERY_TOO_DEEP"]


def test_fragment_cycles_end_the_walk() -> None:
    doc = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }"
    walker, codes = walk(doc)
    assert codes == [] and walker.visits <= selections(doc)


@pytest.fixture
def comparisons() -> Iterator[list[int]]:
    """Counts graphql-core's comparisons of two fields while the test runs."""
    calls = [0]
    original = overlap.find_conflict

    def counted(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    overlap.find_conflict = counted  # type: ignore[assignment]
    try:
        yield calls
    finally:
        overlap.find_conflict = original


REPEATED = {
    "same field": "{ " + " ".join("viewer { subject }" for _ in range(900)) + " }",
    "same leaf": "{ " + " ".join("__typename" for _ in range(3500)) + " }",
    "in inline fragments": "{ " + " ".join("... on Query { viewer { subject } }"
                                           for _ in range(420)) + " }",
    "nested copies": "{ viewer { " + " ".join(
        "organization { " + "code " * 40 + "}" for _ in range(60)) + " } }",
    "differing arguments": "{ " + " ".join(f'contract(number: "{i}") {{ id }}'
                                           for i in range(400)) + " }",
}


@pytest.mark.parametrize("document", REPEATED.values(), ids=REPEATED.keys())
def test_repeated_copies_stop_the_merge_check_at_its_budget(
    document: str, comparisons: list[int]
) -> None:
    rules = [bounded_overlap_rule(LIMITS.max_field_comparisons) if r is
             overlap.OverlappingFieldsCanBeMergedRule else r for r in specified_rules]
    errors = validate(SCHEMA, parse(document, max_tokens=4000), rules)
    assert [e.extensions for e in errors] == [{"code": "TOO_MANY_OVERLAPPING_FIELDS"}]
    # Each comparison made is charged (some are nested in others), so it stops there;
    # unbounded, these documents make 100,000s.
    assert comparisons[0] <= LIMITS.max_field_comparisons + 1


def test_the_merge_check_still_runs_for_ordinary_documents(comparisons: list[int]) -> None:
    rules = [bounded_overlap_rule(LIMITS.max_field_comparisons) if r is
             overlap.OverlappingFieldsCanBeMergedRule else r for r in specified_rules]
    errors = validate(SCHEMA, parse("{ viewer { a: subject a: roles } }"), rules)
    assert "conflict" in errors[0].message and comparisons[0] >= 1


async def test_fan_out_and_repeated_fields_are_refused_over_http(api: Api) -> None:
    body = await api.query(fan_out(22))  # no token needed to be refused
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY", body
    for document in REPEATED.values():
        r = await api.client.post("/graphql", json={"query": document},
                                  headers={"accept": "application/graphql-response+json"})
        assert r.status_code == 400
        assert r.json()["errors"][0]["extensions"]["code"] == "TOO_MANY_OVERLAPPING_FIELDS"
    aliased = "{ " + " ".join("a: viewer { subject }" for _ in range(500)) + " }"
    body = await api.query(aliased)
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"


async def test_healthz_answers_while_fan_out_queries_arrive(db: Database) -> None:
    attacks = [fan_out(22), fan_out(24, "viewer { subject }"), *REPEATED.values()]
    async with graphql_ws(Services(db=db, codec=CODEC)) as ws_url:
        base = ws_url.replace("ws://", "http://").removesuffix("/graphql")
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            async def attack(document: str) -> str:
                r = await client.post("/graphql", json={"query": document})
                return str(r.json()["errors"][0]["extensions"]["code"])

            async def health() -> float:
                started = time.perf_counter()
                r = await client.get("/healthz")
                assert r.json() == {"status": "ok"}
                return time.perf_counter() - started

            async def probe() -> list[float]:
                waits = []
                for _ in range(10):
                    waits.append(await health())
                    await asyncio.sleep(0.02)
                return waits

            results = await asyncio.gather(probe(), *(attack(d) for d in attacks))
    waits, codes = results[0], results[1:]
    assert set(codes) == {"QUERY_TOO_COSTLY", "TOO_MANY_OVERLAPPING_FIELDS"}
    # One fan-out query used to hold the process for about ten seconds.
    assert max(waits) < 5.0, waits


async def test_a_token_does_not_lift_the_fan_out_limit(api: Api) -> None:
    body = await api.query(fan_out(22, "viewer { subject }"), as_=token("FAW-VW"))
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


def expanded(document: str) -> tuple[int, int, int]:
    """(depth, aliases, cost) found by expanding every spread, the way the walk did
    before fragments were memoised: the reference the memoised walk must agree with."""
    doc = parse(document)
    fragments = {d.name.value: d for d in doc.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    walker = Walker(SCHEMA, doc, {})
    depth = aliases = cost = 0

    def fields(selection_set: SelectionSetNode, parent: Any) -> Iterator[tuple[FieldNode, Any]]:
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                yield sel, parent
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                yield from fields(sel.selection_set,
                                  SCHEMA.get_type(cond.name.value) if cond else parent)
            elif isinstance(sel, FragmentSpreadNode):
                frag = fragments[sel.name.value]
                yield from fields(frag.selection_set,
                                  SCHEMA.get_type(frag.type_condition.name.value))

    def level(selection_set: SelectionSetNode, parent: Any, at: int, multiplier: int,
              introspecting: bool) -> None:
        nonlocal depth, aliases, cost
        if not introspecting:
            depth = max(depth, at)
        for node, owner in fields(selection_set, parent):
            aliases += node.alias is not None
            field_def = walker._field(owner, node.name.value)
            if owner.name.endswith("Connection") and node.name.value in ("edges", "nodes"):
                here = multiplier
            else:
                here = multiplier * walker._size(node, field_def)
            cost += here
            if node.selection_set is not None and field_def is not None:
                level(node.selection_set, get_named_type(field_def.type), at + 1, here,
                      introspecting or node.name.value.startswith("__"))

    op = doc.definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    level(op.selection_set, SCHEMA.query_type, 1, 1, False)
    return depth, aliases, cost


# Pieces of fragments: on Query, on Contract, and spreads of later fragments.
QUERY_PIECES = ["__typename", "v: viewer { subject }", "contracts(first: 3) { nodes { ...C } }",
                "contract(number: \"x\") { ...C lines { lineNo } }",
                "... on Query { __typename }", "__schema { types { name } }"]
CONTRACT_PIECES = ["number", "n: number", "lines { lineNo quantityT }",
                   "customer { code }", "... on Contract { status }"]


@st.composite
def fragment_graphs(draw: st.DrawFn) -> str:
    """A query over fragments Q0..Qn on Query (each spreading later ones, some twice)
    and C on Contract: acyclic, valid, with every kind of selection."""
    n = draw(st.integers(1, 6))
    parts = ["query { ...Q0 }"]
    for i in range(n):
        body = draw(st.lists(st.sampled_from(QUERY_PIECES), min_size=1, max_size=3))
        later = range(i + 1, n)
        spreads = draw(st.lists(st.sampled_from(later), max_size=3)) if later else []
        parts.append(f"fragment Q{i} on Query {{ {' '.join(body)} "
                     + " ".join(f"...Q{j}" for j in spreads) + " }")
    contract = draw(st.lists(st.sampled_from(CONTRACT_PIECES), min_size=1, max_size=3))
    parts.append(f"fragment C on Contract {{ {' '.join(contract)} }}")
    return "\n".join(parts)


@given(fragment_graphs())
@settings(max_examples=150, deadline=None)
def test_the_memoised_walk_agrees_with_expanding_every_spread(document: str) -> None:
    errors = validate(SCHEMA, parse(document))
    assert all("is never used" in e.message for e in errors), errors
    doc = parse(document)
    op = doc.definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    walker = Walker(SCHEMA, doc, {})
    tally = walker.walk(op)
    assert (tally.depth, tally.aliases, tally.cost) == expanded(document)
    assert walker.visits <= 2 * selections(document)


async def test_only_the_operation_that_runs_is_costed(api: Api) -> None:
    document = "query Small { __typename } " + fan_out(22).replace("query {", "query Big {")
    r = await api.client.post("/graphql", json={"query": document, "operationName": "Small"})
    assert r.json() == {"data": {"__typename": "Query"}}
    r = await api.client.post("/graphql", json={"query": document, "operationName": "Big"})
    assert r.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_the_comparison_budget_is_a_setting() -> None:
    document = "{ " + " ".join("__typename" for _ in range(10)) + " }"  # 45 pairs
    tight = await build_schema(Settings(max_field_comparisons=40)).execute(document)
    assert tight.errors and tight.errors[0].extensions == {
        "code": "TOO_MANY_OVERLAPPING_FIELDS"}
    default = await build_schema(Settings()).execute(document)
    assert default.errors is None and default.data == {"__typename": "Query"}
    with pytest.raises(SettingsError, match="KEYLINK_MAX_FIELD_COMPARISONS"):
        Settings.from_env({"KEYLINK_MAX_FIELD_COMPARISONS": "0"})

"""The compiled projection answers subscription events exactly as the executor does."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import strawberry
from graphql import parse

from api import projection
from api.projection import ProjectingExecutionContext, compile_subscription
from domain.db import Database
from settings import Settings
from tests.support.api import Api, _client


@strawberry.enum
class Mode(enum.Enum):
    ROAD = "road"
    WATER = "water"


@strawberry.type
class Fix:
    at: dt.datetime
    lat: float
    speed: float | None
    tags: list[str]


@strawberry.type
class Update:
    fix: Fix
    mode: Mode
    ids: list[strawberry.ID]
    note: str | None
    secret: strawberry.Private[int]

    @strawberry.field
    def doubled(self) -> int:
        return self.secret * 2


EVENTS = [
    Update(fix=Fix(at=dt.datetime(2026, 11, 25, 4, 0, tzinfo=dt.UTC), lat=31.2, speed=None,
                   tags=["a", "b"]), mode=Mode.WATER, ids=[strawberry.ID("U2hpcDox")],
           note=None, secret=21),
    Update(fix=Fix(at=dt.datetime(2026, 11, 25, 4, 1, tzinfo=dt.UTC), lat=-3.5, speed=12.5,
                   tags=[]), mode=Mode.ROAD, ids=[], note="late", secret=1),
    # `lat` is non-null in the schema: the executor must answer this one, with its error.
    Update(fix=Fix(at=dt.datetime(2026, 11, 25, 4, 2, tzinfo=dt.UTC), lat=None,  # type: ignore[arg-type]
                   speed=1.0, tags=["c"]), mode=Mode.ROAD, ids=[], note=None, secret=0),
]


@strawberry.type
class Query:
    ping: str = "pong"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def updates(self) -> AsyncGenerator[Update, None]:
        for event in EVENTS:
            yield event


def _schema(projecting: bool) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, subscription=Subscription,
        execution_context_class=ProjectingExecutionContext if projecting else None)


async def _answers(schema: strawberry.Schema, query: str) -> list[tuple[Any, Any]]:
    stream = await schema.subscribe(query)
    out = []
    async for result in stream:  # type: ignore[union-attr]
        out.append((result.data, [e.message for e in result.errors or []]))
    return out


QUERIES = [
    "subscription { updates { fix { at lat speed tags } mode ids note } }",
    "subscription { u: updates { __typename fix { l: lat, lat } ...F } }"
    " fragment F on Update { mode fix { at } }",
    "subscription { updates { ... on Update { note } ... { ids } } }",
    # Not compiled (a resolver, a directive): the executor answers; nothing differs.
    "subscription { updates { doubled fix { lat } } }",
    "subscription { updates { note @include(if: false) mode } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_the_projection_answers_as_the_executor_does(query: str) -> None:
    expected = await _answers(_schema(False), query)
    assert await _answers(_schema(True), query) == expected
    if "lat" in query:
        assert expected[2][1], "the third event must fail the non-null check"
    assert all(data is not None for data, _ in expected[:2])


@pytest.mark.parametrize(("query", "compiled"), [(q, i < 3) for i, q in enumerate(QUERIES)])
def test_what_compiles(query: str, compiled: bool) -> None:
    schema = _schema(True)
    executor = ProjectingExecutionContext.build(schema._schema, parse(query))
    assert (compile_subscription(executor) is not None) is compiled


async def test_compiled_events_skip_the_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Of the three events, only the incomplete one reaches the general executor."""
    calls = []
    general = projection.StrawberryGraphQLCoreExecutionContext.execute_operation

    def counting(self: Any, serially: bool | None = None) -> Any:
        calls.append(self.root_value)
        return general(self, serially)

    monkeypatch.setattr(projection.StrawberryGraphQLCoreExecutionContext, "execute_operation",
                        counting)
    answers = await _answers(_schema(True), QUERIES[0])
    assert len(answers) == 3
    assert calls == [EVENTS[2]]


def test_the_live_position_stream_compiles() -> None:
    """What a map subscribes to takes the fast path on the real schema."""
    from api.schema import build_schema

    schema = build_schema()
    query = """subscription($id: ID!) { shipmentPositions(shipmentId: $id) {
        position { fixTime latitude longitude speedKmh heading } shipmentIds } }"""
    executor = ProjectingExecutionContext.build(
        schema._schema, parse(query), raw_variable_values={"id": "x"})
    assert compile_subscription(executor) is not None


QUERY_PAGES = [
    # The contracts page of the benchmark: lines, specs, progress, coils, certificates.
    """{ contracts(first: 20) { nodes { number status lines { lineNo quantityT
        spec { grade thicknessMm widthMm coating }
        progress { currentStage shareDone predictedFinish isLate lateDays
                   stages { stage plannedEnd actualEnd completed } }
        coils(first: 10) { nodes { coilNo weightKg kind qualityStatus
                   certificate { certNo contentHash yieldStrengthMpa } } } } } } }""",
    # Aliases, fragments, __typename, nested lists of plain objects.
    """query { c: contracts(first: 5) { nodes { ...C } } }
       fragment C on Contract { __typename number lines { n: lineNo ...L } }
       fragment L on ContractLine { progress { stages { __typename stage s: stage } } }""",
    """{ contracts(first: 3) { nodes { lines { coils(first: 2) { nodes { trace {
         heat { heatNo grade weightT chemistry { element massPercent } }
         certificate { certNo } inspections { kind result inspectedAt } } } } } } } }""",
]


@pytest.fixture
async def demo_api(seeded_db: Database) -> AsyncGenerator[Api, None]:
    """The demo API with every field answered by its resolver: what the projection
    speeds up (the read planner answers whole root fields before it)."""
    async for a in _client(seeded_db, Settings(read_planner="off")):
        yield a


@pytest.mark.parametrize("query", QUERY_PAGES)
async def test_queries_answer_the_same_with_and_without_the_projection(
    demo_api: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, query: str,
) -> None:
    compiled: list[Any] = []
    compile_object = projection._compile_object

    def counting(*args: Any) -> Any:
        found = compile_object(*args)
        compiled.append(found)
        return found

    monkeypatch.setattr(projection, "_compile_object", counting)
    for who in ("faw", "mill"):
        fast = await demo_api.query(query, as_=tokens[who])
        with monkeypatch.context() as m:
            m.setattr(projection, "_compile_selection", lambda *_: None)
            m.setattr(projection, "_compile_field", lambda *_: None)
            general = await demo_api.query(query, as_=tokens[who])
        assert "errors" not in general, general
        assert fast == general
    assert any(f is not None for f in compiled), "no selection of this query compiled"

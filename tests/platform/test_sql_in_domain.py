"""SQL lives in domain/: resolvers call domain functions and hold no statement. The
statements moved there keep what they did."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from domain import events
from domain.actor import Actor
from domain.db import Database
from domain.errors import NotFound
from domain.planning import imports, inputs
from tests.support.factory import build

RESOLVERS = Path(__file__).resolve().parents[2] / "resolvers"
VERBS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ")


def test_resolvers_hold_no_sql_statement() -> None:
    found = []
    for path in sorted(RESOLVERS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value.lstrip().startswith(VERBS):
                found.append(f"{path.relative_to(RESOLVERS)}:{node.lineno}")
    assert found == []


async def test_the_latest_event_sequence_is_zero_before_the_first(db: Database) -> None:
    assert await events.last_seq(db) == 0
    async with db.transaction() as tx:
        seq = await events.append(tx, "test.happened", org_id=None, aggregate_type="test",
                                  aggregate_id=1, payload={}, actor="t")
    assert await events.last_seq(db) == seq > 0


async def test_a_customer_plans_with_catalogue_specs_and_its_own_only(db: Database) -> None:
    w = await build(db)
    own, other = w.spec["FAW-VW"], w.spec["GALANZ"]
    await inputs.check_own_spec(db, w.org["FAW-VW"], own, "specId")
    with pytest.raises(NotFound) as refused:
        await inputs.check_own_spec(db, w.org["FAW-VW"], other, "specId")
    assert (refused.value.message, refused.value.field) == (
        "no such steel spec for this customer", "specId")


async def test_an_import_that_broke_inside_says_only_internal_error(db: Database) -> None:
    w = await build(db)
    job = await imports.start(db, w.org["FAW-VW"], "plan", "x.csv", actor=Actor.system("planner"))
    await imports.fail_internally(db, job)
    row = await db.fetchrow(
        "SELECT status, errors, finished_at FROM plan_import WHERE id = $1", job)
    assert row is not None and row["status"] == "failed" and row["finished_at"] is not None
    errors = row["errors"] if isinstance(row["errors"], list) else json.loads(row["errors"])
    assert errors == [{"row": 0, "column": None, "reason": "internal error"}]

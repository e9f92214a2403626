"""A batch within the caller's transaction (``run_batch_in``): it commits or rolls back
with the caller's own rows, and a rejected one writes nothing but leaves the caller's
transaction usable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from domain.actor import Actor
from domain.db import Database
from domain.feeds.batch import ndjson_lines, run_batch_in

PLANT = Actor.system("keylink:test-plant")


def _org(code: str) -> dict[str, Any]:
    return {"kind": "organization", "key": code, "version": 1,
            "data": {"name": f"{code} Ltd", "kind": "customer"}}


async def _body(*docs: dict[str, Any]) -> AsyncIterator[bytes]:
    yield b"".join(orjson.dumps(d) + b"\n" for d in docs)


async def _codes(db: Database) -> list[str]:
    return [r["code"] for r in await db.fetch("SELECT code FROM organization ORDER BY code")]


async def test_batches_commit_with_the_caller_and_a_rejected_one_writes_nothing(
        db: Database) -> None:
    async with db.transaction() as tx:
        first = await run_batch_in(tx, PLANT, ndjson_lines(_body(_org("ACME"))))
        bad_site = {"kind": "site", "key": "NOWHERE", "version": 1, "data": {"name": "x"}}
        second = await run_batch_in(tx, PLANT, ndjson_lines(_body(_org("BETA"), bad_site)))
        # A second batch in the same transaction is fed too (its queue was not left behind).
        third = await run_batch_in(tx, PLANT, ndjson_lines(_body(_org("GAMMA"))))
        await tx.execute("INSERT INTO organization (code, name, kind)"
                         " VALUES ('OWN', 'the caller''s own row', 'carrier')")
    assert (first.status, first.applied) == ("committed", 1)
    assert (second.status, second.applied, second.rejected) == ("rejected", 0, 1)
    assert second.rejections[0].key == "NOWHERE"
    assert (third.status, third.applied) == ("committed", 1)
    assert await _codes(db) == ["ACME", "GAMMA", "OWN"]
    batches = {r["id"]: r["status"] for r in await db.fetch("SELECT id, status FROM feed_batch")}
    assert batches == {first.id: "committed", second.id: "rejected", third.id: "committed"}
    assert await db.fetchval(
        "SELECT count(*) FROM domain_event WHERE event_type = 'organization.created'") == 2


async def test_a_batch_rolls_back_with_the_callers_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError, match="the caller fails"):
        async with db.transaction() as tx:
            done = await run_batch_in(tx, PLANT, ndjson_lines(_body(_org("ACME"))))
            assert done.status == "committed"
            raise RuntimeError("the caller fails")
    assert await _codes(db) == []
    assert await db.fetchval("SELECT count(*) FROM feed_batch") == 0
    assert await db.fetchval("SELECT count(*) FROM feed_record") == 0
    assert await db.fetchval("SELECT count(*) FROM domain_event") == 0

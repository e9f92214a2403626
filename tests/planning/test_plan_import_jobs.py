"""A plan import outlives the API process that started it: the file is kept with the job,
another process takes the job over (at once after a clean stop, once the lease runs out
after a crash) and the plan is stored exactly once, visible over GraphQL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from api.context import Services
from domain.actor import Actor
from domain.calendar import mill_today
from domain.db import Database
from domain.planning import imports, jobs
from resolvers.relay import to_global_id
from tests.api.test_workers import Serving, spawn, stop_all, workers_of
from tests.planning.test_planning_api import (
    FAW,
    IMPORT,
    IMPORT_STATE,
    SET_TABLE,
    finished,
    long_plan_file,
    upload,
)
from tests.support.api import Api
from tests.support.factory import build


def services_of(api: Api) -> Services:
    transport = cast(Any, api.client)._transport
    return cast(Services, transport.app.state.services)


async def plans_stored(db: Database, org: int) -> int:
    n: int = await db.fetchval(
        "SELECT count(*) FROM production_plan WHERE customer_org_id = $1", org)
    return n


async def rows_done(db: Database, job: int) -> int:
    n: int = await db.fetchval("SELECT rows_done FROM plan_import WHERE id = $1", job)
    return n


@pytest.fixture
def slow_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each progress step a little slow, as a large file on a busy machine would be."""
    real = imports._progress

    async def slowly(db: Database, job: int, done: int) -> None:
        await real(db, job, done)
        await asyncio.sleep(0.3)

    monkeypatch.setattr(imports, "_progress", slowly)


async def test_an_import_whose_process_stops_is_finished_once_by_another(
    api: Api, slow_progress: None
) -> None:
    w, content = await long_plan_file(api)
    org = w.org["FAW-VW"]
    started = await upload(api, "long.csv", content, as_=FAW)
    gid = started["planImport"]["id"]
    job = int(await api.db.fetchval("SELECT max(id) FROM plan_import"))
    first = services_of(api).imports
    for _ in range(100):  # mid-way
        if await rows_done(api.db, job) > 0:
            break
        await asyncio.sleep(0.05)
    assert 0 < await rows_done(api.db, job) < 3000

    await first.stop()  # the process stops: its import is cancelled, its lease given back

    assert await api.db.fetchval("SELECT status FROM plan_import WHERE id = $1", job) \
        == "running"
    assert await plans_stored(api.db, org) == 0
    other = jobs.ImportJobs(api.db, lease_s=1)
    await other.watch()
    try:
        node = await finished(api, gid, as_=FAW)
    finally:
        await other.stop()
    assert node["status"] == "IMPORTED" and node["rowsDone"] == node["rowsTotal"] == 3000
    assert node["productionPlan"]["version"] == 1
    assert await plans_stored(api.db, org) == 1
    row = await api.db.fetchrow("SELECT leased_by, attempts, content IS NULL AS dropped"
                                " FROM plan_import WHERE id = $1", job)
    assert row is not None and row["leased_by"] == other.owner
    assert row["attempts"] == 1 and row["dropped"]  # a clean stop is no attempt


async def test_a_process_that_lost_its_lease_stores_nothing(api: Api) -> None:
    w, content = await long_plan_file(api)
    org = w.org["FAW-VW"]
    job = await imports.start(api.db, org, "plan", "long.csv", actor=Actor.system("planner"),
                              content=content, owner="slow-process", lease_s=0.1)
    # It paused past its lease, and another process took the job over meanwhile.
    await asyncio.sleep(0.2)
    taken = await jobs.claim(api.db, "other-process", 30)
    assert taken is not None and taken.id == job and taken.attempts == 2

    with pytest.raises(imports.LeaseLost):
        await imports.run(api.db, job, org, "plan", "long.csv", content, actor="planner",
                          owner="slow-process")

    assert await plans_stored(api.db, org) == 0
    await imports.run(api.db, job, org, "plan", "long.csv", content, actor="planner",
                      owner="other-process")
    assert await plans_stored(api.db, org) == 1
    assert await api.db.fetchval("SELECT status FROM plan_import WHERE id = $1", job) \
        == "imported"


async def test_a_file_that_keeps_stopping_its_process_is_failed(api: Api) -> None:
    w, content = await long_plan_file(api)
    org = w.org["FAW-VW"]
    job = await imports.start(api.db, org, "plan", "long.csv", actor=Actor.system("planner"),
                              content=content, owner="dead-process", lease_s=0.1)
    await api.db.execute("UPDATE plan_import SET attempts = $2 WHERE id = $1", job,
                         jobs.MAX_ATTEMPTS)
    await asyncio.sleep(0.2)
    other = jobs.ImportJobs(api.db, lease_s=1)
    await other.watch()
    try:
        node = await finished(api, to_global_id("PlanImport", job), as_=FAW)
    finally:
        await other.stop()
    assert node["status"] == "FAILED" and node["errors"][0]["reason"] == "internal error"
    assert await plans_stored(api.db, org) == 0


async def _graphql(base: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.post(f"{base}/graphql", json={"query": query, "variables": variables},
                              headers={"authorization": f"Bearer {FAW}"})
    body: dict[str, Any] = r.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def test_an_import_survives_the_kill_of_the_api_that_started_it(
    db: Database, database_url: str, tmp_path: Path,
) -> None:
    """`keylink serve` as a process: killed (SIGKILL, no clean stop) mid-way through an
    import it started; the next `keylink serve` takes it over once its lease runs out."""
    w = await build(db)
    org = w.org["FAW-VW"]
    models = [f"M{i:03d}" for i in range(150)]
    started: list[Serving] = []
    try:
        first = spawn(tmp_path, database_url, None, workers=1, KEYLINK_IMPORT_LEASE_S="2")
        started.append(first)
        await workers_of(first, want=1)
        got = await _graphql(first.base, SET_TABLE, {"input": {"rates": [
            {"model": m, "spec": "PN-FAW-VW", "kgPerCar": "10"} for m in models]}})
        assert got["setConsumptionTable"]["errors"] == []
        today = mill_today()
        # A daily plan of 150 models over 380 days: 57,000 rows, 114 steps of progress.
        lines = ["model,period_start,units,period_days"] + [
            f"{m},{(today + timedelta(days=d)).isoformat()},{100 + d % 50},1"
            for d in range(380) for m in models]
        content = ("\n".join(lines) + "\n").encode()
        operations = {"query": IMPORT, "variables": {"input": {"file": None, "kind": "PLAN"}}}
        async with httpx.AsyncClient(timeout=30) as client:
            r = await client.post(
                f"{first.base}/graphql", headers={"authorization": f"Bearer {FAW}"},
                data={"operations": json.dumps(operations),
                      "map": json.dumps({"0": ["variables.input.file"]})},
                files={"0": ("big.csv", content, "text/csv")})
        body = r.json()
        assert "errors" not in body and body["data"]["importPlanFile"]["errors"] == [], body
        gid = body["data"]["importPlanFile"]["planImport"]["id"]
        job = int(await db.fetchval("SELECT max(id) FROM plan_import"))
        for _ in range(400):
            done = await rows_done(db, job)
            if done > 0:
                break
            await asyncio.sleep(0.01)

        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait()

        state = await db.fetchrow("SELECT status, rows_done, leased_by FROM plan_import"
                                  " WHERE id = $1", job)
        assert state is not None and state["status"] == "running", dict(state or {})
        assert 0 < state["rows_done"] < 57000 and state["leased_by"] is not None
        assert await plans_stored(db, org) == 0
        second = spawn(tmp_path, database_url, None, workers=1, KEYLINK_IMPORT_LEASE_S="2")
        started.append(second)
        await workers_of(second, want=1)
        for _ in range(600):
            node = (await _graphql(second.base, IMPORT_STATE, {"id": gid}))["node"]
            if node["status"] != "RUNNING":
                break
            await asyncio.sleep(0.1)
        assert node["status"] == "IMPORTED", (node, second.output())
        assert node["rowsDone"] == node["rowsTotal"] == 57000
        assert node["productionPlan"]["version"] == 1
        assert await plans_stored(db, org) == 1
        assert await db.fetchval("SELECT attempts FROM plan_import WHERE id = $1", job) == 2
        assert "taking over plan import" in second.log.read_text()
    finally:
        stop_all(started)


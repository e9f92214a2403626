"""Production progress follows the line's route and its planned tonnes: a stage takes
progress once every earlier stage has started and completes once they have completed,
never before them in time; a stage records at most its planned tonnes plus the tolerance
(KEYLINK_PROGRESS_TOLERANCE). Each refusal says why and writes nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest

from demo.build import build as build_demo
from domain.contracts.production import PROGRESS_TOLERANCE, StageStatus, check_step
from domain.contracts.stage_routes import STAGES, plan_stages
from domain.db import Database
from resolvers.relay import to_global_id
from settings import Settings
from tests.support.api import Api, _client, token
from tests.support.factory import NOW, TODAY, World, build

MILL = token("BAOSTEEL", "production")
RECORD = """mutation($input: RecordProgressInput!) { recordProgress(input: $input) {
    progress { currentStage stagesDone stages { stage actualTonnes completed } }
    errors { field message code } } }"""


def _planned(stage: str) -> Decimal:
    """The factory's planned tonnes of a stage of FAW-VW's 120 t cold-rolled line."""
    plans = plan_stages("cold_rolled", Decimal(120), TODAY - timedelta(days=10),
                        TODAY + timedelta(days=25))
    return next(p.planned_t for p in plans if p.stage == stage)


async def _record(api: Api, w: World, stage: str, tonnes: str, completes: bool = False,
                  **extra: Any) -> dict[str, Any]:
    body = await api.data(RECORD, {"input": {
        "lineId": to_global_id("ContractLine", w.line["FAW-VW"]), "stage": stage,
        "tonnes": tonnes, "completesStage": completes, **extra}}, as_=MILL)
    result: dict[str, Any] = body["recordProgress"]
    return result


async def _written(api: Api) -> tuple[int, int]:
    """Progress events and outbox events so far."""
    return (await api.db.fetchval("SELECT count(*) FROM progress_event"),
            await api.db.fetchval("SELECT count(*) FROM domain_event"))


async def test_a_stage_waits_for_the_earlier_stages_of_the_route(api: Api) -> None:
    w = await build(api.db)  # steelmaking completed 8 days ago; nothing else started
    before = await _written(api)
    early = await _record(api, w, "HOT_ROLLING", "10")
    assert early["progress"] is None
    assert early["errors"] == [{
        "field": "stage", "code": "OUT_OF_SEQUENCE",
        "message": "casting has not started: hot_rolling follows it on this line's route"}]
    finished_early = await _record(api, w, "WAREHOUSED", "120", True)
    assert finished_early["errors"][0]["message"].startswith("casting has not started")
    assert await _written(api) == before

    # Casting under way: hot rolling may start, but not complete before casting does.
    assert (await _record(api, w, "CASTING", "40"))["errors"] == []
    assert (await _record(api, w, "HOT_ROLLING", "20"))["errors"] == []
    done = await _record(api, w, "HOT_ROLLING", "20", True)
    assert done["errors"] == [{
        "field": "completesStage", "code": "OUT_OF_SEQUENCE",
        "message": "hot_rolling cannot complete while casting is not complete"}]
    assert (await _record(api, w, "CASTING", "80", True))["errors"] == []
    now_done = await _record(api, w, "HOT_ROLLING", "20", True)
    assert now_done["errors"] == []
    stages = {s["stage"]: s for s in now_done["progress"]["stages"]}
    assert stages["HOT_ROLLING"] == {"stage": "HOT_ROLLING", "actualTonnes": "40.000",
                                     "completed": True}
    assert now_done["progress"]["currentStage"] == "PICKLING"


async def test_a_stage_cannot_have_happened_before_the_one_it_follows(api: Api) -> None:
    w = await build(api.db)  # steelmaking started (and completed) 8 days ago
    before = await _written(api)
    nine_days_ago = (NOW - timedelta(days=9)).isoformat()
    refused = await _record(api, w, "CASTING", "10", occurredAt=nine_days_ago)
    (error,) = refused["errors"]
    assert (error["code"], error["field"]) == ("OUT_OF_SEQUENCE", "occurredAt")
    assert "before steelmaking started at" in error["message"]
    assert await _written(api) == before
    seven_days_ago = (NOW - timedelta(days=7)).isoformat()
    assert (await _record(api, w, "CASTING", "10", occurredAt=seven_days_ago))["errors"] == []
    # Hot rolling completing before casting completed (now) is out of order in time too.
    assert (await _record(api, w, "CASTING", "100", True))["errors"] == []
    late = await _record(api, w, "HOT_ROLLING", "110", True,
                         occurredAt=(NOW - timedelta(days=1)).isoformat())
    assert [(e["code"], e["field"]) for e in late["errors"]] == [
        ("OUT_OF_SEQUENCE", "occurredAt")]
    assert "before casting completed at" in late["errors"][0]["message"]


async def test_tonnes_over_the_plan_and_its_tolerance_are_refused(api: Api) -> None:
    w = await build(api.db)
    planned = _planned("casting")
    allowed = (planned * Decimal("1.10")).quantize(Decimal("0.001"), rounding=ROUND_DOWN)
    assert (await _record(api, w, "CASTING", "100"))["errors"] == []
    before = await _written(api)
    over = await _record(api, w, "CASTING", str(allowed - 100 + Decimal("0.001")))
    assert over["errors"] == [{
        "field": "tonnes", "code": "OVER_TOLERANCE",
        "message": f"casting may record at most {allowed} t ({planned} t planned, +10 %);"
                   f" 100.000 t are recorded, so at most {allowed - 100} t more"}]
    assert await _written(api) == before
    # Up to the tolerance is a heavy day, not a wrong report.
    within = await _record(api, w, "CASTING", str(allowed - 100), True)
    assert within["errors"] == []
    casting = next(s for s in within["progress"]["stages"] if s["stage"] == "CASTING")
    assert Decimal(casting["actualTonnes"]) == allowed > planned
    # Even a late report on a completed stage stays within it.
    assert (await _record(api, w, "CASTING", "0.001"))["errors"][0]["code"] == "OVER_TOLERANCE"


async def test_the_tolerance_is_a_setting(db: Database) -> None:
    w = await build(db)
    planned = _planned("casting")
    clients: AsyncIterator[Api] = _client(db, Settings(progress_tolerance=Decimal(0)))
    api = await anext(clients)
    try:
        over = await _record(api, w, "CASTING", str(planned + Decimal("0.001")))
        assert over["errors"][0]["code"] == "OVER_TOLERANCE"
        assert f"at most {planned} t ({planned} t planned, +0 %)" in over["errors"][0]["message"]
        assert (await _record(api, w, "CASTING", str(planned), True))["errors"] == []
    finally:
        await clients.aclose()


def test_the_settings_default_is_the_domains() -> None:
    assert Settings().progress_tolerance == PROGRESS_TOLERANCE == Decimal("0.10")


def test_the_demo_records_progress_in_route_order_and_within_tolerance() -> None:
    """Replays every generated progress event, in time order, through the same check
    recordProgress makes: the demo never loads what the API would refuse."""
    replayed = 0
    for seed in (7, 11):
        data = build_demo(120, seed, date(2026, 3, 1), lambda _: None)
        for line in data.lines:
            if line.timeline is None:
                continue
            route = {p.stage: StageStatus(
                stage=p.stage, seq=STAGES.index(p.stage) + 1, planned_start=p.planned_start,
                planned_end=p.planned_end, planned_t=p.planned_t, actual_start=None,
                actual_end=None, actual_t=Decimal(0), completed=False, delay_days=None)
                for p in line.timeline.plans}
            for event in sorted(line.events, key=lambda e: e.occurred_at):
                check_step(list(route.values()), event.stage, event.tonnes,
                           completes=event.completes, occurred_at=event.occurred_at,
                           tolerance=PROGRESS_TOLERANCE)
                now = route[event.stage]
                route[event.stage] = dataclasses.replace(
                    now, actual_start=min(filter(None, (now.actual_start, event.occurred_at))),
                    actual_end=max(filter(None, (now.actual_end, event.occurred_at)))
                    if event.completes else now.actual_end,
                    actual_t=now.actual_t + event.tonnes,
                    completed=now.completed or event.completes)
                replayed += 1
    assert replayed > 500


@pytest.mark.parametrize("stage", ["STEELMAKING", "CASTING"])
async def test_a_line_without_progress_starts_at_its_first_stage(api: Api, stage: str) -> None:
    w = await build(api.db)
    await api.db.execute("DELETE FROM progress_event")
    got = await _record(api, w, stage, "10")
    if stage == "STEELMAKING":
        assert got["errors"] == []
    else:
        assert got["errors"][0]["message"] == (
            "steelmaking has not started: casting follows it on this line's route")

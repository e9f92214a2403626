"""Push matching through the worker against a real database: rules with filters, direct
recipients, quiet hours and digests, and the inbox they fill."""

from __future__ import annotations

import asyncio
import time as clock
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain import events
from domain.db import Database
from domain.push.matching import Facets, Rule, RuleIndex, passes, period_end, quiet_until
from push.config import PushConfig
from push.digests import send_digests
from push.wakeup import Wakeup
from push.worker import Worker
from tests.support.api import Api, token
from tests.support.factory import World, build

SHANGHAI = ZoneInfo("Asia/Shanghai")

INBOX = """query($unread: Boolean) {
  unreadNotificationCount
  notifications(first: 10, unreadOnly: $unread) {
    nodes { id sequence eventType title body createdAt readAt forUser }
  }
}"""


async def _rule(db: Database, org: int, **fields: Any) -> int:
    values = {"user_subject": None, "watch_org_id": org, "name": "r",
              "event_types": ["production.milestone_reached"], "channel": "inbox",
              "created_by": "test", "cadence": "instant", **fields}
    cols = ", ".join(values)
    marks = ", ".join(f"${i + 2}" for i in range(len(values)))
    rule_id: int = await db.fetchval(
        f"INSERT INTO push_rule (org_id, {cols}) VALUES ($1, {marks}) RETURNING id",
        org, *values.values())
    return rule_id


async def _event(db: Database, w: World, cust: str, kind: str = "production.milestone_reached",
                 **payload: Any) -> int:
    async with db.transaction() as tx:
        return await events.append(
            tx, kind, org_id=w.org[cust], aggregate_type="contract_line",
            aggregate_id=w.line[cust], actor="prod",
            payload={"contract": f"C-{cust}", "stage": "hot_rolling", "tonnes": "118.5",
                     **payload})


async def _prefer(db: Database, org: int, language: str, units: str, zone: str) -> None:
    await db.execute("INSERT INTO customer_preference (org_id, language, units, time_zone)"
                     " VALUES ($1, $2, $3, $4)", org, language, units, zone)


async def _drain(worker: Worker) -> None:
    while await worker.step():
        pass


def test_filters_need_every_set_facet() -> None:
    rule = Rule(1, 1, None, 1, ("shipment.delayed",), grades=frozenset({"DC04"}),
                min_delay_hours=None)
    assert passes(rule, Facets(grades=frozenset({"DC04", "DX51D"})))
    assert not passes(rule, Facets(grades=frozenset({"DX51D"})))
    assert not passes(rule, Facets())
    late = Rule(2, 1, None, 1, ("shipment.delayed",), min_delay_hours=__import__(
        "decimal").Decimal("6"))
    assert passes(late, Facets(delay_hours=6.0))
    assert not passes(late, Facets(delay_hours=5.9))
    assert not passes(late, Facets())


def test_index_looks_up_by_organization_and_type_only() -> None:
    rules = [Rule(i, i % 50, None, i % 50, (f"area{i % 7}.happened",)) for i in range(1000)]
    rules.append(Rule(5000, 99, "staff", None, ("shipment.*",)))
    index = RuleIndex.of(rules)
    found = index.candidates(3, "area3.happened")
    assert found and all(r.watch_org_id in (3, None) for r in found)
    assert len(found) == len([r for r in rules if r.watch_org_id == 3
                              and r.event_types == ("area3.happened",)])
    assert [r.id for r in index.candidates(7, "shipment.delayed")] == [5000]
    assert [r.id for r in index.candidates(None, "shipment.scan_anomaly")] == [5000]


def test_quiet_hours_span_midnight_in_the_recipients_zone() -> None:
    # 23:30 in Shanghai is 15:30 UTC.
    night = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
    until = quiet_until(night, time(22), time(7), SHANGHAI)
    assert until == datetime(2026, 11, 26, 7, 0, tzinfo=SHANGHAI)
    assert quiet_until(night + timedelta(hours=9), time(22), time(7), SHANGHAI) is None
    early = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)  # 05:00 local
    assert quiet_until(early, time(22), time(7), SHANGHAI) == datetime(
        2026, 11, 26, 7, 0, tzinfo=SHANGHAI)
    assert quiet_until(night, time(12), time(14), SHANGHAI) is None
    assert period_end(night, "daily", SHANGHAI) == datetime(2026, 11, 26, tzinfo=SHANGHAI)


async def test_a_matching_rule_fills_the_organizations_inbox(api: Api, db: Database) -> None:
    w = await build(db)
    await _rule(db, w.org["FAW-VW"], grades=["DC04"], transport_modes=["rail"])
    await _rule(db, w.org["FAW-VW"], grades=["HC340LA"])  # no: another grade
    await _rule(db, w.org["FAW-VW"], destinations=["WH-FAW-VW"], cadence="daily")  # held
    await _rule(db, w.org["GALANZ"], event_types=["production.*"])
    await _prefer(db, w.org["FAW-VW"], "en-GB", "imperial", "Europe/Berlin")
    worker = Worker(db, PushConfig())
    await _event(db, w, "FAW-VW")
    await _event(db, w, "GALANZ")  # another organization's: never FAW's
    await _drain(worker)

    faw = token("FAW-VW", subject="buyer.faw")
    data = await api.data(INBOX, as_=faw)
    assert data["unreadNotificationCount"] == 1
    [n] = data["notifications"]["nodes"]
    assert n["eventType"] == "production.milestone_reached"
    assert n["title"] == "Contract C-FAW-VW: hot rolling finished"
    # 118.5 t in US short tons, the time in Berlin's zone.
    assert "130.624 sh tn" in n["body"] and ("+0100" in n["body"] or "+0200" in n["body"])
    assert n["readAt"] is None and n["forUser"] is False
    # Galanz has no preferences: Chinese, metric, China time; and only its own event.
    [g] = (await api.data(INBOX, as_=token("GALANZ")))["notifications"]["nodes"]
    assert g["title"] == "合同 C-GALANZ：热轧 完成"
    assert "118.5 t" in g["body"] and "+0800" in g["body"]
    held = await db.fetchval("SELECT count(*) FROM push_delivery WHERE status = 'held'")
    assert held == 1


async def test_direct_recipients_and_marking_read(api: Api, db: Database) -> None:
    w = await build(db)
    worker = Worker(db, PushConfig())
    await _event(db, w, "FAW-VW", "urge.opened", notify_users=["owner.sales"])
    await _event(db, w, "FAW-VW", "urge.opened", notify_users=["owner.sales", "owner.sales"])
    await _drain(worker)
    owner = token("BAOSTEEL", "sales", subject="owner.sales")
    other = token("BAOSTEEL", "sales", subject="someone.else")
    data = await api.data(INBOX, as_=owner)
    assert data["unreadNotificationCount"] == 2
    first, second = sorted(data["notifications"]["nodes"], key=lambda n: n["sequence"])
    assert first["forUser"] and first["title"] == "合同 C-FAW-VW 催货"
    assert (await api.data(INBOX, as_=other))["unreadNotificationCount"] == 0

    mark = """mutation($in: MarkNotificationsReadInput!) { markNotificationsRead(input: $in) {
        marked { id readAt } unreadCount errors { field code } } }"""
    # Someone else cannot mark the owner's notification.
    r = (await api.data(mark, {"in": {"ids": [first["id"]]}}, as_=other))[
        "markNotificationsRead"]
    assert r["marked"] == [] and r["errors"][0]["code"] == "NOT_FOUND"
    r = (await api.data(mark, {"in": {"upToSequence": first["sequence"]}}, as_=owner))[
        "markNotificationsRead"]
    assert [m["id"] for m in r["marked"]] == [first["id"]] and r["unreadCount"] == 1
    unread = await api.data(INBOX, {"unread": True}, as_=owner)
    assert [n["id"] for n in unread["notifications"]["nodes"]] == [second["id"]]
    r = (await api.data(mark, {"in": {}}, as_=owner))["markNotificationsRead"]
    assert r["errors"][0]["code"] == "INVALID"


async def test_the_mill_user_and_the_customer_each_read_their_own_wording(
        api: Api, db: Database) -> None:
    w = await build(db)
    worker = Worker(db, PushConfig())
    urge = {"ticket": "URG-000042", "lineNo": 1, "neededBy": "2026-12-10",
            "promisedDate": "2026-12-08", "assignee": "owner.sales", "level": 0,
            "note": "按铁路发运", "notify_org": True}
    await _event(db, w, "FAW-VW", "urge.resolved", notify_users=["owner.sales"], **urge)
    await _drain(worker)
    [mine] = (await api.data(INBOX, as_=token("BAOSTEEL", "sales", subject="owner.sales")))[
        "notifications"]["nodes"]
    [theirs] = (await api.data(INBOX, as_=token("FAW-VW")))["notifications"]["nodes"]
    assert mine["forUser"] and not theirs["forUser"]
    # Both in Chinese (the platform's default); the customer reads of its own urge, the
    # mill's user of the customer's.
    assert theirs["body"].startswith("您对合同 C-FAW-VW 第 1 行的催货 URG-000042")
    assert mine["body"].startswith("客户对合同 C-FAW-VW 第 1 行的催货 URG-000042")
    assert "您" not in mine["title"] + mine["body"]


async def test_quiet_hours_hold_back_and_digests_bundle(db: Database) -> None:
    w = await build(db)
    now = datetime.now(UTC)
    local = now.astimezone(SHANGHAI)
    start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    quiet = await _rule(db, w.org["FAW-VW"], quiet_start=start, quiet_end=end)
    digest = await _rule(db, w.org["FAW-VW"], cadence="hourly")
    worker = Worker(db, PushConfig())
    for _ in range(3):
        await _event(db, w, "FAW-VW")
    await _drain(worker)
    rows = await db.fetch("SELECT rule_id, status, next_attempt_at FROM push_delivery")
    assert {r["status"] for r in rows if r["rule_id"] == quiet} == {"queued"}
    assert all(r["next_attempt_at"] > now + timedelta(minutes=30)
               for r in rows if r["rule_id"] == quiet)
    assert {r["status"] for r in rows if r["rule_id"] == digest} == {"held"}
    assert await db.fetchval("SELECT count(*) FROM notification") == 0

    assert await send_digests(db, now) == 0  # the hour is not over yet
    assert await send_digests(db, now + timedelta(hours=1, minutes=1)) == 1
    await db.execute("UPDATE push_delivery SET next_attempt_at = now() WHERE event_type ="
                     " 'digest'")
    await _drain(worker)
    [n] = await db.fetch("SELECT event_type, title, body, data FROM notification")
    assert n["event_type"] == "digest" and n["title"] == "3 条更新"
    assert n["body"].count("- 合同 C-FAW-VW") == 3 and len(n["data"]["items"]) == 3


async def test_a_commit_wakes_an_idle_worker_at_once(db: Database, database_url: str) -> None:
    w = await build(db)
    wakeup = Wakeup(database_url)
    await wakeup.start()
    # Without the wake-up, this worker would look again only after minutes.
    task = asyncio.create_task(Worker(db, PushConfig(tick_s=60), wakeup).run())
    try:
        await asyncio.sleep(0.5)  # idle and waiting
        started = clock.monotonic()
        await _event(db, w, "FAW-VW", "urge.opened", notify_users=["owner.sales"])
        while not await db.fetchval("SELECT count(*) FROM notification"):
            assert clock.monotonic() - started < 3, "the worker was not woken"
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await wakeup.stop()


def test_texts_of_later_areas_read_naturally_in_both_languages() -> None:
    from domain.push.locale import Locale
    from domain.push.texts import render

    at = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    payload = {"dispute": "QD-2026-0001", "grade": ["DC04"]}
    en = render("dispute.rejected", payload, at, Locale("en", "metric", "Europe/Berlin"))
    assert en.title == "Quality dispute QD-2026-0001: rejected"
    assert en.body == "Quality dispute QD-2026-0001: rejected, at 2026-11-25 05:00 +0100."
    zh = render("purchase_plan.approved", {"status": "approved"}, at, Locale("zh"))
    assert zh.title == "采购计划：已批准" and "2026-11-25 12:00 +0800" in zh.body

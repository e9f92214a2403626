"""Bulletins: the mill publishes, customers whose interests match get them pushed."""

from __future__ import annotations

from domain.db import Database
from push.config import PushConfig
from push.worker import Worker
from tests.support.api import MILL_ROLES, Api, token
from tests.support.factory import build

PUBLISH = """mutation($in: PublishBulletinInput!) { publishBulletin(input: $in) {
  bulletin { id title grades topics } pushedTo errors { field code } } }"""
INTERESTS = """mutation($in: SetBulletinInterestsInput!) { setBulletinInterests(input: $in) {
  interests { grades topics } errors { code } } }"""
INBOX = "{ notifications { nodes { eventType title body } } }"


async def _drain(worker: Worker) -> None:
    while await worker.step():
        pass


async def test_a_bulletin_reaches_the_customers_whose_interests_match(
    api: Api, db: Database
) -> None:
    await build(db)
    faw, galanz = token("FAW-VW"), token("GALANZ")
    mill = token("BAOSTEEL", *MILL_ROLES, subject="staff.tech")
    r = await api.data(INTERESTS, {"in": {"grades": ["DC04"], "topics": ["Welding"]}}, as_=faw)
    assert r["setBulletinInterests"]["interests"] == {"grades": ["DC04"], "topics": ["welding"]}
    await api.data(INTERESTS, {"in": {"grades": ["DX51D+Z"]}}, as_=galanz)
    # The mill publishes; a customer may not.
    refused = await api.data(PUBLISH, {"in": {"title": "x", "body": "y", "grades": ["DC04"]}},
                             as_=faw)
    assert refused["publishBulletin"]["errors"][0]["code"] == "FORBIDDEN"
    untagged = await api.data(PUBLISH, {"in": {"title": "x", "body": "y"}}, as_=mill)
    assert untagged["publishBulletin"]["errors"][0]["field"] == "grades"
    made = (await api.data(PUBLISH, {"in": {
        "title": "Laser welding of DC06", "body": "New parameters for tailor blanks.",
        "grades": ["DC06"], "topics": ["welding"]}}, as_=mill))["publishBulletin"]
    assert made["errors"] == [] and made["pushedTo"] == 1
    await _drain(Worker(db, PushConfig()))

    [n] = (await api.data(INBOX, as_=faw))["notifications"]["nodes"]
    assert n["eventType"] == "bulletin.published"
    assert n["title"] == "钢厂新资讯：Laser welding of DC06"
    assert n["body"] == "New parameters for tailor blanks."
    assert (await api.data(INBOX, as_=galanz))["notifications"]["nodes"] == []
    # Everyone may read bulletins, by tag too.
    listed = await api.data('{ bulletins(topic: "Welding") { nodes { id title } } }',
                            as_=galanz)
    assert [b["title"] for b in listed["bulletins"]["nodes"]] == ["Laser welding of DC06"]
    node = await api.data("query($id: ID!) { node(id: $id) { ... on Bulletin { grades } } }",
                          {"id": made["bulletin"]["id"]}, as_=galanz)
    assert node["node"] == {"grades": ["DC06"]}
    assert (await api.data('{ bulletins(grade: "DC04") { nodes { id } } }', as_=faw))[
        "bulletins"]["nodes"] == []

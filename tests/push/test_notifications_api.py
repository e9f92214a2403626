"""The inbox by id: `node` finds a notification only in the viewer's own inbox (its
organization's, or addressed to its user); pages follow each other without gaps."""

from __future__ import annotations

from domain import events
from domain.db import Database
from push.config import PushConfig
from push.worker import Worker
from tests.support.api import Api, token
from tests.support.factory import build

NODE = "query($id: ID!) { node(id: $id) { __typename ... on Notification { title } } }"
PAGE = """query($after: String) { notifications(first: 2, after: $after) {
  nodes { sequence } pageInfo { hasNextPage endCursor } } }"""


async def galanz_inbox(db: Database, count: int) -> None:
    """GALANZ takes every event into its inbox, and gets ``count`` of them."""
    w = await build(db)
    await db.execute("INSERT INTO push_rule (org_id, watch_org_id, name, event_types, channel,"
                     " created_by) VALUES ($1, $1, 'all', '{*}', 'inbox', 't')",
                     w.org["GALANZ"])
    for i in range(count):
        async with db.transaction() as tx:
            await events.append(tx, "contract.confirmed", org_id=w.org["GALANZ"],
                                aggregate_type="contract", aggregate_id=w.contract["GALANZ"],
                                actor="sales", payload={"number": f"N-{i}"})
    worker = Worker(db, PushConfig())
    while await worker.step():
        pass


async def test_notifications_by_id_and_by_page(api: Api, db: Database) -> None:
    await galanz_inbox(db, 5)
    galanz = token("GALANZ")
    seen: list[int] = []
    after = None
    while True:
        page = (await api.data(PAGE, {"after": after}, as_=galanz))["notifications"]
        seen += [n["sequence"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)

    first = (await api.data("{ notifications(first: 1) { nodes { id } } }", as_=galanz))
    gid = first["notifications"]["nodes"][0]["id"]
    assert (await api.data(NODE, {"id": gid}, as_=galanz))["node"]["__typename"] == \
        "Notification"
    assert (await api.data(NODE, {"id": gid}, as_=token("FAW-VW")))["node"] is None
    # Not in the mill's inbox either: node(id) finds what `notifications` lists.
    mill = token("BAOSTEEL", "sales", subject="staff")
    assert (await api.data(NODE, {"id": gid}, as_=mill))["node"] is None


async def test_a_notification_for_one_user_is_hidden_from_colleagues(
    api: Api, db: Database
) -> None:
    w = await build(db)
    await db.execute("INSERT INTO push_rule (org_id, user_subject, watch_org_id, name,"
                     " event_types, channel, created_by) VALUES ($1, 'buyer.one', $1, 'mine',"
                     " '{contract.confirmed}', 'inbox', 'buyer.one')", w.org["GALANZ"])
    async with db.transaction() as tx:
        await events.append(tx, "contract.confirmed", org_id=w.org["GALANZ"],
                            aggregate_type="contract", aggregate_id=w.contract["GALANZ"],
                            actor="sales", payload={"number": "N-1"})
    worker = Worker(db, PushConfig())
    while await worker.step():
        pass
    mine = token("GALANZ", subject="buyer.one")
    listed = (await api.data("{ notifications(first: 5) { nodes { id forUser } } }",
                             as_=mine))["notifications"]["nodes"]
    assert len(listed) == 1 and listed[0]["forUser"]
    gid = listed[0]["id"]
    assert (await api.data(NODE, {"id": gid}, as_=mine))["node"]["title"]
    colleague = token("GALANZ", subject="buyer.two")
    assert (await api.data(NODE, {"id": gid}, as_=colleague))["node"] is None
    assert (await api.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                           {"ids": [gid]}, as_=colleague))["nodes"] == [None]
    assert (await api.data("{ notifications(first: 5) { nodes { id } } }",
                           as_=colleague))["notifications"]["nodes"] == []


COUNT = "{ unreadNotificationCount notifications(first: 5, unreadOnly: true) { nodes { id } } }"
MARK = """mutation($in: MarkNotificationsReadInput!) { markNotificationsRead(input: $in) {
    marked { id readAt } unreadCount errors { code } } }"""


async def test_each_user_reads_the_organizations_notifications_for_themselves(
    api: Api, db: Database
) -> None:
    await galanz_inbox(db, 3)
    one, two = token("GALANZ", subject="buyer.one"), token("GALANZ", subject="buyer.two")
    listed = (await api.data(COUNT, as_=one))
    assert listed["unreadNotificationCount"] == 3
    newest = listed["notifications"]["nodes"][0]["id"]
    marked = (await api.data(MARK, {"in": {"ids": [newest]}}, as_=one))["markNotificationsRead"]
    assert [m["id"] for m in marked["marked"]] == [newest] and marked["marked"][0]["readAt"]
    assert marked["unreadCount"] == 2
    # Marking it again marks nothing; the colleague still has all three unread.
    again = (await api.data(MARK, {"in": {"ids": [newest]}}, as_=one))["markNotificationsRead"]
    assert again["marked"] == [] and again["unreadCount"] == 2
    theirs = await api.data(COUNT, as_=two)
    assert theirs["unreadNotificationCount"] == 3
    assert newest in [n["id"] for n in theirs["notifications"]["nodes"]]
    everything = (await api.data(MARK, {"in": {"upToSequence": 10**9}}, as_=two))[
        "markNotificationsRead"]
    assert len(everything["marked"]) == 3 and everything["unreadCount"] == 0
    assert (await api.data(COUNT, as_=one))["unreadNotificationCount"] == 2

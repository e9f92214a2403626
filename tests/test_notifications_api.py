"""The inbox by id: `node` finds a notification for its organization only; pages follow
each other without gaps."""

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


async def test_notifications_by_id_and_by_page(api: Api, db: Database) -> None:
    w = await build(db)
    await db.execute("INSERT INTO push_rule (org_id, watch_org_id, name, event_types, channel,"
                     " created_by) VALUES ($1, $1, 'all', '{*}', 'inbox', 't')",
                     w.org["GALANZ"])
    for i in range(5):
        async with db.transaction() as tx:
            await events.append(tx, "contract.confirmed", org_id=w.org["GALANZ"],
                                aggregate_type="contract", aggregate_id=w.contract["GALANZ"],
                                actor="sales", payload={"number": f"N-{i}"})
    worker = Worker(db, PushConfig())
    while await worker.step():
        pass
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
    mill = token("BAOSTEEL", "sales", subject="staff")
    assert (await api.data(NODE, {"id": gid}, as_=mill))["node"] is not None

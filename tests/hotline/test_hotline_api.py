"""The hotline over GraphQL: the customer urges, the owner at the mill sees it assigned to
them at once and answers; a late answer escalates and the customer sees that, with the
whole history on the line; the other customer sees nothing of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.app import create_app
from api.context import Services
from domain import events
from domain.calendar import mill_today
from domain.db import Database
from domain.hotline import escalation
from domain.hotline import writes as hotline
from push.config import PushConfig
from push.worker import PERIODIC_JOBS, Worker, run_periodic
from resolvers.relay import to_global_id
from settings import Settings, SettingsError
from tests.support.api import CODEC, SETTINGS, Api, token
from tests.support.factory import World, build

URGE = """mutation($input: UrgeContractLineInput!) { urgeContractLine(input: $input) {
    ticket { id number status assignee escalationLevel dueAt overdue answerWithinMinutes }
    errors { field message code } } }"""
ACK = """mutation($id: ID!) { acknowledgeUrge(input: {ticketId: $id, note: "on it"}) {
    ticket { status } errors { field message code } } }"""
PROMISE = """mutation($id: ID!, $d: Date!) { promiseUrge(input: {ticketId: $id,
    promisedDate: $d}) { ticket { status promisedDate } errors { field message code } } }"""
RESOLVE = """mutation($id: ID!) { resolveUrge(input: {ticketId: $id,
    resolution: "shipped by rail"}) { ticket { status resolution } errors { code } } }"""
MINE = """{ urgeTickets(filter: {assignedToMe: true}) { nodes { number status
    line { contract { number } } } } }"""
LINE = """query($id: ID!) { node(id: $id) { ... on ContractLine {
    openUrgeTicket { number status assignee escalationLevel }
    urgeTickets { number status promisedDate
      history { action actor assignee escalationLevel note promisedDate } } } } }"""


async def _world(api: Api) -> World:
    w = await build(api.db)
    await api.db.execute("UPDATE contract SET sales_owner = 'sales.zhang' WHERE id = $1",
                         w.contract["FAW-VW"])
    return w


async def _urge(api: Api, w: World) -> dict[str, object]:
    body = await api.data(URGE, {"input": {
        "lineId": to_global_id("ContractLine", w.line["FAW-VW"]),
        "reason": "body shop runs dry on the 10th",
        "neededBy": (mill_today() + timedelta(days=20)).isoformat()}},
        as_=token("FAW-VW", subject="buyer.faw"))
    assert body["urgeContractLine"]["errors"] == []
    ticket: dict[str, object] = body["urgeContractLine"]["ticket"]
    return ticket


async def test_urge_reaches_the_owner_who_answers_and_the_customer_sees_it(api: Api) -> None:
    w = await _world(api)
    ticket = await _urge(api, w)
    assert (ticket["status"], ticket["assignee"], ticket["escalationLevel"],
            ticket["overdue"], ticket["answerWithinMinutes"]) == ("OPEN", "sales.zhang", 0,
                                                                  False, 120)
    opened = [e for e in await events.read_after(api.db, 0) if e.event_type == "urge.opened"]
    assert opened[0].payload["notify_users"] == ["sales.zhang"]

    zhang = token("BAOSTEEL", "sales", subject="sales.zhang")
    mine = await api.data(MINE, as_=zhang)
    assert mine["urgeTickets"]["nodes"] == [{"number": ticket["number"], "status": "OPEN",
                                             "line": {"contract": {"number": "C-FAW-VW"}}}]
    other = await api.data(MINE, as_=token("BAOSTEEL", "sales", subject="sales.liu"))
    assert other["urgeTickets"]["nodes"] == []
    by_customer = """query($c: ID!) { urgeTickets(filter: {customerId: $c}) { nodes {
        number } } }"""
    for cust, expected in (("FAW-VW", [ticket["number"]]), ("GALANZ", [])):
        found = await api.data(by_customer, {"c": to_global_id("Organization", w.org[cust])},
                               as_=zhang)
        assert [t["number"] for t in found["urgeTickets"]["nodes"]] == expected

    as_customer = await api.data(ACK, {"id": ticket["id"]}, as_=token("FAW-VW"))
    assert as_customer["acknowledgeUrge"]["errors"][0]["code"] == "FORBIDDEN"
    early = await api.data(RESOLVE, {"id": ticket["id"]}, as_=zhang)
    assert early["resolveUrge"]["errors"][0]["code"] == "INVALID_TRANSITION"
    assert (await api.data(ACK, {"id": ticket["id"]}, as_=zhang))["acknowledgeUrge"][
        "ticket"]["status"] == "ACKNOWLEDGED"
    promised = (mill_today() + timedelta(days=18)).isoformat()
    past = await api.data(PROMISE, {"id": ticket["id"], "d": "2020-01-01"}, as_=zhang)
    assert past["promiseUrge"]["errors"][0]["field"] == "promisedDate"
    assert (await api.data(PROMISE, {"id": ticket["id"], "d": promised}, as_=zhang))[
        "promiseUrge"]["ticket"] == {"status": "PROMISED", "promisedDate": promised}
    # Only those who answer urges promise or resolve them: not finance, not the customer.
    for who in (token("BAOSTEEL", "finance"), token("FAW-VW")):
        refused = await api.data(PROMISE, {"id": ticket["id"], "d": promised}, as_=who)
        assert refused["promiseUrge"]["errors"][0]["code"] == "FORBIDDEN"
        refused = await api.data(RESOLVE, {"id": ticket["id"]}, as_=who)
        assert refused["resolveUrge"]["errors"][0]["code"] == "FORBIDDEN"

    line = to_global_id("ContractLine", w.line["FAW-VW"])
    seen = (await api.data(LINE, {"id": line}, as_=token("FAW-VW")))["node"]
    assert seen["openUrgeTicket"]["status"] == "PROMISED"
    [t] = seen["urgeTickets"]
    assert t["promisedDate"] == promised
    assert [(h["action"], h["actor"]) for h in t["history"]] == [
        ("OPENED", "buyer.faw"), ("ACKNOWLEDGED", "sales.zhang"), ("PROMISED", "sales.zhang")]
    assert t["history"][1]["note"] == "on it"

    done = await api.data(RESOLVE, {"id": ticket["id"]}, as_=zhang)
    assert done["resolveUrge"]["ticket"] == {"status": "RESOLVED",
                                             "resolution": "shipped by rail"}
    seen = (await api.data(LINE, {"id": line}, as_=token("FAW-VW")))["node"]
    assert seen["openUrgeTicket"] is None and seen["urgeTickets"][0]["status"] == "RESOLVED"
    # Resolved, it is no longer the owner's to answer; it still reads with its status.
    assert (await api.data(MINE, as_=zhang))["urgeTickets"]["nodes"] == []
    resolved = await api.data("""{ urgeTickets(filter: {status: [RESOLVED]}) { nodes {
        number } } }""", as_=zhang)
    assert resolved["urgeTickets"]["nodes"] == [{"number": ticket["number"]}]


async def test_a_late_answer_escalates_and_the_customer_sees_it(api: Api) -> None:
    w = await _world(api)
    admin = token("BAOSTEEL", "admin", subject="it.admin")
    chain = await api.data("""mutation { setEscalationChain(input: {subjects:
        ["sales.manager", "sales.director"]}) { chain { level subject customerSpecific }
        errors { code } } }""", as_=admin)
    assert chain["setEscalationChain"]["chain"] == [
        {"level": 1, "subject": "sales.manager", "customerSpecific": False},
        {"level": 2, "subject": "sales.director", "customerSpecific": False}]
    refused = await api.data("""mutation { setEscalationChain(input: {subjects: ["x"]}) {
        errors { code } } }""", as_=token("BAOSTEEL", "sales"))
    assert refused["setEscalationChain"]["errors"][0]["code"] == "FORBIDDEN"

    ticket = await _urge(api, w)
    due = datetime.fromisoformat(str(ticket["dueAt"]))
    assert timedelta(minutes=119) < due - datetime.now(UTC) <= timedelta(minutes=120)
    assert await hotline.escalate_overdue(api.db, due - timedelta(seconds=1)) == 0
    assert await hotline.escalate_overdue(api.db, due) == 1

    line = to_global_id("ContractLine", w.line["FAW-VW"])
    seen = (await api.data(LINE, {"id": line}, as_=token("FAW-VW")))["node"]
    assert seen["openUrgeTicket"] == {"number": ticket["number"], "status": "OPEN",
                                      "assignee": "sales.manager", "escalationLevel": 1}
    assert [h["action"] for h in seen["urgeTickets"][0]["history"]] == ["OPENED", "ESCALATED"]
    manager = token("BAOSTEEL", "sales", subject="sales.manager")
    assert len((await api.data(MINE, as_=manager))["urgeTickets"]["nodes"]) == 1
    escalated = [e for e in await events.read_after(api.db, 0)
                 if e.event_type == "urge.escalated"]
    assert escalated[0].org_id == w.org["FAW-VW"]
    assert escalated[0].payload["notify_users"] == ["sales.manager", "sales.zhang"]


async def test_the_other_customer_sees_nothing_of_it(api: Api) -> None:
    w = await _world(api)
    ticket = await _urge(api, w)
    galanz = token("GALANZ")
    node = "query($id: ID!) { node(id: $id) { __typename } }"
    assert (await api.data(node, {"id": ticket["id"]}, as_=token("FAW-VW")))["node"] == {
        "__typename": "UrgeTicket"}
    assert await api.query(node, {"id": ticket["id"]}, as_=galanz) == {"data": {"node": None}}
    listed = await api.data("{ urgeTickets { nodes { number } } }", as_=galanz)
    assert listed["urgeTickets"]["nodes"] == []
    stolen = await api.data(URGE, {"input": {
        "lineId": to_global_id("ContractLine", w.line["FAW-VW"]), "reason": "mine?",
        "neededBy": mill_today().isoformat()}}, as_=galanz)
    assert stolen["urgeContractLine"]["errors"][0]["code"] == "NOT_FOUND"
    not_staff = await api.query("{ urgeTickets(filter: {assignedToMe: true}) { nodes { id } } }",
                                as_=galanz)
    assert not_staff["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


INBOX = "{ notifications { nodes { eventType title } } }"
TEXTS = "{ notifications { nodes { eventType title body } } }"


async def test_the_owner_hears_at_once_through_the_push_worker(api: Api) -> None:
    w = await _world(api)
    async with api.db.transaction() as tx:
        await escalation.set_escalation_chain(tx, None, ["sales.manager"])
    ticket = await _urge(api, w)
    worker = Worker(api.db, PushConfig())
    assert await worker.step() > 0
    zhang = token("BAOSTEEL", "sales", subject="sales.zhang")
    inbox = (await api.data(INBOX, as_=zhang))["notifications"]["nodes"]
    assert [n["eventType"] for n in inbox] == ["urge.opened"]
    assert "C-FAW-VW" in inbox[0]["title"]

    # The worker's periodic job escalates once the answer is late.
    [(name, _, job)] = [j for j in PERIODIC_JOBS if j[0] == "urge-escalation"]
    due = datetime.fromisoformat(str(ticket["dueAt"]))
    assert await run_periodic(api.db, name, 30.0, job, now=due + timedelta(seconds=1)) == 1
    await worker.step()
    manager = token("BAOSTEEL", "sales", subject="sales.manager")
    inbox = (await api.data(INBOX, as_=manager))["notifications"]["nodes"]
    assert [n["eventType"] for n in inbox] == ["urge.escalated"]


async def test_the_answer_time_is_the_setting(db: Database) -> None:
    with pytest.raises(SettingsError, match="KEYLINK_URGE_ANSWER_MINUTES"):
        Settings.from_env({"KEYLINK_URGE_ANSWER_MINUTES": "0"})
    settings = SETTINGS.replace(urge_answer_minutes=15)
    services = Services(db=db, codec=CODEC, settings=settings)
    app = create_app(settings, services=services)
    app.state.services = services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://keylink.test") as client:
        w = await _world(Api(client, db))
        ticket = await _urge(Api(client, db), w)
    assert ticket["answerWithinMinutes"] == 15
    due = datetime.fromisoformat(str(ticket["dueAt"]))
    assert timedelta(minutes=14) < due - datetime.now(UTC) <= timedelta(minutes=15)


async def test_the_customer_hears_each_answer_in_its_inbox_without_a_rule(api: Api) -> None:
    w = await _world(api)
    # The customer reads English; the mill's staff read the mill's language (Chinese).
    await api.db.execute("INSERT INTO customer_preference (org_id, language) VALUES ($1, 'en')",
                         w.org["FAW-VW"])
    ticket = await _urge(api, w)
    zhang = token("BAOSTEEL", "sales", subject="sales.zhang")
    worker = Worker(api.db, PushConfig())
    assert (await api.data(ACK, {"id": ticket["id"]}, as_=zhang))["acknowledgeUrge"][
        "errors"] == []
    promised = (mill_today() + timedelta(days=15)).isoformat()
    assert (await api.data(PROMISE, {"id": ticket["id"], "d": promised}, as_=zhang))[
        "promiseUrge"]["errors"] == []
    while await worker.step():
        pass
    zhang_inbox = (await api.data(TEXTS, as_=zhang))["notifications"]["nodes"]
    assert [n["title"] for n in zhang_inbox] == ["合同 C-FAW-VW 催货"]
    buyer = token("FAW-VW", subject="buyer.faw")
    inbox = (await api.data(TEXTS, as_=buyer))["notifications"]["nodes"]
    # Newest first; its own urge is not echoed back to it.
    assert [n["eventType"] for n in inbox] == ["urge.promised", "urge.acknowledged"]
    assert inbox[0]["title"] == f"Urge {ticket['number']}: delivery promised for {promised}"
    assert "C-FAW-VW" in inbox[0]["body"]
    # The other customer hears nothing of it.
    other = (await api.data(INBOX, as_=token("GALANZ")))["notifications"]["nodes"]
    assert other == []

    # With an inbox rule of its own for urges, the resolution arrives once, by the rule.
    await api.db.execute(
        "INSERT INTO push_rule (org_id, watch_org_id, name, event_types, channel, created_by)"
        " VALUES ($1, $1, 'urges', '{urge.*}', 'inbox', 'buyer.faw')", w.org["FAW-VW"])
    assert (await api.data(RESOLVE, {"id": ticket["id"]}, as_=zhang))["resolveUrge"][
        "errors"] == []
    while await worker.step():
        pass
    inbox = (await api.data(TEXTS, as_=buyer))["notifications"]["nodes"]
    assert [n["eventType"] for n in inbox] == [
        "urge.resolved", "urge.promised", "urge.acknowledged"]
    assert "shipped by rail" in inbox[0]["body"]


async def test_one_buyers_personal_rule_leaves_colleagues_the_default(api: Api) -> None:
    w = await _world(api)
    await api.db.execute(
        "INSERT INTO push_rule (org_id, user_subject, watch_org_id, name, event_types,"
        " channel, created_by) VALUES ($1, 'buyer.faw', $1, 'my urges', '{urge.*}', 'inbox',"
        " 'buyer.faw')", w.org["FAW-VW"])
    ticket = await _urge(api, w)
    zhang = token("BAOSTEEL", "sales", subject="sales.zhang")
    assert (await api.data(ACK, {"id": ticket["id"]}, as_=zhang))["acknowledgeUrge"][
        "errors"] == []
    worker = Worker(api.db, PushConfig())
    while await worker.step():
        pass
    colleague = (await api.data(TEXTS, as_=token("FAW-VW", subject="buyer.two")))[
        "notifications"]["nodes"]
    assert [n["eventType"] for n in colleague] == ["urge.acknowledged"]
    mine = (await api.data("{ notifications { nodes { eventType forUser } } }",
                           as_=token("FAW-VW", subject="buyer.faw")))["notifications"]["nodes"]
    assert {(n["eventType"], n["forUser"]) for n in mine} >= {("urge.acknowledged", True)}

"""Quality disputes: opening on delivered coils only, every transition for every role,
8D records, the timeline, events, containment and tenancy."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from domain.actor import Actor
from domain.db import Database
from domain.disputes import writes as disputes
from domain.disputes.writes import DisputeInput
from domain.errors import DomainError, Forbidden, Invalid, InvalidTransition, NotFound
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import NOW, World, build

ROLES = ("customer", "sales", "production", "quality", "logistics", "finance", "admin")
STATES = ("established", "processing", "claiming", "correcting", "completed", "rejected",
          "withdrawn")

OPEN = """mutation($input: OpenDisputeInput!) { openDispute(input: $input) {
    dispute { id number status coils { coilNo } availableActions }
    errors { field message code } } }"""
MOVE = """mutation($input: TransitionDisputeInput!) { transitionDispute(input: $input) {
    dispute { status closedAt availableActions } errors { field message code } } }"""
RECORD = """mutation($input: RecordDisputeActionInput!) { recordDisputeAction(input: $input) {
    dispute { status containment rootCause verification } errors { field message code } } }"""
DISPUTE = """query($id: ID!) { dispute(id: $id) { number status
    timeline(first: 50) { nodes { action fromStatus toStatus actor note detail
                                  actorOrganization { code } } } } }"""


async def delivered_world(db: Database) -> World:
    """The factory's world with every customer coil at that customer's warehouse."""
    w = await build(db)
    for cust in ("FAW-VW", "GALANZ"):
        for coil in w.coils[cust]:
            await db.execute("INSERT INTO coil_location (coil_id, site_id, since)"
                             " VALUES ($1, $2, $3)", coil, w.site[cust], NOW)
    return w


def customer(w: World, cust: str = "FAW-VW") -> Actor:
    return Actor(f"buyer.{cust}", w.org[cust], frozenset({"customer"}), True)


def staff(w: World, *roles: str) -> Actor:
    return Actor("staff.mill", w.org["BAOSTEEL"], frozenset(roles), False)


def actor_for(w: World, role: str) -> Actor:
    return customer(w) if role == "customer" else staff(w, role)


def dispute_input(coils: list[int]) -> DisputeInput:
    return DisputeInput(coil_ids=coils, defect_kind="surface",
                        description="scratches along the edge", affected_t=Decimal("3.900"),
                        found_during="incoming_inspection")


async def open_in(db: Database, w: World, state: str) -> int:
    """A dispute of FAW-VW put straight into ``state``, its preconditions met."""
    d = await disputes.open_dispute(db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    await db.execute("UPDATE quality_dispute SET status = $2, root_cause = 'roll mark',"
                     " verification = 'checked 20 coils' WHERE id = $1", d.id, state)
    return d.id


async def test_every_transition_for_every_role(db: Database) -> None:
    w = await delivered_world(db)
    for action, step in disputes.TRANSITIONS.items():
        for role in ROLES:
            pk = await open_in(db, w, step.source)
            allowed = role in step.roles
            try:
                moved = await disputes.transition(db, actor_for(w, role), pk, action, "because")
            except Forbidden:
                assert not allowed, (action, role)
                assert await db.fetchval("SELECT status FROM quality_dispute WHERE id = $1",
                                         pk) == step.source
                continue
            assert allowed, (action, role)
            assert moved.status == step.target
        allowed_role = sorted(step.roles)[0]
        for state in STATES:
            if state == step.source:
                continue
            pk = await open_in(db, w, state)
            with pytest.raises(InvalidTransition):
                await disputes.transition(db, actor_for(w, allowed_role), pk, action, "why")


async def test_8d_records_are_kept_by_quality_in_their_states(db: Database) -> None:
    w = await delivered_world(db)
    for kind, states in disputes.RECORDS.items():
        for state in STATES:
            pk = await open_in(db, w, state)
            for role in ROLES:
                call = disputes.record(db, actor_for(w, role), pk, kind, f"{kind} text")
                if role not in ("quality", "admin"):
                    with pytest.raises(Forbidden):
                        await call
                elif state not in states:
                    with pytest.raises(InvalidTransition):
                        await call
                else:
                    assert getattr(await call, kind) == f"{kind} text"


async def test_preconditions_of_reject_correct_and_complete(db: Database) -> None:
    w = await delivered_world(db)
    quality = staff(w, "quality")
    pk = await open_in(db, w, "processing")
    with pytest.raises(Invalid) as no_reason:
        await disputes.transition(db, quality, pk, "reject", "  ")
    assert no_reason.value.field == "note"
    d = await disputes.open_dispute(db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    await disputes.transition(db, quality, d.id, "process", None)
    await disputes.transition(db, quality, d.id, "claim", None)
    with pytest.raises(InvalidTransition, match="root cause"):
        await disputes.transition(db, quality, d.id, "correct", None)
    await disputes.record(db, quality, d.id, "root_cause", "worn work roll")
    await disputes.transition(db, quality, d.id, "correct", None)
    with pytest.raises(InvalidTransition, match="not been verified"):
        await disputes.transition(db, customer(w), d.id, "complete", None)


async def test_a_customer_names_only_its_own_delivered_coils(db: Database) -> None:
    w = await delivered_world(db)
    faw = customer(w)
    # Another customer's coil, the mill's mother coil, an undelivered coil: all unknown.
    await db.execute("DELETE FROM coil_location WHERE coil_id = $1", w.coils["FAW-VW"][2])
    for coils in ([w.coils["GALANZ"][0]], [w.mother], [w.coils["FAW-VW"][2]],
                  [w.coils["FAW-VW"][0], w.coils["GALANZ"][1]]):
        with pytest.raises(NotFound) as refused:
            await disputes.open_dispute(db, faw, dispute_input(coils))
        assert refused.value.field == "coilIds"
    with pytest.raises(Forbidden):
        await disputes.open_dispute(db, staff(w, "quality", "admin"),
                                    dispute_input(w.coils["FAW-VW"][:1]))
    # Delivered by a leg that reached its warehouse, or processed there, is named.
    await db.execute("DELETE FROM coil_location")
    assert (await disputes.open_dispute(db, faw, dispute_input(w.coils["FAW-VW"][:1]))).id
    assert await db.fetchval("SELECT count(*) FROM quality_dispute") == 1
    for bad in (DisputeInput([w.coils["FAW-VW"][0]], "rust", "x", Decimal(1), "storage"),
                DisputeInput([w.coils["FAW-VW"][0]], "surface", " ", Decimal(1), "storage"),
                DisputeInput([w.coils["FAW-VW"][0]], "surface", "x", Decimal("0.0001"),
                             "storage"),
                DisputeInput([], "surface", "x", Decimal(1), "storage")):
        with pytest.raises(Invalid):
            await disputes.open_dispute(db, faw, bad)
    # A coil of 3,900 kg: at most 3.9 t can be affected.
    with pytest.raises(Invalid, match=r"weigh 3\.9 t") as too_much:
        await disputes.open_dispute(db, faw, DisputeInput(
            w.coils["FAW-VW"][:1], "surface", "x", Decimal("3.901"), "storage"))
    assert too_much.value.field == "affectedTonnes"
    assert await db.fetchval("SELECT count(*) FROM quality_dispute") == 1


async def test_a_full_course_over_graphql_with_timeline_and_events(api: Api) -> None:
    w = await delivered_world(api.db)
    faw, quality = token("FAW-VW", subject="buyer.faw"), token("BAOSTEEL", "quality")
    coils = [to_global_id("Coil", c) for c in w.coils["FAW-VW"][:2]]
    opened = (await api.data(OPEN, {"input": {
        "coilIds": coils, "defectKind": "SURFACE", "description": "roll marks every 1.2 m",
        "affectedTonnes": "7.8", "foundDuring": "PROCESSING"}}, as_=faw))["openDispute"]
    assert opened["errors"] == []
    d = opened["dispute"]
    assert d["status"] == "ESTABLISHED" and d["availableActions"] == ["WITHDRAW"]
    assert [c["coilNo"] for c in d["coils"]] == ["FAW-VW-0", "FAW-VW-1"]
    gid = d["id"]

    async def move(action: str, as_: str, note: str | None = None) -> dict[str, object]:
        body = await api.data(MOVE, {"input": {"disputeId": gid, "action": action,
                                               "note": note}}, as_=as_)
        result: dict[str, object] = body["transitionDispute"]
        return result

    async def keep(kind: str, text: str) -> None:
        body = await api.data(RECORD, {"input": {"disputeId": gid, "kind": kind,
                                                 "text": text}}, as_=quality)
        assert body["recordDisputeAction"]["errors"] == []

    refused = await move("PROCESS", faw)
    assert refused["errors"] == [{"field": None, "code": "FORBIDDEN",
                                  "message": "to process a dispute needs the role admin or "
                                             "quality"}]
    processed = await move("PROCESS", quality)
    assert processed["errors"] == []
    assert processed["dispute"]["availableActions"] == ["REJECT", "CLAIM"]  # type: ignore[index]
    await keep("CONTAINMENT", "held 14 coils of heat 26H00001 at Baoshan")
    await keep("ROOT_CAUSE", "worn work roll on stand 3")
    assert (await move("CLAIM", quality))["errors"] == []
    bad = await move("COMPLETE", faw)
    assert bad["errors"][0]["code"] == "INVALID_TRANSITION"  # type: ignore[index]
    assert (await move("CORRECT", quality))["errors"] == []
    await keep("CORRECTIVE_ACTION", "roll changed, inspection interval halved")
    await keep("VERIFICATION", "next 20 coils free of marks")
    done = await move("COMPLETE", faw, "accepted")
    assert done["errors"] == [] and done["dispute"]["closedAt"]  # type: ignore[index]

    timeline = (await api.data(DISPUTE, {"id": gid}, as_=faw))["dispute"]["timeline"]["nodes"]
    assert [s["action"] for s in timeline] == [
        "opened", "process", "containment", "root_cause", "claim", "correct",
        "corrective_action", "verification", "complete"]
    assert timeline[0]["actor"] == "buyer.faw" and timeline[0]["toStatus"] == "established"
    assert timeline[0]["detail"]["coils"] == ["FAW-VW-0", "FAW-VW-1"]
    assert timeline[1]["actorOrganization"]["code"] == "BAOSTEEL"
    assert timeline[-1] == {**timeline[-1], "fromStatus": "correcting",
                            "toStatus": "completed", "note": "accepted"}
    kinds = [r["event_type"] for r in await api.db.fetch(
        "SELECT event_type FROM domain_event WHERE aggregate_type = 'quality_dispute'"
        " AND org_id = $1 ORDER BY seq", w.org["FAW-VW"])]
    assert kinds == ["dispute.opened", "dispute.processing", "dispute.containment_recorded",
                     "dispute.root_cause_recorded", "dispute.claiming", "dispute.correcting",
                     "dispute.corrective_action_recorded", "dispute.verification_recorded",
                     "dispute.completed"]
    # Push rules that filter by contract or grade find disputes by their coils'.
    payload = await api.db.fetchval(
        "SELECT payload FROM domain_event WHERE event_type = 'dispute.opened'")
    assert (payload["contract"], payload["grade"], payload["dispute"]) == (
        ["C-FAW-VW"], ["DC04"], d["number"])


async def test_another_customer_neither_sees_nor_moves_a_dispute(api: Api) -> None:
    w = await delivered_world(api.db)
    d = await disputes.open_dispute(api.db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    gid = to_global_id("QualityDispute", d.id)
    galanz = token("GALANZ")
    seen = await api.data(f'{{ a: dispute(id: "{gid}") {{ number }}'
                          f' b: dispute(number: "{d.number}") {{ number }}'
                          f' c: node(id: "{gid}") {{ id }} disputes {{ nodes {{ number }} }} }}',
                          as_=galanz)
    assert seen == {"a": None, "b": None, "c": None, "disputes": {"nodes": []}}
    moved = await api.data(MOVE, {"input": {"disputeId": gid, "action": "WITHDRAW"}},
                           as_=galanz)
    assert moved["transitionDispute"]["errors"][0]["code"] == "NOT_FOUND"
    mine = await api.data("{ disputes { nodes { number } } }", as_=token("FAW-VW"))
    staff_sees = await api.data("{ disputes { nodes { number } } }",
                                as_=token("BAOSTEEL", "sales"))
    assert mine == staff_sees == {"disputes": {"nodes": [{"number": d.number}]}}
    foreign = await api.data(OPEN, {"input": {
        "coilIds": [to_global_id("Coil", w.coils["FAW-VW"][0])], "defectKind": "SHAPE",
        "description": "wavy", "affectedTonnes": "1", "foundDuring": "STORAGE"}}, as_=galanz)
    assert foreign["openDispute"]["errors"][0]["code"] == "NOT_FOUND"


SUSPECTS = """query($id: ID!) { dispute(id: $id) { suspects(first: 100) { nodes {
    samePart: sameParent whereNow qualityStatus coil { coilNo } contract { number }
    site { code } } } } }"""


async def test_containment_finds_the_heat_and_the_siblings_and_where_they_are(api: Api) -> None:
    w = await delivered_world(api.db)
    # GALANZ-0 was processed (the factory's feedback), GALANZ-1 travels, FAW-VW-2 waits at
    # the mill.
    await api.db.execute("DELETE FROM coil_location WHERE coil_id = ANY($1::bigint[])",
                         [w.coils["GALANZ"][1], w.coils["FAW-VW"][2]])
    vehicle = await api.db.fetchval("INSERT INTO vehicle (code, kind, name) VALUES"
                                    " ('T1', 'truck', 'T1') RETURNING id")
    await api.db.execute("INSERT INTO coil_location (coil_id, vehicle_id, since)"
                         " VALUES ($1, $2, now())", w.coils["GALANZ"][1], vehicle)
    d = await disputes.open_dispute(api.db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    gid = to_global_id("QualityDispute", d.id)
    nodes = (await api.data(SUSPECTS, {"id": gid}, as_=token("BAOSTEEL", "quality"))
             )["dispute"]["suspects"]["nodes"]
    got = {n["coil"]["coilNo"]: (n["samePart"], n["whereNow"],
                                 (n["contract"] or {}).get("number")) for n in nodes}
    assert got == {
        "HR-1": (False, "CONSUMED", None),
        "FAW-VW-1": (True, "AT_CUSTOMER", "C-FAW-VW"),
        "FAW-VW-2": (True, "AT_MILL", "C-FAW-VW"),
        "GALANZ-0": (True, "CONSUMED", "C-GALANZ"),
        "GALANZ-1": (True, "IN_TRANSIT", "C-GALANZ"),
        "GALANZ-2": (True, "AT_CUSTOMER", "C-GALANZ"),
    }
    own = (await api.data(SUSPECTS, {"id": gid}, as_=token("FAW-VW")))["dispute"]
    assert [n["coil"]["coilNo"] for n in own["suspects"]["nodes"]] == ["FAW-VW-1", "FAW-VW-2"]

    # Containment blocks what has not reached a line; a coil of another heat is refused.
    blocked = await api.data(RECORD, {"input": {
        "disputeId": gid, "kind": "CONTAINMENT", "text": "hold at the mill and in transit",
        "blockCoilIds": [to_global_id("Coil", w.coils["FAW-VW"][2]),
                         to_global_id("Coil", w.coils["GALANZ"][1])]}},
        as_=token("BAOSTEEL", "quality"))
    assert blocked["recordDisputeAction"]["errors"] == []
    status = await api.db.fetch("SELECT coil_no, quality_status FROM coil WHERE"
                                " quality_status = 'blocked' ORDER BY coil_no")
    assert [r["coil_no"] for r in status] == ["FAW-VW-2", "GALANZ-1"]
    # FAW-VW's timeline and events name its own coil, and neither name nor count GALANZ's.
    step = await api.db.fetchval("SELECT detail FROM dispute_step WHERE action = 'containment'")
    event = await api.db.fetchval("SELECT payload FROM domain_event"
                                  " WHERE event_type = 'dispute.containment_recorded'")
    assert step == {"blocked": ["FAW-VW-2"], "blocked_at_mill": 0}
    assert (event["blocked"], event["blocked_at_mill"]) == (["FAW-VW-2"], 0)
    assert "GALANZ-1" not in str(await api.data(DISPUTE, {"id": gid}, as_=token("FAW-VW")))
    other_heat = await api.db.fetchval(
        "INSERT INTO heat (heat_no, grade, tapped_at, weight_t) VALUES ('X', 'DC04', now(), 1)"
        " RETURNING id")
    stranger = await api.db.fetchval(
        "INSERT INTO coil (coil_no, kind, heat_id, thickness_mm, width_mm, weight_kg,"
        " produced_at) VALUES ('X-1', 'slit', $1, 1, 1000, 1000, now()) RETURNING id",
        other_heat)
    with pytest.raises(DomainError, match="heats of this dispute"):
        await disputes.record(api.db, staff(w, "quality"), d.id, "containment", "x",
                              [stranger])


PAGED = """query($id: ID!, $after: String, $coil: ID!) {
    dispute(id: $id) { timeline(first: 2, after: $after) { nodes { action }
                       pageInfo { hasNextPage endCursor } } }
    disputes(coilId: $coil) { nodes { number } } }"""


async def test_the_timeline_pages_and_disputes_filter_by_coil(api: Api) -> None:
    w = await delivered_world(api.db)
    quality = staff(w, "quality")
    d = await disputes.open_dispute(api.db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    await disputes.transition(api.db, quality, d.id, "process", None)
    await disputes.record(api.db, quality, d.id, "containment", "held")
    gid, faw = to_global_id("QualityDispute", d.id), token("FAW-VW")
    actions, after = [], None
    for _ in range(3):
        data = await api.data(PAGED, {"id": gid, "after": after,
                                      "coil": to_global_id("Coil", w.coils["FAW-VW"][0])},
                              as_=faw)
        page = data["dispute"]["timeline"]
        actions.append([n["action"] for n in page["nodes"]])
        after = page["pageInfo"]["endCursor"]
        assert data["disputes"]["nodes"] == [{"number": d.number}]
    assert actions == [["opened", "process"], ["containment"], []]
    other = await api.data(PAGED, {"id": gid, "coil": to_global_id("Coil", w.coils["FAW-VW"][1])},
                           as_=faw)
    assert other["disputes"]["nodes"] == []


async def test_concurrent_steps_on_one_dispute_take_effect_once(db: Database) -> None:
    w = await delivered_world(db)
    d = await disputes.open_dispute(db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    results = await asyncio.gather(
        disputes.transition(db, staff(w, "quality"), d.id, "process", None),
        disputes.transition(db, customer(w), d.id, "withdraw", "found the cause ourselves"),
        return_exceptions=True)
    done = [r for r in results if isinstance(r, disputes.Dispute)]
    refused = [r for r in results if isinstance(r, InvalidTransition)]
    assert len(done) == 1 and len(refused) == 1
    steps = await db.fetch("SELECT action FROM dispute_step WHERE dispute_id = $1"
                           " ORDER BY id", d.id)
    assert [s["action"] for s in steps] == ["opened", "process" if done[0].status
                                            == "processing" else "withdraw"]


COIL_DISPUTES = """query($id: ID!, $after: String) { dispute(id: $id) { coils {
    coilNo disputes(first: 1, after: $after) { nodes { number }
                                              pageInfo { hasNextPage endCursor } } } } }"""


async def test_a_coil_lists_the_disputes_that_name_it(api: Api) -> None:
    w = await delivered_world(api.db)
    faw_coils = w.coils["FAW-VW"]
    older = await disputes.open_dispute(api.db, customer(w), dispute_input(faw_coils[:1]))
    newer = await disputes.open_dispute(api.db, customer(w), dispute_input(faw_coils[:2]))
    await disputes.open_dispute(api.db, customer(w, "GALANZ"),
                                dispute_input(w.coils["GALANZ"][:1]))
    gid = to_global_id("QualityDispute", newer.id)
    for who in (token("FAW-VW"), token("BAOSTEEL", "quality")):
        coils = (await api.data(COIL_DISPUTES, {"id": gid}, as_=who))["dispute"]["coils"]
        got = {c["coilNo"]: ([n["number"] for n in c["disputes"]["nodes"]],
                             c["disputes"]["pageInfo"]["hasNextPage"]) for c in coils}
        assert got == {"FAW-VW-0": ([newer.number], True), "FAW-VW-1": ([newer.number], False)}
        cursor = coils[0]["disputes"]["pageInfo"]["endCursor"]
        rest = (await api.data(COIL_DISPUTES, {"id": gid, "after": cursor}, as_=who)
                )["dispute"]["coils"][0]["disputes"]
        assert [n["number"] for n in rest["nodes"]] == [older.number]
        assert rest["pageInfo"]["hasNextPage"] is False
    assert (await api.data(COIL_DISPUTES, {"id": gid}, as_=token("GALANZ")))["dispute"] is None
    # Another customer reaching the coil some other way still learns of no dispute.
    other = await api.data('query($id: ID!) { node(id: $id) { ... on Coil { disputes {'
                           ' nodes { number } } } } }',
                           {"id": to_global_id("Coil", faw_coils[0])}, as_=token("GALANZ"))
    assert other["node"] is None

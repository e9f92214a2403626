"""Contracts over GraphQL: pages, filters, progress and its prediction, and the mill's
and customer's mutations with their typed errors."""

from __future__ import annotations

from datetime import date, timedelta

from domain.quality.certificates import content_hash
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import TODAY, build

MILL = ("sales", "production", "quality")

PROGRESS = """query($id: ID!) { node(id: $id) { ... on ContractLine { status
    progress { currentStage stagesDone stageCount shareDone plannedFinish predictedFinish
               predictedDelivery lateDays isLate
               stages { stage plannedEnd completed delayDays actualTonnes } } } } }"""

RECORD = """mutation($input: RecordProgressInput!) { recordProgress(input: $input) {
    progress { currentStage stagesDone isLate lateDays }
    line { status contract { status } }
    errors { field message code } } }"""


async def test_progress_shows_stage_timeline_and_prediction(api: Api) -> None:
    w = await build(api.db)
    data = await api.data(PROGRESS, {"id": to_global_id("ContractLine", w.line["FAW-VW"])},
                          as_=token("FAW-VW"))
    p = data["node"]["progress"]
    assert p["stages"][0] == {"stage": "STEELMAKING", "plannedEnd": p["stages"][0]["plannedEnd"],
                              "completed": True, "delayDays": p["stages"][0]["delayDays"],
                              "actualTonnes": "120.000"}
    assert p["currentStage"] == "CASTING" and p["stagesDone"] == 1
    assert 0 < float(p["shareDone"]) < 1
    assert date.fromisoformat(p["predictedDelivery"]) == (
        date.fromisoformat(p["predictedFinish"]) + timedelta(days=7))
    assert p["isLate"] is False and p["lateDays"] == 0


async def test_overdue_stage_moves_the_prediction_and_makes_the_line_late(api: Api) -> None:
    w = await build(api.db)
    # Pull the window in so that the plan is tight, and make casting overdue by 6 days.
    await api.db.execute(
        "UPDATE contract_line SET delivery_from = $2, delivery_to = $3 WHERE id = $1",
        w.line["FAW-VW"], TODAY + timedelta(days=20), TODAY + timedelta(days=33))
    await api.db.execute(
        "UPDATE production_stage_plan p SET planned_end = $2::date, planned_start = $2::date - 2"
        " FROM production_order o WHERE o.id = p.order_id AND o.line_id = $1"
        " AND p.stage = 'casting'", w.line["FAW-VW"], TODAY - timedelta(days=6))
    data = await api.data(PROGRESS, {"id": to_global_id("ContractLine", w.line["FAW-VW"])},
                          as_=token("FAW-VW"))
    p = data["node"]["progress"]
    casting = next(s for s in p["stages"] if s["stage"] == "CASTING")
    assert casting["delayDays"] == 6
    planned = date.fromisoformat(p["plannedFinish"])
    assert date.fromisoformat(p["predictedFinish"]) == planned + timedelta(days=6)
    assert p["isLate"] is True and p["lateDays"] == (planned - TODAY).days + 6 + 7 - 33

    late = await api.data("{ contracts(filter: {lateOnly: true}) { nodes { number } } }",
                          as_=token("BAOSTEEL", "sales"))
    assert [c["number"] for c in late["contracts"]["nodes"]] == ["C-FAW-VW"]


async def test_record_progress_checks_role_stage_and_time(api: Api) -> None:
    w = await build(api.db)
    line = to_global_id("ContractLine", w.line["GALANZ"])
    base = {"lineId": line, "stage": "CASTING", "tonnes": "60", "completesStage": False}

    as_customer = await api.data(RECORD, {"input": base}, as_=token("GALANZ"))
    assert as_customer["recordProgress"]["errors"][0]["code"] == "FORBIDDEN"

    mill = token("BAOSTEEL", "production")
    off_route = await api.data(RECORD, {"input": {**base, "stage": "ANNEALING"}}, as_=mill)
    assert off_route["recordProgress"]["errors"] == [{
        "field": "stage", "code": "INVALID",
        "message": "stage annealing is not on this line's route"}]
    future = await api.data(
        RECORD, {"input": {**base, "occurredAt": "2099-01-01T00:00:00+08:00"}}, as_=mill)
    assert future["recordProgress"]["errors"][0]["field"] == "occurredAt"
    wrong_type = await api.data(
        RECORD, {"input": {**base, "lineId": to_global_id("Coil", 1)}}, as_=mill)
    assert wrong_type["recordProgress"]["errors"][0]["code"] == "BAD_USER_INPUT"

    done = await api.data(RECORD, {"input": {**base, "completesStage": True}}, as_=mill)
    assert done["recordProgress"]["errors"] == []
    assert done["recordProgress"]["progress"]["stagesDone"] == 2
    events = await api.db.fetch(
        "SELECT event_type, org_id FROM domain_event ORDER BY seq")
    assert [e["event_type"] for e in events] == [
        "production.progress_recorded", "production.milestone_reached"]
    assert {e["org_id"] for e in events} == {w.org["GALANZ"]}


async def test_confirm_contract_creates_production_orders_once(api: Api) -> None:
    w = await build(api.db)
    contract = await api.db.fetchval(
        "INSERT INTO contract (number, customer_org_id) VALUES ('C-NEW', $1) RETURNING id",
        w.org["FAW-VW"])
    line = await api.db.fetchval(
        "INSERT INTO contract_line (contract_id, customer_org_id, line_no, spec_id, quantity_t,"
        " unit_price, delivery_from, delivery_to, transport_mode) VALUES ($1, $2, 1, $3, 200,"
        " 5000, $4, $5, 'rail') RETURNING id",
        contract, w.org["FAW-VW"], w.spec["FAW-VW"], TODAY + timedelta(days=60),
        TODAY + timedelta(days=70))
    q = """mutation($id: ID!) { confirmContract(input: {contractId: $id}) {
        contract { status lines { status progress { stageCount currentStage } } }
        errors { code field } } }"""
    gid = to_global_id("Contract", contract)
    assert (await api.data(q, {"id": gid}, as_=token("BAOSTEEL", "production"))
            )["confirmContract"]["errors"][0]["code"] == "FORBIDDEN"
    first = await api.data(q, {"id": gid}, as_=token("BAOSTEEL", "sales"))
    assert first["confirmContract"]["errors"] == []
    confirmed = first["confirmContract"]["contract"]
    assert confirmed["status"] == "CONFIRMED"
    assert confirmed["lines"][0]["status"] == "CONFIRMED"
    assert confirmed["lines"][0]["progress"]["currentStage"] == "STEELMAKING"
    again = await api.data(q, {"id": gid}, as_=token("BAOSTEEL", "sales"))
    assert again["confirmContract"]["errors"] == [{"code": "INVALID_TRANSITION",
                                                    "field": "status"}]
    assert await api.db.fetchval(
        "SELECT count(*) FROM production_order WHERE line_id = $1", line) == 1

    # The first progress moves the contract into production.
    moved = await api.data(RECORD, {"input": {
        "lineId": to_global_id("ContractLine", line), "stage": "STEELMAKING", "tonnes": "200",
        "completesStage": True}}, as_=token("BAOSTEEL", "production"))
    assert moved["recordProgress"]["line"] == {"status": "IN_PRODUCTION",
                                               "contract": {"status": "IN_PRODUCTION"}}


async def test_issue_certificate_hashes_content_and_refuses_bad_values(api: Api) -> None:
    w = await build(api.db)
    coil = to_global_id("Coil", w.coils["FAW-VW"][1])
    q = """mutation($input: IssueCertificateInput!) { issueCertificate(input: $input) {
        certificate { certNo contentHash content chemistry { element massPercent } }
        errors { field code } } }"""
    good = {"coilId": coil, "yieldStrengthMpa": "182.5", "tensileStrengthMpa": "301",
            "elongationPct": "41.0"}
    qa = token("BAOSTEEL", "quality")
    # Only quality (or admin) releases a coil: not production, not the customer.
    for who in (token("BAOSTEEL", "production"), token("FAW-VW")):
        refused = await api.data(q, {"input": good}, as_=who)
        assert refused["issueCertificate"]["errors"] == [{"field": None,
                                                          "code": "FORBIDDEN"}]
    bad = await api.data(q, {"input": {**good, "tensileStrengthMpa": "100"}}, as_=qa)
    assert bad["issueCertificate"]["errors"] == [{"field": "tensileStrengthMpa",
                                                   "code": "INVALID"}]
    issued = (await api.data(q, {"input": good}, as_=qa))["issueCertificate"]
    assert issued["errors"] == []
    cert = issued["certificate"]
    assert cert["contentHash"] == content_hash(cert["content"])
    assert cert["chemistry"][0] == {"element": "C", "massPercent": "0.0030"}
    twice = await api.data(q, {"input": good}, as_=qa)
    assert twice["issueCertificate"]["errors"] == [{"field": "coilId", "code": "CONFLICT"}]
    assert await api.db.fetchval(
        "SELECT quality_status FROM coil WHERE id = $1", w.coils["FAW-VW"][1]) == "released"


async def test_processing_feedback_only_on_own_coils(api: Api) -> None:
    w = await build(api.db)
    q = """mutation($input: RecordProcessingFeedbackInput!) {
        recordProcessingFeedback(input: $input) {
          feedback { process result notes coil { coilNo } } errors { field code } } }"""

    def ask(pk: int) -> dict:
        return {"input": {"coilId": to_global_id("Coil", pk), "process": "WELDING",
                          "result": "MINOR_ISSUE", "notes": "spatter at seam"}}

    own = await api.data(q, ask(w.coils["FAW-VW"][2]), as_=token("FAW-VW"))
    assert own["recordProcessingFeedback"] == {"errors": [], "feedback": {
        "process": "WELDING", "result": "MINOR_ISSUE", "notes": "spatter at seam",
        "coil": {"coilNo": "FAW-VW-2"}}}
    other = await api.data(q, ask(w.coils["GALANZ"][2]), as_=token("FAW-VW"))
    assert other["recordProcessingFeedback"]["errors"] == [{"field": "coilId",
                                                            "code": "NOT_FOUND"}]
    mill = await api.data(q, ask(w.coils["FAW-VW"][2]), as_=token("BAOSTEEL", *MILL))
    assert mill["recordProcessingFeedback"]["errors"][0]["code"] == "FORBIDDEN"


async def test_keyset_pages_walk_every_contract_once(api: Api) -> None:
    w = await build(api.db)
    for i in range(25):
        await api.db.execute(
            "INSERT INTO contract (number, customer_org_id, signed_on) VALUES ($1, $2, $3)",
            f"K-{i:03d}", w.org["FAW-VW"], TODAY - timedelta(days=i % 5))
    q = """query($after: String) { contracts(first: 7, after: $after,
             orderBy: {field: SIGNED_ON, direction: DESC}) {
           edges { cursor node { number signedOn } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[tuple[str, str]] = []
    after = None
    while True:
        page = (await api.data(q, {"after": after}, as_=token("FAW-VW")))["contracts"]
        seen += [(e["node"]["signedOn"], e["node"]["number"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 26 and len({n for _, n in seen}) == 26
    dates = [d for d, _ in seen]
    assert dates == sorted(dates, reverse=True)

    for bad in ('contracts(first: 101) { nodes { number } }',
                'contracts(after: "garbage") { nodes { number } }'):
        body = await api.query("{ " + bad + " }", as_=token("FAW-VW"))
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

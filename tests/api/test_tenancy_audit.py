"""Tenancy across the newer areas (disputes, claims, settlements, preferences, orders, the
hotline, push, planning, service quality and `sites`): GALANZ's token tries to read, name and change
FAW-VW's objects through every field that takes an id or a customer, and each attempt
must read exactly like an id that does not exist."""

from __future__ import annotations

from typing import Any

from domain.db import Database
from resolvers.relay import to_global_id
from tests.support.api import Api, token

# A primary key no table reaches in the demo.
NOWHERE = 2**40


async def _ids(db: Database) -> dict[str, Any]:
    """FAW-VW's objects (and GALANZ's id) straight from the demo's tables."""
    faw = await db.fetchval("SELECT id FROM organization WHERE code = 'FAW-VW'")
    galanz = await db.fetchval("SELECT id FROM organization WHERE code = 'GALANZ'")

    async def one(sql: str) -> Any:
        return await db.fetchval(sql, faw)

    return {
        "faw": faw, "galanz": galanz,
        "dispute": await one("SELECT id FROM quality_dispute WHERE customer_org_id = $1"
                             " AND status = 'claiming' ORDER BY id LIMIT 1"),
        "dispute_number": await one("SELECT number FROM quality_dispute"
                                    " WHERE customer_org_id = $1 ORDER BY id LIMIT 1"),
        "claim": await one("SELECT id FROM quality_claim WHERE customer_org_id = $1"
                           " AND status = 'submitted' ORDER BY id LIMIT 1"),
        "disputed_coil": await one(
            "SELECT dc.coil_id FROM dispute_coil dc JOIN quality_dispute d"
            " ON d.id = dc.dispute_id WHERE d.customer_org_id = $1 ORDER BY dc.coil_id LIMIT 1"),
        "settlement": await one("SELECT id FROM settlement WHERE customer_org_id = $1"
                                " ORDER BY id LIMIT 1"),
        "settlement_number": await one("SELECT number FROM settlement"
                                       " WHERE customer_org_id = $1 ORDER BY id LIMIT 1"),
        "warehouse": await one("SELECT id FROM site WHERE org_id = $1"
                               " AND kind = 'customer_warehouse' ORDER BY id LIMIT 1"),
        "spec": await one("SELECT id FROM steel_spec WHERE customer_org_id = $1"
                          " ORDER BY id LIMIT 1"),
        "line": await one("SELECT id FROM contract_line WHERE customer_org_id = $1"
                          " AND status NOT IN ('delivered', 'closed', 'cancelled', 'draft')"
                          " ORDER BY id LIMIT 1"),
        "purchase_plan": await one("SELECT id FROM purchase_plan WHERE customer_org_id = $1"
                                   " ORDER BY id DESC LIMIT 1"),
        "production_plan": await one("SELECT id FROM production_plan"
                                     " WHERE customer_org_id = $1 ORDER BY id DESC LIMIT 1"),
    }


def _errors(payload: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    """A payload's errors as (field, code, message): what the caller can tell apart."""
    return [(e["field"], e["code"], e["message"]) for e in payload["errors"]]


async def _same_as_unknown(api: Api, token: str, mutation: str, field: str,
                           theirs: dict[str, Any], unknown: dict[str, Any]) -> None:
    """The mutation on another's object fails exactly as on one that does not exist."""
    got = (await api.data(mutation, {"input": theirs}, as_=token))[field]
    none = (await api.data(mutation, {"input": unknown}, as_=token))[field]
    assert got["errors"], got
    assert _errors(got) == _errors(none)
    assert got["errors"][0]["code"] == "NOT_FOUND", got
    assert all(v is None for k, v in got.items() if k != "errors"), got


async def test_the_demo_has_what_the_audit_tries(seeded_db: Database) -> None:
    ids = await _ids(seeded_db)
    missing = [k for k, v in ids.items() if v is None]
    assert missing == [], f"the demo lacks {missing}: the audit below would prove nothing"


async def test_disputes_and_claims_of_another_customer_are_unknown(
    demo_api: Api, seeded_db: Database, tokens: dict[str, str]
) -> None:
    ids = await _ids(seeded_db)
    g, f = tokens["galanz"], tokens["faw"]
    dispute = to_global_id("QualityDispute", ids["dispute"])
    q = """query($id: ID, $n: String) { dispute(id: $id) { number } byNumber: dispute(number: $n)
           { number } }"""
    assert (await demo_api.data(q, {"id": dispute, "n": ids["dispute_number"]}, as_=f)) \
        ["dispute"] is not None
    got = await demo_api.data(q, {"id": dispute, "n": ids["dispute_number"]}, as_=g)
    assert got == {"dispute": None, "byNumber": None}

    # The coil filter names a coil of FAW-VW's disputes: GALANZ gets nothing, FAW-VW some.
    q = "query($c: ID) { disputes(coilId: $c) { nodes { number customer { code } } } }"
    coil = to_global_id("Coil", ids["disputed_coil"])
    assert (await demo_api.data(q, {"c": coil}, as_=f))["disputes"]["nodes"]
    assert (await demo_api.data(q, {"c": coil}, as_=g))["disputes"]["nodes"] == []
    own = (await demo_api.data(q, {"c": None}, as_=g))["disputes"]["nodes"]
    assert own and {d["customer"]["code"] for d in own} == {"GALANZ"}

    # Every kind of node of these areas: FAW-VW's are null for GALANZ.
    q = "query($id: ID!) { node(id: $id) { id } }"
    for kind, key in [("QualityDispute", "dispute"), ("Claim", "claim"),
                      ("Settlement", "settlement"), ("PurchasePlan", "purchase_plan"),
                      ("ProductionPlan", "production_plan")]:
        gid = to_global_id(kind, ids[key])
        assert (await demo_api.data(q, {"id": gid}, as_=f))["node"] == {"id": gid}, kind
        assert (await demo_api.data(q, {"id": gid}, as_=g))["node"] is None, kind

    m = """mutation($input: TransitionDisputeInput!) { transitionDispute(input: $input) {
           dispute { number } errors { field code message } } }"""
    await _same_as_unknown(demo_api, g, m, "transitionDispute",
                           {"disputeId": dispute, "action": "WITHDRAW"},
                           {"disputeId": to_global_id("QualityDispute", NOWHERE),
                            "action": "WITHDRAW"})
    m = """mutation($input: SubmitClaimInput!) { submitClaim(input: $input) {
           claim { number } errors { field code message } } }"""
    claim = {"amount": "10.00", "currency": "CNY", "basis": "CREDIT"}
    await _same_as_unknown(demo_api, g, m, "submitClaim", {"disputeId": dispute, **claim},
                           {"disputeId": to_global_id("QualityDispute", NOWHERE), **claim})
    m = """mutation($input: TransitionClaimInput!) { transitionClaim(input: $input) {
           claim { number } errors { field code message } } }"""
    await _same_as_unknown(demo_api, g, m, "transitionClaim",
                           {"claimId": to_global_id("Claim", ids["claim"]), "action": "ASSESS"},
                           {"claimId": to_global_id("Claim", NOWHERE), "action": "ASSESS"})
    m = """mutation($input: OpenDisputeInput!) { openDispute(input: $input) {
           dispute { number } errors { field code message } } }"""
    opening = {"defectKind": "SURFACE", "description": "scratches", "affectedTonnes": "1",
               "foundDuring": "INCOMING_INSPECTION"}
    await _same_as_unknown(demo_api, g, m, "openDispute",
                           {"coilIds": [coil], **opening},
                           {"coilIds": [to_global_id("Coil", NOWHERE)], **opening})
    still = await seeded_db.fetchval("SELECT status FROM quality_dispute WHERE id = $1",
                                     ids["dispute"])
    assert still == "claiming"


async def test_settlements_of_another_customer_are_unknown(
    demo_api: Api, seeded_db: Database, tokens: dict[str, str]
) -> None:
    ids = await _ids(seeded_db)
    q = "query($n: String) { settlement(number: $n) { number } }"
    assert (await demo_api.data(q, {"n": ids["settlement_number"]}, as_=tokens["faw"])) \
        ["settlement"] is not None
    assert (await demo_api.data(q, {"n": ids["settlement_number"]}, as_=tokens["galanz"])) \
        ["settlement"] is None
    q = "{ settlements(first: 100) { nodes { number } } }"
    numbers = {s["number"] for s in
               (await demo_api.data(q, as_=tokens["galanz"]))["settlements"]["nodes"]}
    assert ids["settlement_number"] not in numbers


async def test_preferences_and_orders_name_no_other_customer(
    demo_api: Api, seeded_db: Database, tokens: dict[str, str]
) -> None:
    ids = await _ids(seeded_db)
    g = tokens["galanz"]
    faw = to_global_id("Organization", ids["faw"])
    unknown_org = to_global_id("Organization", NOWHERE)
    q = "query($c: ID) { preferences(customerId: $c) { currency } }"
    theirs = await demo_api.query(q, {"c": faw}, as_=g)
    none = await demo_api.query(q, {"c": unknown_org}, as_=g)
    assert theirs["data"] is None and theirs["errors"][0]["message"] == \
        none["errors"][0]["message"]

    q = "query($s: ID) { orderForm(deliverySiteId: $s) { deliverySites { site { id } } } }"
    warehouse = to_global_id("Site", ids["warehouse"])
    assert "errors" not in await demo_api.query(q, {"s": warehouse}, as_=tokens["faw"])
    theirs = await demo_api.query(q, {"s": warehouse}, as_=g)
    none = await demo_api.query(q, {"s": to_global_id("Site", NOWHERE)}, as_=g)
    assert theirs["errors"][0]["message"] == none["errors"][0]["message"]
    offered = (await demo_api.data(q, {"s": None}, as_=g))["orderForm"]["deliverySites"]
    assert warehouse not in {s["site"]["id"] for s in offered}

    m = """mutation($input: UpdatePreferencesInput!) { updatePreferences(input: $input) {
           preferences { currency } errors { field code message } } }"""
    await _same_as_unknown(demo_api, g, m, "updatePreferences",
                           {"customerId": faw, "units": "IMPERIAL"},
                           {"customerId": unknown_org, "units": "IMPERIAL"})
    await _same_as_unknown(demo_api, g, m, "updatePreferences",
                           {"defaultDeliverySiteId": warehouse},
                           {"defaultDeliverySiteId": to_global_id("Site", NOWHERE)})
    m = """mutation($input: SetTransportPreferenceInput!) { setTransportPreference(
           input: $input) { preferences { currency } errors { field code message } } }"""
    route = {"transportMode": "ROAD", "transitDays": 2}
    await _same_as_unknown(demo_api, g, m, "setTransportPreference",
                           {"siteId": warehouse, **route},
                           {"siteId": to_global_id("Site", NOWHERE), **route})

    m = """mutation($input: CreateContractInput!) { createContract(input: $input) {
           contract { number } errors { field code message } } }"""

    def order(spec: int) -> dict[str, Any]:
        return {"lines": [{"specId": to_global_id("SteelSpec", spec), "quantityT": "10",
                           "deliveryFrom": "2030-01-01", "deliveryTo": "2030-01-31"}]}

    await _same_as_unknown(demo_api, g, m, "createContract", order(ids["spec"]),
                           order(NOWHERE))
    await _same_as_unknown(demo_api, g, m, "createContract",
                           {"customerId": faw, **order(ids["spec"])},
                           {"customerId": unknown_org, **order(ids["spec"])})


async def test_the_hotline_names_no_other_customer(
    demo_api: Api, seeded_db: Database, tokens: dict[str, str]
) -> None:
    ids = await _ids(seeded_db)
    g = tokens["galanz"]
    q = """query($c: ID) { urgeTickets(filter: {customerId: $c}, first: 100) {
           nodes { number } } }"""
    assert (await demo_api.data(q, {"c": to_global_id("Organization", ids["faw"])}, as_=g)) \
        ["urgeTickets"]["nodes"] == []
    assert (await demo_api.data(
        "{ escalationChain { subject } }", as_=g))["escalationChain"] == []
    m = """mutation($input: UrgeContractLineInput!) { urgeContractLine(input: $input) {
           ticket { number } errors { field code message } } }"""
    urge = {"reason": "our line stops", "neededBy": "2030-01-01"}
    await _same_as_unknown(demo_api, g, m, "urgeContractLine",
                           {"lineId": to_global_id("ContractLine", ids["line"]), **urge},
                           {"lineId": to_global_id("ContractLine", NOWHERE), **urge})


async def test_push_names_no_other_customer(
    demo_api: Api, seeded_db: Database, tokens: dict[str, str]
) -> None:
    ids = await _ids(seeded_db)
    g = tokens["galanz"]
    m = """mutation($input: CreatePushRuleInput!) { createPushRule(input: $input) {
           rule { name } errors { field code message } } }"""
    rule = {"name": "theirs", "eventTypes": ["shipment.*"]}
    theirs = (await demo_api.data(m, {"input": {
        **rule, "customerId": to_global_id("Organization", ids["faw"])}}, as_=g))
    none = (await demo_api.data(m, {"input": {
        **rule, "customerId": to_global_id("Organization", NOWHERE)}}, as_=g))
    assert theirs["createPushRule"]["rule"] is None
    assert _errors(theirs["createPushRule"]) == _errors(none["createPushRule"])


async def test_push_rules_and_notifications_of_another_customer_are_unknown(
    api: Api
) -> None:
    from tests.support.factory import build

    w = await build(api.db)
    faw, g = token("FAW-VW", subject="buyer.faw"), token("GALANZ", subject="buyer.galanz")
    made = await api.data("""mutation($input: CreatePushRuleInput!) { createPushRule(
        input: $input) { rule { id } errors { message } } }""",
        {"input": {"name": "delays", "eventTypes": ["shipment.*"]}}, as_=faw)
    rule = made["createPushRule"]["rule"]["id"]
    m = """mutation($input: PushIdInput!) { deletePushRule(input: $input) {
           deletedId errors { field code message } } }"""
    await _same_as_unknown(api, g, m, "deletePushRule", {"id": rule},
                           {"id": to_global_id("PushRule", NOWHERE)})
    assert await api.db.fetchval("SELECT count(*) FROM push_rule") == 1
    listed = await api.data("{ pushRules { nodes { id } } }", as_=g)
    assert listed["pushRules"]["nodes"] == []

    note = await api.db.fetchval(
        "INSERT INTO notification (org_id, event_type, title, body) VALUES"
        " ($1, 'shipment.delayed', 'late', 'a truck is late') RETURNING id", w.org["FAW-VW"])
    gid = to_global_id("Notification", note)
    q = "query($id: ID!) { node(id: $id) { id } }"
    assert (await api.data(q, {"id": gid}, as_=faw))["node"] == {"id": gid}
    assert (await api.data(q, {"id": gid}, as_=g))["node"] is None
    m = """mutation($ids: [ID!]) { markNotificationsRead(input: {ids: $ids}) {
           marked { id } unreadCount errors { field code message } } }"""
    got = (await api.data(m, {"ids": [gid]}, as_=g))["markNotificationsRead"]
    none = (await api.data(m, {"ids": [to_global_id("Notification", NOWHERE)]},
                           as_=g))["markNotificationsRead"]
    assert got == none and got["marked"] == [] and got["unreadCount"] == 0
    assert await api.db.fetchval("SELECT read_at FROM notification WHERE id = $1",
                                 note) is None
    assert (await api.data("{ unreadNotificationCount }", as_=faw)
            )["unreadNotificationCount"] == 1


async def test_planning_names_no_other_customer(
    demo_api: Api, seeded_db: Database, tokens: dict[str, str]
) -> None:
    ids = await _ids(seeded_db)
    g = tokens["galanz"]
    faw = to_global_id("Organization", ids["faw"])
    q = """query($c: ID) { purchasePlans(customerId: $c) { nodes { id } }
           productionPlan(customerId: $c) { id } supplyChainStock(customerId: $c) {
           spec { id } } }"""
    assert (await demo_api.data(q, {"c": faw}, as_=tokens["faw"]))["purchasePlans"]["nodes"]
    assert await demo_api.data(q, {"c": faw}, as_=g) == {
        "purchasePlans": {"nodes": []}, "productionPlan": None, "supplyChainStock": []}
    q = """{ salesPlan(fromMonth: "2000-01-01", toMonth: "2100-12-01", first: 100) {
           nodes { customer { code } } } }"""
    rows = (await demo_api.data(q, as_=g))["salesPlan"]["nodes"]
    assert {r["customer"]["code"] for r in rows} <= {"GALANZ"}

    m = """mutation($input: ComputePurchasePlanInput!) { computePurchasePlan(input: $input) {
           purchasePlan { id } errors { field code message } } }"""
    await _same_as_unknown(demo_api, g, m, "computePurchasePlan", {"customerId": faw},
                           {"customerId": to_global_id("Organization", NOWHERE)})
    m = """mutation($input: PurchasePlanInput!) { submitPurchasePlan(input: $input) {
           purchasePlan { id } errors { field code message } } }"""
    await _same_as_unknown(demo_api, g, m, "submitPurchasePlan",
                           {"planId": to_global_id("PurchasePlan", ids["purchase_plan"])},
                           {"planId": to_global_id("PurchasePlan", NOWHERE)})


async def test_sites_show_no_other_customers_warehouse(
    demo_api: Api, seeded_db: Database, tokens: dict[str, str]
) -> None:
    ids = await _ids(seeded_db)
    q = "{ sites(first: 100) { nodes { id owner { code } } } }"
    warehouse = to_global_id("Site", ids["warehouse"])
    assert warehouse in {s["id"] for s in
                         (await demo_api.data(q, as_=tokens["faw"]))["sites"]["nodes"]}
    seen = (await demo_api.data(q, as_=tokens["galanz"]))["sites"]["nodes"]
    assert warehouse not in {s["id"] for s in seen}
    assert "FAW-VW" not in {(s["owner"] or {}).get("code") for s in seen}
    q = "query($id: ID!) { node(id: $id) { id } }"
    assert (await demo_api.data(q, {"id": warehouse}, as_=tokens["galanz"]))["node"] is None


async def test_a_containment_neither_names_nor_counts_another_customers_coils(
    api: Api
) -> None:
    # The heat of FAW-VW's disputed coil also went to GALANZ; quality blocks a coil of
    # each. FAW-VW's timeline and the event it is sent carry its own coil alone.
    from domain.disputes import writes as disputes
    from tests.disputes.test_disputes import customer, delivered_world, dispute_input

    w = await delivered_world(api.db)
    await api.db.execute("DELETE FROM coil_location WHERE coil_id = ANY($1::bigint[])",
                         [w.coils["GALANZ"][1], w.coils["FAW-VW"][2]])
    d = await disputes.open_dispute(api.db, customer(w), dispute_input(w.coils["FAW-VW"][:1]))
    gid = to_global_id("QualityDispute", d.id)
    mill = token("BAOSTEEL", "quality")
    moved = await api.data("""mutation($i: TransitionDisputeInput!) {
        transitionDispute(input: $i) { errors { message } } }""",
        {"i": {"disputeId": gid, "action": "PROCESS"}}, as_=mill)
    assert moved["transitionDispute"]["errors"] == []
    done = await api.data("""mutation($i: RecordDisputeActionInput!) {
        recordDisputeAction(input: $i) { errors { message } } }""", {"i": {
        "disputeId": gid, "kind": "CONTAINMENT", "text": "hold them",
        "blockCoilIds": [to_global_id("Coil", w.coils["FAW-VW"][2]),
                         to_global_id("Coil", w.coils["GALANZ"][1])]}}, as_=mill)
    assert done["recordDisputeAction"]["errors"] == []
    blocked = await api.db.fetchval("SELECT count(*) FROM coil WHERE id = ANY($1::bigint[])"
                                    " AND quality_status = 'blocked'",
                                    [w.coils["FAW-VW"][2], w.coils["GALANZ"][1]])
    assert blocked == 2
    q = """query($id: ID!) { dispute(id: $id) { timeline(first: 100) {
           nodes { action detail } } } }"""
    steps = (await api.data(q, {"id": gid}, as_=token("FAW-VW"))
             )["dispute"]["timeline"]["nodes"]
    containment = [s["detail"] for s in steps if s["action"] == "containment"]
    assert containment == [{"blocked": [await api.db.fetchval(
        "SELECT coil_no FROM coil WHERE id = $1", w.coils["FAW-VW"][2])], "blocked_at_mill": 0}]
    event = await api.db.fetchval("SELECT payload FROM domain_event"
                                  " WHERE event_type = 'dispute.containment_recorded'")
    assert event["blocked_at_mill"] == 0 and len(event["blocked"]) == 1


async def test_the_overview_credit_and_payments_name_no_other_customer(
    demo_api: Api, seeded_db: Database, tokens: dict[str, str]
) -> None:
    ids = await _ids(seeded_db)
    g = tokens["galanz"]
    faw = to_global_id("Organization", ids["faw"])
    q = """query($c: ID) { customerOverview(customerId: $c) { customer { code }
           credit { receivables } } }"""
    assert (await demo_api.data(q, {"c": faw}, as_=tokens["faw"]))["customerOverview"] \
        ["customer"] == {"code": "FAW-VW"}
    theirs = await demo_api.query(q, {"c": faw}, as_=g)
    none = await demo_api.query(q, {"c": to_global_id("Organization", NOWHERE)}, as_=g)
    assert theirs == none == {"data": {"customerOverview": None}}
    q = "query($n: String) { settlement(number: $n) { payments { reference } } }"
    paid = await seeded_db.fetchval(
        "SELECT s.number FROM settlement s JOIN payment p ON p.settlement_id = s.id"
        " WHERE s.customer_org_id = $1 ORDER BY s.id LIMIT 1", ids["faw"])
    assert (await demo_api.data(q, {"n": paid}, as_=tokens["faw"]))["settlement"]["payments"]
    assert (await demo_api.data(q, {"n": paid}, as_=g))["settlement"] is None
    payment = await seeded_db.fetchval(
        "SELECT id FROM payment WHERE customer_org_id = $1 LIMIT 1", ids["faw"])
    q = "query($id: ID!) { node(id: $id) { id } }"
    assert (await demo_api.data(q, {"id": to_global_id("Payment", payment)}, as_=g)
            )["node"] is None
    m = """mutation($input: SetCreditLimitInput!) { setCreditLimit(input: $input) {
           credit { limit } errors { field code message } } }"""
    got = (await demo_api.data(m, {"input": {"customerId": faw, "limit": "1"}},
                               as_=g))["setCreditLimit"]
    assert got["credit"] is None and got["errors"][0]["code"] == "FORBIDDEN"
    assert (await demo_api.data("{ creditApprovals { nodes { id } } }", as_=g)
            )["creditApprovals"]["nodes"] == []


async def test_enquiries_show_a_customer_no_other_customers_figures(
    demo_api: Api, seeded_db: Database, tokens: dict[str, str]
) -> None:
    """The order enquiry, the quality capability, the mill's capacity and a line's
    feasibility: GALANZ reads nothing of FAW-VW's and names FAW-VW as it would nobody."""
    ids = await _ids(seeded_db)
    g, f = tokens["galanz"], tokens["faw"]
    spec = await seeded_db.fetchval("SELECT code FROM steel_spec WHERE id = $1", ids["spec"])
    q = """query($input: OrderEnquiryInput!) { orderEnquiry(input: $input) {
           customer { code } stages { capacityT bookedT } prices { last { contractNumber } } } }"""
    assert (await demo_api.data(q, {"input": {"specCode": spec, "quantityT": "10"}}, as_=f))[
        "orderEnquiry"]["customer"] == {"code": "FAW-VW"}
    theirs = await demo_api.query(q, {"input": {"specCode": spec, "quantityT": "10"}}, as_=g)
    nothing = await demo_api.query(q, {"input": {"specCode": "NO-SUCH", "quantityT": "10"}},
                                   as_=g)
    assert theirs["data"] is None and theirs["errors"][0]["message"] == \
        nothing["errors"][0]["message"]
    named = await demo_api.query(q, {"input": {
        "specCode": "BS-DX52D+Z-0.80x1250-Z140", "quantityT": "10",
        "customerId": to_global_id("Organization", ids["faw"])}}, as_=g)
    unknown = await demo_api.query(q, {"input": {
        "specCode": "BS-DX52D+Z-0.80x1250-Z140", "quantityT": "10",
        "customerId": to_global_id("Organization", NOWHERE)}}, as_=g)
    assert named["errors"][0]["message"] == unknown["errors"][0]["message"]
    own = (await demo_api.data(q, {"input": {"specCode": "BS-DX52D+Z-0.80x1250-Z140",
                                             "quantityT": "10"}}, as_=g))["orderEnquiry"]
    faw_numbers = {r["number"] for r in await seeded_db.fetch(
        "SELECT number FROM contract WHERE customer_org_id = $1", ids["faw"])}
    assert not faw_numbers & {p["contractNumber"] for p in own["prices"]["last"]}
    assert all(s["capacityT"] is None and s["bookedT"] is None for s in own["stages"])

    q = """query($s: String!) { qualityCapability(specCode: $s) { coils } }"""
    assert (await demo_api.data(q, {"s": spec}, as_=f))["qualityCapability"] is not None
    assert (await demo_api.data(q, {"s": spec}, as_=g))["qualityCapability"] is None
    refused = await demo_api.query("{ stageCapacity { stage } }", as_=g)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    q = """query($id: ID!) { node(id: $id) { ... on ContractLine { feasibility {
           feasible } } } }"""
    assert (await demo_api.data(q, {"id": to_global_id("ContractLine", ids["line"])},
                                as_=g))["node"] is None


async def test_surveys_answers_and_contribution_stay_with_their_customer(
    demo_api: Api, seeded_db: Database, tokens: dict[str, str]
) -> None:
    ids = await _ids(seeded_db)
    g, f = tokens["galanz"], tokens["faw"]
    survey = await seeded_db.fetchval(
        "SELECT s.id FROM survey s WHERE s.customer_org_id = $1 AND EXISTS (SELECT 1 FROM"
        " survey_answer a WHERE a.survey_id = s.id) ORDER BY s.id LIMIT 1", ids["faw"])
    assert survey is not None, "the demo has no answered survey of FAW-VW's"
    gid = to_global_id("Survey", survey)
    q = "query($id: ID!) { survey(id: $id) { number answers { contact rating } } }"
    assert (await demo_api.data(q, {"id": gid}, as_=f))["survey"]["answers"]
    assert (await demo_api.data(q, {"id": gid}, as_=g))["survey"] is None
    # GALANZ's list holds its own surveys and answers only, whatever customer it names.
    q = """query($c: ID) { surveys(first: 100, filter: {customerId: $c}) { nodes {
           customer { code } answers { contact } } } }"""
    for named in (None, to_global_id("Organization", ids["faw"])):
        seen = (await demo_api.data(q, {"c": named}, as_=g))["surveys"]["nodes"]
        assert {s["customer"]["code"] for s in seen} <= {"GALANZ"}
        assert all(a["contact"].endswith(".galanz") for s in seen for a in s["answers"])
    m = """mutation($input: AnswerSurveyInput!) { answerSurvey(input: $input) {
           survey { number } answer { rating } errors { field code message } } }"""
    await _same_as_unknown(demo_api, g, m, "answerSurvey", {"surveyId": gid, "rating": 1},
                           {"surveyId": to_global_id("Survey", NOWHERE), "rating": 1})
    # Results, the ranking and the tiers are the mill's: a customer is refused outright.
    for query in ("{ surveyResults { answers } }", "{ contributionRanking { rank } }",
                  "{ customerTiers { rank } }", "{ serviceTiers { code } }",
                  "{ freightRates { currency } }"):
        body = await demo_api.query(query, as_=f)
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == \
            "FORBIDDEN", query
    # A customer reads its own service level (without its tier), never another's.
    q = "query($c: ID) { serviceLevel(customerId: $c) { tier urgeAnswerMinutes } }"
    assert (await demo_api.data(q, {"c": None}, as_=g))["serviceLevel"]["tier"] is None
    theirs = await demo_api.query(q, {"c": to_global_id("Organization", ids["faw"])}, as_=g)
    none = await demo_api.query(q, {"c": to_global_id("Organization", NOWHERE)}, as_=g)
    assert theirs["data"] is None
    assert theirs["errors"][0]["message"] == none["errors"][0]["message"]

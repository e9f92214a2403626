"""Key customers: contribution (revenue less claims and freight) ranked, tiers set from it
by the mill's rule, and the tier's service levels in place of the global settings: a key
customer's urge escalates after its tier's answer time, a standard one's after the global
one, to its tier's escalation chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.calendar import mill_today
from push.worker import PERIODIC_JOBS, run_periodic
from resolvers.relay import to_global_id
from tests.disputes.test_disputes import delivered_world, open_in
from tests.support.api import MILL_ROLES, Api, token
from tests.support.factory import World

FAW = token("FAW-VW", subject="buyer.faw")
GALANZ = token("GALANZ", subject="buyer.galanz")
MILL = token("BAOSTEEL", *MILL_ROLES, subject="staff.mill")
FINANCE = token("BAOSTEEL", "finance", subject="finance.wang")
ADMIN = token("BAOSTEEL", "admin", subject="admin.li")

RATES = """mutation($input: SetFreightRatesInput!) { setFreightRates(input: $input) {
    rates { transportMode perTonne currency } errors { field code } } }"""
RANKING = """{ contributionRanking { rank customer { code } revenue claims freight
    contribution tonnes currency tier } }"""
RECOMPUTE = """mutation { recomputeCustomerTiers { tiers { customer { code } tier rank
    contribution } errors { code } } }"""
TIERS = "{ customerTiers { customer { code } tier rank } }"
SET_TIERS = """mutation($input: SetServiceTiersInput!) { setServiceTiers(input: $input) {
    tiers { code position sharePct urgeAnswerMinutes } errors { field code } } }"""
LEVEL = """query($c: ID) { serviceLevel(customerId: $c) { tier urgeAnswerMinutes
    disputeResponseHours disputeResolutionDays fromTier } }"""


async def _figures(api: Api, w: World) -> None:
    """FAW-VW invoiced more but had a claim agreed; GALANZ invoiced less, claimed nothing.
    Each shipped 11.712 t by rail."""
    day = mill_today() - timedelta(days=10)
    await api.db.execute("UPDATE settlement SET invoice_status = 'issued', issued_on = $1,"
                         " due_on = $1::date + 30", day)
    await api.db.execute("UPDATE settlement SET goods_amount = 45000, freight = 0"
                         " WHERE id = $1", w.settlement["GALANZ"])
    await api.db.execute("UPDATE contract_line SET shipped_t = 11.712")
    dispute = await open_in(api.db, w, "claiming")
    await api.db.execute(
        "INSERT INTO quality_claim (number, dispute_id, customer_org_id, contract_id, status,"
        " basis, currency, amount, agreed_amount, submitted_by, updated_at) VALUES ('CL-1', $1,"
        " $2, $3, 'agreed', 'credit', 'CNY', 25000, 20000, 'buyer.faw', now() - interval"
        " '5 days')",
        dispute, w.org["FAW-VW"], w.contract["FAW-VW"])


async def test_contribution_is_ranked_and_tiers_follow_the_mills_rule(api: Api) -> None:
    w = await delivered_world(api.db)
    await _figures(api, w)
    set_rates = await api.data(RATES, {"input": {"rates": [
        {"transportMode": "RAIL", "perTonne": "100.00", "currency": "CNY"}]}}, as_=FINANCE)
    assert set_rates["setFreightRates"]["errors"] == []
    refused = await api.data(RATES, {"input": {"rates": []}}, as_=token("BAOSTEEL", "sales"))
    assert refused["setFreightRates"]["errors"][0]["code"] == "FORBIDDEN"

    ranking = (await api.data(RANKING, as_=FINANCE))["contributionRanking"]
    assert [(r["rank"], r["customer"]["code"], r["revenue"], r["claims"], r["freight"],
             r["contribution"], r["tier"]) for r in ranking] == [
        (1, "GALANZ", "45000.00", "0", "1171.20", "43828.80", "key"),
        (2, "FAW-VW", "62108.26", "20000.00", "1171.20", "40937.06", "standard")]
    # A customer sees no ranking at all, nor anyone's tier.
    for query in (RANKING, TIERS, "{ serviceTiers { code } }", "{ freightRates { currency } }"):
        body = await api.query(query, as_=FAW)
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    assert (await api.data(TIERS, as_=MILL))["customerTiers"] == []
    stored = (await api.data(RECOMPUTE, as_=FINANCE))["recomputeCustomerTiers"]
    assert [(t["customer"]["code"], t["tier"], t["rank"]) for t in stored["tiers"]] == [
        ("GALANZ", "key", 1), ("FAW-VW", "standard", 2)]
    assert (await api.data(RECOMPUTE, as_=FAW))["recomputeCustomerTiers"]["errors"] == [
        {"code": "FORBIDDEN"}]

    # The tier's service levels, else the global settings.
    galanz = to_global_id("Organization", w.org["GALANZ"])
    level = (await api.data(LEVEL, {"c": galanz}, as_=MILL))["serviceLevel"]
    assert level == {"tier": "key", "urgeAnswerMinutes": 60, "disputeResponseHours": 8,
                     "disputeResolutionDays": 20,
                     "fromTier": ["disputeResolutionDays", "disputeResponseHours",
                                  "urgeAnswerMinutes"]}
    faw = to_global_id("Organization", w.org["FAW-VW"])
    assert (await api.data(LEVEL, {"c": faw}, as_=MILL))["serviceLevel"] == {
        "tier": "standard", "urgeAnswerMinutes": 120, "disputeResponseHours": 24,
        "disputeResolutionDays": 30, "fromTier": []}
    # A customer reads its own level, without its tier; another's reads as unknown.
    own = (await api.data(LEVEL, {"c": None}, as_=GALANZ))["serviceLevel"]
    assert own["tier"] is None and own["urgeAnswerMinutes"] == 60
    theirs = await api.query(LEVEL, {"c": galanz}, as_=FAW)
    nowhere = await api.query(LEVEL, {"c": to_global_id("Organization", 2**40)}, as_=FAW)
    assert theirs["errors"][0]["message"] == nowhere["errors"][0]["message"]

    # The dispute targets follow the tier too: FAW-VW's dispute, standard, then key.
    dispute = """{ disputes { nodes { openedAt responseDueAt resolutionDueAt } } }"""

    async def targets() -> tuple[timedelta, timedelta]:
        [d] = (await api.data(dispute, as_=FAW))["disputes"]["nodes"]
        opened = datetime.fromisoformat(d["openedAt"])
        return (datetime.fromisoformat(d["responseDueAt"]) - opened,
                datetime.fromisoformat(d["resolutionDueAt"]) - opened)

    assert await targets() == (timedelta(hours=24), timedelta(days=30))
    await api.db.execute("UPDATE customer_tier SET tier = 'key' WHERE customer_org_id = $1",
                         w.org["FAW-VW"])
    assert await targets() == (timedelta(hours=8), timedelta(days=20))
    await api.db.execute("UPDATE customer_tier SET tier = 'standard'"
                         " WHERE customer_org_id = $1", w.org["FAW-VW"])

    # The admin changes the rule: the top half are key; ranked customers follow at once.
    tiers: list[dict[str, Any]] = [
        {"code": "key", "sharePct": "50", "urgeAnswerMinutes": 45},
        {"code": "standard"}]
    changed = await api.data(SET_TIERS, {"input": {"tiers": tiers}}, as_=ADMIN)
    assert changed["setServiceTiers"]["tiers"] == [
        {"code": "key", "position": 1, "sharePct": "50.00", "urgeAnswerMinutes": 45},
        {"code": "standard", "position": 2, "sharePct": None, "urgeAnswerMinutes": None}]
    assert [(t["customer"]["code"], t["tier"])
            for t in (await api.data(TIERS, as_=MILL))["customerTiers"]] == [
        ("GALANZ", "key"), ("FAW-VW", "standard")]
    everyone = [{"code": "key", "sharePct": "100"}, {"code": "standard"}]
    await api.data(SET_TIERS, {"input": {"tiers": everyone}}, as_=ADMIN)
    assert {t["tier"] for t in (await api.data(TIERS, as_=MILL))["customerTiers"]} == {"key"}
    bad = await api.data(SET_TIERS, {"input": {"tiers": [{"code": "key", "sharePct": "20"}]}},
                         as_=ADMIN)
    assert bad["setServiceTiers"]["errors"] == [{"field": "tiers.0.sharePct", "code": "INVALID"}]
    refused = await api.data(SET_TIERS, {"input": {"tiers": everyone}}, as_=FINANCE)
    assert refused["setServiceTiers"]["errors"] == [{"field": None, "code": "FORBIDDEN"}]


URGE = """mutation($input: UrgeContractLineInput!) { urgeContractLine(input: $input) {
    ticket { id answerWithinMinutes } errors { field code } } }"""
CHAIN = """mutation($input: SetEscalationChainInput!) { setEscalationChain(input: $input) {
    chain { level subject tier customerSpecific } errors { field code } } }"""
TICKETS = "{ urgeTickets { nodes { assignee escalationLevel } } }"


async def test_a_key_customers_urge_escalates_after_its_tiers_time_to_its_tiers_chain(
        api: Api) -> None:
    w = await delivered_world(api.db)
    await _figures(api, w)
    await api.data(RECOMPUTE, as_=FINANCE)  # GALANZ key (60 minutes), FAW-VW standard
    await api.db.execute("UPDATE contract SET sales_owner = 'sales.zhang'")
    general = await api.data(CHAIN, {"input": {"subjects": ["sales.manager"]}}, as_=ADMIN)
    assert general["setEscalationChain"]["errors"] == []
    keyed = await api.data(CHAIN, {"input": {"subjects": ["key.account"], "tier": "key"}},
                           as_=ADMIN)
    assert keyed["setEscalationChain"]["chain"] == [
        {"level": 1, "subject": "key.account", "tier": "key", "customerSpecific": False}]
    chain = """query($c: ID) { escalationChain(customerId: $c) { subject tier } }"""
    galanz = to_global_id("Organization", w.org["GALANZ"])
    assert (await api.data(chain, {"c": galanz}, as_=MILL))["escalationChain"] == [
        {"subject": "key.account", "tier": "key"}]
    assert (await api.data(chain, {"c": None}, as_=MILL))["escalationChain"] == [
        {"subject": "sales.manager", "tier": None}]

    opened = datetime.now(UTC)
    for cust, tok, minutes in (("GALANZ", GALANZ, 60), ("FAW-VW", FAW, 120)):
        body = await api.data(URGE, {"input": {
            "lineId": to_global_id("ContractLine", w.line[cust]), "reason": "line stops",
            "neededBy": (mill_today() + timedelta(days=20)).isoformat()}}, as_=tok)
        assert body["urgeContractLine"]["ticket"]["answerWithinMinutes"] == minutes

    job = dict((name, j) for name, _, j in PERIODIC_JOBS)["urge-escalation"]

    async def holders() -> dict[str, Any]:
        return {cust: (await api.data(TICKETS, as_=tok))["urgeTickets"]["nodes"][0]
                for cust, tok in (("GALANZ", GALANZ), ("FAW-VW", FAW))}

    # After the key tier's 60 minutes: GALANZ's urge goes to its tier's contact.
    assert await run_periodic(api.db, "urge-escalation", 30.0, job,
                              now=opened + timedelta(minutes=61)) == 1
    assert await holders() == {
        "GALANZ": {"assignee": "key.account", "escalationLevel": 1},
        "FAW-VW": {"assignee": "sales.zhang", "escalationLevel": 0}}
    # After the global 120: FAW-VW's, to the general chain.
    assert await run_periodic(api.db, "urge-escalation", 30.0, job,
                              now=opened + timedelta(minutes=121)) == 1
    assert (await holders())["FAW-VW"] == {"assignee": "sales.manager", "escalationLevel": 1}

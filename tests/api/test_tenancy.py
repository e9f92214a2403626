"""A customer sees only its own organization's data: by id, by number, in lists, in
nested fields, through filters and through `node`. Another customer's object looks
exactly like an object that does not exist."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.db import Database
from resolvers.node import NODE_TYPES
from resolvers.relay import to_global_id
from settings import Settings
from tests.support.api import Api, _client, token
from tests.support.factory import World, build

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


@pytest.fixture(params=["on", "off"])
async def api(db: Database, request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """The API over a fresh database, with the read planner and without: each walk
    below runs against both paths."""
    async for a in _client(db, Settings(read_planner=request.param)):
        yield a


def _own_ids(w: World, cust: str) -> dict[str, list[int]]:
    """Every node of `cust` that no other customer may see, by type."""
    return {
        "Organization": [w.org[cust]],
        "Site": [w.site[cust]],
        "SteelSpec": [w.spec[cust]],
        "Contract": [w.contract[cust]],
        "ContractLine": [w.line[cust]],
        "Coil": w.coils[cust] + [w.mother],
        "QualityCertificate": [w.certificate[cust]],
        "ProcessingFeedback": [w.feedback[cust]],
        "Settlement": [w.settlement[cust]],
    }


async def test_every_node_type_of_one_customer_is_invisible_to_the_other(api: Api) -> None:
    w = await build(api.db)
    faw, galanz = token("FAW-VW"), token("GALANZ")
    galanz_ids = _own_ids(w, "GALANZ")
    # Vehicle and Shipment are walked in test_shipments_api.py, over tracking data;
    # UrgeTicket in test_hotline_api.py; Notification and Bulletin (open to every viewer)
    # in test_notifications_api.py.
    walked = set(galanz_ids) | {"Heat", "Slab", "Vehicle", "Shipment", "UrgeTicket",
                                "Notification", "Bulletin"}
    # QualityDispute, Claim and DisputeEvidence in test_disputes.py, test_claims.py and
    # test_evidence.py.
    walked |= {"QualityDispute", "Claim", "DisputeEvidence"}
    # PurchasePlan, ProductionPlan and PlanImport in test_planning_api.py.
    walked |= {"PurchasePlan", "ProductionPlan", "PlanImport"}
    # RejectedMessage (the mill's logistics staff only) in test_rejected_messages_api.py;
    # Device (likewise) in test_devices_api.py.
    walked |= {"RejectedMessage", "Device"}
    # CreditApproval (the mill's staff only) and Payment in tests/customers/.
    walked |= {"CreditApproval", "Payment"}
    assert walked == set(NODE_TYPES), "a node type is not walked"
    for type_name, pks in galanz_ids.items():
        for pk in pks:
            gid = to_global_id(type_name, pk)
            seen_by_owner = (await api.data(NODE, {"id": gid}, as_=galanz))["node"]
            if type_name != "Coil" or pk != w.mother:
                assert seen_by_owner is not None, (type_name, pk)
            stolen = await api.query(NODE, {"id": gid}, as_=faw)
            missing = await api.query(NODE, {"id": to_global_id(type_name, 10**9)}, as_=faw)
            assert stolen == missing == {"data": {"node": None}}, (type_name, stolen)


async def test_shared_heat_shows_each_customer_only_its_own_coils(api: Api) -> None:
    w = await build(api.db)
    q = """query($id: ID!) { node(id: $id) { ... on Heat { heatNo
           coils(first: 100) { nodes { coilNo } } } } }"""
    for cust in ("FAW-VW", "GALANZ"):
        data = await api.data(q, {"id": to_global_id("Heat", w.heat)}, as_=token(cust))
        numbers = {c["coilNo"] for c in data["node"]["coils"]["nodes"]}
        assert numbers == {f"{cust}-{i}" for i in range(3)}
    mill = await api.data(q, {"id": to_global_id("Heat", w.heat)},
                          as_=token("BAOSTEEL", "quality"))
    assert len(mill["node"]["coils"]["nodes"]) == 7


async def test_lists_filters_and_lookups_by_number_stay_inside_the_organization(
    api: Api,
) -> None:
    await build(api.db)
    faw = token("FAW-VW")
    lists = await api.data("""{
        contracts(first: 100) { nodes { number lines { coils { nodes { coilNo } } } } }
        settlements { nodes { number } }
        other: contracts(filter: {number: ["C-GALANZ"]}) { nodes { number } }
        byNumber: contract(number: "C-GALANZ") { number }
        coil(coilNumber: "GALANZ-0") { coilNo }
        mother: coil(coilNumber: "HR-1") { coilNo }
        graded: contracts(filter: {grade: ["DX51D+Z"]}) { nodes { number } }
    }""", as_=faw)
    assert [c["number"] for c in lists["contracts"]["nodes"]] == ["C-FAW-VW"]
    coils = lists["contracts"]["nodes"][0]["lines"][0]["coils"]["nodes"]
    assert {c["coilNo"] for c in coils} == {"FAW-VW-0", "FAW-VW-1", "FAW-VW-2"}
    assert [s["number"] for s in lists["settlements"]["nodes"]] == ["ST-FAW-VW"]
    assert lists["other"]["nodes"] == [] and lists["graded"]["nodes"] == []
    assert lists["byNumber"] is None and lists["coil"] is None and lists["mother"] is None


async def test_trace_shows_mill_material_as_links_but_not_other_customers_pieces(
    api: Api,
) -> None:
    w = await build(api.db)
    data = await api.data("""{ coil(coilNumber: "FAW-VW-0") { trace {
        ancestry { operation parentNumber parentKind childNumber depth }
        slab { slabNo heat { heatNo } }
        heat { heatNo chemistry { element massPercent } }
        certificate { certNo contentHash }
        inspections { kind result }
        processingFeedback { process result }
    } } }""", as_=token("FAW-VW"))
    trace = data["coil"]["trace"]
    assert trace["ancestry"] == [
        {"operation": "SLIT", "parentNumber": "HR-1", "parentKind": "hot_rolled",
         "childNumber": "FAW-VW-0", "depth": 1},
        {"operation": "ROLL", "parentNumber": "S1", "parentKind": "slab",
         "childNumber": "HR-1", "depth": 2},
    ]
    assert trace["slab"] == {"slabNo": "S1", "heat": {"heatNo": "26H00001"}}
    assert trace["heat"]["chemistry"] == [{"element": "C", "massPercent": "0.0030"},
                                          {"element": "Mn", "massPercent": "0.180"}]
    assert trace["certificate"]["certNo"] == "QC-FAW-VW"
    assert trace["inspections"] == [{"kind": "surface", "result": "pass"}]
    assert trace["processingFeedback"] == [{"process": "STAMPING", "result": "OK"}]
    assert w.mother

    mill = await api.data("""{ coil(coilNumber: "HR-1") { trace { descendants {
        childNumber } } } }""", as_=token("BAOSTEEL", "quality"))
    assert len(mill["coil"]["trace"]["descendants"]) == 6

"""Every GraphQL block of the README against the demo: each operation is valid for the
schema, and each query that needs no variables runs with the token of whom it is written
for (FAW-VW's, or the mill's for the mill's own queries) without errors; those that name
one of the demo's examples get it back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    OperationDefinitionNode,
    OperationType,
    parse,
    print_ast,
    validate,
)

import demo
from api.schema import build_schema
from demo import examples
from domain.calendar import mill_today
from domain.db import Database
from settings import PROJECT_ROOT
from tests.support.api import MILL_ROLES, Api, token
from tracking.filters import haversine_km
from tracking.model import MAX_SPEED_KMH, Mode

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
FAW = token("FAW-VW", subject="buyer.faw")
# The mill's staff: the sales owner of FAW-VW's contracts, with every role.
MILL = token("BAOSTEEL", *MILL_ROLES, subject="sales.zhang")
# Root fields only the mill's staff are shown anything by.
MILL_ONLY = {"rejectedMessages", "salesPlan", "escalationChain", "vehiclePositions",
             "devices", "stageCapacity", "surveyResults", "contributionRanking",
             "serviceTiers", "customerTiers"}


def blocks() -> list[str]:
    return re.findall(r"```graphql\n(.*?)```", README, flags=re.S)


def operations() -> list[OperationDefinitionNode]:
    found = []
    for block in blocks():
        # The demo's disputes are numbered with the year they were loaded.
        block = block.replace("QD-2026-", f"QD-{mill_today().year}-")
        document = parse(block)
        found += [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return found


def _for_mill(op: OperationDefinitionNode) -> bool:
    roots = {s.name.value for s in op.selection_set.selections if hasattr(s, "name")}
    text = print_ast(op)
    return bool(roots & MILL_ONLY) or "assignedToMe" in text


def test_the_readme_names_the_demos_examples() -> None:
    text = "\n".join(blocks())
    for name in (examples.COIL, examples.HEAT, examples.CONTRACT):
        assert f'"{name}"' in text, name
    # The README's numbers are the examples'; none it names is another's.
    assert set(re.findall(r'coilNumber: "([^"]+)"', text)) == {examples.COIL}
    assert set(re.findall(r'heatNumber: "([^"]+)"', text)) == {examples.HEAT}
    assert set(re.findall(r'contract\(number: "([^"]+)"', text)) == {examples.CONTRACT}


def test_each_block_is_one_operation_to_paste_or_send_as_it_is() -> None:
    """GraphiQL and a POST run a document of several anonymous operations not at all."""
    for block in blocks():
        ops = [d for d in parse(block).definitions if isinstance(d, OperationDefinitionNode)]
        assert len(ops) == 1, block


def test_every_operation_of_the_readme_is_valid() -> None:
    schema = build_schema()._schema
    ops = operations()
    assert len(ops) >= 15
    for op in ops:
        errors = validate(schema, DocumentNode(definitions=(op,)))
        assert errors == [], (print_ast(op), errors)


async def _run(api: Api, op: OperationDefinitionNode) -> dict[str, Any]:
    as_ = MILL if _for_mill(op) else FAW
    r = await api.client.post("/graphql", json={"query": print_ast(op)},
                              headers={"authorization": f"Bearer {as_}"})
    body: dict[str, Any] = r.json()
    assert "errors" not in body, (print_ast(op), body)
    data: dict[str, Any] = body["data"]
    return data


async def test_every_query_of_the_readme_runs_against_the_demo(demo_api: Api) -> None:
    ran: dict[str, Any] = {}
    for op in operations():
        if op.operation != OperationType.QUERY or op.variable_definitions:
            continue  # mutations and subscriptions change or wait: checked valid above
        data = await _run(demo_api, op)
        for key, value in data.items():
            ran.setdefault(key, value)  # the first example of each field

    coil = ran["coil"]
    assert coil is not None, "the example coil is not in the demo"
    trace = coil["trace"]
    assert trace["heat"]["heatNo"] == examples.HEAT
    assert trace["heat"]["chemistry"] and trace["slab"]["slabNo"].startswith(examples.HEAT)
    assert trace["certificate"]["certNo"] == f"QC-{examples.COIL}"
    assert trace["inspections"] and trace["processingFeedback"]
    assert any(a["parentKind"] != "SLAB" for a in trace["ancestry"]), trace["ancestry"]

    heat = ran["heat"]
    assert heat is not None and examples.COIL in [c["coilNo"] for c in heat["coils"]["nodes"]]
    contract = ran["contract"]
    assert contract is not None and contract["lines"] and contract["settlements"]
    assert examples.COIL in [c["coilNo"] for ln in contract["lines"]
                             for c in ln["coils"]["nodes"]]
    # FAW-VW's urges, each with its steps.
    urges = ran["urgeTickets"]["nodes"]
    assert urges and all(u["history"] for u in urges)
    dispute = ran["dispute"]
    assert dispute is not None and dispute["claims"]["nodes"] and dispute["suspects"]["nodes"]
    assert ran["orderForm"]["specs"]
    assert ran["devices"]["nodes"], "the demo's fleet has no enabled GPS unit"
    enquiry = ran["orderEnquiry"]
    assert enquiry["earliestDelivery"] and enquiry["prices"]["last"], enquiry
    assert ran["qualityCapability"]["mechanical"] and ran["specCatalogue"]["nodes"]
    assert ran["stageCapacity"], "the demo has no capacity"
    # Service quality: a year of answered surveys, the ranking and the tiers.
    assert any(r["answers"] for r in ran["surveyResults"])
    assert {r["customer"]["code"] for r in ran["contributionRanking"]} == {"FAW-VW", "GALANZ"}
    assert len(ran["customerTiers"]) == 2 and ran["serviceTiers"]
    assert ran["serviceLevel"]["urgeAnswerMinutes"] > 0


def test_the_shell_examples_read_the_address_make_run_chose() -> None:
    shell = "\n".join(re.findall(r"```sh\n(.*?)```", README, flags=re.S))
    assert "curl" in shell
    assert ":8000" not in shell
    assert "['graphql_url']" in shell


async def test_the_examples_belong_to_faw_vw_and_are_hidden_from_galanz(
        demo_api: Api) -> None:
    query = """query($c: String!, $h: String!, $k: String!) {
        coil(coilNumber: $c) { coilNo } heat(heatNumber: $h) { heatNo }
        contract(number: $k) { number customer { code } } }"""
    variables = {"c": examples.COIL, "h": examples.HEAT, "k": examples.CONTRACT}
    faw = await demo_api.data(query, variables, as_=FAW)
    assert faw["contract"]["customer"]["code"] == "FAW-VW"
    assert faw["coil"] == {"coilNo": examples.COIL}
    assert faw["heat"] == {"heatNo": examples.HEAT}
    galanz = await demo_api.data(query, variables, as_=token("GALANZ"))
    assert galanz["coil"] is None and galanz["contract"] is None


def test_the_docs_cite_only_files_the_project_has() -> None:
    """Every Markdown document and every path the docs name exists in the project."""
    top = {p.name for p in PROJECT_ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
    # What runs make (screenshots, results) is ignored by git and may not exist yet.
    made = [line.strip() for line in (PROJECT_ROOT / ".gitignore").read_text().splitlines()
            if line.strip().endswith("/")]
    documents = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    missing = []
    for doc in documents:
        text = doc.read_text(encoding="utf-8")
        for name in set(re.findall(r"[\w./-]*[\w-]\.md\b", text)):
            if not ((doc.parent / name).exists() or (PROJECT_ROOT / name).exists()):
                missing.append((doc.name, name))
        for path in set(re.findall(r"`([\w.-]+/[\w./-]*)`", text)):
            head = path.split("/", 1)[0]
            if head in top and "{" not in path and "<" not in path \
                    and not path.startswith(tuple(made)) and not (PROJECT_ROOT / path).exists():
                missing.append((doc.name, path))
    assert missing == []


@pytest.mark.slow
async def test_the_truck_the_readme_publishes_as_stands_idle_in_make_runs_demo(
        db: Database) -> None:
    """The README's MQTT example publishes as GPS-TRK-SH-06 at (31.4, 121.5): in the demo
    `make run` loads, that unit is registered to the truck, which no open leg uses (the
    simulator leaves it alone) and whose last fix is near enough for any jump."""
    shell = "\n".join(re.findall(r"```sh\n(.*?)```", README, flags=re.S))
    assert "keylink/v1/devices/GPS-TRK-SH-06/position" in shell
    assert '\\"lat\\": 31.4, \\"lon\\": 121.5' in shell
    await demo.seed(db)  # the default size, as `make run` loads it
    truck = await db.fetchrow(
        """SELECT d.enabled, d.kind, p.latitude, p.longitude, p.fix_time,
                  (SELECT count(*) FROM shipment_leg l WHERE l.vehicle_id = v.id
                   AND l.status NOT IN ('unloaded', 'received', 'cancelled')) AS open_legs
           FROM vehicle v JOIN device d ON d.vehicle_id = v.id
           LEFT JOIN LATERAL (SELECT * FROM position p WHERE p.device_id = d.id
                              ORDER BY p.fix_time DESC LIMIT 1) p ON true
           WHERE v.code = 'TRK-SH-06' AND d.code = 'GPS-TRK-SH-06'""")
    assert truck is not None and truck["enabled"] and truck["kind"] == "gps_unit"
    assert truck["open_legs"] == 0
    if truck["fix_time"] is not None:
        km = haversine_km(truck["latitude"], truck["longitude"], 31.4, 121.5)
        hours = (datetime.now(UTC) - truck["fix_time"]).total_seconds() / 3600
        assert km / hours < MAX_SPEED_KMH[Mode.ROAD], (km, hours)

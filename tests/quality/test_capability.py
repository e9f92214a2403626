"""The standards and quality-assurance enquiry: the spec catalogue with its limits, and a
spec's tested values against them, for customers as well as staff."""

from __future__ import annotations

from decimal import Decimal

from domain.quality.capability import cpk
from resolvers.relay import to_global_id
from tests.support.api import Api

CAPABILITY = """query($spec: String!, $from: Date, $to: Date, $c: ID) {
    qualityCapability(specCode: $spec, from: $from, to: $to, customerId: $c) {
      spec { code limitsRevision } periodStart periodEnd limitsRevision coils certified
      inspected firstPass firstPassYield
      mechanical { property unit lowerLimit upperLimit n mean stdDev min max outside cpk }
      chemistry { property n mean min max cpk lowerLimit upperLimit }
      revisions { limitsRevision certificates firstIssuedAt lastIssuedAt } } }"""
SPEC = "FAWVW-DC04-0.70x1450"


def test_cpk_is_the_nearer_limit_over_three_sigma() -> None:
    assert cpk(Decimal(160), Decimal(10), Decimal(140), Decimal(230)) == Decimal("0.67")
    assert cpk(Decimal(42), Decimal(1), Decimal(36), None) == Decimal("2.00")
    assert cpk(Decimal(42), Decimal(1), None, None) is None
    assert cpk(Decimal(42), None, Decimal(36), None) is None
    assert cpk(Decimal(42), Decimal(0), Decimal(36), None) is None


async def test_a_customer_reads_its_own_coils_against_the_limits(
        demo_api: Api, tokens: dict[str, str]) -> None:
    got = (await demo_api.data(CAPABILITY, {"spec": SPEC}, as_=tokens["faw"]))[
        "qualityCapability"]
    assert got["spec"]["code"] == SPEC and got["limitsRevision"] == got["spec"]["limitsRevision"]
    assert got["coils"] >= got["certified"] > 0
    assert 0 < got["firstPass"] <= got["inspected"] <= got["coils"]
    assert Decimal(got["firstPassYield"]) == round(
        Decimal(got["firstPass"]) / got["inspected"], 4)
    by = {p["property"]: p for p in got["mechanical"]}
    ys = by["yieldStrengthMpa"]
    assert ys["n"] == got["certified"] and ys["unit"] == "MPa"
    assert Decimal(ys["min"]) <= Decimal(ys["mean"]) <= Decimal(ys["max"])
    assert ys["outside"] == 0  # every certificate was checked against these limits
    assert Decimal(ys["cpk"]) == cpk(Decimal(ys["mean"]), Decimal(ys["stdDev"]),
                                     Decimal(ys["lowerLimit"]), Decimal(ys["upperLimit"]))
    el = by["elongationPct"]
    assert el["upperLimit"] is None and el["cpk"] is not None  # one-sided
    assert "coatingMassGM2" not in by  # cold-rolled: no coating, no limit
    chem = {p["property"]: p for p in got["chemistry"]}
    assert "C" in chem and chem["C"]["n"] == got["certified"]
    assert sum(r["certificates"] for r in got["revisions"]) == got["certified"]

    # The mill sees every customer's coils of the spec; it is FAW-VW's own spec, so the
    # same coils, and GALANZ sees nothing of it.
    mill = (await demo_api.data(CAPABILITY, {"spec": SPEC}, as_=tokens["mill"]))[
        "qualityCapability"]
    assert mill["coils"] >= got["coils"]
    assert (await demo_api.data(CAPABILITY, {"spec": SPEC}, as_=tokens["galanz"]))[
        "qualityCapability"] is None


async def test_a_shared_spec_counts_only_the_viewers_coils(
        demo_api: Api, tokens: dict[str, str]) -> None:
    spec = "BS-DX52D+Z-0.80x1250-Z140"  # bought by GALANZ and FAW-VW
    mill = (await demo_api.data(CAPABILITY, {"spec": spec}, as_=tokens["mill"]))[
        "qualityCapability"]
    faw = (await demo_api.data(CAPABILITY, {"spec": spec}, as_=tokens["faw"]))[
        "qualityCapability"]
    galanz = (await demo_api.data(CAPABILITY, {"spec": spec}, as_=tokens["galanz"]))[
        "qualityCapability"]
    assert faw["coils"] + galanz["coils"] <= mill["coils"]
    assert galanz["coils"] > 0
    # The mill's staff may narrow to one customer; a customer may not name another.
    org = await demo_api.db.fetchval("SELECT id FROM organization WHERE code = 'GALANZ'")
    gid = to_global_id("Organization", org)
    narrowed = (await demo_api.data(CAPABILITY, {"spec": spec, "c": gid}, as_=tokens["mill"]))[
        "qualityCapability"]
    assert narrowed["coils"] == galanz["coils"]
    assert (await demo_api.data(CAPABILITY, {"spec": spec, "c": gid}, as_=tokens["faw"]))[
        "qualityCapability"] is None
    coated = {p["property"]: p for p in galanz["mechanical"]}
    assert coated["coatingMassGM2"]["lowerLimit"] is not None


async def test_the_period_is_bounded(demo_api: Api, tokens: dict[str, str]) -> None:
    long = await demo_api.query(CAPABILITY, {"spec": SPEC, "from": "2020-01-01",
                                             "to": "2026-01-01"}, as_=tokens["faw"])
    assert long["errors"][0]["extensions"]["code"] == "INVALID"
    empty = (await demo_api.data(CAPABILITY, {"spec": SPEC, "from": "2020-01-01",
                                              "to": "2020-12-31"}, as_=tokens["faw"]))[
        "qualityCapability"]
    assert empty["coils"] == 0 and empty["firstPassYield"] is None
    assert all(p["n"] == 0 and p["cpk"] is None for p in empty["mechanical"])


async def test_the_catalogue_lists_each_spec_with_its_limits(
        demo_api: Api, tokens: dict[str, str]) -> None:
    q = """query($after: String) { specCatalogue(first: 100, after: $after) {
        nodes { code customerPartNumber limitsRevision limits { yieldStrengthMinMpa } }
        pageInfo { hasNextPage endCursor } } }"""
    faw = (await demo_api.data(q, as_=tokens["faw"]))["specCatalogue"]["nodes"]
    codes = [s["code"] for s in faw]
    assert codes == sorted(codes) and SPEC in codes
    assert not any(c.startswith("GLZ-") for c in codes)  # GALANZ's own specs
    assert all(s["limitsRevision"] >= 1 and s["limits"] for s in faw)
    page = (await demo_api.data("""{ specCatalogue(first: 2) { nodes { code }
        pageInfo { hasNextPage endCursor } } }""", as_=tokens["faw"]))["specCatalogue"]
    rest = (await demo_api.data(q, {"after": page["pageInfo"]["endCursor"]},
                                as_=tokens["faw"]))["specCatalogue"]["nodes"]
    assert [s["code"] for s in page["nodes"]] + [s["code"] for s in rest] == codes

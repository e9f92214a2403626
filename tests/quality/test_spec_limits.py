"""A spec's limits and the certificates checked against them: quality sets the limits (each
change a new revision), a certificate outside them is refused with every violation named
and nothing written, one inside them records the revision, and a customer reads which
limits each of its coils was certified against."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from demo.build import build as build_demo
from domain.errors import Invalid
from domain.quality.certificates import content_hash
from domain.quality.limits import Measured, Range, SpecLimits, Violation, check, validated
from resolvers.relay import to_global_id
from tests.support.api import Api, token
from tests.support.factory import World, build

D = Decimal
QA = token("BAOSTEEL", "quality", subject="qa.li")

SET = """mutation($input: SetSpecLimitsInput!) { setSpecLimits(input: $input) {
    spec { code limitsRevision limitsChangedAt
           limits { chemistry { element minPercent maxPercent } yieldStrengthMinMpa
                    yieldStrengthMaxMpa tensileStrengthMinMpa tensileStrengthMaxMpa
                    elongationMinPct coatingMassMinGM2 } }
    errors { field message code } } }"""

ISSUE = """mutation($input: IssueCertificateInput!) { issueCertificate(input: $input) {
    certificate { certNo contentHash content limitsRevision
                  limits { chemistry { element maxPercent } yieldStrengthMaxMpa
                           elongationMinPct } }
    errors { field message code }
    violations { property value bound limit message } } }"""

COIL = """query($id: ID!) { coil(id: $id) { coilNo
    spec { limitsRevision limits { yieldStrengthMaxMpa } }
    certificate { certNo limitsRevision limits { yieldStrengthMaxMpa elongationMinPct
                                                 chemistry { element maxPercent } } } } }"""

# EN 10130 DC04 as the factory's FAW-VW spec holds it; its heat reports C and Mn only.
DC04 = {"chemistry": [{"element": "C", "maxPercent": "0.08"},
                      {"element": "Mn", "maxPercent": "0.40"}],
        "yieldStrengthMinMpa": "140", "yieldStrengthMaxMpa": "210",
        "tensileStrengthMinMpa": "270", "tensileStrengthMaxMpa": "350",
        "elongationMinPct": "38"}
GOOD = {"yieldStrengthMpa": "182.5", "tensileStrengthMpa": "301", "elongationPct": "41.0"}


async def _set(api: Api, w: World, limits: dict[str, Any], as_: str = QA) -> dict[str, Any]:
    body = await api.data(SET, {"input": {"specId": to_global_id("SteelSpec", w.spec["FAW-VW"]),
                                          **limits}}, as_=as_)
    result: dict[str, Any] = body["setSpecLimits"]
    return result


def _issue(w: World, i: int, **values: str) -> dict[str, Any]:
    return {"input": {"coilId": to_global_id("Coil", w.coils["FAW-VW"][i]), **GOOD, **values}}


# The check itself: values and limits in, violations out.

def test_bounds_are_inclusive_and_each_violation_names_property_value_and_bound() -> None:
    limits = SpecLimits(chemistry={"C": Range(None, D("0.08")), "Al": Range(D("0.015"), None)},
                        yield_strength_mpa=Range(D(140), D(210)),
                        tensile_strength_mpa=Range(D(270), D(350)),
                        elongation_min_pct=D(38))
    at_bounds = Measured({"C": D("0.080"), "Al": D("0.015")}, D(210), D(270), D(38))
    assert check(at_bounds, limits) == []
    outside = Measured({"C": D("0.081"), "Al": D("0.010")}, D("210.1"), D(351), D("37.9"))
    found = check(outside, limits)
    assert found == [
        Violation("Al", D("0.010"), "min", D("0.015")),
        Violation("C", D("0.081"), "max", D("0.08")),
        Violation("yieldStrengthMpa", D("210.1"), "max", D(210)),
        Violation("tensileStrengthMpa", D(351), "max", D(350)),
        Violation("elongationPct", D("37.9"), "min", D(38)),
    ]
    assert str(found[1]) == "C 0.081 % is above the maximum 0.08 %"
    assert str(found[4]) == "elongation 37.9 % is below the minimum 38 %"
    assert found[2].input_field == "yieldStrengthMpa" and found[0].input_field is None


def test_what_was_not_measured_cannot_be_certified() -> None:
    limits = SpecLimits(chemistry={"P": Range(None, D("0.030"))},
                        coating_mass_min_g_m2=D(275))
    found = check(Measured({"C": D("0.002")}, D(200), D(300), D(40)), limits)
    assert found == [Violation("P", None, "max", D("0.030")),
                     Violation("coatingMassGM2", None, "min", D(275))]
    assert str(found[0]) == "P not in the cast analysis (the maximum is 0.03 %)"
    assert str(found[1]) == "coating mass not measured (the minimum is 275 g/m²)"
    coated = Measured({"P": D("0.012")}, D(200), D(300), D(40), D(274))
    assert check(coated, limits) == [Violation("coatingMassGM2", D(274), "min", D(275))]


def test_limits_a_spec_cannot_hold_are_refused_by_field() -> None:
    for bad, field in (
            (SpecLimits(chemistry={"Xx1": Range(None, D(1))}), "chemistry"),
            (SpecLimits(chemistry={"C": Range(D("0.2"), D("0.1"))}), "chemistry"),
            (SpecLimits(chemistry={"C": Range()}), "chemistry"),
            (SpecLimits(chemistry={"C": Range(None, D("0.0000001"))}), "chemistry"),
            (SpecLimits(chemistry={"C": Range(None, D(101))}), "chemistry"),
            (SpecLimits(yield_strength_mpa=Range(D(300), D(200))), "yieldStrengthMinMpa"),
            (SpecLimits(tensile_strength_mpa=Range(None, D("NaN"))), "tensileStrengthMaxMpa"),
            (SpecLimits(yield_strength_mpa=Range(D("140.25"))), "yieldStrengthMinMpa"),
            (SpecLimits(elongation_min_pct=D(101)), "elongationMinPct"),
            (SpecLimits(coating_mass_min_g_m2=D(0)), "coatingMassMinGM2")):
        with pytest.raises(Invalid) as refused:
            validated(bad)
        assert refused.value.field == field, bad


def test_every_demo_certificate_lies_within_its_specs_limits() -> None:
    for seed in (7, 11):
        data = build_demo(120, seed, date(2026, 3, 1), lambda _: None)
        assert data.certificates
        for cert in data.certificates:
            spec = cert.coil.spec
            assert spec is not None and cert.limits_revision == 1
            measured = Measured(cert.coil.heat.chemistry, cert.yield_mpa, cert.tensile_mpa,
                                cert.elongation_pct, cert.coating_g_m2)
            assert check(measured, spec.limits) == [], cert.cert_no
            assert cert.content["limits"] == {**spec.limits.document(), "revision": "1"}
        coated = {s.d.code: s.limits.coating_mass_min_g_m2 for s in data.specs}
        assert coated["BS-DX51D+Z-0.60x1219-Z120"] == D(120)
        assert coated["FAWVW-DC04-0.70x1450"] is None


# Through the API.

async def test_quality_sets_limits_and_each_change_is_a_new_revision(api: Api) -> None:
    w = await build(api.db)
    for who in (token("BAOSTEEL", "production"), token("FAW-VW")):
        refused = await _set(api, w, DC04, as_=who)
        assert refused["errors"][0]["code"] == "FORBIDDEN" and refused["spec"] is None
    before = await api.data(COIL, {"id": to_global_id("Coil", w.coils["FAW-VW"][1])},
                            as_=token("FAW-VW"))
    assert before["coil"]["spec"] == {"limitsRevision": 0, "limits": None}

    first = await _set(api, w, DC04)
    assert first["errors"] == []
    spec = first["spec"]
    assert spec["limitsRevision"] == 1 and spec["limitsChangedAt"] is not None
    assert spec["limits"] == {
        "chemistry": [{"element": "C", "minPercent": None, "maxPercent": "0.08"},
                      {"element": "Mn", "minPercent": None, "maxPercent": "0.40"}],
        "yieldStrengthMinMpa": "140.0", "yieldStrengthMaxMpa": "210.0",
        "tensileStrengthMinMpa": "270.0", "tensileStrengthMaxMpa": "350.0",
        "elongationMinPct": "38.0", "coatingMassMinGM2": None}
    # The same limits again change nothing: no new revision, no second event.
    again = await _set(api, w, DC04)
    assert again["spec"]["limitsRevision"] == 1
    changed = await _set(api, w, {**DC04, "yieldStrengthMaxMpa": "230"})
    assert changed["spec"]["limitsRevision"] == 2
    assert changed["spec"]["limits"]["yieldStrengthMaxMpa"] == "230.0"
    events = await api.db.fetch(
        "SELECT payload, org_id FROM domain_event WHERE event_type ="
        " 'quality.spec_limits_changed' ORDER BY seq")
    assert [e["payload"]["revision"] for e in events] == [1, 2]
    assert {e["org_id"] for e in events} == {w.org["FAW-VW"]}

    for bad, field in (({"chemistry": [{"element": "C", "maxPercent": "0.08"},
                                       {"element": "C", "maxPercent": "0.09"}]}, "chemistry"),
                       ({"yieldStrengthMinMpa": "300", "yieldStrengthMaxMpa": "200"},
                        "yieldStrengthMinMpa"),
                       ({"chemistry": [{"element": "carbon", "maxPercent": "0.08"}]},
                        "chemistry")):
        refused = await _set(api, w, bad)
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID", field)]
    assert await api.db.fetchval("SELECT limits_revision FROM steel_spec WHERE id = $1",
                                 w.spec["FAW-VW"]) == 2


async def test_a_revision_cannot_be_written_without_a_change_of_limits(api: Api) -> None:
    w = await build(api.db)
    await _set(api, w, DC04)
    # Whoever writes the table: the revision follows the limits, not the writer.
    await api.db.execute("UPDATE steel_spec SET limits_revision = 7, coating = coating"
                         " WHERE id = $1", w.spec["FAW-VW"])
    assert await api.db.fetchval("SELECT limits_revision FROM steel_spec WHERE id = $1",
                                 w.spec["FAW-VW"]) == 1
    await api.db.execute("UPDATE steel_spec SET elongation_min_pct = 36 WHERE id = $1",
                         w.spec["FAW-VW"])
    assert await api.db.fetchval("SELECT limits_revision FROM steel_spec WHERE id = $1",
                                 w.spec["FAW-VW"]) == 2


async def test_an_out_of_spec_certificate_is_refused_and_nothing_is_written(api: Api) -> None:
    w = await build(api.db)
    # P is bounded too, and the heat's analysis does not report it.
    await _set(api, w, {**DC04, "chemistry": [*DC04["chemistry"],  # type: ignore[list-item]
                                              {"element": "P", "maxPercent": "0.030"}]})
    before = await api.db.fetchval("SELECT count(*) FROM domain_event")
    got = (await api.data(ISSUE, _issue(w, 1, yieldStrengthMpa="230", elongationPct="36.5"),
                          as_=QA))["issueCertificate"]
    assert got["certificate"] is None
    (error,) = got["errors"]
    assert error["code"] == "OUT_OF_SPEC" and error["field"] is None
    assert error["message"] == (
        "outside the limits of EN DC04 (revision 1): P not in the cast analysis (the maximum"
        " is 0.03 %); yield strength 230 MPa is above the maximum 210 MPa; elongation 36.5 %"
        " is below the minimum 38 %")
    assert got["violations"] == [
        {"property": "P", "value": None, "bound": "MAX", "limit": "0.030",
         "message": "P not in the cast analysis (the maximum is 0.03 %)"},
        {"property": "yieldStrengthMpa", "value": "230", "bound": "MAX", "limit": "210.0",
         "message": "yield strength 230 MPa is above the maximum 210 MPa"},
        {"property": "elongationPct", "value": "36.5", "bound": "MIN", "limit": "38.0",
         "message": "elongation 36.5 % is below the minimum 38 %"}]
    assert await api.db.fetchval(
        "SELECT count(*) FROM quality_certificate WHERE coil_id = $1", w.coils["FAW-VW"][1]) == 0
    assert await api.db.fetchval(
        "SELECT quality_status FROM coil WHERE id = $1", w.coils["FAW-VW"][1]) == "pending"
    assert await api.db.fetchval("SELECT count(*) FROM domain_event") == before

    # One property alone at fault names its input field.
    await _set(api, w, DC04)
    one = (await api.data(ISSUE, _issue(w, 1, tensileStrengthMpa="351"),
                          as_=QA))["issueCertificate"]
    assert [(e["code"], e["field"]) for e in one["errors"]] == [
        ("OUT_OF_SPEC", "tensileStrengthMpa")]
    assert [v["property"] for v in one["violations"]] == ["tensileStrengthMpa"]


async def test_a_compliant_certificate_records_the_limits_it_was_checked_against(
        api: Api) -> None:
    w = await build(api.db)
    await _set(api, w, DC04)
    got = (await api.data(ISSUE, _issue(w, 1), as_=QA))["issueCertificate"]
    assert got["errors"] == [] and got["violations"] == []
    cert = got["certificate"]
    assert cert["limitsRevision"] == 1
    assert cert["limits"] == {"chemistry": [{"element": "C", "maxPercent": "0.08"},
                                            {"element": "Mn", "maxPercent": "0.4"}],
                              "yieldStrengthMaxMpa": "210", "elongationMinPct": "38"}
    # The certified document carries them too, under its hash.
    assert cert["content"]["limits"]["revision"] == "1"
    assert cert["content"]["limits"]["yield_strength_mpa"] == {"min": "140", "max": "210"}
    assert cert["contentHash"] == content_hash(cert["content"])
    row = await api.db.fetchrow(
        "SELECT limits_revision, limits FROM quality_certificate WHERE cert_no = $1",
        cert["certNo"])
    assert row is not None and row["limits_revision"] == 1
    event = await api.db.fetchval(
        "SELECT payload FROM domain_event WHERE event_type = 'quality.certificate_issued'")
    assert event["limits_revision"] == 1


async def test_a_customer_reads_which_limits_its_coils_were_certified_against(
        api: Api) -> None:
    w = await build(api.db)
    await _set(api, w, DC04)
    assert (await api.data(ISSUE, _issue(w, 1), as_=QA))["issueCertificate"]["errors"] == []
    # The limits are tightened; the next coil is certified against the new revision.
    await _set(api, w, {**DC04, "yieldStrengthMaxMpa": "200"})
    assert (await api.data(ISSUE, _issue(w, 2), as_=QA))["issueCertificate"]["errors"] == []

    faw = token("FAW-VW")
    seen = {}
    for i in (0, 1, 2):
        coil = (await api.data(COIL, {"id": to_global_id("Coil", w.coils["FAW-VW"][i])},
                               as_=faw))["coil"]
        assert coil["spec"] == {"limitsRevision": 2, "limits": {"yieldStrengthMaxMpa": "200.0"}}
        seen[coil["coilNo"]] = coil["certificate"]
    # The factory's certificate predates limits: it names none.
    assert seen["FAW-VW-0"]["limitsRevision"] is None and seen["FAW-VW-0"]["limits"] is None
    assert seen["FAW-VW-1"]["limitsRevision"] == 1
    assert seen["FAW-VW-1"]["limits"]["yieldStrengthMaxMpa"] == "210"
    assert seen["FAW-VW-2"]["limitsRevision"] == 2
    assert seen["FAW-VW-2"]["limits"]["yieldStrengthMaxMpa"] == "200"
    # The same over a page of the line's coils, and never for another customer.
    q = """query($id: ID!) { node(id: $id) { ... on ContractLine {
        spec { limitsRevision } coils(first: 10) { nodes { coilNo
            certificate { limitsRevision } } } } } }"""
    line = (await api.data(q, {"id": to_global_id("ContractLine", w.line["FAW-VW"])},
                           as_=faw))["node"]
    assert line["spec"]["limitsRevision"] == 2
    assert {c["coilNo"]: (c["certificate"] or {}).get("limitsRevision")
            for c in line["coils"]["nodes"]} == {"FAW-VW-0": None, "FAW-VW-1": 1,
                                                 "FAW-VW-2": 2}
    other = await api.data(COIL, {"id": to_global_id("Coil", w.coils["FAW-VW"][1])},
                           as_=token("GALANZ"))
    assert other["coil"] is None
    spec = await api.data('query($id: ID!) { node(id: $id) { ... on SteelSpec {'
                          ' limitsRevision } } }',
                          {"id": to_global_id("SteelSpec", w.spec["FAW-VW"])},
                          as_=token("GALANZ"))
    assert spec["node"] is None


async def test_the_demos_certificates_name_their_limits(demo_api: Api) -> None:
    q = """{ coils: contracts(first: 5) { nodes { lines { spec { code limitsRevision
        limits { tensileStrengthMinMpa chemistry { element } } }
        coils(first: 5) { nodes { certificate { limitsRevision limits {
            tensileStrengthMinMpa } } } } } } } }"""
    data = await demo_api.data(q, as_=token("FAW-VW"))
    lines = [ln for c in data["coils"]["nodes"] for ln in c["lines"]]
    assert lines
    certified = 0
    for line in lines:
        spec = line["spec"]
        assert spec["limitsRevision"] == 1 and spec["limits"]["chemistry"], spec["code"]
        for coil in line["coils"]["nodes"]:
            cert = coil["certificate"]
            if cert is not None:
                certified += 1
                assert cert["limitsRevision"] == 1
                assert cert["limits"]["tensileStrengthMinMpa"] is not None
    assert certified > 0

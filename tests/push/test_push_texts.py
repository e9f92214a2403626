"""Notification texts: every event type the code emits reads well in each language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.contracts.stage_routes import STAGES
from domain.disputes import claims
from domain.disputes import writes as disputes
from domain.feeds.kinds import KINDS
from domain.push.locale import Locale
from domain.push.texts import CODES_ZH, MILL_TEXTS, TEXTS, render
from domain.settlements import writes as settling
from domain.shipments.detected import CUSTOMER_KINDS

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
LANGUAGES = ("en", "zh")
URGE = {"ticket": "URG-000042", "contract": "BSC-2026-000123", "lineNo": 2,
        "neededBy": "2026-12-10", "promisedDate": "2026-12-08", "level": 1,
        "note": "shipped by rail", "assignee": "sales.zhang"}
# Kinds behind the f-string event types (areas whose happenings vary).
VARYING = {
    "claim": ["submitted", "assessed", "agreed", "partially_agreed", "rejected",
              "withdrawn", "credited"],
    "dispute": ["established", "processing", "claiming", "correcting", "completed",
                "withdrawn", "containment_recorded", "root_cause_recorded",
                "corrective_action_recorded", "preventive_action_recorded"],
    "settlement": ["drawn_up", "issued", "paid", "overdue", "voided"],
    "shipment": ["departed", "arrived", "delayed", "back_on_time", "unloaded", "received",
                 "arrival_without_unload", "geofence_entered", "geofence_exited",
                 "scan_far_from_vehicle", "coil_not_on_manifest", "unknown_coil",
                 "blocked_coil_loaded", "scan_off_route"],
    "urge": ["opened", "acknowledged", "promised", "resolved", "escalated"],
    "purchase_plan": ["submitted", "rejected", "approved", "converted"],
    "contract": ["partially_shipped", "shipped"],  # contract.settled is a literal
}


def _emitted() -> set[str]:
    """The literal event types passed to ``events.append`` in the code."""
    found: set[str] = set()
    for folder in ("domain", "tracking"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            for m in re.finditer(r"(?:events\.append|_event)\(\s*\w+,\s*\"([a-z_]+\.[a-z_]+)\"",
                                 text):
                found.add(m.group(1))
    for area, kinds in VARYING.items():
        found |= {f"{area}.{k}" for k in kinds}
    # What the plant's records change (domain/feeds): each kind created, updated, retired.
    for kind in KINDS:
        found |= {f"{kind}.{change}" for change in ("created", "updated", "retired")}
    found |= {"coil.released", "coil.blocked", "coil.downgraded", "shipment.cancelled",
              "device.updated"}
    return found


def _locale(language: str) -> Locale:
    return Locale(language=language, units="metric", time_zone="Asia/Shanghai")


def test_the_scan_finds_the_emitted_types() -> None:
    assert {"contract.confirmed", "purchase_plan.change_answered",
            "quality.certificate_issued"} <= _emitted()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_emitted_type_reads_in_the_language(language: str) -> None:
    for event_type in sorted(_emitted()):
        text = render(event_type, {"number": "N-1", **URGE}, AT, _locale(language))
        happening = event_type.partition(".")[2]
        assert text.title and text.body, event_type
        if language == "zh":  # no English happening left in a Chinese text
            assert happening not in text.title, (event_type, text.title)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_urge_step_has_its_own_complete_text(language: str) -> None:
    for kind in VARYING["urge"]:
        assert language in TEXTS[f"urge.{kind}"]
        text = render(f"urge.{kind}", URGE, AT, _locale(language))
        assert "?" not in text.title + text.body, (kind, text)
        assert "BSC-2026-000123" in text.title + text.body
    promised = render("urge.promised", URGE, AT, _locale(language))
    assert "2026-12-08" in promised.title
    assert "shipped by rail" in render("urge.resolved", URGE, AT, _locale(language)).body
    assert "urge.answered" not in TEXTS  # never emitted


@pytest.mark.parametrize("language", LANGUAGES)
def test_scan_anomalies_name_the_coil(language: str) -> None:
    payload = {"kind": "coil_not_on_manifest", "shipment": None,
               "details": {"code": "C26-0042", "step": "load", "distance_km": 3.2}}
    for kind in ("scan_far_from_vehicle", "coil_not_on_manifest", "unknown_coil",
                 "blocked_coil_loaded", "scan_off_route"):
        text = render(f"shipment.{kind}", payload, AT, _locale(language))
        assert "C26-0042" in text.title and "?" not in text.title + text.body, text



def _every_type() -> set[str]:
    """Every event type emitted, the varying ones taken from the domain's own tables."""
    found = _emitted()
    found |= {"dispute.opened", "dispute.evidence_added"}
    found |= {f"dispute.{t.target}" for t in disputes.TRANSITIONS.values()}
    found |= {f"dispute.{kind}_recorded" for kind in disputes.RECORDS}
    found |= {"claim.submitted"} | {f"claim.{t.target}" for t in claims.TRANSITIONS.values()}
    found |= {"settlement.drawn_up"} | {f"settlement.{e}" for e in settling.EVENTS.values()}
    found |= {f"shipment.{kind}" for kind in CUSTOMER_KINDS}
    return found


SCAN_STEPS = ("loading", "departing", "arriving", "unloading", "receiving", "transshipping")
# Every code a text may show: the stages, the scan steps, the claim bases.
DETAIL_CODES = {"stage": STAGES, "step": SCAN_STEPS, "basis": claims.BASES}
# A payload naming everything any text asks for; its free text holds no Latin letters, so
# that any left in a Chinese text came from the template or a code.
RICH = {"number": "N-1", "dispute": "QD-2026-000007", "claim": "CL-2026-000003",
        "contract": "BSC-2026-000123", "shipment": "SH-26-0042", "ticket": "URG-000042",
        "certificate": "QC-26-0001", "coil": "BX26C0001234", "heat": "26H10042",
        "lineNo": 2, "neededBy": "2026-12-10", "promisedDate": "2026-12-08", "level": 1,
        "note": "按铁路发运", "assignee": "S-ZHANG", "amount": "12345.6",
        "agreed_amount": "10000", "currency": "CNY", "credit_note": "CN-2026-0001",
        "late_days": 3, "predicted_delivery": "2026-12-20", "tonnes": "118.5",
        "title": "新钢种", "body": "新钢种上市", "code": "BX26C0001234", "distance_km": 3.2,
        "device": "GPS-TRK-SH-06", "bound_to": "TRK-SH-06",
        "survey": "SVY-000042", "subject": "2026-Q3", "question": "请评价本季度的服务",
        "closesAt": "2026-12-25T00:00:00+00:00", "customer": "FAW-VW", "contact": "BUYER-1",
        "rating": 2, "comment": "答复太慢", "tier": "KEY", "previousTier": "MAJOR", "rank": 1,
        "contribution": "43828.80", "from": "2025-11-25", "to": "2026-11-24",
        "details": {"eta": "2026-11-26T08:00:00+00:00",
                    "promised_by": "2026-11-26T02:00:00+00:00", "code": "BX26C0001234",
                    "distance_km": 3.2}}
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def _payloads() -> list[dict[str, object]]:
    """The rich payload once for each detail code (each kind cycled through)."""
    longest = max(len(codes) for codes in DETAIL_CODES.values())
    out = []
    for i in range(longest):
        codes = {kind: codes[i % len(codes)] for kind, codes in DETAIL_CODES.items()}
        out.append({**RICH, **codes, "details": {**RICH["details"],  # type: ignore[dict-item]
                                                 "step": codes["step"]}})
    return out


@pytest.mark.parametrize("audience", ["customer", "mill"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_shows_a_raw_code(language: str, audience: str) -> None:
    locale = Locale(language=language, audience=audience)
    assert {"dispute.evidence_added", "claim.credited", "shipment.arrival_without_unload",
            "dispute.verification_recorded"} <= _every_type()
    for event_type in sorted(_every_type()):
        for payload in _payloads():
            text = render(event_type, payload, AT, locale)
            shown = f"{text.title}\n{text.body}"
            assert not SNAKE.search(shown), (event_type, shown)
            assert "?" not in shown, (event_type, shown)
            if language == "zh":
                # Only identifiers (upper case) and Babel's zone are Latin in Chinese.
                assert not re.search(r"[a-z]{2,}", shown), (event_type, shown)
            codes = [payload[kind] for kind in DETAIL_CODES]
            if language == "zh":
                assert not any(str(c) in shown for c in codes), (event_type, shown)


def test_every_code_has_its_chinese_word() -> None:
    for kind, codes in DETAIL_CODES.items():
        assert set(CODES_ZH[kind]) == set(codes), kind


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_claims_text_names_the_claim_and_its_amount(language: str) -> None:
    payload = {"dispute": "QD-2026-000007", "claim": "CL-2026-000003", "amount": "12345.6",
               "agreed_amount": "10000", "currency": "CNY", "basis": "downgrade",
               "contract": "BSC-2026-000123", "credit_note": "CN-2026-0001"}
    for kind in ("submitted", "assessed", "agreed", "partially_agreed", "rejected",
                 "credited"):
        text = render(f"claim.{kind}", payload, AT, _locale(language))
        assert "CL-2026-000003" in text.title, text
        assert "12,345.60" in text.body or "10,000.00" in text.body, text
    agreed = render("claim.partially_agreed", payload, AT, _locale(language))
    assert "10,000.00" in agreed.title and "12,345.60" in agreed.body
    assert ("降级使用" if language == "zh" else "(downgrade)") in render(
        "claim.submitted", payload, AT, _locale(language)).body


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_mill_reads_the_urge_as_the_customers(language: str) -> None:
    mill = Locale(language=language, audience="mill")
    customer = Locale(language=language, audience="customer")
    for kind in VARYING["urge"]:
        ours = render(f"urge.{kind}", URGE, AT, mill)
        shown = (ours.title + ours.body).lower()
        assert "您" not in shown and "your" not in shown and " you " not in shown, ours
    assert set(MILL_TEXTS) <= set(TEXTS)
    theirs = render("urge.resolved", URGE, AT, customer).body
    assert ("您对" if language == "zh" else "Your urge") in theirs
    ours_escalated = render("urge.escalated", URGE, AT, mill)
    assert "sales.zhang" in ours_escalated.title

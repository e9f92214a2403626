"""Notification texts: every event type the code emits reads well in each language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.push.locale import Locale
from domain.push.texts import TEXTS, render

ROOT = Path(__file__).resolve().parents[1]
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


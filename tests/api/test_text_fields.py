"""Free text is trimmed and bounded everywhere, each area with its own bound and words:
a dispute's texts take 8,000 characters, a hotline ticket's 2,000."""

from __future__ import annotations

import pytest

from domain.disputes.writes import clean_text
from domain.errors import Invalid
from domain.hotline.writes import _text


def test_both_trim_and_treat_blank_as_absent() -> None:
    assert clean_text("  late  ", "note", required=False) == "late"
    assert _text("  late  ", "note") == "late"
    assert clean_text("   ", "note", required=False) is None
    assert _text("   ", "note") is None


def test_each_refuses_an_empty_required_text_in_its_own_words() -> None:
    with pytest.raises(Invalid) as dispute:
        clean_text(" ", "description", required=True)
    assert (dispute.value.message, dispute.value.field) == ("must not be empty", "description")
    with pytest.raises(Invalid) as ticket:
        _text(None, "reason", required="say what is late")
    assert (ticket.value.message, ticket.value.field) == ("say what is late", "reason")


def test_each_has_its_own_bound() -> None:
    assert clean_text("x" * 8000, "note", required=False) == "x" * 8000
    with pytest.raises(Invalid) as dispute:
        clean_text("x" * 8001, "note", required=False)
    assert dispute.value.message == "is limited to 8000 characters"
    assert _text("x" * 2000, "note") == "x" * 2000
    with pytest.raises(Invalid) as ticket:
        _text("x" * 2001, "note")
    assert ticket.value.message == "at most 2,000 characters"

"""The worker reads push rules with the domain's column list: the fields it matches on,
which are a part of what a rule's owner reads."""

from __future__ import annotations

from dataclasses import fields

from domain.push import rules
from domain.push.matching import Rule
from push import rules_index


def test_the_worker_reads_the_columns_the_domain_names() -> None:
    assert rules_index.MATCH_COLS is rules.MATCH_COLS
    names = [f.name for f in fields(Rule)]
    assert rules.MATCH_COLS.split(", ") == names
    owned = rules._RULE_COLS.split(", ")
    assert set(names) <= set(owned) and len(owned) == len(set(owned))
    assert {"name", "enabled", "created_by", "created_at"} <= set(owned)

"""One leg record: readers of shipments get a `Leg` with the columns they select;
detection gets the same record with the coils aboard, and nothing else differs."""

from __future__ import annotations

from dataclasses import fields

from domain.shipments.legs import LEG_COLS, ActiveLeg, Leg
from domain.shipments.reads import Leg as ReadLeg


def test_the_columns_read_are_the_records_fields() -> None:
    columns = [c.strip().removeprefix("l.") for c in LEG_COLS.split(",")]
    assert columns == [f.name for f in fields(Leg)]
    assert ReadLeg is Leg


def test_detection_keeps_the_same_leg_with_its_coils() -> None:
    assert issubclass(ActiveLeg, Leg)
    assert [f.name for f in fields(ActiveLeg)] == [f.name for f in fields(Leg)] + ["coil_ids"]

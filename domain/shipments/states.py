"""The leg state machine and how a shipment's status follows its legs: pure rules."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import timedelta

from domain.errors import InvalidTransition

# The main path of a leg, in order; `exception` is a side state left only to in_transit.
CHAIN = ("planned", "loading", "departed", "in_transit", "arrived", "unloaded", "received")
TRANSITIONS: dict[str, frozenset[str]] = {
    **{s: frozenset({n, "exception"}) for s, n in itertools.pairwise(CHAIN)},
    "planned": frozenset({"loading", "cancelled", "exception"}),
    "received": frozenset(),
    "exception": frozenset({"in_transit"}),
    "cancelled": frozenset(),
}
# Legs detection still watches: every open state. An unloaded leg waits for its receiving
# scans; a leg that ends at a port is never received there, so an unloaded leg drops out
# of view UNLOADED_WATCH after it arrived.
ACTIVE = (*CHAIN[:-1], "exception")
UNLOADED_WATCH = timedelta(days=7)


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(f"a {current} leg cannot become {target}", field="status")


def path_to(current: str, target: str) -> list[str]:
    """The states a leg passes through from ``current`` to ``target`` along the main path
    (an exception resumes through in_transit); empty when the target is not ahead. What
    detection sees proves the steps between: a truck gone from the plant was loaded."""
    start = "in_transit" if current == "exception" else current
    if start not in CHAIN or target not in CHAIN:
        return []
    i, j = CHAIN.index(start), CHAIN.index(target)
    if j <= i and not (current == "exception" and target == "in_transit"):
        return []
    return (["in_transit"] if current == "exception" else []) + list(CHAIN[i + 1 : j + 1])


def shipment_status(leg_statuses: Sequence[str]) -> str:
    """A shipment's status from its legs' (in leg order): any exception shows; before the
    first leg moves it is that leg's planned or loading; once the last leg has arrived it
    is that leg's status; in between the goods are in transit (or just departed)."""
    legs = [s for s in leg_statuses if s != "cancelled"]
    if not legs:
        return "cancelled"
    if "exception" in legs:
        return "exception"
    if all(s == "planned" for s in legs[1:]) and legs[0] in ("planned", "loading", "departed"):
        return legs[0]
    if legs[-1] in ("arrived", "unloaded", "received"):
        return legs[-1]
    return "in_transit"

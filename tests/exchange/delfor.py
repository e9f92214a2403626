"""DELFOR interchanges as a customer's systems send them, with the parts, periods,
quantities and firmness a test names (dated from the test's own today, unlike the fixed
sample in tests/data/exchange)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

SCC = {"firm": "1", "commitment_production": "2", "commitment_material": "3",
       "forecast": "4"}


@dataclass(frozen=True, slots=True)
class Want:
    """A quantity of a part (``120.000:TNE``, ``60500:KGM``) wanted on ``start``, or from
    ``start`` to ``end``, and how firm."""

    part: str
    start: date
    quantity: str
    firmness: str
    end: date | None = None


def delfor(number: str, wants: Sequence[Want], *, site: str = "FAW-VW-CC-WH1",
           reference: str = "FV0001") -> bytes:
    """One DELFOR message from FAW-VW to the mill in an interchange of its own; a line per
    part, in the order the parts first appear."""
    segments = [
        "UNH+1+DELFOR:D:96A:UN:A09040", f"BGM+241+{number}+5", "DTM+137:202611242215:203",
        "NAD+BY+FAW-VW::91", "NAD+SU+BAOSTEEL::91", "UNS+D", f"NAD+ST+{site}::91"]
    parts = list(dict.fromkeys(w.part for w in wants))
    for n, part in enumerate(parts, start=1):
        segments.append(f"LIN+{n}++{part}:IN")
        for w in (w for w in wants if w.part == part):
            when = (f"{w.start:%Y%m%d}:102" if w.end is None
                    else f"{w.start:%Y%m%d}-{w.end:%Y%m%d}:718")
            segments += [f"QTY+1:{w.quantity}", f"SCC+{SCC[w.firmness]}", f"DTM+2:{when}"]
    segments += ["UNS+S", f"UNT+{len(segments) + 2}+1"]
    text = ("UNA:+.? '"
            f"UNB+UNOC:3+FAWVW:ZZZ+BAOSTEEL:ZZZ+261124:2215+{reference}++DELFOR'"
            + "".join(s + "'" for s in segments) + f"UNZ+1+{reference}'")
    return text.encode("latin-1")

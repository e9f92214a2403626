"""Coil labels as the scanners read them: the plain coil number, or a GS1 element string
(GTIN of the mill's coil product, the coil number as serial, the heat as batch)."""

from __future__ import annotations

import re

GS = "\x1d"


def gs1_check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit of a key without it (weights 3, 1, 3, ... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


# GTIN-14 of "steel coil" under a Chinese (690-699) company prefix.
COIL_GTIN = "0690123400012" + gs1_check_digit("0690123400012")


def gs1_label(coil_no: str, heat_no: str) -> str:
    """AI 01 (GTIN), AI 21 (serial: the coil number), AI 10 (batch: the heat). The serial
    is variable-length and not last, so a group separator ends it."""
    return f"01{COIL_GTIN}21{coil_no}{GS}10{heat_no}"


# What a label prints as a plain barcode: letters and digits only, as scanners read them.
PLAIN = re.compile(r"[A-Za-z0-9]{6,20}")


def label(coil_no: str, heat_no: str, gs1: bool) -> str:
    """The code a scanner reads off a coil: GS1 when asked, or when the coil number is
    not plain letters and digits (a GS1 serial may carry the rest)."""
    return gs1_label(coil_no, heat_no) if gs1 or not PLAIN.fullmatch(coil_no) else coil_no

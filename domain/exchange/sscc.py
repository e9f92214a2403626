"""SSCC-18 (GS1 application identifier 00): the number that names each coil as a
logistic unit on a despatch advice and on its label.

An SSCC is an extension digit, the GS1 company prefix of whoever packs the unit, a serial
reference and a mod-10 check digit: 18 digits in all, so the prefix and the serial
reference share 16 (a 7-digit prefix leaves 9 digits of serial). The check digit is
computed here and every SSCC is then read back with ``biip``, the GS1 parser the
ingester decodes label scans with, so a number this module prints is one the ingester
accepts.

On a label the SSCC is printed as a GS1-128 element string: ``00`` followed by the 18
digits (AI 00 has a fixed length, so no group separator follows it), and under the
bars as ``(00)`` and the digits. A scanner sends either form; the ingester's scan
decoder reads both.
"""

from __future__ import annotations

from typing import Final

from biip import ParseError
from biip.sscc import Sscc

from domain.errors import Invalid

AI: Final = "00"
DIGITS: Final = 18
# A GS1 company prefix has 6 to 12 digits (GS1 General Specifications, 1.4.4); an SSCC
# keeps at least 4 digits of serial reference, so no prefix over 12 fits anyway.
PREFIX_DIGITS: Final = range(6, 13)


def check_digit(payload: str) -> int:
    """The GS1 mod-10 check digit of ``payload`` (17 digits for an SSCC): digits weighted
    3, 1, 3, ... from the right, the digit that brings their sum to a multiple of 10."""
    if not payload.isascii() or not payload.isdigit():
        raise Invalid(f"{payload!r} is not a string of digits", field="sscc")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


def make_sscc(extension_digit: int, company_prefix: str, serial_reference: int) -> str:
    """The SSCC of a logistic unit: ``extension_digit`` (0-9, the packer's own choice to
    widen its serial range), ``company_prefix`` (its GS1 company prefix, 6-12 digits) and
    ``serial_reference`` (unique per unit under that prefix), with its check digit."""
    if not 0 <= extension_digit <= 9:
        raise Invalid("the extension digit is one digit, 0-9", field="extensionDigit")
    if not (company_prefix.isascii() and company_prefix.isdigit()
            and len(company_prefix) in PREFIX_DIGITS):
        raise Invalid("a GS1 company prefix is 6-12 digits", field="companyPrefix")
    room = DIGITS - 2 - len(company_prefix)
    if not 0 <= serial_reference < 10**room:
        raise Invalid(f"under a {len(company_prefix)}-digit company prefix the serial "
                      f"reference has {room} digits: 0 to {10**room - 1}",
                      field="serialReference")
    payload = f"{extension_digit}{company_prefix}{serial_reference:0{room}d}"
    return validate(f"{payload}{check_digit(payload)}")


def validate(value: str) -> str:
    """``value`` when it is an SSCC with its right check digit, as ``biip`` reads it;
    else ``Invalid`` naming what is wrong."""
    if len(value) != DIGITS or not value.isascii() or not value.isdigit():
        raise Invalid(f"an SSCC is {DIGITS} digits, not {value[:40]!r}", field="sscc")
    try:
        return Sscc.parse(value).value
    except ParseError as e:
        raise Invalid(str(e), field="sscc") from e


def element_string(sscc: str) -> str:
    """What a scanner sends for the SSCC's GS1-128 bars: ``00`` and the 18 digits."""
    return AI + validate(sscc)


def human_readable(sscc: str) -> str:
    """The text under the bars, ``(00)`` and the 18 digits, which scanners that read the
    printed line (and people typing it in) send too."""
    return f"({AI}){validate(sscc)}"

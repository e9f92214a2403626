"""Coil label scans on ``keylink/v1/devices/{device}/scan``::

    {"ts": "2026-11-25T08:00:00+08:00", "code": "BX25C0012345", "step": "loading",
     "site": "BAOSHAN-DOCK-3"}

``ts`` reads as in native fixes; an array of such objects is accepted too, for a scanner
uploading what it read while offline. ``code`` is a plain coil number or a GS1 element
string (see :func:`read_code`).
"""

from __future__ import annotations

import re
from typing import Any, Final, NamedTuple

import biip
from biip.gs1_messages import GS1Message

from tracking.decoders.native import (
    JsonObject,
    check_device,
    load_json,
    malformed,
    objects,
    text,
    timestamp,
)
from tracking.model import Reason, Rejection, Scan, ScanStep

GS: Final = "\x1d"
# How scanners and the software between them spell the group separator when they do
# not send the byte itself; JSON's "\u001d" escape already arrives as the byte.
_GS_SPELLINGS: Final = ("<GS>", "<gs>", "\\u001d", "\\u001D", "\\x1d", "\\x1D")
PLAIN_COIL: Final = re.compile(r"[A-Za-z0-9]{6,20}")
MAX_CODE_CHARS: Final = 256
MAX_SITE_CHARS: Final = 64
# GS1 identification keys whose check digits biip verifies.
_KEYS: Final = frozenset({"00", "01", "02"})
_STEPS: Final = {step.value: step for step in ScanStep}


class Code(NamedTuple):
    coil_number: str | None
    sscc: str | None
    parsed: dict[str, Any]


def decode(device: str, payload: bytes) -> list[Scan]:
    return [_scan(device, obj) for obj in objects(load_json(payload))]


def _scan(device: str, obj: JsonObject) -> Scan:
    check_device(obj, device)
    if "ts" not in obj:
        raise malformed("ts is missing")
    code = text(obj, "code", max_chars=MAX_CODE_CHARS * 6)
    if code is None:
        raise malformed("code is missing")
    code = normalize(code)
    read = read_code(code)
    return Scan(
        device=device,
        scanned_at=timestamp(obj["ts"]),
        code=code,
        coil_number=read.coil_number,
        sscc=read.sscc,
        step=_step(obj.get("step")),
        site_code=text(obj, "site", max_chars=MAX_SITE_CHARS),
        parsed=read.parsed,
    )


def _step(value: Any) -> ScanStep:
    if value is None:
        raise malformed("step is missing")
    if not isinstance(value, str):
        raise malformed("step is not a string")
    step = _STEPS.get(value)
    if step is None:
        raise Rejection(Reason.UNKNOWN_STEP, value[:64])
    return step


def normalize(code: str) -> str:
    """The code with surrounding blanks removed and every spelling of the GS1 group
    separator turned into the byte 0x1D, so one label always yields one code."""
    code = code.strip()
    for spelling in _GS_SPELLINGS:
        code = code.replace(spelling, GS)
    return code.strip(GS)


def read_code(code: str) -> Code:
    """What a normalized code names.

    GS1 wins when the code parses as a GS1 message with an identification key (SSCC or
    GTIN) whose check digit holds, or when it is marked as GS1 (symbology identifier,
    group separator, or the bracketed human-readable form): scanners send GS1 labels as
    bare digits, and a 20-digit SSCC would otherwise pass for a coil number. A key with a
    wrong check digit is a misread, not a coil number. Otherwise a code of 6-20 letters
    and digits is a plain coil number, and any other code must parse as GS1. So ``10``
    or ``21`` at the start of such a code does not make it GS1: GS1 never uses a batch or
    serial without a key, and coil numbers may start with those digits.
    """
    if not code or len(code) > MAX_CODE_CHARS:
        raise malformed(f"code is empty or longer than {MAX_CODE_CHARS} characters")
    marked = code.startswith(("]", "(")) or GS in code
    message = _gs1(code)
    if message is not None:
        elements = message.element_strings
        for element in elements:
            error = element.sscc_error or element.gtin_error
            if error:
                raise malformed(f"GS1 key of {code!r}: {error}")
        if marked or any(e.ai.ai in _KEYS for e in elements) or not PLAIN_COIL.fullmatch(code):
            return _gs1_code(message)
    if not marked and PLAIN_COIL.fullmatch(code):
        return Code(coil_number=code, sscc=None, parsed={})
    raise malformed(f"code is neither a coil number nor a GS1 element string: {code[:80]!r}")


def _gs1(code: str) -> GS1Message | None:
    try:
        if code.startswith("("):
            return GS1Message.parse_hri(code)
        return biip.parse(code).gs1_message
    except Exception:
        # Hostile input makes biip raise more than its ParseError (an index or int()
        # failure inside a symbology identifier); either way the code is not GS1.
        return None


def _gs1_code(message: GS1Message) -> Code:
    parsed = {element.ai.ai: element.value for element in message.element_strings}
    return Code(
        coil_number=parsed.get("21") or parsed.get("10"),
        sscc=parsed.get("00"),
        parsed=parsed,
    )

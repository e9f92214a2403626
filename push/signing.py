"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body.

Header ``Keylink-Signature: t=<unix seconds>,v1=<hex digest>`` where the digest is
``HMAC_SHA256(secret, "<t>." + body)``. A receiver recomputes it over the raw body,
compares in constant time and rejects old timestamps to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Keylink-Signature"
TOLERANCE_S = 300


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(secret: str, body: bytes, header: str, *, now: float | None = None,
           tolerance_s: int = TOLERANCE_S) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within the tolerance."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = sign(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))

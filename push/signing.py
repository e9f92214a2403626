"""Webhook signatures: Standard Webhooks (https://www.standardwebhooks.com/).

Each delivery carries ``webhook-id`` (the delivery's idempotency key, the same on every
try), ``webhook-timestamp`` (unix seconds of this try) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``), keyed with the bytes the
secret's base64 text after ``whsec_`` decodes to. Any Standard Webhooks library
verifies it: ``standardwebhooks.Webhook(secret).verify(body, headers)``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks import Webhook

ID = "webhook-id"
TIMESTAMP = "webhook-timestamp"
SIGNATURE = "webhook-signature"


def headers(secret: str, msg_id: str, body: bytes,
            timestamp: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers signing ``body`` as message ``msg_id``."""
    at = timestamp or datetime.now(UTC)
    return {ID: msg_id, TIMESTAMP: str(int(at.timestamp())),
            SIGNATURE: Webhook(secret).sign(msg_id, at, body)}

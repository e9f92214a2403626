"""The transports' interface: send a document to a partner's endpoint, pick files up
from a partner's SFTP inbox.

Every transport connects only where the egress policy allows (the push worker's, one
policy for webhooks and documents), bounds what it reads, and fails with one error type,
``TransportError``, which says whether trying again as it is may succeed. Retries,
backoff and the document's lifecycle belong to the caller; a document's ``message_id``
is its idempotency key and must stay the same on every try (it is the webhook-id, and
AS2's Message-ID, by which receivers drop repeats).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from domain.egress import SFTP_SCHEMES, WEB_SCHEMES, Destination
from push.transports import as2, https, sftp
from push.transports.config import Station, TransportConfig
from push.transports.model import (
    Endpoint,
    EndpointError,
    Mdn,
    Picked,
    Receipt,
    TransportError,
    check_document,
)
from settings import Settings

__all__ = [
    "Endpoint", "EndpointError", "Mdn", "Picked", "Receipt", "Station", "TransportConfig",
    "TransportError", "acknowledge", "check_destination", "pick_up", "send",
]


@functools.cache
def _from_environment() -> TransportConfig:
    return TransportConfig.of(Settings.from_env())


async def send(endpoint: Endpoint, *, name: str, body: bytes, content_type: str,
               message_id: str, config: TransportConfig | None = None) -> Receipt:
    """Deliver one document by the endpoint's transport; returns what the partner
    acknowledged, or raises TransportError. ``name`` is the file name the partner sees
    (SFTP's file, AS2's Content-Disposition, the HTTPS ``Keylink-Document-Name``);
    ``config`` defaults to one built from the environment's settings."""
    config = config or _from_environment()
    try:
        check_document(name, content_type, message_id)
    except EndpointError as exc:
        raise TransportError(str(exc), False, reason="invalid_document") from None
    if len(body) > config.max_file_bytes:
        raise TransportError(f"the document has {len(body)} bytes, more than "
                             f"{config.max_file_bytes} allowed", False, reason="too_large")
    transports = {"https": https.send, "sftp": sftp.send, "as2": as2.send}
    try:
        return await transports[endpoint.transport](
            endpoint, name=name, body=body, content_type=content_type,
            message_id=message_id, config=config)
    except EndpointError as exc:  # an option read as the wrong type
        raise TransportError(str(exc), False, reason="invalid_endpoint") from None


async def pick_up(endpoint: Endpoint, *, limit: int, config: TransportConfig | None = None
                  ) -> list[Picked]:
    """Read up to ``limit`` files (oldest first) from an SFTP endpoint's inbox, within the
    configured bounds; each is moved to ``done/`` by its ``ack()``."""
    if endpoint.transport != "sftp":
        raise TransportError("only sftp endpoints have an inbox to pick up from", False,
                             reason="invalid_endpoint")
    return await sftp.pick_up(endpoint, limit=limit, config=config or _from_environment())


async def acknowledge(endpoint: Endpoint, picked: Sequence[Picked], *,
                      config: TransportConfig | None = None) -> list[bool]:
    """``ack()`` for many files in one session: each moved to ``done/`` (False for one
    already gone)."""
    return await sftp.acknowledge(endpoint, picked, config=config or _from_environment())


async def check_destination(endpoint: Endpoint, config: TransportConfig | None = None
                            ) -> Destination:
    """Check an endpoint's host against the egress policy now, as a webhook's URL is
    checked when it is registered (the check is made again on every connection);
    raises ``domain.egress.EgressRefused``."""
    config = config or _from_environment()
    schemes = SFTP_SCHEMES if endpoint.transport == "sftp" else WEB_SCHEMES
    return await config.egress.check_url(endpoint.url, schemes=schemes)


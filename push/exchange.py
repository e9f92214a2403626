"""The exchange's work in the push worker: make the documents the outbox's events call
for, send those due by each address's transport, and pick up what partners drop.

Sending claims documents with a lease (another worker skips them), and records each
attempt: acknowledged when the peer's receipt says so (an AS2 MDN that verified, an
https 2xx), sent when the transport took it (an SFTP file in place), failed with the
next attempt after a growing pause, dead after the last or on a final refusal.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from domain.db import Database
from domain.exchange import documents, outbound
from domain.exchange.addresses import DIRECTION, Resolved, resolve_code
from domain.exchange.inbound import receive
from push.transports.base import pick_up, send
from push.transports.config import TransportConfig
from push.transports.model import Endpoint, EndpointError, Receipt, TransportError

log = logging.getLogger(__name__)

# Options an address keeps for its transport (the rest are the format's).
_TRANSPORT_OPTIONS = frozenset({"inbox", "as2_id", "encrypt", "encryption", "mic_algorithm",
                                "subject", "signed_mdn"})
_SEND_BATCH = 50
_SEND_ROUNDS = 20
# The documents partners send.
INBOUND = tuple(sorted(t for t, d in DIRECTION.items() if d == "in"))


def endpoint(to: Resolved) -> Endpoint:
    """The transport's view of an address-book entry."""
    options = {k: v for k, v in to.address.options.items()
               if k in _TRANSPORT_OPTIONS and isinstance(v, str | int | bool)}
    return Endpoint(to.address.transport, to.address.url,
                    {k: str(v) for k, v in to.credentials.items()}, options)


def _receipt(r: Receipt) -> dict[str, Any]:
    out: dict[str, Any] = {"transport": r.transport, "messageId": r.message_id}
    if r.http_status is not None:
        out["httpStatus"] = r.http_status
    if r.body_sha256 is not None:
        out["bodySha256"] = r.body_sha256
    if r.remote_path is not None:
        out["remotePath"] = r.remote_path
    if r.mdn is not None:
        out["mdn"] = {"messageId": r.mdn.message_id, "disposition": r.mdn.disposition,
                      "status": r.mdn.status, "signatureVerified": r.mdn.signature_verified,
                      "micVerified": r.mdn.mic_verified, "mic": r.mdn.mic}
    return out


def _acknowledged(r: Receipt) -> bool:
    if r.mdn is not None:
        return r.mdn.signature_verified and r.mdn.mic_verified and r.mdn.status == "processed"
    return r.http_status is not None and 200 <= r.http_status < 300


async def send_due(db: Database, now: datetime | None = None, *,
                   config: TransportConfig | None = None, limit: int = _SEND_BATCH) -> int:
    """Sends the documents due by ``now``; returns how many were taken by their peer."""
    now = now or datetime.now(UTC)
    taken = 0
    for due in await documents.claim_due(db, now, limit):
        doc = due.document
        if not due.to.address.enabled:
            await documents.mark_failed(db, doc.id, f"the address {due.to.address.code} is "
                                        "disabled", retryable=False, now=now)
            continue
        try:
            receipt = await send(endpoint(due.to), name=doc.name, body=due.body,
                                 content_type=doc.content_type,
                                 message_id=f"keylink-{doc.id}-{doc.body_sha256[:16]}",
                                 config=config)
        except TransportError as exc:
            status = await documents.mark_failed(db, doc.id, str(exc),
                                                 retryable=exc.retryable, now=now)
            log.info("exchange: %s to %s failed (%s): %s", doc.name, due.to.address.code,
                     status, exc)
            continue
        except EndpointError as exc:
            await documents.mark_failed(db, doc.id, f"the address cannot be used: {exc}",
                                        retryable=False, now=now)
            continue
        await documents.mark_sent(db, doc.id, _receipt(receipt),
                                  acknowledged=_acknowledged(receipt))
        taken += 1
    return taken


async def pick_up_all(db: Database, now: datetime | None = None, *,
                      config: TransportConfig | None = None, limit: int = 50) -> int:
    """Takes what partners dropped in their SFTP folders for the platform (the addresses
    of documents they send): each file is applied, or refused with every reason, then
    moved to the folder's ``done/``; a file taken again (the process died before moving
    it) is recognised by its bytes and applied once. Returns how many were taken."""
    taken = 0
    codes = await db.fetch(
        "SELECT code FROM exchange_address WHERE transport = 'sftp' AND enabled"
        " AND document_type = ANY($1::text[]) ORDER BY id", list(INBOUND))
    for row in codes:
        to = await resolve_code(db, row["code"])
        if to is None:
            continue
        try:
            picked = await pick_up(endpoint(to), limit=limit, config=config)
        except (TransportError, EndpointError) as exc:
            log.warning("exchange: picking up from %s failed: %s", to.address.code, exc)
            continue
        for file in picked:
            await receive(db, to, name=_name(file.name), body=file.body)
            if await file.ack():
                taken += 1
    return taken


def _name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:128] or "document"


async def exchange(db: Database, now: datetime) -> int:
    """The periodic job: documents made from new events, then those due sent, the ones
    just made among them (they are due from their own transaction's time, after ``now``,
    the time the pass began)."""
    made = await outbound.generate(db, now)
    taken = 0
    # A burst (a train of departures) is drained in one pass, a batch at a time, rather
    # than one batch a period.
    for _ in range(_SEND_ROUNDS):
        sent = await send_due(db, max(now, datetime.now(UTC)))
        taken += sent
        if sent < _SEND_BATCH:
            break
    return made + taken

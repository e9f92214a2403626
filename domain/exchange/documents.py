"""Every document the exchange sends or receives, and its life.

Outbound: ``pending`` when made, then per attempt ``sent`` (the transport took it),
``acknowledged`` (the peer's receipt said so: an AS2 MDN, an https 2xx), or ``failed``
with the next attempt after a growing pause, and ``dead`` after the last attempt, when
both parties are told (``exchange.document_failed``). Later, the partner's CONTRL or
APERAK answering it (matched by the references an EDIFACT document was written with)
marks it ``acknowledged``, or ``dead`` when it rejects it, with its reasons and both
parties told as for a failed sending. Staff may send a document again. Inbound:
``accepted`` or ``refused`` (with every reason). Each document is kept as it went over
the wire, with its SHA-256 and every attempt; one business event reaches one address
once (the business key is unique per address).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain import events
from domain.actor import Actor, Permissions
from domain.db import Database, Executor
from domain.errors import Conflict, NotFound
from domain.exchange.addresses import Address, Resolved, resolve_ids
from domain.tenancy import Scope

__all__ = [
    "BACKOFF",
    "PERMISSIONS",
    "Document",
    "DocumentFilter",
    "Due",
    "claim_due",
    "create_outbound",
    "document_bodies",
    "documents",
    "documents_by_ids",
    "mark_acknowledged",
    "mark_failed",
    "mark_refused",
    "mark_sent",
    "record_inbound",
    "record_unwritable",
    "resend",
]

# The pause before each next attempt; after the last, the document is dead.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15),
           timedelta(hours=1), timedelta(hours=3), timedelta(hours=6))
# How long a worker holds a document it is sending before another may take it.
LEASE = timedelta(minutes=5)
PERMISSIONS = Permissions({
    "resend": ("admin", "logistics", "sales", "finance"),
})


@dataclass(frozen=True, slots=True)
class Document:
    id: int
    address_id: int
    org_id: int
    document_type: str
    direction: str
    business_key: str
    format: str
    name: str
    content_type: str
    body_sha256: str
    byte_size: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    receipt: dict[str, Any] | None
    event_seq: int | None
    created_at: datetime
    updated_at: datetime
    # An outbound EDIFACT document's interchange control reference (UNB 0020) and
    # message reference (UNH 0062): what a partner's CONTRL or APERAK names.
    interchange_ref: str | None = None
    message_ref: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentFilter:
    statuses: Sequence[str] = ()
    document_types: Sequence[str] = ()
    direction: str | None = None


@dataclass(frozen=True, slots=True)
class Due:
    """A document a worker took to send: its bytes and where they go."""

    document: Document
    body: bytes
    to: Resolved


_COLS = ("d.id, d.address_id, d.org_id, d.document_type, d.direction, d.business_key,"
         " d.format, d.name, d.content_type, d.body_sha256, octet_length(d.body) AS byte_size,"
         " d.status, d.attempts, d.next_attempt_at, d.last_error, d.receipt, d.event_seq,"
         " d.created_at, d.updated_at, d.interchange_ref, d.message_ref")


def _document(row: Any) -> Document:
    return Document(**{k: row[k] for k in Document.__dataclass_fields__})


async def create_outbound(tx: Executor, address: Address, *, business_key: str, name: str,
                          content_type: str, body: bytes, event_seq: int | None,
                          interchange_ref: str | None = None,
                          message_ref: str | None = None) -> Document | None:
    """A document to send, due now; None when this business event already went to this
    address (a document is never sent twice for one event). An EDIFACT document keeps
    the references it was written with, which the partner's acknowledgements name."""
    row = await tx.fetchrow(
        "INSERT INTO exchange_document AS d (address_id, org_id, document_type, direction,"
        " business_key, format, name, content_type, body, body_sha256, status,"
        " next_attempt_at, event_seq, interchange_ref, message_ref) VALUES ($1, $2, $3,"
        " 'out', $4, $5, $6, $7, $8, $9, 'pending', now(), $10, $11, $12)"
        " ON CONFLICT (address_id, direction, business_key)"
        f" DO NOTHING RETURNING {_COLS}",
        address.id, address.org_id, address.document_type, business_key, address.format,
        name, content_type, body, hashlib.sha256(body).hexdigest(), event_seq,
        interchange_ref, message_ref)
    return None if row is None else _document(row)


async def record_unwritable(tx: Executor, address: Address, *, business_key: str,
                            name: str, error: str, event_seq: int | None) -> None:
    """A document that could not be written in the partner's format (a value its format
    cannot carry): kept dead, with why, and both parties told, as a failed sending is."""
    row = await tx.fetchrow(
        "INSERT INTO exchange_document AS d (address_id, org_id, document_type, direction,"
        " business_key, format, name, content_type, body, body_sha256, status, last_error,"
        " event_seq) VALUES ($1, $2, $3, 'out', $4, $5, $6, 'text/plain', $7, $8, 'dead',"
        " $9, $10) ON CONFLICT (address_id, direction, business_key) DO NOTHING"
        " RETURNING d.id", address.id, address.org_id, address.document_type, business_key,
        address.format, name, error.encode(), hashlib.sha256(error.encode()).hexdigest(),
        error[:2000], event_seq)
    if row is not None:
        await events.append(
            tx, "exchange.document_failed", org_id=address.org_id,
            aggregate_type="exchange_document", aggregate_id=row["id"],
            actor="keylink:exchange",
            payload={"document": address.document_type, "name": name, "attempts": 0,
                     "reason": error[:300]})


async def record_inbound(tx: Executor, address: Address, *, business_key: str, name: str,
                         content_type: str, body: bytes, accepted: bool,
                         receipt: dict[str, Any], document_type: str | None = None
                         ) -> Document:
    """A document received, kept as it came, accepted or refused (``receipt`` says
    what it changed or every reason it was refused). ``document_type`` is what it is
    when not the address's (an acknowledgement received at any of the partner's
    addresses)."""
    document_type = document_type or address.document_type
    row = await tx.fetchrow(
        "INSERT INTO exchange_document AS d (address_id, org_id, document_type, direction,"
        " business_key, format, name, content_type, body, body_sha256, status, receipt)"
        " VALUES ($1, $2, $3, 'in', $4, $5, $6, $7, $8, $9, $10, $11)"
        f" RETURNING {_COLS}",
        address.id, address.org_id, document_type, business_key, address.format,
        name, content_type, body, hashlib.sha256(body).hexdigest(),
        "accepted" if accepted else "refused", receipt)
    assert row is not None
    await events.append(
        tx, f"exchange.document_{'accepted' if accepted else 'refused'}",
        org_id=address.org_id, aggregate_type="exchange_document", aggregate_id=row["id"],
        actor="keylink:exchange",
        payload={"document": document_type, "name": name, "address": address.code,
                 **({"reasons": receipt.get("problems", [])[:20]} if not accepted else {})})
    return _document(row)


async def claim_due(db: Database, now: datetime, limit: int) -> list[Due]:
    """Takes up to ``limit`` outbound documents due by ``now`` for one worker: they are
    leased to it (another worker skips them) until it records the attempt."""
    async with db.transaction() as tx:
        rows = await tx.fetch(
            "UPDATE exchange_document d SET next_attempt_at = $2 + $3::interval"
            " FROM (SELECT id FROM exchange_document WHERE status IN ('pending', 'failed')"
            "       AND direction = 'out' AND next_attempt_at <= $2"
            "       ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) due"
            f" WHERE d.id = due.id RETURNING {_COLS}, d.body", limit, now, LEASE)
        to = await resolve_ids(tx, sorted({r["address_id"] for r in rows}))
        return [Due(_document(r), bytes(r["body"]), to[r["address_id"]]) for r in rows]


async def mark_sent(db: Database, document_id: int, receipt: dict[str, Any], *,
                    acknowledged: bool) -> None:
    """The transport took the document; ``acknowledged`` when its receipt is the peer's
    (an MDN that verified, a 2xx from the partner's endpoint)."""
    status = "acknowledged" if acknowledged else "sent"
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE exchange_document SET status = $2, attempts = attempts + 1,"
            " next_attempt_at = NULL, last_error = NULL, receipt = $3, updated_at = now()"
            " WHERE id = $1", document_id, status, receipt)
        await tx.execute("INSERT INTO exchange_attempt (document_id, outcome, receipt)"
                         " VALUES ($1, $2, $3)", document_id, status, receipt)


async def mark_acknowledged(tx: Executor, document_id: int,
                            acknowledgement: dict[str, Any]) -> str:
    """The partner's CONTRL or APERAK accepted the document: ``acknowledged``, the
    acknowledgement kept in its receipt (beside the transport's) and among its attempts.
    A document the partner refused, or that was given up, stays dead. Returns its
    status."""
    row = await tx.fetchrow(
        "UPDATE exchange_document SET status = CASE WHEN status = 'dead' THEN 'dead'"
        " ELSE 'acknowledged' END, next_attempt_at = NULL,"
        " last_error = CASE WHEN status = 'dead' THEN last_error END,"
        " receipt = coalesce(receipt, '{}'::jsonb)"
        " || jsonb_build_object('acknowledgement', $2::jsonb), updated_at = now()"
        " WHERE id = $1 AND direction = 'out'"
        " RETURNING status", document_id, acknowledgement)
    if row is None:
        raise NotFound("no such outbound document")
    if row["status"] == "acknowledged":
        await tx.execute("INSERT INTO exchange_attempt (document_id, outcome, detail, receipt)"
                         " VALUES ($1, 'acknowledged', $2, $3)", document_id,
                         _ack_detail(acknowledgement), acknowledgement)
    status: str = row["status"]
    return status


async def mark_refused(tx: Executor, document_id: int, acknowledgement: dict[str, Any],
                       reasons: Sequence[str]) -> str:
    """The partner's CONTRL or APERAK rejected the document: failed for good (``dead``,
    nothing tried again), the partner's reasons kept as its error, in its receipt and
    among its attempts, and both parties told (``exchange.document_failed``), as for a
    sending that failed for good. Returns its status."""
    error = "; ".join(reasons) or "no reason given"
    detail = f"{_ack_detail(acknowledgement)}: {error}"[:2000]
    row = await tx.fetchrow(
        "SELECT status, org_id, name, document_type, attempts FROM exchange_document"
        " WHERE id = $1 AND direction = 'out' FOR UPDATE", document_id)
    if row is None:
        raise NotFound("no such outbound document")
    await tx.execute(
        "UPDATE exchange_document SET status = 'dead', next_attempt_at = NULL,"
        " last_error = $3, receipt = coalesce(receipt, '{}'::jsonb)"
        " || jsonb_build_object('acknowledgement', $2::jsonb), updated_at = now()"
        " WHERE id = $1", document_id, acknowledgement, detail)
    await tx.execute("INSERT INTO exchange_attempt (document_id, outcome, detail, receipt)"
                     " VALUES ($1, 'dead', $2, $3)", document_id, detail, acknowledgement)
    if row["status"] != "dead":
        await events.append(
            tx, "exchange.document_failed", org_id=row["org_id"],
            aggregate_type="exchange_document", aggregate_id=document_id,
            actor="keylink:exchange",
            payload={"document": row["document_type"], "name": row["name"],
                     "attempts": row["attempts"], "reason": error[:300],
                     "refusedBy": acknowledgement.get("message"),
                     "reasons": list(reasons)[:20]})
    return "dead"


def _ack_detail(acknowledgement: dict[str, Any]) -> str:
    verdict = "accepted" if acknowledgement.get("accepted") else "rejected"
    return f"{acknowledgement.get('message', 'acknowledgement')} {verdict} it"


async def mark_failed(db: Database, document_id: int, error: str, *, retryable: bool,
                      now: datetime) -> str:
    """An attempt failed: tried again after the next pause, or dead (a final refusal, or
    the last attempt), when both parties are told. Returns the new status."""
    async with db.transaction() as tx:
        row = await tx.fetchrow(
            "SELECT attempts, org_id, name, document_type, address_id FROM exchange_document"
            " WHERE id = $1 FOR UPDATE", document_id)
        if row is None:
            raise NotFound("no such document")
        attempts = row["attempts"] + 1
        dead = not retryable or attempts > len(BACKOFF)
        status = "dead" if dead else "failed"
        await tx.execute(
            "UPDATE exchange_document SET status = $2, attempts = $3, next_attempt_at = $4,"
            " last_error = $5, updated_at = now() WHERE id = $1",
            document_id, status, attempts,
            None if dead else now + BACKOFF[attempts - 1], error[:2000])
        await tx.execute("INSERT INTO exchange_attempt (document_id, outcome, detail)"
                         " VALUES ($1, $2, $3)", document_id, status, error[:2000])
        if dead:
            await events.append(
                tx, "exchange.document_failed", org_id=row["org_id"],
                aggregate_type="exchange_document", aggregate_id=document_id,
                actor="keylink:exchange",
                payload={"document": row["document_type"], "name": row["name"],
                         "attempts": attempts, "reason": error[:300]})
        return status


async def resend(db: Database, actor: Actor, document_id: int) -> Document:
    """Staff send an outbound document again, whatever became of it: due now, with its
    attempts kept."""
    PERMISSIONS.check(actor, "resend")
    async with db.transaction() as tx:
        row = await tx.fetchrow(
            "UPDATE exchange_document d SET status = 'pending', next_attempt_at = now(),"
            " updated_at = now() WHERE id = $1 AND direction = 'out'"
            f" AND status <> 'pending' RETURNING {_COLS}", document_id)
        if row is None:
            exists = await tx.fetchval("SELECT status FROM exchange_document WHERE id = $1"
                                       " AND direction = 'out'", document_id)
            if exists is None:
                raise NotFound("no such outbound document", field="documentId")
            raise Conflict("it is waiting to be sent already", field="documentId")
        await events.append(
            tx, "exchange.document_resent", org_id=row["org_id"],
            aggregate_type="exchange_document", aggregate_id=document_id,
            actor=actor.subject, payload={"document": row["document_type"],
                                          "name": row["name"]})
        return _document(row)


async def documents(db: Executor, scope: Scope, flt: DocumentFilter, limit: int,
                    before: int | None) -> list[Document]:
    """Newest first, within ``scope`` (a partner its own)."""
    rows = await db.fetch(
        f"SELECT {_COLS} FROM exchange_document d WHERE {Scope.owned('d.org_id')}"
        " AND (cardinality($2::text[]) = 0 OR d.status = ANY($2))"
        " AND (cardinality($3::text[]) = 0 OR d.document_type = ANY($3))"
        " AND ($4::text IS NULL OR d.direction = $4)"
        " AND ($6::bigint IS NULL OR d.id < $6) ORDER BY d.id DESC LIMIT $5",
        scope.org_id, list(flt.statuses), list(flt.document_types), flt.direction, limit,
        before)
    return [_document(r) for r in rows]


async def documents_by_ids(db: Executor, scope: Scope, ids: Sequence[int]) -> list[Document]:
    rows = await db.fetch(
        f"SELECT {_COLS} FROM exchange_document d WHERE {Scope.owned('d.org_id')}"
        " AND d.id = ANY($2::bigint[])", scope.org_id, list(ids))
    return [_document(r) for r in rows]


async def document_bodies(db: Executor, scope: Scope, ids: Sequence[int]
                          ) -> dict[int, bytes]:
    """The archived bytes, as sent or received."""
    rows = await db.fetch(
        f"SELECT d.id, d.body FROM exchange_document d WHERE {Scope.owned('d.org_id')}"
        " AND d.id = ANY($2::bigint[])", scope.org_id, list(ids))
    return {r["id"]: bytes(r["body"]) for r in rows}

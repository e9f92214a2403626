"""Sending: inbox deliveries in batches, webhooks and e-mail concurrently with retries.

A webhook or e-mail delivery is claimed by moving its ``next_attempt_at`` one lease ahead
(FOR UPDATE SKIP LOCKED, so two workers never claim the same one) and counting the try;
it is sent outside any transaction, then marked delivered, queued again after an
exponential backoff with jitter (no sooner than a receiver's ``Retry-After``), or dead
after the last try. A worker that dies mid-send leaves the delivery to be retried when
the lease runs out: receivers get each delivery at least once and drop repeats by its
idempotency key.

Webhooks connect only where the egress policy allows (``push.egress``), follow no
redirect, and have their answer's status read, never its body: the delivery log says
what happened in a short reason (``REASONS``), for the customer to read.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from domain.db import Database, Record
from domain.egress import (
    ADDRESS_NOT_ALLOWED,
    DNS_ERROR,
    HTTPS_REQUIRED,
    INVALID_URL,
    EgressRefused,
)
from domain.push import notifications
from push import egress, mail, signing
from push.config import PushConfig

log = logging.getLogger(__name__)

USER_AGENT = "Keylink-Webhooks/1"
# Of an answer's body, at most this much is read (and dropped) to keep the connection.
_DRAIN_BYTES = 65536

# What a failed try's reason may be, besides `http_<status>` for an answer other than 2xx
# (a redirect included: none is followed). The customer sees these, never an answer.
REASONS = {
    "timeout": "no answer in time",
    "connection_refused": "the receiver refused the connection",
    "connection_failed": "no connection could be made",
    "connection_error": "the connection broke off",
    "tls_error": "the TLS handshake or the receiver's certificate failed",
    "protocol_error": "the answer was not valid HTTP",
    # The egress policy's refusals.
    DNS_ERROR: "the host does not resolve",
    ADDRESS_NOT_ALLOWED: "the host resolves to an address webhooks may not reach",
    HTTPS_REQUIRED: "this server sends only over https",
    INVALID_URL: "the URL cannot be used",
    "webhook_disabled": "the webhook subscription is gone or disabled",
    "smtp_not_configured": "e-mail is not configured",
    "recipient_refused": "the mail server refused the address",
    "smtp_error": "the mail server did not take the message",
    "internal_error": "the worker failed; the delivery is tried again",
}

# Claim due deliveries (any channel) with a lease, with their webhook's address and secret.
_CLAIM = """
WITH claimed AS (
    UPDATE push_delivery d SET next_attempt_at = now() + $2::interval,
        attempts = attempts + 1
    WHERE d.id IN (SELECT id FROM push_delivery WHERE status = 'queued'
                   AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT $1
                   FOR UPDATE SKIP LOCKED)
    RETURNING d.id, d.channel, d.webhook_id, d.email_to, d.idempotency_key, d.event_type,
        d.title, d.body, d.data, d.attempts)
SELECT c.*, w.url, w.secret, w.enabled AS hook_enabled
FROM claimed c LEFT JOIN webhook_subscription w ON w.id = c.webhook_id ORDER BY c.id
"""


async def deliver_inbox(db: Database, limit: int = 1000) -> int:
    async with db.transaction() as tx:
        ids = [r["id"] for r in await tx.fetch(
            "SELECT id FROM push_delivery WHERE status = 'queued' AND channel = 'inbox'"
            " AND next_attempt_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit)]
        return await notifications.deliver_inbox(tx, ids)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None = None
    # A short reason, one of REASONS or `http_<status>`.
    error: str | None = None
    retry_after: str | None = None


def _causes(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def classify(exc: BaseException) -> str:
    """The short reason a customer sees for a try that got no answer."""
    if isinstance(exc, EgressRefused):
        return exc.reason
    chain = _causes(exc)
    if any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in chain):
        return "tls_error"
    if any(isinstance(e, httpx.TimeoutException | TimeoutError) for e in chain):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        refused = any(isinstance(e, ConnectionRefusedError)
                      or (isinstance(e, OSError) and e.errno == errno.ECONNREFUSED)
                      or "refused" in str(e).lower() for e in chain)
        return "connection_refused" if refused else "connection_failed"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return "protocol_error"
    if isinstance(exc, httpx.TransportError):
        return "connection_error"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return INVALID_URL
    return "internal_error"


class Sender:
    """Sends in the background, up to ``concurrency`` deliveries at once: a receiver that
    answers slowly holds only its own deliveries, never a whole batch of others'.

    Each receiver (scheme, host and port) has an HTTP client of its own with at most
    ``per_host`` kept-alive connections, and never more requests in flight than that:
    httpcore looks over every connection of a pool (and every request waiting in it) on
    each request, so one pool of many connections costs milliseconds of CPU per send and
    had made the worker, not the receivers, the limit."""

    def __init__(self, db: Database, config: PushConfig) -> None:
        self.db = db
        self.config = config
        self._clients: dict[str, tuple[httpx.AsyncClient, asyncio.Semaphore]] = {}
        # Set when there may be more to send: new deliveries queued, or room freed.
        self.wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        # Outcomes not yet written: one statement (and one commit) per batch of them,
        # not per delivery.
        self._outcomes: list[tuple[Record, Outcome]] = []
        self._recorder: asyncio.Task[None] | None = None

    def _client(self, url: str) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        origin = httpx.URL(url)
        key = f"{origin.scheme}://{origin.host}:{origin.port}"
        found = self._clients.get(key)
        if found is None:
            n = self.config.per_host
            found = (egress.client(
                self.config.egress, timeout=self.config.webhook_timeout_s,
                headers={"user-agent": USER_AGENT},
                limits=httpx.Limits(max_connections=n, max_keepalive_connections=n)),
                asyncio.Semaphore(n))
            self._clients[key] = found
        return found

    async def close(self) -> None:
        """Stop; deliveries still in flight are tried again once their lease runs out."""
        for task in self._inflight:
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        await self._recorded()
        for client, _ in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def idle(self) -> None:
        """Wait for the deliveries in flight to finish."""
        while self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        await self._recorded()

    async def run_once(self) -> int:
        """Claim due deliveries, as many as there is room for: write the inbox ones at once
        and start sending the others; returns how many were claimed."""
        room = min(self.config.send_batch, self.config.concurrency - len(self._inflight))
        if room <= 0:
            return 0
        claimed = await self.db.fetch(_CLAIM, room, self.config.lease)
        if not claimed:
            return 0
        inbox = [r["id"] for r in claimed if r["channel"] == "inbox"]
        if inbox:  # quiet hours over, or a digest: written here, in one statement
            async with self.db.transaction() as tx:
                await notifications.deliver_inbox(tx, inbox)
        for r in claimed:
            if r["channel"] == "inbox":
                continue
            task = asyncio.create_task(self._send(r))
            self._inflight.add(task)
            task.add_done_callback(self._done)
        return len(claimed)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self.wake.set()

    @property
    def full(self) -> bool:
        return len(self._inflight) >= self.config.concurrency

    async def next_due(self) -> datetime | None:
        due: datetime | None = await self.db.fetchval(
            "SELECT min(next_attempt_at) FROM push_delivery WHERE status = 'queued'")
        return due

    async def _send(self, d: Record) -> None:
        try:
            if d["channel"] == "webhook":
                outcome = await self._post(d)
            else:
                outcome = await self._mail(d)
        except Exception:  # one bad delivery must not stop the others
            log.exception("delivery failed unexpectedly", extra={"delivery": d["id"]})
            outcome = Outcome(False, error="internal_error")
        self._outcomes.append((d, outcome))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_pending())

    async def _recorded(self) -> None:
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)

    async def _record_pending(self) -> None:
        """Write the outcomes gathered so far, and those that arrive meanwhile."""
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            try:
                await self._record(batch)
            except (OSError, ConnectionError):
                # Unrecorded: the lease runs out and they are tried again (at least once).
                log.warning("delivery outcomes not recorded", exc_info=True,
                            extra={"deliveries": [d["id"] for d, _ in batch]})

    async def _post(self, d: Record) -> Outcome:
        if d["url"] is None or not d["hook_enabled"]:
            return Outcome(False, error="webhook_disabled")
        body = webhook_body(d)
        key = str(d["idempotency_key"])
        headers = {
            "content-type": "application/json",
            **signing.headers(d["secret"], key, body),
            "Keylink-Idempotency-Key": key,
            "Keylink-Event-Type": d["event_type"],
            "Keylink-Delivery-Attempt": str(d["attempts"]),
        }
        try:
            client, room = self._client(d["url"])
            async with room, asyncio.timeout(self.config.webhook_timeout_s):
                try:
                    status, retry_after = await _exchange(client, d["url"], body, headers)
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                    # Most often a kept-alive connection the receiver had just closed: one
                    # more try at once, on a fresh connection, rather than a backoff.
                    status, retry_after = await _exchange(client, d["url"], body, headers)
        except (httpx.HTTPError, httpx.InvalidURL, EgressRefused, TimeoutError) as exc:
            reason = classify(exc)
            log.info("webhook not delivered", extra={
                "delivery": d["id"], "reason": reason, "error": f"{type(exc).__name__}: {exc}"})
            return Outcome(False, error=reason)
        if 200 <= status < 300:
            return Outcome(True, status)
        return Outcome(False, status, f"http_{status}", retry_after)

    async def _mail(self, d: Record) -> Outcome:
        if not self.config.smtp_url:
            return Outcome(False, error="smtp_not_configured")
        try:
            await mail.send(self.config.smtp_url, self.config.smtp_from, d["email_to"],
                            d["title"], d["body"], str(d["idempotency_key"]))
        except mail.MailError as exc:
            log.info("e-mail not delivered", extra={"delivery": d["id"], "error": str(exc)})
            return Outcome(False, error=exc.reason)
        return Outcome(True)

    async def _record(self, batch: list[tuple[Record, Outcome]]) -> None:
        """Delivered, queued again after a backoff, or dead after the last try: the whole
        batch in one statement."""
        now = datetime.now(UTC)
        rows: list[tuple[int, str, datetime | None, int | None, str | None]] = []
        for d, outcome in batch:
            if outcome.ok:
                rows.append((d["id"], "delivered", None, outcome.status, None))
                continue
            dead = d["attempts"] >= self.config.max_attempts
            rows.append((d["id"], "dead" if dead else "queued",
                         self.config.next_try(d["attempts"], outcome.retry_after, now),
                         outcome.status, outcome.error))
            log.warning("delivery failed", extra={
                "delivery": d["id"], "attempts": d["attempts"], "dead": dead,
                "error": outcome.error})
        ids, states, retries, codes, errors = (list(c) for c in zip(*rows, strict=True))
        await self.db.execute(
            "UPDATE push_delivery d SET status = o.status,"
            " delivered_at = CASE WHEN o.status = 'delivered' THEN now() END,"
            " next_attempt_at = coalesce(o.retry_at, d.next_attempt_at),"
            " response_status = o.code, last_error = o.error"
            " FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::int[],"
            " $5::text[]) AS o(id, status, retry_at, code, error) WHERE d.id = o.id",
            ids, states, retries, codes, errors)


async def _exchange(client: httpx.AsyncClient, url: str, body: bytes,
                    headers: dict[str, str]) -> tuple[int, str | None]:
    """POST and return the answer's status and `Retry-After`; of its body, only a little
    is read, to keep the connection, and nothing is kept."""
    async with client.stream("POST", url, content=body, headers=headers) as r:
        read = 0
        async for chunk in r.aiter_raw():
            read += len(chunk)
            if read > _DRAIN_BYTES:
                break
        return r.status_code, r.headers.get("retry-after")


def webhook_body(d: Record | dict[str, Any]) -> bytes:
    """The JSON a webhook receives: the same bytes on every try of one delivery."""
    doc = {"id": str(d["idempotency_key"]), "type": d["event_type"], "title": d["title"],
           "body": d["body"], "event": d["data"]}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()

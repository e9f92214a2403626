"""HTTPS: the document POSTed to the partner's URL, signed as webhooks are (Standard
Webhooks headers over the exact body, ``webhook-id`` the document's message id, the
same on every try), through the egress policy's client: the host resolved and checked
on each connection, no redirect followed, https in production.

A 2xx answer is the receipt (its status and the digest of its body); 5xx, 408, 429
and failures to connect or to answer in time may succeed later; any other answer (a
4xx: the partner refused the document or the credentials; a 3xx: the address moved)
will not until something changes.
"""

from __future__ import annotations

import asyncio
import hashlib

import httpx

from domain.egress import ADDRESS_NOT_ALLOWED, HTTPS_REQUIRED, INVALID_URL, EgressRefused
from push import egress, signing
from push.sender import classify
from push.transports.config import ANSWER_MAX_BYTES, TransportConfig
from push.transports.model import Endpoint, EndpointError, Receipt, TransportError

# Failures that trying again as it is will not mend.
FINAL_REASONS = frozenset({"tls_error", ADDRESS_NOT_ALLOWED, HTTPS_REQUIRED, INVALID_URL})
# Answers that say "later".
RETRY_STATUSES = frozenset({408, 425, 429})


def check_endpoint(endpoint: Endpoint) -> None:
    secret = endpoint.credentials.get("secret")
    if not secret:
        raise EndpointError("an https endpoint needs credentials.secret (whsec_...) to sign "
                            "with")
    try:
        signing.headers(secret, "check", b"")
    except Exception:  # the library's own error types for a malformed secret
        raise EndpointError("credentials.secret is not a Standard Webhooks secret "
                            "(whsec_ and base64)") from None


def failure(exc: BaseException, what: str) -> TransportError:
    """A TransportError for an exception raised while exchanging over HTTP(S)."""
    # Our own deadline first: what it interrupted (a TLS read) may sit in its context.
    timed_out = isinstance(exc, TimeoutError | httpx.TimeoutException)
    reason = "timeout" if timed_out else classify(exc)
    text = exc.message if isinstance(exc, EgressRefused) else f"{type(exc).__name__}: {exc}"
    return TransportError(f"{what}: {text}", reason not in FINAL_REASONS, reason=reason)


def status_failure(status: int, what: str) -> TransportError:
    retryable = status >= 500 or status in RETRY_STATUSES
    return TransportError(f"{what}: the partner answered HTTP {status}", retryable,
                          reason=f"http_{status}")


async def read_bounded(response: httpx.Response, limit: int = ANSWER_MAX_BYTES) -> bytes:
    """At most ``limit`` bytes of an answer's body (the rest is left unread)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


async def send(endpoint: Endpoint, *, name: str, body: bytes, content_type: str,
               message_id: str, config: TransportConfig) -> Receipt:
    headers = {
        "content-type": content_type,
        **signing.headers(endpoint.credentials["secret"], message_id, body),
        "Keylink-Message-Id": message_id,
        "Keylink-Document-Name": name,
        "user-agent": config.user_agent,
    }
    try:
        async with (asyncio.timeout(config.timeout_s),
                    egress.client(config.egress, timeout=config.timeout_s,
                                  verify=config.verify) as client,
                    client.stream("POST", endpoint.url, content=body,
                                  headers=headers) as response):
            answer = await read_bounded(response)
    except (httpx.HTTPError, httpx.InvalidURL, EgressRefused, TimeoutError) as exc:
        raise failure(exc, "the document was not delivered") from exc
    if not 200 <= response.status_code < 300:
        raise status_failure(response.status_code, "the document was not taken")
    return Receipt("https", message_id, http_status=response.status_code,
                   body_sha256=hashlib.sha256(answer).hexdigest())

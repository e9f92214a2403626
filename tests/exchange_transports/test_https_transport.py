"""HTTPS delivery against a real TLS receiver on loopback (a self-signed certificate
the test trusts): the document arrives signed as webhooks are, the receipt carries the
status and the digest of the answer, and each kind of failure says whether a retry may
help; without the allow-list the policy refuses the private address before any
connection."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import standardwebhooks

from domain.egress import EgressPolicy
from push.transports.base import Endpoint, EndpointError, TransportError, send
from tests.exchange_transports import peers
from tests.push.test_webhooks_delivery import Receiver, free_port

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DOCUMENT = b"UNA:+.? 'UNB+UNOC:3+MILL+FAWVW+240611:1200+1'UNH+1+DESADV:D:96A:UN'\n"


@pytest.fixture
async def secure(tmp_path: Path) -> AsyncIterator[tuple[Receiver, peers.Tls]]:
    identity = peers.tls(tmp_path)
    receiver = Receiver(free_port(), tls=(identity.cert_file, identity.key_file),
                        answer=b'{"taken": true}')
    await receiver.start()
    try:
        yield receiver, identity
    finally:
        await receiver.stop()


def _endpoint(port: int) -> Endpoint:
    return Endpoint("https", f"https://127.0.0.1:{port}/hook", {"secret": SECRET})


async def _send(endpoint: Endpoint, **config: object) -> object:
    return await send(endpoint, name="DESADV_1.edi", body=DOCUMENT,
                      content_type="application/EDIFACT", message_id="doc-4711",
                      config=peers.config(**config))


async def test_a_document_arrives_signed_and_the_receipt_digests_the_answer(
    secure: tuple[Receiver, peers.Tls]
) -> None:
    receiver, identity = secure
    receipt = await send(_endpoint(receiver.port), name="DESADV_1.edi", body=DOCUMENT,
                         content_type="application/EDIFACT", message_id="doc-4711",
                         config=peers.config(verify=identity.trust))
    assert receipt.transport == "https" and receipt.http_status == 200
    assert receipt.body_sha256 == hashlib.sha256(b'{"taken": true}').hexdigest()
    [(headers, body)] = receiver.received
    assert body == DOCUMENT
    assert headers["content-type"] == "application/EDIFACT"
    assert headers["keylink-document-name"] == "DESADV_1.edi"
    assert headers["webhook-id"] == "doc-4711"
    # The Standard Webhooks signature (the library's verify() insists on a JSON body).
    sent_at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    expected = standardwebhooks.Webhook(SECRET).sign("doc-4711", sent_at, body)
    assert expected in headers["webhook-signature"].split(" ")


@pytest.mark.parametrize(("status", "retryable"), [
    (500, True), (503, True), (429, True), (401, False), (404, False), (302, False)])
async def test_an_answer_other_than_2xx_fails_retryable_only_when_it_may_pass(
    secure: tuple[Receiver, peers.Tls], status: int, retryable: bool
) -> None:
    receiver, identity = secure
    receiver.status = status
    with pytest.raises(TransportError) as failed:
        await _send(_endpoint(receiver.port), verify=identity.trust)
    assert failed.value.retryable is retryable
    assert failed.value.reason == f"http_{status}"
    assert len(receiver.received) == 1  # a redirect is not followed


async def test_a_receiver_down_or_slow_may_be_tried_again(
    secure: tuple[Receiver, peers.Tls]
) -> None:
    receiver, identity = secure
    with pytest.raises(TransportError) as down:
        await _send(_endpoint(free_port()), verify=identity.trust)
    assert down.value.retryable and down.value.reason == "connection_refused"
    receiver.delay = 2.0
    with pytest.raises(TransportError) as slow:
        await _send(_endpoint(receiver.port), verify=identity.trust, timeout_s=0.5)
    assert slow.value.retryable and slow.value.reason == "timeout"


async def test_an_untrusted_certificate_is_final(secure: tuple[Receiver, peers.Tls]) -> None:
    receiver, _ = secure
    with pytest.raises(TransportError) as failed:
        await _send(_endpoint(receiver.port))  # the system's authorities only
    assert not failed.value.retryable and failed.value.reason == "tls_error"
    assert receiver.received == []


async def test_the_egress_policy_refuses_a_private_address_before_connecting(
    secure: tuple[Receiver, peers.Tls]
) -> None:
    receiver, identity = secure
    with pytest.raises(TransportError) as refused:
        await _send(_endpoint(receiver.port), verify=identity.trust, egress=EgressPolicy())
    assert not refused.value.retryable and refused.value.reason == "address_not_allowed"
    # Plain http in production: only to allow-listed ranges.
    plain = Endpoint("https", "http://93.184.215.14/hook", {"secret": SECRET})
    with pytest.raises(TransportError) as https_only:
        await _send(plain, egress=EgressPolicy())
    assert https_only.value.reason == "https_required" and not https_only.value.retryable
    assert receiver.received == []


async def test_a_document_too_large_or_badly_named_is_refused_before_sending(
    secure: tuple[Receiver, peers.Tls]
) -> None:
    receiver, identity = secure
    with pytest.raises(TransportError) as large:
        await _send(_endpoint(receiver.port), verify=identity.trust, max_file_bytes=10)
    assert large.value.reason == "too_large" and not large.value.retryable
    for name in ("../etc/passwd", ".hidden", "a\r\nX-Injected: 1", "x" * 201, "a.part"):
        with pytest.raises(TransportError) as bad:
            await send(_endpoint(receiver.port), name=name, body=DOCUMENT,
                       content_type="application/EDIFACT", message_id="doc-1",
                       config=peers.config(verify=identity.trust))
        assert bad.value.reason == "invalid_document"
    assert receiver.received == []


def test_an_https_endpoint_needs_a_standard_webhooks_secret() -> None:
    with pytest.raises(EndpointError, match="secret"):
        Endpoint("https", "https://erp.faw-vw.example/in", {})
    with pytest.raises(EndpointError, match="Standard Webhooks"):
        Endpoint("https", "https://erp.faw-vw.example/in", {"secret": "whsec_!!!"})
    with pytest.raises(EndpointError, match="https or http"):
        Endpoint("https", "ftp://erp.faw-vw.example/in", {"secret": SECRET})
    with pytest.raises(EndpointError, match="transport"):
        Endpoint("ftp", "ftp://erp.faw-vw.example/in", {"secret": SECRET})

"""AS2 between the mill and a second station (``receive_as2`` under Starlette, with its
own key and certificate): a signed, optionally encrypted message is acknowledged by a
signed MDN whose signature and MIC verify; an MDN signed by another key, one with
another MIC, a failed disposition, an HTTP error or a station down each fail as they
should; what the receiving side refuses (a tampered, unsigned, unknown or oversized
message) is said in its MDN; the egress policy refuses a private address."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import pytest
from asn1crypto import cms as asn1_cms

from domain.egress import EgressPolicy
from push.transports import as2, cms
from push.transports.as2 import AS2RequestError, Partner, build_message, read_mdn, receive_as2
from push.transports.base import Endpoint, EndpointError, TransportError, send
from push.transports.config import Station, StationError
from tests.exchange_transports import peers
from tests.exchange_transports.peers import As2Peer, as2_peer
from tests.push.test_webhooks_delivery import free_port

DOCUMENT = b"UNA:+.? 'UNB+UNOC:3+MILL+FAWVW+240611:1200+1'\nUNH+1+DESADV:D:96A:UN'\n"
MILL = peers.station("KEYLINK MILL")
PARTNER = peers.station("FAWVW-EDI")


def _peer(**changes: object) -> As2Peer:
    partners = {"KEYLINK MILL": Partner("KEYLINK MILL", (MILL.certificate,))}
    return As2Peer(PARTNER, **{"partners": partners, **changes})  # type: ignore[arg-type]


@pytest.fixture
async def station() -> AsyncIterator[As2Peer]:
    async with as2_peer(_peer()) as started:
        yield started


def _endpoint(peer: As2Peer, **options: object) -> Endpoint:
    return Endpoint("as2", peer.url, {"certificate": peers.pem_cert(PARTNER.certificate)
                                      .decode()}, {"as2_id": "FAWVW-EDI", **options})


async def _send(endpoint: Endpoint, message_id: str = "doc-4711", **config: object
                ) -> object:
    return await send(endpoint, name="DESADV_1.edi", body=DOCUMENT,
                      content_type="application/EDIFACT", message_id=message_id,
                      config=peers.config(station=MILL, **config))


@pytest.mark.parametrize("encrypt", [False, True])
async def test_a_signed_message_is_acknowledged_by_a_verified_mdn(
    station: As2Peer, encrypt: bool
) -> None:
    receipt = await _send(_endpoint(station, encrypt=encrypt))
    mdn = receipt.mdn
    assert receipt.transport == "as2" and receipt.http_status == 200 and mdn is not None
    assert mdn.signature_verified and mdn.mic_verified and mdn.status == "processed"
    assert mdn.original_message_id == "doc-4711@keylink"
    [received] = station.received
    assert received.accepted and received.body == DOCUMENT
    assert (received.name, received.content_type) == ("DESADV_1.edi", "application/edifact")
    assert received.signed and received.encrypted is encrypt
    assert (received.as2_from, received.as2_to) == ("KEYLINK MILL", "FAWVW-EDI")
    assert received.mic == mdn.mic and received.message_id == "doc-4711@keylink"


async def test_an_mdn_not_signed_by_the_partner_or_with_another_mic_is_final() -> None:
    impostor = peers.station("FAWVW-EDI")  # same name, another key
    async with as2_peer(_peer(mdn_signer=impostor)) as forged:
        with pytest.raises(TransportError) as bad_signature:
            await _send(_endpoint(forged))
    assert bad_signature.value.reason == "mdn_signature_invalid"
    assert not bad_signature.value.retryable
    async with as2_peer(_peer(mic="AAAA")) as altered:
        with pytest.raises(TransportError) as bad_mic:
            await _send(_endpoint(altered))
    assert bad_mic.value.reason == "mdn_mic_mismatch" and not bad_mic.value.retryable


async def test_a_failed_disposition_is_final() -> None:
    # The partner has the mill's entry with a certificate that is not the mill's.
    stranger = peers.station("KEYLINK MILL")
    wrong = {"KEYLINK MILL": Partner("KEYLINK MILL", (stranger.certificate,))}
    async with as2_peer(_peer(partners=wrong)) as partner:
        with pytest.raises(TransportError) as refused:
            await _send(_endpoint(partner))
        assert refused.value.reason == "mdn_authentication_failed"
        assert not refused.value.retryable
        [received] = partner.received
        assert not received.accepted and received.body == b""
        assert received.disposition == "processed/error: authentication-failed"


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (401, False)])
async def test_an_http_error_fails_retryable_only_when_it_may_pass(
    station: As2Peer, status: int, retryable: bool
) -> None:
    station.status = status
    with pytest.raises(TransportError) as failed:
        await _send(_endpoint(station))
    assert failed.value.reason == f"http_{status}" and failed.value.retryable is retryable


async def test_a_station_down_may_be_tried_again_and_a_private_address_is_refused(
    station: As2Peer
) -> None:
    down = Endpoint("as2", f"http://127.0.0.1:{free_port()}/as2",
                    _endpoint(station).credentials, {"as2_id": "FAWVW-EDI"})
    with pytest.raises(TransportError) as refused:
        await _send(down)
    assert refused.value.reason == "connection_refused" and refused.value.retryable
    with pytest.raises(TransportError) as blocked:
        await _send(_endpoint(station), egress=EgressPolicy())
    assert blocked.value.reason == "address_not_allowed" and not blocked.value.retryable
    assert station.requests == 0


async def test_without_the_mills_station_as2_is_not_configured(station: As2Peer) -> None:
    with pytest.raises(TransportError) as missing:
        await send(_endpoint(station), name="A.edi", body=b"x", content_type="text/plain",
                   message_id="m", config=peers.config())
    assert missing.value.reason == "as2_not_configured" and not missing.value.retryable


# The receiving side, called as the API will call it.

FROM_MILL = {"KEYLINK MILL": Partner("KEYLINK MILL", (MILL.certificate,))}
AT_PARTNER = Partner("FAWVW-EDI", (PARTNER.certificate,))


async def _receive(headers: dict[str, str], body: bytes, **partner: bool
                   ) -> tuple[dict[str, str], bytes, as2.ReceivedMessage]:
    partners = FROM_MILL if not partner else {
        "KEYLINK MILL": Partner("KEYLINK MILL", (MILL.certificate,), **partner)}
    return await receive_as2(headers, body, station=PARTNER, partners=partners)


async def test_a_tampered_message_is_refused_in_a_signed_mdn() -> None:
    out = build_message(MILL, AT_PARTNER, name="A.edi", body=DOCUMENT,
                        content_type="application/EDIFACT", message_id="m-1")
    tampered = out.body.replace(b"DESADV", b"ORDERS")
    headers, body, received = await _receive(out.headers, tampered)
    assert not received.accepted and received.body == b""
    assert received.disposition == "processed/error: integrity-check-failed"
    with pytest.raises(TransportError) as failed:
        read_mdn(headers, body, AT_PARTNER, out)  # the sender learns it, from a signed MDN
    assert failed.value.reason == "mdn_integrity_check_failed"


async def test_what_the_partner_requires_is_enforced_and_said() -> None:
    # A bare document, unsigned: refused unless the partner's entry allows it.
    plain_headers = {"AS2-From": "KEYLINK MILL", "AS2-To": "FAWVW-EDI",
                     "Message-ID": "<m-2@mill>", "Content-Type": "application/EDIFACT",
                     "Disposition-Notification-To": "x@y"}
    _, _, unsigned = await _receive(plain_headers, DOCUMENT)
    assert unsigned.disposition == "processed/error: insufficient-message-security"
    _, _, accepted = await _receive(plain_headers, DOCUMENT, require_signature=False)
    assert accepted.accepted and accepted.body == DOCUMENT and not accepted.signed

    signed = build_message(MILL, AT_PARTNER, name="A.edi", body=DOCUMENT,
                           content_type="application/EDIFACT", message_id="m-3")
    _, _, clear = await _receive(signed.headers, signed.body, require_encryption=True)
    assert clear.disposition == "processed/error: insufficient-message-security"

    unknown = {**signed.headers, "AS2-From": "SOMEONE"}
    mdn_headers, _, stranger = await _receive(unknown, signed.body)
    assert stranger.disposition == "processed/error: authentication-failed"
    assert mdn_headers["AS2-To"] == "SOMEONE"
    # No MDN asked for: none given.
    quiet = {k: v for k, v in signed.headers.items()
             if not k.lower().startswith("disposition-notification")}
    assert (await _receive(quiet, signed.body))[:2] == ({}, b"")


async def test_a_request_that_is_no_as2_message_is_refused_without_an_mdn() -> None:
    signed = build_message(MILL, AT_PARTNER, name="A.edi", body=DOCUMENT,
                           content_type="application/EDIFACT", message_id="m-4")
    for missing in ("AS2-From", "AS2-To", "Message-ID", "Content-Type"):
        headers = {k: v for k, v in signed.headers.items() if k != missing}
        with pytest.raises(AS2RequestError) as bad:
            await _receive(headers, signed.body)
        assert bad.value.status == 400
    with pytest.raises(AS2RequestError) as large:
        await receive_as2(signed.headers, signed.body, station=PARTNER, partners=FROM_MILL,
                          max_bytes=100)
    assert large.value.status == 413


def test_compressed_content_is_inflated_within_its_bound() -> None:
    bomb = asn1_cms.ContentInfo({
        "content_type": "compressed_data",
        "content": asn1_cms.CompressedData({
            "version": "v0", "compression_algorithm": {"algorithm": "zlib"},
            "encap_content_info": {"content_type": "data",
                                   "content": zlib.compress(b"A" * 5_000_000)}})}).dump()
    assert len(bomb) < 10_000
    assert cms.decompress(bomb, 5_000_000) == b"A" * 5_000_000
    with pytest.raises(cms.CmsError, match="inflates past"):
        cms.decompress(bomb, 1_000_000)


def test_endpoints_and_stations_are_checked_when_made() -> None:
    cert = peers.pem_cert(PARTNER.certificate).decode()
    with pytest.raises(EndpointError, match="as2_id"):
        Endpoint("as2", "https://as2.faw-vw.example/as2", {"certificate": cert})
    with pytest.raises(EndpointError, match="certificate"):
        Endpoint("as2", "https://as2.faw-vw.example/as2", {"certificate": "junk"},
                 {"as2_id": "FAWVW-EDI"})
    with pytest.raises(EndpointError, match="mic_algorithm"):
        Endpoint("as2", "https://as2.faw-vw.example/as2", {"certificate": cert},
                 {"as2_id": "FAWVW-EDI", "mic_algorithm": "sha1"})
    with pytest.raises(EndpointError, match="encrypt"):
        Endpoint("as2", "https://as2.faw-vw.example/as2", {"certificate": cert},
                 {"as2_id": "FAWVW-EDI", "encrypt": "yes"})
    with pytest.raises(EndpointError, match="sftp://"):
        Endpoint("sftp", "https://as2.faw-vw.example/as2", {})
    key = peers.pem_key(MILL.private_key).decode()  # type: ignore[arg-type]
    assert Station.load("KEYLINK MILL", key, peers.pem_cert(MILL.certificate).decode())
    with pytest.raises(StationError, match="does not belong"):
        Station.load("KEYLINK MILL", key, cert)

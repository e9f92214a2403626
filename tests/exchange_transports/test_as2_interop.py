"""AS2 interoperability with pyas2lib, the reference AS2 library in Python: the mill's
messages are parsed and verified by a pyas2lib station, whose signed MDN the mill
verifies; pyas2lib's messages (signed, encrypted with its default triple DES,
compressed) are taken by ``receive_as2``, whose MDN pyas2lib verifies, MIC included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from push.transports.as2 import Partner, receive_as2
from push.transports.base import Endpoint, send
from tests.exchange_transports import as2lib, peers
from tests.support.api import serving

DOCUMENT = b"UNA:+.? 'UNB+UNOC:3+MILL+FAWVW+240611:1200+1'\nUNH+1+ORDERS:D:96A:UN'\n"
MILL = peers.station("KEYLINK MILL")
REFERENCE = peers.station("PYAS2LIB")


@pytest.fixture(scope="module")
def pyas2() -> ModuleType:
    return as2lib.load()


def _pem(station: Any, *, with_key: bool) -> bytes:
    cert = peers.pem_cert(station.certificate)
    return peers.pem_key(station.private_key) + cert if with_key else cert


def _organization(pyas2: ModuleType) -> Any:
    key = _pem(REFERENCE, with_key=True)
    return pyas2.Organization(as2_name="PYAS2LIB", sign_key=key, decrypt_key=key)


def _mill_at_reference(pyas2: ModuleType, **settings: Any) -> Any:
    cert = _pem(MILL, with_key=False)
    return pyas2.Partner(as2_name="KEYLINK MILL", verify_cert=cert, encrypt_cert=cert,
                         validate_certs=False, **settings)


@pytest.fixture
async def reference(pyas2: ModuleType) -> AsyncIterator[tuple[str, list[Any]]]:
    """A pyas2lib station under Starlette: parses what arrives, answers its MDN."""
    parsed: list[Any] = []
    organization = _organization(pyas2)
    mill = _mill_at_reference(pyas2, sign=True)

    async def receive(request: Request) -> Response:
        body = await request.body()
        raw = b"".join(f"{k}: {v}\r\n".encode() for k, v in request.headers.items())
        message = pyas2.Message()
        status, (error, _), mdn = message.parse(
            raw + b"\r\n" + body, find_org_cb=lambda _: organization,
            find_partner_cb=lambda _: mill)
        parsed.append((status, error, message))
        return Response(mdn.content, headers=mdn.headers)

    app = Starlette(routes=[Route("/as2", receive, methods=["POST"])])
    async with serving(app) as address:
        yield f"http://{address}/as2", parsed


@pytest.mark.parametrize("encrypt", [False, True])
async def test_a_pyas2lib_station_takes_the_mills_message_and_its_mdn_verifies(
    reference: tuple[str, list[Any]], encrypt: bool
) -> None:
    url, parsed = reference
    endpoint = Endpoint("as2", url, {"certificate": _pem(REFERENCE, with_key=False).decode()},
                        {"as2_id": "PYAS2LIB", "encrypt": encrypt})
    receipt = await send(endpoint, name="ORDERS_7.edi", body=DOCUMENT,
                         content_type="application/EDIFACT", message_id="doc-7",
                         config=peers.config(station=MILL))
    [(status, error, message)] = parsed
    assert status == "processed" and error is None
    assert message.content == DOCUMENT and message.payload.get_filename() == "ORDERS_7.edi"
    assert message.signed and message.encrypted is encrypt
    mdn = receipt.mdn
    assert mdn is not None and mdn.signature_verified and mdn.mic_verified
    assert mdn.mic == message.mic.decode() and mdn.original_message_id == "doc-7@keylink"


@pytest.mark.parametrize("settings", [
    {"sign": True},
    {"sign": True, "encrypt": True},  # pyas2lib's default: triple DES
    {"sign": True, "encrypt": True, "enc_alg": "aes_256_cbc", "compress": True},
])
async def test_the_mill_takes_a_pyas2lib_message_and_pyas2lib_verifies_the_mdn(
    pyas2: ModuleType, settings: dict[str, Any]
) -> None:
    mill = _mill_at_reference(pyas2, mdn_mode="SYNC", mdn_digest_alg="sha256", **settings)
    message = pyas2.Message(sender=_organization(pyas2), receiver=mill)
    message.build(DOCUMENT, filename="ORDERS_8.edi", content_type="application/EDIFACT")
    partners = {"PYAS2LIB": Partner("PYAS2LIB", (REFERENCE.certificate,))}
    headers, body, received = await receive_as2(
        dict(message.headers), message.content, station=MILL, partners=partners)
    assert received.accepted, received.error
    assert received.name == "ORDERS_8.edi" and received.signed
    assert received.encrypted is settings.get("encrypt", False)
    assert received.compressed is settings.get("compress", False)
    # pyas2lib sends text with CRLF line ends (its canonical form) unless told binary.
    assert received.body == DOCUMENT.replace(b"\n", b"\r\n")
    raw = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n" + body
    assert pyas2.Mdn().parse(raw, lambda *_: message) == ("processed", None)


async def test_pyas2lib_reads_a_refusal_from_the_mill(pyas2: ModuleType) -> None:
    mill = _mill_at_reference(pyas2, sign=True, mdn_mode="SYNC", mdn_digest_alg="sha256")
    message = pyas2.Message(sender=_organization(pyas2), receiver=mill)
    message.build(DOCUMENT, filename="ORDERS_9.edi", content_type="application/EDIFACT")
    stranger = peers.station("PYAS2LIB")
    headers, body, received = await receive_as2(
        dict(message.headers), message.content, station=MILL,
        partners={"PYAS2LIB": Partner("PYAS2LIB", (stranger.certificate,))})
    assert not received.accepted
    raw = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n" + body
    assert pyas2.Mdn().parse(raw, lambda *_: message) == (
        "processed/error", "authentication-failed")

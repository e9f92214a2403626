"""AS2 (RFC 4130): documents as signed, optionally encrypted S/MIME over HTTP(S), each
acknowledged by a signed MDN in the same HTTP exchange (a synchronous receipt).

Sending: the document becomes a MIME part (``Content-Transfer-Encoding: binary``, its
name in ``Content-Disposition``), signed with the mill's key (multipart/signed,
detached CMS; the MIC is the digest of exactly that part), encrypted to the partner's
certificate when its entry says so, and POSTed through the egress policy's client. The
answer must be an MDN signed by the partner's pinned certificate, for this Message-ID,
``processed``, with the MIC sent; anything else fails (retryable only when the partner
was down, busy, or reports an unexpected processing error).

Receiving (``receive_as2``): the inverse, as a function the API mounts: decrypt
(AES-CBC or triple DES), inflate (RFC 3274), verify the partner's signature, compute the
MIC, and answer with a signed MDN whose disposition says what happened. The message's
Message-ID is the partner's idempotency key: a station sends again until it has an MDN,
so the caller stores a message once per (AS2-From, Message-ID). Asynchronous MDNs
(``Receipt-Delivery-Option``) are not sent: the MDN is always in the HTTP answer.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import posixpath
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from domain.egress import EgressRefused
from push import egress
from push.transports import cms, mime
from push.transports.config import ANSWER_MAX_BYTES, Station, TransportConfig
from push.transports.https import failure, read_bounded, status_failure
from push.transports.model import Endpoint, EndpointError, Mdn, Receipt, TransportError

AS2_VERSION = "1.2"
# What a partner's AS2 name may be (RFC 4130 section 6.2, quotes and backslashes left out).
_AS2_ID = re.compile(r'[!#-\[\]-~ ]{1,128}')
_HEADER_VALUE = re.compile(r"[\x20-\x7e]{1,998}")
# Layers of S/MIME a received message may wrap its content in (encrypted, compressed,
# signed, in any order); more is no message a station sends.
_MAX_LAYERS = 4
# Default body size receive_as2 accepts (the API passes the setting's).
DEFAULT_MAX_BYTES = 52428800
_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")


class AS2RequestError(Exception):
    """A request that is not an AS2 message one can answer with an MDN (headers missing
    or malformed, too large): the API answers ``status`` with ``message``, no MDN."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Partner:
    """A partner's AS2 station as the mill knows it: its AS2 name and pinned
    certificate(s) (the first encrypts to it; any verifies its signatures, so a
    certificate can be rolled over by listing both)."""

    as2_id: str
    certificates: tuple[x509.Certificate, ...]
    require_signature: bool = True
    require_encryption: bool = False

    @classmethod
    def of(cls, as2_id: str, certificates_pem: str | bytes, *,
           require_signature: bool = True, require_encryption: bool = False) -> Partner:
        if not _AS2_ID.fullmatch(as2_id):
            raise EndpointError("an AS2 name is 1 to 128 printable ASCII characters "
                                "without quotes or backslashes")
        data = certificates_pem.encode("ascii") if isinstance(certificates_pem, str) \
            else certificates_pem
        try:
            certificates = tuple(x509.load_pem_x509_certificates(data))
        except ValueError:
            raise EndpointError("the partner's certificate must be PEM "
                                "(-----BEGIN CERTIFICATE-----)") from None
        return cls(as2_id, certificates, require_signature, require_encryption)

    @classmethod
    def from_endpoint(cls, endpoint: Endpoint) -> Partner:
        as2_id = endpoint.options.get("as2_id")
        if not isinstance(as2_id, str):
            raise EndpointError("an as2 endpoint needs options.as2_id, the partner's AS2 name")
        certificate = endpoint.credentials.get("certificate")
        if not certificate:
            raise EndpointError("an as2 endpoint needs credentials.certificate, the "
                                "partner's certificate in PEM")
        return cls.of(as2_id, certificate)


@dataclass(frozen=True)
class ReceivedMessage:
    """What ``receive_as2`` made of a message. ``accepted``: the content is the
    partner's, verified (and ``body`` holds it); otherwise ``disposition`` is the error
    the MDN reports and ``error`` says why, for the log."""

    accepted: bool
    message_id: str
    as2_from: str
    as2_to: str
    disposition: str
    body: bytes = b""
    name: str | None = None
    content_type: str | None = None
    signed: bool = False
    encrypted: bool = False
    compressed: bool = False
    mic: str | None = None
    mic_algorithm: str | None = None
    error: str | None = None


def check_endpoint(endpoint: Endpoint) -> None:
    partner = Partner.from_endpoint(endpoint)
    encryption = endpoint.option("encryption", "aes-256-cbc")
    if encryption not in cms.ENCRYPTIONS:
        raise EndpointError(f"options.encryption must be one of {', '.join(cms.ENCRYPTIONS)}")
    if endpoint.option("encrypt", False) and not isinstance(
            partner.certificates[0].public_key(), rsa.RSAPublicKey):
        raise EndpointError("encrypting needs the partner's first certificate to hold an "
                            "RSA key")
    endpoint.option("signed_mdn", True)
    subject = endpoint.option("subject", "Keylink document")
    if not _HEADER_VALUE.fullmatch(str(subject)) or len(str(subject)) > 200:
        raise EndpointError("options.subject must be printable text of at most 200 "
                            "characters")
    try:
        name = cms.digest_name(str(endpoint.option("mic_algorithm", "sha-256")))
    except cms.CmsError:
        name = ""
    if name not in ("sha256", "sha384", "sha512"):
        raise EndpointError("options.mic_algorithm must be sha-256, sha-384 or sha-512")


def quote_id(as2_id: str) -> str:
    return f'"{as2_id}"' if " " in as2_id else as2_id


def unquote_id(value: str) -> str:
    return email.utils.unquote(value.strip())


def _bare_id(message_id: str) -> str:
    return message_id.strip().removeprefix("<").removesuffix(">").strip()


def _mic(data: bytes, digest: str) -> str:
    return base64.b64encode(hashlib.new(digest, data).digest()).decode("ascii")


@dataclass(frozen=True)
class Outbound:
    """A message ready to POST: its HTTP headers and body, and the MIC its MDN must
    return."""

    headers: dict[str, str]
    body: bytes
    message_id: str
    mic: str
    digest: str


def build_message(station: Station, partner: Partner, *, name: str, body: bytes,
                  content_type: str, message_id: str, digest: str = "sha256",
                  encryption: str | None = None, subject: str = "Keylink document"
                  ) -> Outbound:
    """Sign (and encrypt) a document for ``partner`` (RFC 4130 section 7.3)."""
    inner = mime.build_entity([
        ("Content-Type", content_type),
        ("Content-Transfer-Encoding", "binary"),
        ("Content-Disposition", f'attachment; filename="{name}"'),
    ], body)
    signature = cms.sign(inner, station.private_key, station.certificate, digest)
    signature_part = mime.build_entity([
        ("Content-Type", 'application/pkcs7-signature; name="smime.p7s"; '
                         "smime-type=signed-data"),
        ("Content-Transfer-Encoding", "base64"),
        ("Content-Disposition", 'attachment; filename="smime.p7s"'),
    ], mime.base64_lines(signature))
    boundary = mime.boundary_for(inner)
    payload = mime.multipart(boundary, [inner, signature_part])
    outer_type = (f'multipart/signed; protocol="application/pkcs7-signature"; '
                  f'micalg={cms.micalg(digest)}; boundary="{boundary}"')
    extra: dict[str, str] = {}
    if encryption is not None:
        entity = mime.build_entity([("Content-Type", outer_type)], payload)
        payload = cms.encrypt(entity, partner.certificates[0], encryption)
        outer_type = 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'
        extra = {"Content-Disposition": 'attachment; filename="smime.p7m"',
                 "Content-Transfer-Encoding": "binary"}
    full_id = message_id if "@" in message_id else f"{message_id}@{station.domain}"
    headers = {
        "AS2-Version": AS2_VERSION,
        "AS2-From": quote_id(station.as2_id),
        "AS2-To": quote_id(partner.as2_id),
        "Message-ID": f"<{full_id}>",
        "Subject": subject,
        "Date": email.utils.formatdate(usegmt=True),
        "MIME-Version": "1.0",
        "Content-Type": outer_type,
        **extra,
        "Disposition-Notification-To": f"keylink@{station.domain}",
        "Disposition-Notification-Options": (
            "signed-receipt-protocol=required, pkcs7-signature; "
            f"signed-receipt-micalg=required, {cms.micalg(digest)}"),
    }
    return Outbound(headers, payload, full_id, _mic(inner, digest), digest)


def _mdn_error(reason: str, message: str, retryable: bool = False) -> TransportError:
    return TransportError(f"the MDN does not acknowledge the message: {message}", retryable,
                          reason=reason)


def _reason_code(status: str) -> str:
    """``processed/error: authentication-failed`` -> ``mdn_authentication_failed``."""
    modifier = status.rpartition(":")[2] if ":" in status else status
    code = re.sub(r"[^a-z0-9]+", "_", modifier.strip().lower()).strip("_")
    return ("mdn_" + code)[:40] if code else "mdn_failed"


def read_mdn(headers: Mapping[str, str], body: bytes, partner: Partner, outbound: Outbound,
             *, require_signature: bool = True) -> Mdn:
    """Check a synchronous MDN against the message sent; raises TransportError unless it
    acknowledges that message as processed with the same MIC."""
    lower = {k.lower(): v for k, v in headers.items()}
    content_type = lower.get("content-type")
    if not content_type:
        raise _mdn_error("mdn_missing", "the answer has no MDN (no Content-Type)")
    try:
        entity = mime.entity_of(content_type, body)
        signature_verified = False
        if entity.content_type == "multipart/signed":
            parts = mime.split_multipart(entity)
            if len(parts) != 2:
                raise _mdn_error("mdn_invalid", "a signed MDN must have two parts")
            signature = mime.decode_body(mime.parse_entity(parts[1]))
            report_raw = parts[0]
            try:
                cms.verify(report_raw, signature, partner.certificates)
            except cms.CmsError as exc:
                canonical = re.sub(rb"(?<!\r)\n", b"\r\n", report_raw)
                if canonical == report_raw:
                    raise _mdn_error("mdn_signature_invalid", str(exc)) from None
                try:
                    cms.verify(canonical, signature, partner.certificates)
                except cms.CmsError:
                    raise _mdn_error("mdn_signature_invalid", str(exc)) from None
            signature_verified = True
            report = mime.parse_entity(report_raw)
        elif require_signature:
            raise _mdn_error("mdn_unsigned", f"a signed MDN was asked for, got "
                             f"{entity.content_type}")
        else:
            report = entity
        if report.content_type != "multipart/report":
            raise _mdn_error("mdn_invalid", f"not an MDN ({report.content_type})")
        fields: dict[str, str] | None = None
        for part in mime.split_multipart(report):
            sub = mime.parse_entity(part)
            if sub.content_type == "message/disposition-notification":
                fields = mime.header_fields(mime.decode_body(sub))
        if fields is None:
            raise _mdn_error("mdn_invalid", "no disposition notification in the MDN")
    except mime.MimeError as exc:
        raise _mdn_error("mdn_invalid", str(exc)) from None
    original = _bare_id(fields.get("original-message-id", ""))
    if original != outbound.message_id:
        raise _mdn_error("mdn_invalid", f"it answers message <{original}>, not "
                         f"<{outbound.message_id}>")
    disposition = fields.get("disposition", "")
    status = disposition.partition(";")[2].strip()
    kind = status.lower()
    if not kind.startswith("processed") or "/error" in kind or "/fail" in kind:
        raise _mdn_error(_reason_code(status) if status else "mdn_invalid",
                         f"the partner reports {status or 'no disposition'}",
                         retryable="unexpected-processing-error" in kind)
    mic_value, _, mic_alg = fields.get("received-content-mic", "").partition(",")
    mic_value, mic_alg = mic_value.strip(), mic_alg.strip()
    try:
        same_digest = bool(mic_alg) and cms.digest_name(mic_alg) == outbound.digest
    except cms.CmsError:
        same_digest = False
    if mic_value != outbound.mic or not same_digest:
        raise _mdn_error("mdn_mic_mismatch", "the partner's MIC is not the one sent: what it "
                         "received is not what was signed")
    return Mdn(message_id=_bare_id(lower.get("message-id", "")), original_message_id=original,
               disposition=disposition, status=status, signature_verified=signature_verified,
               mic_verified=True, mic=mic_value, mic_algorithm=mic_alg)


async def send(endpoint: Endpoint, *, name: str, body: bytes, content_type: str,
               message_id: str, config: TransportConfig) -> Receipt:
    station = config.station
    if station is None:
        raise TransportError("AS2 is not configured: KEYLINK_AS2_ID, KEYLINK_AS2_KEY and "
                             "KEYLINK_AS2_CERTIFICATE", False, reason="as2_not_configured")
    partner = Partner.from_endpoint(endpoint)
    encryption = str(endpoint.option("encryption", "aes-256-cbc")) \
        if endpoint.option("encrypt", False) else None
    outbound = await asyncio.to_thread(
        build_message, station, partner, name=name, body=body, content_type=content_type,
        message_id=message_id,
        digest=cms.digest_name(str(endpoint.option("mic_algorithm", "sha-256"))),
        encryption=encryption, subject=str(endpoint.option("subject", "Keylink document")))
    headers = {**outbound.headers, "user-agent": config.user_agent}
    try:
        async with (asyncio.timeout(config.timeout_s),
                    egress.client(config.egress, timeout=config.timeout_s,
                                  verify=config.verify) as client,
                    client.stream("POST", endpoint.url, content=outbound.body,
                                  headers=headers) as response):
            answer = await read_bounded(response, ANSWER_MAX_BYTES + 1)
    except (httpx.HTTPError, httpx.InvalidURL, EgressRefused, TimeoutError) as exc:
        raise failure(exc, "the AS2 message was not delivered") from exc
    if not 200 <= response.status_code < 300:
        raise status_failure(response.status_code, "the AS2 message was not taken")
    if len(answer) > ANSWER_MAX_BYTES:
        raise _mdn_error("mdn_invalid", f"an MDN over {ANSWER_MAX_BYTES} bytes")
    mdn = read_mdn(response.headers, answer, partner, outbound,
                   require_signature=bool(endpoint.option("signed_mdn", True)))
    return Receipt("as2", message_id, http_status=response.status_code, mdn=mdn)


# Receiving


class _Refused(Exception):
    def __init__(self, modifier: str, message: str) -> None:
        super().__init__(message)
        self.modifier = modifier
        self.message = message


def _options(text: str) -> dict[str, list[str]]:
    """``signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=...``
    -> {name: [importance, value, ...]}"""
    found: dict[str, list[str]] = {}
    for item in text.split(";"):
        name, _, values = item.partition("=")
        found[name.strip().lower()] = [v.strip().lower() for v in values.split(",")]
    return found


def _mdn_digest(options: Mapping[str, Sequence[str]]) -> str:
    """The first digest the sender asks for that this station signs with."""
    for value in options.get("signed-receipt-micalg", [])[1:]:
        try:
            return cms.digest_name(value)
        except cms.CmsError:
            continue
    return "sha256"


def _filename(entity: mime.Entity) -> str | None:
    value = entity.headers.get_param("filename", header="content-disposition")
    if not isinstance(value, str):
        return None
    name = posixpath.basename(value.replace("\\", "/")).strip()
    return name if _FILENAME.fullmatch(name) else None


@dataclass
class _Unwrapped:
    entity: mime.Entity
    signed: bool = False
    encrypted: bool = False
    compressed: bool = False
    digest: str | None = None
    mic: str | None = None


def _unwrap(entity: mime.Entity, station: Station, partner: Partner, max_bytes: int
            ) -> _Unwrapped:
    state = _Unwrapped(entity)
    for _ in range(_MAX_LAYERS):
        current = state.entity
        kind = current.content_type
        if kind in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
            smime_type = (current.param("smime-type") or "enveloped-data").lower()
            data = mime.decode_body(current)
            if smime_type == "enveloped-data":
                if state.encrypted:
                    raise _Refused("unexpected-processing-error", "encrypted twice")
                try:
                    content = cms.decrypt(data, station.private_key, station.certificate)
                except cms.CmsError as exc:
                    raise _Refused("decryption-failed", str(exc)) from None
                state.encrypted = True
            elif smime_type == "compressed-data":
                if state.compressed:
                    raise _Refused("unexpected-processing-error", "compressed twice")
                try:
                    content = cms.decompress(data, max_bytes)
                except cms.CmsError as exc:
                    raise _Refused(exc.kind, str(exc)) from None
                state.compressed = True
            else:
                raise _Refused("unexpected-processing-error",
                               f"S/MIME {smime_type} is not supported")
            state.entity = mime.parse_entity(content)
        elif kind == "multipart/signed":
            if state.signed:
                raise _Refused("unexpected-processing-error", "signed twice")
            parts = mime.split_multipart(current)
            if len(parts) != 2:
                raise _Refused("unexpected-processing-error", "a signed message has two parts")
            signature_part = mime.parse_entity(parts[1])
            if signature_part.content_type not in ("application/pkcs7-signature",
                                                   "application/x-pkcs7-signature"):
                raise _Refused("unexpected-processing-error", "no pkcs7 signature part")
            try:
                digest = cms.verify(parts[0], mime.decode_body(signature_part),
                                    partner.certificates)
            except cms.CmsError as exc:
                raise _Refused(exc.kind, str(exc)) from None
            state.signed, state.digest = True, digest
            state.mic = _mic(parts[0], digest)
            state.entity = mime.parse_entity(parts[0])
        else:
            return state
    raise _Refused("unexpected-processing-error", "too many S/MIME layers")


def _header(h: Mapping[str, str], name: str) -> str:
    value = h.get(name)
    if value is None or not _HEADER_VALUE.fullmatch(value.strip()):
        raise AS2RequestError(400, f"an AS2 message needs a printable {name} header")
    return value.strip()


def _receive(headers: Mapping[str, str], body: bytes, station: Station,
             partners: Mapping[str, Partner], max_bytes: int
             ) -> tuple[dict[str, str], bytes, ReceivedMessage]:
    h = {k.lower(): v for k, v in headers.items()}
    if len(body) > max_bytes:
        raise AS2RequestError(413, f"an AS2 message of at most {max_bytes} bytes")
    as2_from = unquote_id(_header(h, "as2-from"))
    as2_to = unquote_id(_header(h, "as2-to"))
    message_id = _bare_id(_header(h, "message-id"))
    content_type = _header(h, "content-type")
    if not message_id or not _AS2_ID.fullmatch(as2_from) or not _AS2_ID.fullmatch(as2_to):
        raise AS2RequestError(400, "AS2-From, AS2-To and Message-ID must be AS2 names and "
                              "a message id")
    options = _options(h.get("disposition-notification-options", ""))
    result: ReceivedMessage
    try:
        if as2_to != station.as2_id:
            raise _Refused("authentication-failed", f"addressed to {as2_to}, not this station")
        partner = partners.get(as2_from)
        if partner is None:
            raise _Refused("authentication-failed", f"{as2_from} is no partner of this station")
        try:
            state = _unwrap(mime.entity_of(content_type, body), station, partner, max_bytes)
        except mime.MimeError as exc:
            raise _Refused("unexpected-processing-error", str(exc)) from None
        if partner.require_signature and not state.signed:
            raise _Refused("insufficient-message-security", "the message is not signed")
        if partner.require_encryption and not state.encrypted:
            raise _Refused("insufficient-message-security", "the message is not encrypted")
        if state.mic is None:  # unsigned: the MIC of the (decrypted) entity
            state.digest = _mdn_digest(options)
            state.mic = _mic(state.entity.raw, state.digest)
        try:
            content = mime.decode_body(state.entity)
        except mime.MimeError as exc:
            raise _Refused("unexpected-processing-error", str(exc)) from None
        if len(content) > max_bytes:
            raise _Refused("unexpected-processing-error", f"content over {max_bytes} bytes")
        result = ReceivedMessage(
            accepted=True, message_id=message_id, as2_from=as2_from, as2_to=as2_to,
            disposition="processed", body=content, name=_filename(state.entity),
            content_type=state.entity.content_type, signed=state.signed,
            encrypted=state.encrypted, compressed=state.compressed, mic=state.mic,
            mic_algorithm=cms.micalg(state.digest or "sha256"))
    except _Refused as refused:
        result = ReceivedMessage(
            accepted=False, message_id=message_id, as2_from=as2_from, as2_to=as2_to,
            disposition=f"processed/error: {refused.modifier}", error=refused.message)
    if "disposition-notification-to" not in h:
        return {}, b"", result
    mdn_headers, mdn_body = build_mdn(station, result, options)
    return mdn_headers, mdn_body, result


def build_mdn(station: Station, received: ReceivedMessage,
              options: Mapping[str, Sequence[str]]) -> tuple[dict[str, str], bytes]:
    """A synchronous MDN for ``received`` (RFC 4130 section 7.4, RFC 3798), signed when
    the sender asked for a pkcs7-signature receipt."""
    text = ("The AS2 message was received and verified.\r\n" if received.accepted else
            "The AS2 message could not be processed; the disposition says why.\r\n")
    fields = [
        f"Reporting-UA: Keylink AS2 ({station.as2_id})",
        f"Original-Recipient: rfc822; {received.as2_to}",
        f"Final-Recipient: rfc822; {received.as2_to}",
        f"Original-Message-ID: <{received.message_id}>",
        f"Disposition: automatic-action/MDN-sent-automatically; {received.disposition}",
    ]
    if received.accepted and received.mic:
        fields.append(f"Received-Content-MIC: {received.mic}, {received.mic_algorithm}")
    human = mime.build_entity([("Content-Type", "text/plain; charset=us-ascii"),
                               ("Content-Transfer-Encoding", "7bit")], text.encode("ascii"))
    notification = mime.build_entity(
        [("Content-Type", "message/disposition-notification"),
         ("Content-Transfer-Encoding", "7bit")],
        "".join(f + "\r\n" for f in fields).encode("latin-1"))
    boundary = mime.boundary_for(human, notification)
    report_type = (f'multipart/report; report-type=disposition-notification; '
                   f'boundary="{boundary}"')
    report_body = mime.multipart(boundary, [human, notification])
    headers = {
        "AS2-Version": AS2_VERSION,
        "AS2-From": quote_id(station.as2_id),
        "AS2-To": quote_id(received.as2_from),
        "Message-ID": f"<{uuid.uuid4()}@{station.domain}>",
        "Subject": "Message Disposition Notification",
        "Date": email.utils.formatdate(usegmt=True),
        "MIME-Version": "1.0",
    }
    wants_signed = "pkcs7-signature" in options.get("signed-receipt-protocol", [])
    if not wants_signed:
        return {**headers, "Content-Type": report_type}, report_body
    digest = _mdn_digest(options)
    report = mime.build_entity([("Content-Type", report_type)], report_body)
    signature = cms.sign(report, station.private_key, station.certificate, digest)
    signature_part = mime.build_entity([
        ("Content-Type", 'application/pkcs7-signature; name="smime.p7s"; '
                         "smime-type=signed-data"),
        ("Content-Transfer-Encoding", "base64"),
        ("Content-Disposition", 'attachment; filename="smime.p7s"'),
    ], mime.base64_lines(signature))
    outer = mime.boundary_for(report)
    content_type = (f'multipart/signed; protocol="application/pkcs7-signature"; '
                    f'micalg={cms.micalg(digest)}; boundary="{outer}"')
    return ({**headers, "Content-Type": content_type},
            mime.multipart(outer, [report, signature_part]))


async def receive_as2(headers: Mapping[str, str], body: bytes, *, station: Station,
                      partners: Mapping[str, Partner], max_bytes: int = DEFAULT_MAX_BYTES
                      ) -> tuple[dict[str, str], bytes, ReceivedMessage]:
    """Take an AS2 message (the HTTP request's headers and body): decrypt, inflate and
    verify it against the sender's entry in ``partners`` (by AS2 name), and return the
    MDN to answer with (HTTP headers and body; both empty when none was asked for) and
    what was received. The API answers 200 with the MDN whatever the disposition; a
    request that is no AS2 message raises AS2RequestError (answer its status, no MDN).
    The work runs in a thread: decrypting and hashing a large message must not hold
    the event loop."""
    return await asyncio.to_thread(_receive, headers, body, station, partners, max_bytes)

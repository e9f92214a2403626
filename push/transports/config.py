"""How the transports connect and what they bound, built from Settings; and the mill's
own AS2 station (its name, key and certificate)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from domain.egress import EgressPolicy
from settings import Settings

# An answer's body (HTTPS) or an MDN is read up to this much; an MDN is a few KiB.
ANSWER_MAX_BYTES = 1048576


class StationError(ValueError):
    """The mill's AS2 key or certificate cannot be used."""


def _pem(value: str) -> bytes:
    """PEM text as given, or read from the path given."""
    if "-----BEGIN" in value:
        return value.encode("ascii")
    try:
        return Path(value).expanduser().read_bytes()
    except OSError as exc:
        raise StationError(f"cannot read {value}: {exc.strerror}") from None


def _spki(key: object) -> bytes:
    public_bytes = getattr(key, "public_bytes", None)
    if public_bytes is None:
        return b""
    spki: bytes = public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return spki


@dataclass(frozen=True)
class Station:
    """An AS2 station: its AS2 name, its private key (signs messages and MDNs, decrypts
    what is encrypted to it) and the certificate its partners pin."""

    as2_id: str
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = field(repr=False)
    certificate: x509.Certificate
    # Right-hand side of the Message-IDs it makes.
    domain: str = "keylink"

    @classmethod
    def load(cls, as2_id: str, key_pem: str | bytes, certificate_pem: str | bytes,
             *, domain: str = "keylink") -> Station:
        """A station from PEM text (or paths to PEM files); the key must belong to the
        certificate."""
        key_bytes = _pem(key_pem) if isinstance(key_pem, str) else key_pem
        cert_bytes = _pem(certificate_pem) if isinstance(certificate_pem, str) else certificate_pem
        try:
            key = serialization.load_pem_private_key(key_bytes, password=None)
            certificate = x509.load_pem_x509_certificate(cert_bytes)
        except (ValueError, TypeError) as exc:
            raise StationError(f"the AS2 key or certificate is not PEM: {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise StationError("the AS2 key must be an RSA (or EC, for signing only) key")
        if _spki(key.public_key()) != _spki(certificate.public_key()):
            raise StationError("the AS2 key does not belong to the AS2 certificate")
        return cls(as2_id, key, certificate, domain)


@dataclass(frozen=True)
class TransportConfig:
    """What every transport call needs besides the endpoint."""

    # Where the transports may connect: the push worker's policy (KEYLINK_WEBHOOK_ALLOW).
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    timeout_s: float = 60.0
    max_file_bytes: int = 52428800
    max_pickup_bytes: int = 209715200
    # TLS trust for https and AS2 over https: the system's authorities, or a context.
    verify: ssl.SSLContext | bool = True
    # The mill's AS2 station; None: AS2 is not configured.
    station: Station | None = None
    user_agent: str = "Keylink-Exchange/1"

    @classmethod
    def of(cls, settings: Settings) -> TransportConfig:
        station = None
        if settings.as2_id and settings.as2_key and settings.as2_certificate:
            station = Station.load(settings.as2_id, settings.as2_key,
                                   settings.as2_certificate)
        return cls(
            egress=EgressPolicy.of(settings.webhook_allow, production=not settings.development),
            timeout_s=float(settings.exchange_timeout_s),
            max_file_bytes=settings.exchange_max_file_bytes,
            max_pickup_bytes=settings.exchange_max_pickup_bytes,
            station=station)

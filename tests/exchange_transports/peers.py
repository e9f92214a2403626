"""The partners the transports' tests talk to, each a real server on loopback started by
the test: an SFTP server (asyncssh's server API, a temporary folder, a generated host
key, a user with a password and one with a key), a second AS2 station (``receive_as2``
under Starlette, its own key and certificate) and keys and certificates made with
``cryptography``. The HTTPS receiver is the webhooks' tests' own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncssh
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.egress import EgressPolicy
from push.transports.as2 import AS2RequestError, Partner, ReceivedMessage, build_mdn, receive_as2
from push.transports.config import Station, TransportConfig
from tests.support.api import serving

# Loopback allow-listed, as KEYLINK_WEBHOOK_ALLOW=127.0.0.0/8 would; production otherwise.
LOCAL = EgressPolicy.of("127.0.0.0/8", production=True)


def self_signed(name: str, *, ip: str | None = None, days: int = 1
                ) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """An RSA key and a self-signed certificate for ``name`` (and ``ip``)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    alt: list[x509.GeneralName] = [x509.DNSName(name)]
    if ip is not None:
        alt.append(x509.IPAddress(ipaddress.ip_address(ip)))
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def station(as2_id: str) -> Station:
    key, cert = self_signed(as2_id.lower().replace(" ", "-") + ".example")
    return Station(as2_id, key, cert)


@dataclass
class Tls:
    """A TLS identity for 127.0.0.1: files for the server, a context for the client."""

    cert_file: Path
    key_file: Path
    trust: ssl.SSLContext


def tls(folder: Path) -> Tls:
    key, cert = self_signed("partner.example", ip="127.0.0.1")
    cert_file, key_file = folder / "partner.crt", folder / "partner.key"
    cert_file.write_bytes(pem_cert(cert))
    key_file.write_bytes(pem_key(key))
    return Tls(cert_file, key_file, ssl.create_default_context(cafile=str(cert_file)))


def config(**changes: Any) -> TransportConfig:
    base = TransportConfig(egress=LOCAL, timeout_s=10.0, max_file_bytes=1_000_000,
                           max_pickup_bytes=3_000_000)
    return dataclasses.replace(base, **changes)


# SFTP


class _SshServer(asyncssh.SSHServer):
    def __init__(self, peer: SftpPeer) -> None:
        self.peer = peer

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.peer.connections += 1

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return self.peer.passwords.get(username) == password

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        known = self.peer.keys.get(username)
        return known is not None and known.public_data == key.public_data


class _Sftp(asyncssh.SFTPServer):
    """The SFTP subsystem over the peer's folder, noting every open and rename."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], peer: SftpPeer) -> None:
        super().__init__(chan, chroot=str(peer.root).encode())
        self.peer = peer

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        mode = "w" if pflags & asyncssh.FXF_WRITE else "r"
        self.peer.log.append((f"open-{mode}", path.decode()))
        return super().open(path, pflags, attrs)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self.peer.log.append(("rename", f"{oldpath.decode()} -> {newpath.decode()}"))
        super().posix_rename(oldpath, newpath)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self.peer.log.append(("rename", f"{oldpath.decode()} -> {newpath.decode()}"))
        super().rename(oldpath, newpath)


@dataclass
class SftpPeer:
    """An SFTP server on loopback over ``root``: user ``erp`` logs in with a password,
    user ``edi`` with a key."""

    root: Path
    host_key: asyncssh.SSHKey = field(
        default_factory=lambda: asyncssh.generate_private_key("ssh-ed25519"))
    client_key: asyncssh.SSHKey = field(
        default_factory=lambda: asyncssh.generate_private_key("ssh-ed25519"))
    passwords: dict[str, str] = field(default_factory=lambda: {"erp": "s3cret-erp"})
    keys: dict[str, asyncssh.SSHKey] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncssh.SSHAcceptor | None = None

    def __post_init__(self) -> None:
        self.keys.setdefault("edi", self.client_key)

    async def start(self) -> None:
        self._server = await asyncssh.listen(
            "127.0.0.1", self.port, server_host_keys=[self.host_key],
            server_factory=lambda: _SshServer(self),
            sftp_factory=lambda chan: _Sftp(chan, self), allow_scp=False)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @property
    def pinned(self) -> str:
        return self.host_key.export_public_key("openssh").decode()

    def credentials(self, user: str = "erp", **changes: str) -> dict[str, str]:
        if user == "edi":
            found = {"username": "edi", "host_key": self.pinned,
                     "private_key": self.client_key.export_private_key("openssh").decode()}
        else:
            found = {"username": user, "password": self.passwords.get(user, ""),
                     "host_key": self.pinned}
        return {**found, **changes}

    def url(self, folder: str = "/inbound", host: str = "127.0.0.1") -> str:
        return f"sftp://{host}:{self.port}{folder}"


@contextlib.asynccontextmanager
async def sftp_peer(root: Path) -> AsyncIterator[SftpPeer]:
    peer = SftpPeer(root)
    await peer.start()
    try:
        yield peer
    finally:
        await peer.stop()


# AS2


@dataclass
class As2Peer:
    """A second AS2 station: ``receive_as2`` under Starlette at ``/as2``. ``status``
    answers every request with that status instead; ``mdn_signer`` signs the MDNs
    with another station's key; ``mic`` puts another MIC in them."""

    station: Station
    partners: Mapping[str, Partner]
    received: list[ReceivedMessage] = field(default_factory=list)
    requests: int = 0
    status: int | None = None
    mdn_signer: Station | None = None
    mic: str | None = None
    address: str = ""

    async def _as2(self, request: Request) -> Response:
        self.requests += 1
        body = await request.body()
        if self.status is not None:
            return Response(b"busy", status_code=self.status)
        try:
            headers, mdn, received = await receive_as2(
                request.headers, body, station=self.station, partners=self.partners)
        except AS2RequestError as exc:
            return Response(exc.message, status_code=exc.status)
        self.received.append(received)
        if self.mdn_signer is not None or self.mic is not None:
            changed = dataclasses.replace(received, mic=self.mic or received.mic)
            options = {"signed-receipt-protocol": ["required", "pkcs7-signature"]}
            headers, mdn = build_mdn(self.mdn_signer or self.station, changed, options)
        return Response(mdn, headers=headers)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/as2", self._as2, methods=["POST"])])

    @property
    def url(self) -> str:
        return f"http://{self.address}/as2"


@contextlib.asynccontextmanager
async def as2_peer(peer: As2Peer, **options: Any) -> AsyncIterator[As2Peer]:
    async with serving(peer.app(), **options) as address:
        peer.address = address
        yield peer


async def wait_for(check: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


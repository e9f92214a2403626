"""SFTP (asyncssh): documents dropped into a partner's folder and picked up from its
inbox.

- **Where it connects.** The host is resolved and checked by the egress policy
  (``EgressPolicy.addresses``, as a webhook's), and the connection goes to a checked
  address, never to the name again; the port is the URL's, 22 by default.
- **Whom it trusts.** The server's host key must be one pinned in the endpoint's
  credentials (``host_key``); no known_hosts file, agent, SSH config or default key
  of the machine is consulted, so what a delivery does depends on the entry alone.
- **Never a half file.** A document is written under a hidden temporary name
  (``.<name>.part``) and renamed when complete (the OpenSSH ``posix-rename``, which
  replaces a file of the same name left by an earlier try), so the partner's poller
  never reads a file being written.
- **Taken once, never lost.** A pick-up reads the inbox's regular files (hidden and
  ``.part`` names skipped, oldest first) and leaves them in place; ``Picked.ack()``
  moves each to ``done/`` once the caller has stored it. A file not acknowledged is
  picked up again; a file over ``max_file_bytes`` (judged by its listed size, before it
  is opened, and again while reading) is left unread; one pick-up reads at most
  ``max_pickup_bytes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import posixpath
import stat
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import cast
from urllib.parse import unquote, urlsplit

import asyncssh

from domain.egress import ADDRESS_NOT_ALLOWED, HTTPS_REQUIRED, INVALID_URL, EgressRefused
from push.transports.config import TransportConfig
from push.transports.model import (
    Endpoint,
    EndpointError,
    Picked,
    Receipt,
    TransportError,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 22
DONE = "done"
# A pick-up looks at no more directory entries than this, whatever the limit.
_MAX_LISTED = 10000


def _host_keys(endpoint: Endpoint) -> list[asyncssh.SSHKey]:
    text = endpoint.credentials.get("host_key", "")
    keys = []
    for line in text.splitlines():
        if line.strip():
            try:
                keys.append(asyncssh.import_public_key(line.strip()))
            except (asyncssh.KeyImportError, ValueError):
                raise EndpointError("credentials.host_key must hold the server's public "
                                    "key(s) in OpenSSH form (ssh-ed25519 AAAA...), one a "
                                    "line") from None
    if not keys:
        raise EndpointError("an sftp endpoint needs credentials.host_key: the server's "
                            "public key, pinned (unknown host keys are refused)")
    return keys


def _client_key(endpoint: Endpoint) -> asyncssh.SSHKey | None:
    text = endpoint.credentials.get("private_key")
    if not text:
        return None
    try:
        return asyncssh.import_private_key(text, endpoint.credentials.get("passphrase"))
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, ValueError):
        raise EndpointError("credentials.private_key is not a private key in OpenSSH or "
                            "PEM form (or its passphrase is wrong)") from None


def _folder(endpoint: Endpoint, option: str | None = None) -> str:
    if option is not None and option in endpoint.options:
        path = str(endpoint.options[option])
    else:
        path = unquote(urlsplit(endpoint.url).path) or "."
    if "\x00" in path or any(part == ".." for part in path.split("/")):
        raise EndpointError("the sftp folder must be a plain path, without ..")
    return path


def check_endpoint(endpoint: Endpoint) -> None:
    if not endpoint.credentials.get("username"):
        raise EndpointError("an sftp endpoint needs credentials.username")
    if not (endpoint.credentials.get("password") or endpoint.credentials.get("private_key")):
        raise EndpointError("an sftp endpoint needs credentials.password or "
                            "credentials.private_key")
    _host_keys(endpoint)
    _client_key(endpoint)
    _folder(endpoint)
    _folder(endpoint, "inbox")


def _final(reason: str, message: str) -> TransportError:
    return TransportError(message, False, reason=reason)


def _failure(exc: BaseException, what: str) -> TransportError:
    """The TransportError for what asyncssh (or the policy, or the network) raised."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, EgressRefused):
        final = exc.reason in (ADDRESS_NOT_ALLOWED, HTTPS_REQUIRED, INVALID_URL)
        return TransportError(f"{what}: {exc.message}", not final, reason=exc.reason)
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return _final("host_key_mismatch", f"{what}: the server's host key is not the "
                      "pinned one")
    if isinstance(exc, asyncssh.PermissionDenied):
        return _final("auth_failed", f"{what}: the server refused the user name and "
                      "password or key")
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return _final("permission_denied", f"{what}: the server denied access to "
                      f"{exc.reason}")
    if isinstance(exc, asyncssh.SFTPNoSuchFile | asyncssh.SFTPNoSuchPath):
        return _final("no_such_path", f"{what}: no such folder or file ({exc.reason})")
    if isinstance(exc, asyncssh.SFTPError):
        return TransportError(f"{what}: the server failed ({exc.reason})", True,
                              reason="sftp_error")
    if isinstance(exc, TimeoutError):
        return TransportError(f"{what}: no answer in time", True, reason="timeout")
    if isinstance(exc, ConnectionRefusedError):
        return TransportError(f"{what}: the server refused the connection", True,
                              reason="connection_refused")
    if isinstance(exc, asyncssh.DisconnectError | asyncssh.ChannelOpenError):
        return TransportError(f"{what}: the connection broke off ({exc.reason})", True,
                              reason="connection_error")
    if isinstance(exc, OSError):
        return TransportError(f"{what}: no connection could be made ({exc})", True,
                              reason="connection_failed")
    return TransportError(f"{what}: {type(exc).__name__}: {exc}", True, reason="sftp_error")


@contextlib.asynccontextmanager
async def _session(endpoint: Endpoint, config: TransportConfig
                   ) -> AsyncIterator[asyncssh.SFTPClient]:
    """An SFTP session with the endpoint's server, at an address the policy accepted."""
    parts = urlsplit(endpoint.url)
    port = parts.port or DEFAULT_PORT
    addresses = await config.egress.addresses(parts.hostname or "", port)
    key = _client_key(endpoint)
    options = asyncssh.SSHClientConnectionOptions(
        username=endpoint.credentials["username"],
        password=endpoint.credentials.get("password") or None,
        client_keys=[key] if key is not None else None,
        # Only the pinned keys; nothing of the machine's own SSH setup (config file,
        # known_hosts, agent, default keys, certificates).
        config=None, known_hosts=(_host_keys(endpoint), [], []),
        x509_trusted_certs=None, x509_trusted_cert_paths=None,
        agent_path=None, gss_auth=False, gss_kex=False, host_based_auth=False,
        connect_timeout=config.timeout_s, login_timeout=config.timeout_s,
        keepalive_interval=0)
    failure: BaseException | None = None
    for ip in addresses:
        try:
            conn = await asyncssh.connect(str(ip), port, config=None, options=options)
        except (OSError, asyncssh.DisconnectError, TimeoutError) as exc:
            failure = exc
            if isinstance(exc, asyncssh.HostKeyNotVerifiable | asyncssh.PermissionDenied):
                break  # the next address is the same server: the answer would be the same
            continue
        async with conn, conn.start_sftp_client() as client:
            yield client
        return
    assert failure is not None
    raise failure


def _is_file(attrs: asyncssh.SFTPAttrs) -> bool:
    if attrs.permissions is not None:
        return stat.S_ISREG(attrs.permissions)
    return bool(attrs.type == asyncssh.FILEXFER_TYPE_REGULAR)


async def send(endpoint: Endpoint, *, name: str, body: bytes, content_type: str,
               message_id: str, config: TransportConfig) -> Receipt:
    folder = _folder(endpoint)
    final = posixpath.join(folder, name)
    temporary = posixpath.join(folder, f".{name}.part")
    try:
        async with asyncio.timeout(config.timeout_s), _session(endpoint, config) as sftp:
            async with sftp.open(temporary, "wb") as f:
                await f.write(body)
            try:
                await sftp.posix_rename(temporary, final)
            except asyncssh.SFTPOpUnsupported:
                # A server without the extension: a plain rename, which refuses to
                # replace a file of the same name.
                await sftp.rename(temporary, final)
            written = await sftp.stat(final)
    except (OSError, asyncssh.Error, EgressRefused, TimeoutError) as exc:
        raise _failure(exc, "the document was not delivered") from exc
    if written.size is not None and written.size != len(body):
        raise TransportError(f"the server holds {written.size} bytes of {len(body)} at "
                             f"{final}", True, reason="sftp_error")
    return Receipt("sftp", message_id, remote_path=final)


async def pick_up(endpoint: Endpoint, *, limit: int, config: TransportConfig
                  ) -> list[Picked]:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    inbox = _folder(endpoint, "inbox")
    taken: list[Picked] = []
    try:
        async with asyncio.timeout(config.timeout_s), _session(endpoint, config) as sftp:
            candidates: list[tuple[float, str, int]] = []
            listed = 0
            async for entry in sftp.scandir(inbox):
                listed += 1
                if listed > _MAX_LISTED:
                    break
                name = str(entry.filename)
                if name.startswith(".") or name.endswith(".part") or not _is_file(entry.attrs):
                    continue
                size = entry.attrs.size
                if size is None or size > config.max_file_bytes:
                    log.warning("sftp file left unread: over the size allowed", extra={
                        "endpoint": endpoint.host, "file": name, "size": size,
                        "max_file_bytes": config.max_file_bytes})
                    continue
                candidates.append((float(entry.attrs.mtime or 0), name, size))
            candidates.sort()
            budget = config.max_pickup_bytes
            for _, name, size in candidates:
                if len(taken) >= limit or size > budget:
                    break
                path = posixpath.join(inbox, name)
                async with sftp.open(path, "rb") as f:
                    # One byte more than allowed: a file that grew since it was listed
                    # is found out without reading past the bound.
                    body = cast(bytes, await f.read(config.max_file_bytes + 1))
                if len(body) > config.max_file_bytes:
                    log.warning("sftp file left unread: it grew over the size allowed",
                                extra={"endpoint": endpoint.host, "file": name})
                    continue
                budget -= len(body)
                taken.append(Picked(name, bytes(body), hashlib.sha256(body).hexdigest(),
                                    path, partial(_ack_one, endpoint, config)))
    except (OSError, asyncssh.Error, EgressRefused, TimeoutError) as exc:
        raise _failure(exc, "the inbox was not picked up") from exc
    return taken


async def _ack_one(endpoint: Endpoint, config: TransportConfig, picked: Picked) -> bool:
    return (await acknowledge(endpoint, [picked], config=config))[0]


async def acknowledge(endpoint: Endpoint, picked: Sequence[Picked], *,
                      config: TransportConfig) -> list[bool]:
    """Move picked-up files to ``done/`` (made if missing) in one session; for each,
    False when it was gone already (another taker acknowledged it). A file of the same
    name already in ``done/`` is kept: the newcomer gets the message's digest added."""
    inbox = _folder(endpoint, "inbox")
    done = posixpath.join(inbox, DONE)
    moved: list[bool] = []
    try:
        async with asyncio.timeout(config.timeout_s), _session(endpoint, config) as sftp:
            if not await sftp.isdir(done):
                with contextlib.suppress(asyncssh.SFTPFailure,
                                         asyncssh.SFTPFileAlreadyExists):
                    await sftp.mkdir(done)
            for p in picked:
                target = posixpath.join(done, p.name)
                if await sftp.exists(target):
                    target = posixpath.join(done, f"{p.name}.{p.sha256[:16]}")
                try:
                    await sftp.rename(p.path, target)
                except asyncssh.SFTPNoSuchFile:
                    moved.append(False)
                    continue
                moved.append(True)
    except (OSError, asyncssh.Error, EgressRefused, TimeoutError) as exc:
        raise _failure(exc, "the picked-up files were not moved to done/") from exc
    return moved

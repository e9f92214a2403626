"""What the transports take and give back: a partner's endpoint, what the partner
acknowledged, a file picked up, and the one error every transport raises.

An ``Endpoint`` is checked when it is made (its transport, URL form, and the credentials
and options that transport needs, parsed), so the address book can refuse a bad entry
when it is saved rather than at the first delivery. It holds secrets: they never show in
its ``repr``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit

TransportName = Literal["https", "sftp", "as2"]
TRANSPORTS: tuple[TransportName, ...] = ("https", "sftp", "as2")
# The URL schemes each transport accepts (AS2 runs over HTTP; plain http is subject to
# the egress policy like a webhook's).
_SCHEMES = {"https": ("https", "http"), "sftp": ("sftp",), "as2": ("https", "http")}
# A document's name as it lands in a partner's folder or an AS2 Content-Disposition:
# one plain file name, no path, no hidden name.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")
# A message id as sent in `webhook-id` and `Message-ID`: printable, no spaces or brackets.
_MESSAGE_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,200}")
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_CONTENT_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(; ?[A-Za-z0-9_-]{{1,40}}=[A-Za-z0-9_.-]{{1,60}})*")
_MAX_URL = 2000
_MAX_CREDENTIAL = 65536

OptionValue = str | int | bool


class EndpointError(ValueError):
    """An endpoint that cannot be used as given: the message says which part and why."""


class TransportError(Exception):
    """A document not delivered (or not picked up). ``retryable``: trying again as it is
    may succeed (the partner down or busy, a timeout); otherwise something must change
    first (credentials, the partner's configuration, the document). ``reason`` is a
    short code for a delivery log, as webhooks' (``http_503``, ``timeout``,
    ``host_key_mismatch``, ``mdn_signature_invalid``, ...); ``message`` says more, for
    the mill's staff."""

    def __init__(self, message: str, retryable: bool, *, reason: str = "failed") -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.reason = reason

    def __repr__(self) -> str:
        return (f"TransportError({self.message!r}, retryable={self.retryable}, "
                f"reason={self.reason!r})")


def _frozen(values: Mapping[str, object] | None) -> Mapping[str, object]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class Endpoint:
    """Where and how a partner's system takes documents, from its address-book entry.

    - ``https``: ``url`` receives a POST of the document; credentials ``secret`` (a
      Standard Webhooks secret, ``whsec_...``) signs it.
    - ``sftp``: ``url`` is ``sftp://host[:port]/folder``, where documents are dropped
      (and, unless option ``inbox`` names another folder, picked up from). Credentials:
      ``username``; ``password`` and/or ``private_key`` (OpenSSH or PEM text, with
      ``passphrase`` if it is encrypted); ``host_key``: the server's public key(s) in
      OpenSSH form, one a line, pinned (no other key is accepted).
    - ``as2``: ``url`` is the partner's AS2 receiver; option ``as2_id`` its AS2 name;
      credentials ``certificate``: its certificate(s) in PEM, which verify its MDNs and
      encrypt to it (the first). Options: ``encrypt`` (bool), ``encryption``
      (``aes-256-cbc`` or ``aes-128-cbc``), ``mic_algorithm`` (``sha-256``, ``sha-384``,
      ``sha-512``), ``subject``, ``signed_mdn`` (default true: an unsigned MDN fails).
    """

    transport: str
    url: str
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    options: Mapping[str, OptionValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "credentials", _frozen(self.credentials))
        object.__setattr__(self, "options", _frozen(self.options))
        if self.transport not in TRANSPORTS:
            raise EndpointError(f"transport must be one of {', '.join(TRANSPORTS)}")
        if not isinstance(self.url, str) or len(self.url) > _MAX_URL:
            raise EndpointError(f"url must be a URL of at most {_MAX_URL} characters")
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 - raises on a port out of range
        except ValueError:
            raise EndpointError("url is not a valid URL") from None
        if parts.scheme.lower() not in _SCHEMES[self.transport] or not parts.hostname:
            schemes = " or ".join(_SCHEMES[self.transport])
            raise EndpointError(f"a {self.transport} endpoint's url must be {schemes}://host...")
        if parts.username is not None or parts.password is not None:
            raise EndpointError("url must not carry a user name or password: they are "
                                "credentials")
        for key, value in self.credentials.items():
            if not isinstance(value, str) or len(value) > _MAX_CREDENTIAL:
                raise EndpointError(f"credential {key} must be text of at most "
                                    f"{_MAX_CREDENTIAL} characters")
        for key, option in self.options.items():
            if not isinstance(option, str | int | bool):
                raise EndpointError(f"option {key} must be text, a number or a boolean")
        # Each transport parses what it needs now, so that a bad key or certificate is
        # found when the entry is saved.
        from push.transports import as2, https, sftp

        checks: dict[str, Callable[[Endpoint], None]] = {
            "https": https.check_endpoint, "sftp": sftp.check_endpoint,
            "as2": as2.check_endpoint}
        checks[self.transport](self)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def option(self, name: str, default: OptionValue) -> OptionValue:
        value = self.options.get(name, default)
        if type(value) is not type(default):
            raise EndpointError(f"option {name} must be a {type(default).__name__}")
        return value


def check_document(name: str, content_type: str, message_id: str) -> None:
    """A document's name, type and id fit every transport (and no header or path can be
    smuggled through them); raises EndpointError otherwise."""
    if not _NAME.fullmatch(name) or name.endswith(".part"):
        raise EndpointError("name must be a plain file name of letters, digits and . _ + -"
                            " (at most 200, not a hidden name, not ending in .part)")
    if not _CONTENT_TYPE.fullmatch(content_type):
        raise EndpointError("content_type must be a media type such as application/EDIFACT")
    if not _MESSAGE_ID.fullmatch(message_id):
        raise EndpointError("message_id must be 1 to 200 printable characters without "
                            "spaces, quotes, brackets or commas")


@dataclass(frozen=True)
class Mdn:
    """An AS2 receipt (RFC 4130 section 7): the partner's word on a message it received.
    ``disposition`` is as sent (``automatic-action/MDN-sent-automatically; processed``);
    ``status`` its last part (``processed``, ``processed/warning: ...``,
    ``processed/error: authentication-failed``, ``failed/failure: ...``)."""

    message_id: str
    original_message_id: str
    disposition: str
    status: str
    # The MDN's signature verified against the partner's pinned certificate.
    signature_verified: bool
    # The MIC the partner computed over what it received equals the one sent.
    mic_verified: bool
    mic: str | None = None
    mic_algorithm: str | None = None


@dataclass(frozen=True)
class Receipt:
    """What the partner acknowledged for one document."""

    transport: TransportName
    message_id: str
    # https: the answer's status and the SHA-256 (hex) of its body (at most 1 MiB read).
    http_status: int | None = None
    body_sha256: str | None = None
    # sftp: where the file now is, complete, on the partner's server.
    remote_path: str | None = None
    # as2: the verified MDN (also carries the HTTP status it came with in http_status).
    mdn: Mdn | None = None


@dataclass(frozen=True)
class Picked:
    """A file taken from a partner's SFTP inbox. Store it, then ``ack()`` it: the file
    moves to the inbox's ``done/`` folder and is not picked up again. A file not
    acknowledged (the process died in between) is picked up again next time, so the
    caller stores by ``key`` (its name and content digest) and keeps one of each."""

    name: str
    body: bytes = field(repr=False)
    sha256: str
    # The file's path on the partner's server, when picked up.
    path: str
    _ack: Callable[[Picked], Awaitable[bool]] = field(repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.name}:{self.sha256}"

    async def ack(self) -> bool:
        """Move the file to ``done/``; False when it was no longer there (another taker
        acknowledged it first)."""
        return await self._ack(self)

"""MIME entities as AS2 needs them: bytes kept exactly as they came.

A signature covers the exact bytes of a MIME part (RFC 1847), so parts are cut out of
the raw message by their boundary rather than parsed and written again; only headers
are parsed (by the standard library, which unfolds and reads parameters). Line ends
may be CRLF (the rule) or LF (what some stations send).
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
import secrets
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

# Headers of one part: more than this is no MIME part an AS2 station sends.
_MAX_HEADER_BYTES = 65536


class MimeError(ValueError):
    """Bytes that are not the MIME entity expected."""


@dataclass(frozen=True)
class Entity:
    """A MIME entity: its raw bytes, its parsed headers and its (raw) body."""

    raw: bytes
    headers: Message
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type().lower()

    def param(self, name: str) -> str | None:
        value = self.headers.get_param(name)
        if value is None or isinstance(value, tuple):
            return None
        return str(value)


def parse_entity(raw: bytes) -> Entity:
    """Split headers from body at the first empty line and parse the headers."""
    match = re.search(rb"\r?\n\r?\n", raw[:_MAX_HEADER_BYTES + 4])
    if raw.startswith((b"\r\n", b"\n")):  # no headers at all
        head, body = b"", raw[2 if raw.startswith(b"\r\n") else 1:]
    elif match is None:
        raise MimeError("no end of the headers")
    else:
        head, body = raw[:match.start()], raw[match.end():]
    headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\r\n\r\n")
    return Entity(raw, headers, body)


def entity_of(content_type: str, body: bytes) -> Entity:
    """The entity an HTTP request or answer carries: its Content-Type comes as an HTTP
    header, the body as the HTTP body."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n")
    return Entity(body, headers, body)


def split_multipart(entity: Entity) -> list[bytes]:
    """The raw bytes of each part of a multipart entity, preamble and epilogue dropped.
    Per RFC 2046 the line end before a delimiter belongs to the delimiter."""
    boundary = entity.param("boundary")
    if not boundary or len(boundary) > 200:
        raise MimeError(f"{entity.content_type} without a boundary")
    dash = b"--" + boundary.encode("latin-1")
    body = entity.body
    delimiter = re.compile(rb"(?:^|\r?\n)" + re.escape(dash) + rb"(--)?[ \t]*(?:\r?\n|$)")
    parts: list[bytes] = []
    start: int | None = None
    for match in delimiter.finditer(body):
        if start is not None:
            parts.append(body[start:match.start()])
        if match.group(1):  # the close delimiter
            return parts
        start = match.end()
    raise MimeError("a multipart body without its closing delimiter")


def decode_body(entity: Entity) -> bytes:
    """The body with its Content-Transfer-Encoding undone."""
    encoding = (entity.headers.get("content-transfer-encoding") or "binary").strip().lower()
    if encoding in ("binary", "8bit", "7bit"):
        return entity.body
    if encoding == "base64":
        try:
            return base64.b64decode(re.sub(rb"\s+", b"", entity.body), validate=True)
        except binascii.Error:
            raise MimeError("a base64 body that is not base64") from None
    if encoding == "quoted-printable":
        return quopri.decodestring(entity.body)
    raise MimeError(f"unknown Content-Transfer-Encoding {encoding}")


def build_entity(headers: list[tuple[str, str]], body: bytes) -> bytes:
    """Headers (each name: value, CRLF) and body, as sent and as signed."""
    for name, value in headers:
        if any(c in value for c in "\r\n\x00"):
            raise MimeError(f"a header {name} with a line break")
    head = b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers)
    return head + b"\r\n" + body


def boundary_for(*contents: bytes) -> str:
    """A boundary that occurs in none of ``contents``."""
    while True:
        boundary = f"----=_Keylink_{secrets.token_hex(16)}"
        if not any(boundary.encode() in c for c in contents):
            return boundary


def multipart(boundary: str, parts: list[bytes]) -> bytes:
    dash = b"--" + boundary.encode("ascii")
    out = b"".join(dash + b"\r\n" + part + b"\r\n" for part in parts)
    return out + dash + b"--\r\n"


def base64_lines(data: bytes) -> bytes:
    """Base64 in lines of 76 characters, CRLF-terminated, as MIME wants it."""
    text = base64.b64encode(data)
    return b"".join(text[i:i + 76] + b"\r\n" for i in range(0, len(text), 76))


def header_fields(text: bytes) -> dict[str, str]:
    """Header-like fields (a disposition notification's), lower-cased names, folded
    lines joined; the empty lines between groups are crossed."""
    fields: dict[str, str] = {}
    last: str | None = None
    for line in re.split(rb"\r?\n", text[:_MAX_HEADER_BYTES]):
        decoded = line.decode("latin-1")
        if not decoded.strip():
            last = None
            continue
        if decoded[0] in " \t" and last is not None:
            fields[last] += " " + decoded.strip()
            continue
        name, sep, value = decoded.partition(":")
        if sep:
            last = name.strip().lower()
            fields.setdefault(last, value.strip())
    return fields

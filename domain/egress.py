"""Where Keylink may connect on a customer's behalf: the egress policy.

Every outbound connection to an address a customer chose (a webhook today; any other
transport that delivers to a customer's endpoint) goes through one policy:

- the host is resolved (a literal address as well: ``0x7f000001``, ``2130706433``,
  ``017700000001`` and ``127.1`` are spellings of 127.0.0.1 that ``getaddrinfo``
  understands, so they are judged by what they resolve to, not by how they look);
- every address it resolves to must be public: loopback, private, link-local, shared
  (CGNAT), multicast, reserved, unspecified, documentation and benchmark ranges are
  refused, and an IPv6 address that embeds an IPv4 one (IPv4-mapped, 6to4, Teredo,
  NAT64) is judged by the IPv4 address it carries;
- unless the operator allow-lists a range (``KEYLINK_WEBHOOK_ALLOW``): an address in it
  is accepted whatever it is;
- a plain-text scheme (``http``) is accepted only where TLS is not required
  (development) or when every address is allow-listed.

The check is made when the customer registers the address and again on every
connection, against the addresses actually connected to (``addresses`` below, which a
transport calls and then connects to what it returned), so a DNS answer that changes
after registration cannot lead anywhere the policy refuses. ``push.egress`` is the HTTP
transport that does so; other transports call ``addresses`` the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the addresses it resolves to, as text.
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Why a destination is refused; short codes a customer's delivery log may show.
ADDRESS_NOT_ALLOWED = "address_not_allowed"
HTTPS_REQUIRED = "https_required"
DNS_ERROR = "dns_error"
INVALID_URL = "invalid_url"

# The schemes a customer's URL may have, with their default ports; ``http`` is plain text.
WEB_SCHEMES = {"http": 80, "https": 443}
# A partner's SFTP server (document exchange); SSH is encrypted, so never plain text.
SFTP_SCHEMES = {"sftp": 22}
_PLAIN_SCHEMES = frozenset({"http"})

# Ranges ``ipaddress`` counts as global that no receiver has any business in.
_NOT_PUBLIC_V4 = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15",
    "224.0.0.0/3"))
_NOT_PUBLIC_V6 = tuple(ipaddress.IPv6Network(n) for n in (
    "::/96", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10",
    "fec0::/10", "ff00::/8"))
# One message whether the host does not resolve or resolves where it may not go: the
# difference would tell a customer which names exist on the server's own network.
_NOT_PUBLIC = ("the host must resolve, and only to public addresses (or to ranges this "
               "server's operator allows)")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class EgressRefused(Exception):
    """A destination the policy refuses: ``reason`` is a short code, ``message`` says
    why in words fit for the customer (never what the host resolved to)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries and would reach, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in n for n in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """True for an address on the public Internet (judging an IPv6 address that embeds
    an IPv4 one by the latter)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            return is_public(inner)
        blocked: Iterable[IPNetwork] = _NOT_PUBLIC_V6
    else:
        blocked = _NOT_PUBLIC_V4
    if (not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local
            or ip.is_multicast or ip.is_reserved or ip.is_unspecified):
        return False
    return not any(ip in n for n in blocked)


def parse_allow(text: str | None) -> tuple[IPNetwork, ...]:
    """Comma-separated CIDR ranges (``127.0.0.0/8, 10.20.0.0/16``); a bare address is a
    range of one. Raises ValueError naming the entry that is not one."""
    ranges: list[IPNetwork] = []
    for part in (text or "").split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            ranges.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an address range such as 127.0.0.0/8") from None
    return tuple(ranges)


async def system_resolver(host: str, port: int) -> list[str]:
    """What the operating system's resolver answers (``getaddrinfo``), literal spellings
    of addresses included."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _address(text: str) -> IPAddress:
    # An IPv6 answer may carry a scope (fe80::1%eth0); the address is what is judged.
    return ipaddress.ip_address(text.split("%", 1)[0])


@dataclass(frozen=True)
class Destination:
    """A checked URL: where to connect, and the addresses it resolved to when checked."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True)
class EgressPolicy:
    """Which addresses outbound connections may reach; see the module's docstring."""

    allow: tuple[IPNetwork, ...] = ()
    # Production: plain-text schemes only to allow-listed addresses.
    require_tls: bool = True
    resolver: Resolver = field(default=system_resolver, compare=False)
    resolve_timeout_s: float = 10.0

    @classmethod
    def of(cls, allow: str | None, *, production: bool) -> EgressPolicy:
        return cls(allow=parse_allow(allow), require_tls=production)

    def allow_listed(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(c in n for c in candidates for n in self.allow if c.version == n.version)

    def allows(self, ip: IPAddress) -> bool:
        return self.allow_listed(ip) or is_public(ip)

    async def addresses(self, host: str, port: int, *, plain: bool = False
                        ) -> list[IPAddress]:
        """Resolve ``host`` and return its addresses if the policy accepts every one of
        them (an answer with one refused address is refused whole); ``plain``: for a
        connection without TLS. Connect to what this returns, never to ``host`` again."""
        name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            async with asyncio.timeout(self.resolve_timeout_s):
                answers = await self.resolver(name, port)
            found = list(dict.fromkeys(_address(a) for a in answers))
        except (OSError, UnicodeError, ValueError, TimeoutError):
            found = []
        if not found:
            raise EgressRefused(DNS_ERROR, _NOT_PUBLIC)
        if not all(self.allows(ip) for ip in found):
            raise EgressRefused(ADDRESS_NOT_ALLOWED, _NOT_PUBLIC)
        if plain and self.require_tls and not all(self.allow_listed(ip) for ip in found):
            raise EgressRefused(HTTPS_REQUIRED, "this server sends only over https")
        return found

    async def check_url(self, url: str, *, schemes: Mapping[str, int] = WEB_SCHEMES
                        ) -> Destination:
        """Check a URL a customer gives: its form, its scheme (one of ``schemes``, with
        its default port) and every address its host resolves to now."""
        try:
            parts = urlsplit(url)
            port = parts.port
            host = parts.hostname
        except ValueError:
            raise EgressRefused(INVALID_URL, "not a valid URL") from None
        scheme = parts.scheme.lower()
        if scheme not in schemes or not host or len(url) > 2000:
            names = " or ".join(sorted(schemes))
            raise EgressRefused(INVALID_URL, f"a {names} URL of at most 2000 characters")
        if parts.username is not None or parts.password is not None:
            raise EgressRefused(INVALID_URL, "a URL without a user name or password")
        if any(c.isspace() or c == "\\" for c in url) or not url.isprintable():
            raise EgressRefused(INVALID_URL, "a URL without spaces, backslashes or controls")
        port = port if port is not None else schemes[scheme]
        found = await self.addresses(host, port, plain=scheme in _PLAIN_SCHEMES)
        return Destination(scheme, host, port, tuple(found))

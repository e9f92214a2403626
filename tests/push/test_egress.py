"""The egress policy: which destinations outbound connections made for a customer may
reach, judged by every address the host resolves to (the system resolver, or a stated
answer), and the settings that widen it."""

from __future__ import annotations

import ipaddress

import pytest

from domain.egress import (
    ADDRESS_NOT_ALLOWED,
    DNS_ERROR,
    HTTPS_REQUIRED,
    INVALID_URL,
    EgressPolicy,
    EgressRefused,
    is_public,
    parse_allow,
)
from settings import Settings, SettingsError

STRICT = EgressPolicy()  # production, nothing allow-listed

INTERNAL = [
    "127.0.0.1", "localhost", "[::1]", "0x7f000001", "2130706433", "017700000001",
    "127.1", "0177.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "0", "224.0.0.1", "239.255.255.250", "255.255.255.255",
    "198.18.0.1", "192.0.0.8", "[::]", "[::ffff:127.0.0.1]", "[::ffff:a00:1]",
    "[fe80::1]", "[fd00::1]", "[fec0::1]", "[ff02::1]", "[2002:7f00:1::]",
    "[2002:a9fe:a9fe::]", "[64:ff9b::7f00:1]", "[2001:db8::1]", "[::127.0.0.1]",
]


async def _reason(policy: EgressPolicy, url: str) -> str | None:
    try:
        await policy.check_url(url)
    except EgressRefused as exc:
        return exc.reason
    return None


@pytest.mark.parametrize("host", INTERNAL)
async def test_every_spelling_of_an_internal_address_is_refused(host: str) -> None:
    assert await _reason(STRICT, f"https://{host}:8443/hook") == ADDRESS_NOT_ALLOWED


async def test_public_addresses_pass_and_urls_are_checked() -> None:
    ok = await STRICT.check_url("https://93.184.215.14/hook")
    assert ok.port == 443 and ok.addresses == (ipaddress.ip_address("93.184.215.14"),)
    assert await _reason(STRICT, "https://[2606:4700:4700::1111]:8443/") is None
    assert await _reason(STRICT, "https://[2002:5db8:d70e::]/") is None  # 6to4 of a public
    assert await _reason(STRICT, "http://93.184.215.14/hook") == HTTPS_REQUIRED
    assert await _reason(STRICT, "https://user:pw@93.184.215.14/") == INVALID_URL
    assert await _reason(STRICT, "https://evil.example\\@93.184.215.14/") == INVALID_URL
    assert await _reason(STRICT, "ftp://93.184.215.14/") == INVALID_URL
    assert await _reason(STRICT, "https://93.184.215.14:70000/") == INVALID_URL
    assert await _reason(STRICT, "https://no-such-host.invalid/") == DNS_ERROR


async def test_one_refused_answer_refuses_the_host() -> None:
    async def dns(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.1.2.3"]

    policy = EgressPolicy(resolver=dns)
    assert await _reason(policy, "https://hooks.example/") == ADDRESS_NOT_ALLOWED
    # Also where a transport asks before it connects.
    with pytest.raises(EgressRefused) as refused:
        await policy.addresses("hooks.example", 443)
    assert refused.value.reason == ADDRESS_NOT_ALLOWED
    assert "10.1.2.3" not in refused.value.message  # never says what a name resolves to


async def test_the_operator_allow_list_and_plain_http() -> None:
    on_prem = EgressPolicy.of("127.0.0.0/8, 10.20.0.0/16", production=True)
    assert await _reason(on_prem, "http://127.0.0.1:9000/hook") is None
    assert await _reason(on_prem, "http://0x7f000001:9000/hook") is None
    assert await _reason(on_prem, "https://[::ffff:10.20.3.4]/hook") is None
    assert await _reason(on_prem, "https://10.21.0.1/hook") == ADDRESS_NOT_ALLOWED
    assert await _reason(on_prem, "https://[::1]/hook") == ADDRESS_NOT_ALLOWED
    # Production: http only to the allow-listed ranges; development: anywhere allowed.
    assert await _reason(on_prem, "http://93.184.215.14/hook") == HTTPS_REQUIRED
    dev = EgressPolicy.of(None, production=False)
    assert await _reason(dev, "http://93.184.215.14/hook") is None
    assert await _reason(dev, "http://127.0.0.1/hook") == ADDRESS_NOT_ALLOWED


def test_allow_list_setting_is_parsed_strictly() -> None:
    assert parse_allow(" 127.0.0.0/8,,::1 ") == (ipaddress.ip_network("127.0.0.0/8"),
                                                 ipaddress.ip_network("::1/128"))
    s = Settings.from_env({"KEYLINK_WEBHOOK_ALLOW": "127.0.0.0/8,10.0.0.0/8"})
    assert s.webhook_allow == "127.0.0.0/8,10.0.0.0/8"
    with pytest.raises(SettingsError, match="KEYLINK_WEBHOOK_ALLOW"):
        Settings.from_env({"KEYLINK_WEBHOOK_ALLOW": "127.0.0.0/8,localhost"})
    assert not is_public(ipaddress.ip_address("::ffff:169.254.169.254"))
    assert is_public(ipaddress.ip_address("8.8.8.8"))


async def test_the_worker_and_keylink_dev_hold_the_same_policy() -> None:
    from push.config import PushConfig

    dev = PushConfig.of(Settings(environment="development")).egress
    assert await _reason(dev, "http://127.0.0.1:9000/hook") == ADDRESS_NOT_ALLOWED
    assert await _reason(dev, "http://93.184.215.14/hook") is None
    allowed = PushConfig.of(Settings.from_env({
        "KEYLINK_ENV": "development", "KEYLINK_WEBHOOK_ALLOW": "127.0.0.0/8"})).egress
    assert await _reason(allowed, "http://127.0.0.1:9000/hook") is None
    prod = PushConfig.of(Settings(webhook_allow="10.0.0.0/8")).egress
    assert await _reason(prod, "http://93.184.215.14/hook") == HTTPS_REQUIRED
    assert await _reason(prod, "http://10.1.1.1/hook") is None


def test_every_reason_fits_the_delivery_log() -> None:
    """The delivery log's column takes only short codes (migration 0010's check)."""
    import re

    from domain import egress
    from push.sender import REASONS

    codes = [*REASONS, egress.ADDRESS_NOT_ALLOWED, egress.HTTPS_REQUIRED, egress.DNS_ERROR,
             egress.INVALID_URL, "http_503"]
    assert all(re.fullmatch(r"[a-z0-9_]{1,40}", c) for c in codes)
    assert {egress.ADDRESS_NOT_ALLOWED, egress.HTTPS_REQUIRED, egress.DNS_ERROR,
            egress.INVALID_URL} <= set(REASONS)

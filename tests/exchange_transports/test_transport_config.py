"""The transports' settings: bounds that count, the mill's AS2 identity set whole or not
at all, the station loaded from PEM text or files; and the egress policy judging an
sftp URL as it judges a webhook's."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from domain.egress import (
    ADDRESS_NOT_ALLOWED,
    INVALID_URL,
    SFTP_SCHEMES,
    EgressPolicy,
    EgressRefused,
)
from push.transports.config import TransportConfig
from settings import Settings, SettingsError
from tests.exchange_transports import peers


@pytest.mark.parametrize("env", ["KEYLINK_EXCHANGE_TIMEOUT_S", "KEYLINK_EXCHANGE_MAX_FILE_BYTES",
                                 "KEYLINK_EXCHANGE_MAX_PICKUP_BYTES"])
def test_a_bound_below_one_is_refused_by_its_name(env: str) -> None:
    with pytest.raises(SettingsError, match=f"^{env} must be a positive integer$"):
        Settings.from_env({env: "0"})


def test_a_pick_up_can_take_the_largest_file_allowed() -> None:
    with pytest.raises(SettingsError, match="KEYLINK_EXCHANGE_MAX_PICKUP_BYTES"):
        Settings.from_env({"KEYLINK_EXCHANGE_MAX_FILE_BYTES": "2000",
                           "KEYLINK_EXCHANGE_MAX_PICKUP_BYTES": "1000"})


def test_the_mills_as2_identity_goes_whole_from_text_or_files(tmp_path: Path) -> None:
    station = peers.station("KEYLINK MILL")
    key_file, cert_file = tmp_path / "as2.key", tmp_path / "as2.crt"
    key_file.write_bytes(peers.pem_key(station.private_key))  # type: ignore[arg-type]
    cert_file.write_bytes(peers.pem_cert(station.certificate))
    with pytest.raises(SettingsError, match="go together"):
        Settings.from_env({"KEYLINK_AS2_ID": "KEYLINK MILL", "KEYLINK_AS2_KEY": str(key_file)})
    with pytest.raises(SettingsError, match="KEYLINK_AS2_ID must be"):
        Settings.from_env({"KEYLINK_AS2_ID": 'say "hi"', "KEYLINK_AS2_KEY": str(key_file),
                           "KEYLINK_AS2_CERTIFICATE": str(cert_file)})
    settings = Settings.from_env({
        "KEYLINK_AS2_ID": "KEYLINK MILL", "KEYLINK_AS2_KEY": str(key_file),
        "KEYLINK_AS2_CERTIFICATE": cert_file.read_text(), "KEYLINK_EXCHANGE_TIMEOUT_S": "30",
        "KEYLINK_WEBHOOK_ALLOW": "10.20.0.0/16"})
    config = TransportConfig.of(settings)
    assert config.station is not None and config.station.as2_id == "KEYLINK MILL"
    assert config.station.certificate == station.certificate
    assert config.timeout_s == 30.0
    assert config.egress.allow_listed(ipaddress.ip_address("10.20.1.1"))
    assert TransportConfig.of(Settings()).station is None


async def test_an_sftp_url_is_checked_like_a_webhooks() -> None:
    async def dns(host: str, port: int) -> list[str]:
        return {"sftp.faw-vw.example": ["93.184.215.14"]}.get(host, ["10.0.0.7"])

    policy = EgressPolicy(resolver=dns)
    checked = await policy.check_url("sftp://sftp.faw-vw.example/inbound", schemes=SFTP_SCHEMES)
    assert checked.port == 22 and checked.scheme == "sftp"
    for url, reason in [("sftp://files.internal.example/in", ADDRESS_NOT_ALLOWED),
                        ("https://sftp.faw-vw.example/in", INVALID_URL),
                        ("sftp://user:pw@sftp.faw-vw.example/in", INVALID_URL)]:
        with pytest.raises(EgressRefused) as refused:
            await policy.check_url(url, schemes=SFTP_SCHEMES)
        assert refused.value.reason == reason
    # A webhook's URL is still only http or https.
    with pytest.raises(EgressRefused, match="http or https"):
        await policy.check_url("sftp://sftp.faw-vw.example/inbound")

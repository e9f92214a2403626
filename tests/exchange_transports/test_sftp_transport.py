"""SFTP against a real server (asyncssh's server API over a temporary folder, its own
host key): a document is written under a temporary name and renamed when complete;
users log in with a password or a key; an unknown host key, a wrong password, a server
down each fail as they should; a pick-up takes each file once (oldest first), moves it
to done/ when acknowledged, gives it again when not, and leaves a file over the bound
unread; the egress policy refuses a private address before any connection."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh
import pytest

from domain.egress import EgressPolicy
from push.transports.base import (
    Endpoint,
    EndpointError,
    TransportError,
    acknowledge,
    check_destination,
    pick_up,
    send,
)
from tests.exchange_transports import peers
from tests.exchange_transports.peers import SftpPeer, sftp_peer
from tests.push.test_webhooks_delivery import free_port

DOCUMENT = b"UNA:+.? 'UNB+UNOC:3+MILL+FAWVW+240611:1200+1'\n" * 50


@pytest.fixture
async def peer(tmp_path: Path) -> object:
    root = tmp_path / "server"
    (root / "inbound").mkdir(parents=True)
    (root / "outbound").mkdir()
    async with sftp_peer(root) as started:
        yield started


def _endpoint(peer: SftpPeer, user: str = "erp", folder: str = "/inbound",
              **credentials: str) -> Endpoint:
    return Endpoint("sftp", peer.url(folder), peer.credentials(user, **credentials))


async def _send(endpoint: Endpoint, name: str = "DESADV_1.edi", **config: object) -> object:
    return await send(endpoint, name=name, body=DOCUMENT, content_type="application/EDIFACT",
                      message_id="doc-1", config=peers.config(**config))


async def test_a_document_is_written_whole_then_renamed_by_password_or_key(
    peer: SftpPeer
) -> None:
    receipt = await _send(_endpoint(peer))
    assert receipt.transport == "sftp" and receipt.remote_path == "/inbound/DESADV_1.edi"
    assert (peer.root / "inbound" / "DESADV_1.edi").read_bytes() == DOCUMENT
    # Written under a hidden temporary name, renamed once complete: the partner's poller
    # never meets a half file under the document's name.
    assert peer.log == [("open-w", "/inbound/.DESADV_1.edi.part"),
                        ("rename", "/inbound/.DESADV_1.edi.part -> /inbound/DESADV_1.edi")]
    assert [p.name for p in (peer.root / "inbound").iterdir()] == ["DESADV_1.edi"]

    await _send(_endpoint(peer, "edi"), name="DESADV_2.edi")
    assert (peer.root / "inbound" / "DESADV_2.edi").read_bytes() == DOCUMENT
    # A second try of the same document replaces the file, never leaves two.
    await _send(_endpoint(peer), name="DESADV_1.edi")
    assert sorted(p.name for p in (peer.root / "inbound").iterdir()) == [
        "DESADV_1.edi", "DESADV_2.edi"]


async def test_an_unknown_host_key_or_a_wrong_password_is_final(peer: SftpPeer) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    with pytest.raises(TransportError) as unknown:
        await _send(_endpoint(peer, host_key=other))
    assert unknown.value.reason == "host_key_mismatch" and not unknown.value.retryable
    with pytest.raises(TransportError) as denied:
        await _send(_endpoint(peer, password="guess"))
    assert denied.value.reason == "auth_failed" and not denied.value.retryable
    with pytest.raises(TransportError) as missing:
        await _send(_endpoint(peer, folder="/nowhere"))
    assert missing.value.reason == "no_such_path" and not missing.value.retryable
    assert list((peer.root / "inbound").iterdir()) == []


async def test_a_server_down_or_the_policy_refusing_the_address(peer: SftpPeer) -> None:
    down = Endpoint("sftp", f"sftp://127.0.0.1:{free_port()}/inbound", peer.credentials())
    with pytest.raises(TransportError) as refused:
        await _send(down)
    assert refused.value.reason == "connection_refused" and refused.value.retryable

    # Without the allow-list, loopback is refused as a webhook's would be, before any
    # connection; so is a name that resolves to a private address.
    with pytest.raises(TransportError) as blocked:
        await _send(_endpoint(peer), egress=EgressPolicy())
    assert blocked.value.reason == "address_not_allowed" and not blocked.value.retryable

    async def internal(host: str, port: int) -> list[str]:
        return ["10.20.0.5"]

    named = Endpoint("sftp", f"sftp://sftp.faw-vw.example:{peer.port}/inbound",
                     peer.credentials())
    with pytest.raises(TransportError) as private:
        await _send(named, egress=EgressPolicy(resolver=internal))
    assert private.value.reason == "address_not_allowed"
    assert peer.connections == 0
    with pytest.raises(Exception, match="public addresses"):
        await check_destination(named, peers.config(egress=EgressPolicy(resolver=internal)))
    checked = await check_destination(_endpoint(peer), peers.config())
    assert checked.port == peer.port and checked.scheme == "sftp"


def _drop(folder: Path, name: str, body: bytes, age: int) -> None:
    path = folder / name
    path.write_bytes(body)
    os.utime(path, (1_700_000_000 + age, 1_700_000_000 + age))


async def test_a_pick_up_takes_each_file_once_and_moves_it_to_done(peer: SftpPeer) -> None:
    outbound = peer.root / "outbound"
    _drop(outbound, "ORDERS_3.edi", b"third", 3)
    _drop(outbound, "ORDERS_1.edi", b"first", 1)
    _drop(outbound, "ORDERS_2.edi", b"second", 2)
    _drop(outbound, ".ORDERS_4.edi.part", b"being written", 4)
    _drop(outbound, "ORDERS_5.edi.part", b"being written", 5)
    (outbound / "archive").mkdir()
    endpoint = _endpoint(peer, folder="/outbound")
    config = peers.config()

    first = await pick_up(endpoint, limit=2, config=config)
    assert [(p.name, p.body) for p in first] == [("ORDERS_1.edi", b"first"),
                                                 ("ORDERS_2.edi", b"second")]
    # Not acknowledged (the caller died before storing): given again, not lost.
    again = await pick_up(endpoint, limit=2, config=config)
    assert [p.key for p in again] == [p.key for p in first]

    assert await first[0].ack() is True
    assert await acknowledge(endpoint, [first[1], again[0]], config=config) == [True, False]
    assert sorted(p.name for p in (outbound / "done").iterdir()) == [
        "ORDERS_1.edi", "ORDERS_2.edi"]
    rest = await pick_up(endpoint, limit=10, config=config)
    assert [p.name for p in rest] == ["ORDERS_3.edi"]
    # A file of a name already in done/ keeps the earlier one.
    _drop(outbound, "ORDERS_1.edi", b"first, sent again", 6)
    [_, repeat] = await pick_up(endpoint, limit=10, config=config)
    assert await repeat.ack()
    assert (outbound / "done" / "ORDERS_1.edi").read_bytes() == b"first"
    assert (outbound / "done" / f"ORDERS_1.edi.{repeat.sha256[:16]}").read_bytes() == (
        b"first, sent again")


async def test_files_over_the_bounds_are_left_unread(peer: SftpPeer) -> None:
    outbound = peer.root / "outbound"
    _drop(outbound, "BIG.edi", b"x" * 5000, 1)
    for n in range(3):
        _drop(outbound, f"SMALL_{n}.edi", b"y" * 1000, 2 + n)
    endpoint = _endpoint(peer, folder="/outbound")
    taken = await pick_up(endpoint, limit=10,
                          config=peers.config(max_file_bytes=4000, max_pickup_bytes=2500))
    # The large file is judged by its listed size and never opened; the pick-up stops at
    # its byte budget, leaving the third small file for the next one.
    assert [p.name for p in taken] == ["SMALL_0.edi", "SMALL_1.edi"]
    assert ("open-r", "/outbound/SMALL_0.edi") in peer.log
    assert ("open-r", "/outbound/BIG.edi") not in peer.log
    assert (outbound / "BIG.edi").exists()


async def test_an_endpoint_is_checked_when_it_is_made(peer: SftpPeer) -> None:
    with pytest.raises(EndpointError, match="host_key"):
        Endpoint("sftp", peer.url(), {"username": "erp", "password": "x"})
    with pytest.raises(EndpointError, match="host_key"):
        Endpoint("sftp", peer.url(), {"username": "erp", "password": "x",
                                      "host_key": "not a key"})
    with pytest.raises(EndpointError, match="password"):
        Endpoint("sftp", peer.url(), {"username": "erp", "host_key": peer.pinned})
    with pytest.raises(EndpointError, match="private_key"):
        Endpoint("sftp", peer.url(), {"username": "edi", "host_key": peer.pinned,
                                      "private_key": "-----BEGIN nonsense"})
    with pytest.raises(EndpointError, match="user name"):
        Endpoint("sftp", f"sftp://erp:pw@127.0.0.1:{peer.port}/x", peer.credentials())
    with pytest.raises(EndpointError, match=r"\.\."):
        Endpoint("sftp", peer.url("/inbound/../../etc"), peer.credentials())
    endpoint = _endpoint(peer)
    assert "s3cret" not in repr(endpoint)
    with pytest.raises(TypeError):
        endpoint.credentials["password"] = "changed"  # type: ignore[index]

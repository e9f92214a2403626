"""`keylink dev` end to end: starts everything, serves, stops everything, picks up again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from api.auth import TokenCodec
from api.embedded import wait_gone
from settings import PROJECT_ROOT, Settings

SETTING_VARS = {f.metadata["env"] for f in Settings.__dataclass_fields__.values()}
KEYLINK = Path(sys.executable).parent / "keylink"

pytestmark = pytest.mark.slow


class Dev:
    """One `keylink dev` process with its state in ``state``."""

    def __init__(self, state: Path, run: int, **settings: str) -> None:
        self.state = state
        env = {k: v for k, v in os.environ.items() if k not in SETTING_VARS}
        env["KEYLINK_STATE_DIR"] = str(state)
        env.update(settings)
        self.out = state.parent / f"dev-{run}.out"
        with self.out.open("w") as out:
            self.process = subprocess.Popen(
                [str(KEYLINK), "dev", "--contracts", "20"], env=env, cwd=PROJECT_ROOT,
                stdout=out, stderr=subprocess.STDOUT,
            )

    def endpoints(self, timeout: float = 180) -> dict[str, Any]:
        path = self.state / "endpoints.json"
        deadline = time.monotonic() + timeout
        while not path.exists():
            assert self.process.poll() is None, f"keylink dev exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"no endpoints.json:\n{self.output()}"
            time.sleep(0.2)
        endpoints: dict[str, Any] = json.loads(path.read_text())
        return endpoints

    def processes(self) -> set[int]:
        """Every process this run started: its children and the PostgreSQL server."""
        children = {p.pid for p in psutil.Process(self.process.pid).children(recursive=True)}
        postmaster = self.state / "postgres" / "data" / "postmaster.pid"
        return children | {int(postmaster.read_text().split()[0])}

    def stop(self, sig: signal.Signals) -> int:
        self.process.send_signal(sig)
        return self.process.wait(60)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def output(self) -> str:
        return self.out.read_text()


def graphql(url: str, query: str) -> httpx.Response:
    return httpx.post(url, json={"query": query}, timeout=10)


async def count_contracts(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM contract")
        return count
    finally:
        await conn.close()


async def test_dev_serves_stops_cleanly_and_picks_up_its_state(state_dir: Path) -> None:
    state = state_dir / "state"
    # The API's port is taken by someone else at both runs: the one picked instead at the
    # first run is kept for the second.
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    wanted = str(taken.getsockname()[1])
    first = Dev(state, 1, KEYLINK_PORT=wanted)
    try:
        endpoints = first.endpoints()
        assert f":{wanted}/" not in endpoints["graphql_url"]
        assert f"Port {wanted} is taken: the API is on" in first.output()
        response = graphql(endpoints["graphql_url"], "{ __typename }")
        assert response.status_code == 200
        assert response.json() == {"data": {"__typename": "Query"}}
        started = first.processes()
        assert len(started) >= 3  # PostgreSQL, Redis, the broker
        secret = (state / "jwt-secret").read_text()
        assert (state / "jwt-secret").stat().st_mode & 0o777 == 0o600
        assert await count_contracts(endpoints["database_url"]) == 20

        assert first.stop(signal.SIGINT) == 0
        assert all(wait_gone(pid, 10) for pid in started), first.output()
        assert not (state / "endpoints.json").exists()
    finally:
        first.kill()

    second = Dev(state, 2, KEYLINK_PORT=wanted)
    try:
        again = second.endpoints()
        assert again["graphql_url"] == endpoints["graphql_url"]
        assert (again["mqtt_port"], again["redis_url"]) == (endpoints["mqtt_port"],
                                                            endpoints["redis_url"])
        assert graphql(again["graphql_url"], "{ __typename }").status_code == 200
        assert (state / "jwt-secret").read_text() == secret
        assert again["database_url"] == endpoints["database_url"]
        assert await count_contracts(again["database_url"]) == 20
        assert "already loaded" in second.output()
        codec = TokenCodec.from_settings(Settings(jwt_secret=secret.strip()))
        assert codec.verify(endpoints["tokens"]["FAW-VW"]).org_code == "FAW-VW"
        started = second.processes()

        assert second.stop(signal.SIGTERM) == 0
        assert all(wait_gone(pid, 10) for pid in started), second.output()
    finally:
        second.kill()
        taken.close()


def test_a_second_dev_on_the_same_state_is_refused(state_dir: Path) -> None:
    state = state_dir / "state"
    first = Dev(state, 1)
    try:
        first.endpoints()
        second = Dev(state, 2)
        assert second.process.wait(60) == 1
        assert "another `keylink dev`" in second.output()
        assert first.process.poll() is None
    finally:
        first.kill()

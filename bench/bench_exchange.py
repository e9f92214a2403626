"""Dispatch advice to a partner's system: documents per second and departure-to-partner
latency, over HTTPS and over SFTP, against the bare transport sending the same bytes.

    python -m bench.bench_exchange [--departures 200] [--latency 40] [--rate 4] [--quick]

Runs against an embedded PostgreSQL unless DATABASE_URL is set (a scratch database: it
adds organizations, coils, shipments and an address). The partner's systems are real
servers on loopback in a process of their own: an HTTPS receiver (uvicorn, a generated
self-signed certificate) and an SFTP server (asyncssh, a generated host key). The
exchange runs in a worker process of its own, as `keylink push` runs it: each pass makes
the documents the outbox's events call for (`outbound.generate`) and sends those due
(`push.exchange.send_due`), under the periodic job's lock (`push.worker.run_periodic`).

The world comes in through the feeds (`run_batch`, records like docs/examples/
plant.ndjson): the mill, a customer, a carrier, two sites, a spec, a truck, a contract,
and for each departure a heat, 60 coils of the customer and a shipment whose one leg
carries them. The customer's dispatch-advice address is EDIFACT, first over HTTPS, then
over SFTP. A departure is what detection writes when the truck leaves: the leg advanced
to `departed` and `shipment.departed` recorded, in one transaction. For each transport:

1. Backlog: `--departures` departures committed at once; the worker, passes back to
   back, from the commit to the last document at the partner.
2. Bare transport (the baseline): the same documents' bytes, under the same names, sent
   one after the other by `push.transports.base.send` with the same endpoint and config,
   no database; documents per second, and each one's latency from the call to the
   partner.
3. Latency: `--latency` departures, one a transaction at `--rate` a second; p50/p99
   from the departure's commit to the document at the partner (the HTTPS receiver has
   read the body; the SFTP file is renamed into place), with the worker's passes back to
   back, then as `keylink push` schedules them (every 2 s, looked at every tick).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import posixpath
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncssh
import orjson

from domain.actor import Actor
from domain.db import Database
from domain.egress import EgressPolicy
from domain.exchange import outbound
from domain.exchange.addresses import AddressInput, put_address, resolve_code
from domain.feeds.batch import ndjson_lines, run_batch
from domain.migrate import migrate
from domain.shipments.detected import record_shipment_event
from domain.shipments.legs import advance_leg
from push.config import PushConfig
from push.exchange import endpoint, send_due
from push.transports.base import send
from push.transports.config import TransportConfig
from push.worker import PERIODIC_JOBS, run_periodic
from settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "bench" / "results"
COILS = 60
BENCH = Actor.system("keylink:bench")
CUSTOMER = "BENCH-AUTO"
ADDRESS = "BENCH-AUTO.DESADV"
SECRET = "whsec_YmVuY2gtc2VjcmV0LW9mLXRoaXJ0eS10d28tYnl0ZXM="
SFTP_USER, SFTP_PASSWORD, SFTP_FOLDER = "edi", "bench-edi-password", "/desadv"
# The partner's systems listen on loopback, which the transports reach only when it is
# allow-listed (KEYLINK_WEBHOOK_ALLOW=127.0.0.0/8); production rules otherwise.
LOCAL = EgressPolicy.of("127.0.0.0/8", production=True)
EXCHANGE_EVERY = next(every for name, every, _ in PERIODIC_JOBS if name == "exchange")
TICK_S = PushConfig().tick_s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _transport_config(cafile: Path) -> TransportConfig:
    """The worker's transport config, trusting the partner's self-signed certificate."""
    return TransportConfig(egress=LOCAL, timeout_s=30.0,
                           verify=ssl.create_default_context(cafile=str(cafile)))


# The partner's systems, in a process of their own: `python -m bench.bench_exchange peer`.


def _tls_identity(folder: Path) -> tuple[Path, Path]:
    """A key and a self-signed certificate for 127.0.0.1, as files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "partner.example")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("partner.example"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "partner.crt", folder / "partner.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return cert_file, key_file


class _SshServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == SFTP_USER and password == SFTP_PASSWORD


def _peer(root: Path, https_port: int, sftp_port: int, cert: Path, key: Path,
          host_key: Path, arrivals: Path) -> None:
    """The HTTPS receiver and the SFTP server; each document complete at the partner is
    written to ``arrivals`` as `transport name unix-time bytes`."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    sink = arrivals.open("a", buffering=1)

    async def hook(request: Request) -> Response:
        body = await request.body()
        name = request.headers.get("keylink-document-name", "-")
        sink.write(f"https {name} {time.time():.6f} {len(body)}\n")
        return Response(b'{"taken": true}', media_type="application/json")

    class Sftp(asyncssh.SFTPServer):
        def __init__(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
            super().__init__(chan, chroot=str(root).encode())

        def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
            super().posix_rename(oldpath, newpath)
            size = os.stat(self.map_path(newpath)).st_size
            sink.write(f"sftp {posixpath.basename(newpath.decode())} {time.time():.6f}"
                       f" {size}\n")

    async def serve() -> None:
        ssh = await asyncssh.listen(
            "127.0.0.1", sftp_port, server_host_keys=[str(host_key)],
            server_factory=_SshServer, sftp_factory=Sftp, allow_scp=False)
        server = uvicorn.Server(uvicorn.Config(
            Starlette(routes=[Route("/desadv", hook, methods=["POST"])]), host="127.0.0.1",
            port=https_port, log_level="warning", access_log=False, lifespan="off",
            ssl_certfile=str(cert), ssl_keyfile=str(key)))
        try:
            await server.serve()  # until SIGINT or SIGTERM
        finally:
            ssh.close()
            await ssh.wait_closed()

    # uvicorn hands the signal that stopped it on, once it has stopped.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


class Peers:
    """The partner's systems in their own process, and what arrived there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.root = folder / "sftp"
        (self.root / SFTP_FOLDER.strip("/")).mkdir(parents=True)
        self.cert, self.key = _tls_identity(folder)
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_key_file = folder / "ssh_host_key"
        host_key.write_private_key(str(self.host_key_file))
        self.host_key = host_key.export_public_key("openssh").decode()
        self.arrivals_file = folder / "arrivals.txt"
        self.arrivals_file.touch()
        self.https_port, self.sftp_port = _free_port(), _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_exchange", "peer", str(self.root),
             str(self.https_port), str(self.sftp_port), str(self.cert), str(self.key),
             str(self.host_key_file), str(self.arrivals_file)], cwd=PROJECT_ROOT)
        for port in (self.https_port, self.sftp_port):
            for _ in range(400):
                with socket.socket() as s, contextlib.suppress(OSError):
                    s.connect(("127.0.0.1", port))
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("the partner's servers did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(10)

    def address(self, transport: str, org_id: int) -> AddressInput:
        """The customer's dispatch-advice address with this partner, by ``transport``."""
        options = {"sender": "BENCHMILL", "recipient": "BENCHAUTO"}
        if transport == "https":
            return AddressInput(org_id, "dispatch_advice", ADDRESS, "https", "edifact",
                                f"https://127.0.0.1:{self.https_port}/desadv",
                                {"secret": SECRET}, options)
        return AddressInput(org_id, "dispatch_advice", ADDRESS, "sftp", "edifact",
                            f"sftp://127.0.0.1:{self.sftp_port}{SFTP_FOLDER}",
                            {"username": SFTP_USER, "password": SFTP_PASSWORD,
                             "host_key": self.host_key}, options)

    def mark(self) -> int:
        return self.arrivals_file.stat().st_size

    def arrivals(self, since: int) -> dict[str, tuple[float, int]]:
        """Documents that arrived since ``mark()``: name -> (unix time, bytes), first
        arrival of each name."""
        with self.arrivals_file.open("rb") as f:
            f.seek(since)
            text = f.read().decode()
        out: dict[str, tuple[float, int]] = {}
        for line in text.splitlines():
            _, name, at, size = line.split(" ")
            out.setdefault(name, (float(at), int(size)))
        return out


# The worker, in a process of its own: `python -m bench.bench_exchange worker`.


async def exchange_pass(db: Database, now: datetime, config: TransportConfig) -> int:
    """`push.exchange.exchange`, the worker's periodic job, with the benchmark's transport
    config (the job itself takes the environment's, which cannot trust the partner's
    self-signed certificate)."""
    made = await outbound.generate(db, now)
    return made + await send_due(db, max(now, datetime.now(UTC)), config=config)


async def _work(url: str, mode: str, cafile: Path, ready: Path) -> None:
    """Passes back to back (``continuous``), or as `keylink push` schedules the job
    (``scheduled``: run when its period has passed, looked at every tick)."""
    config = _transport_config(cafile)
    db = await Database.connect(url, min_size=1, max_size=4)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def job(db: Database, now: datetime) -> int:
        return await exchange_pass(db, now, config)

    await asyncio.to_thread(ready.touch)
    try:
        while not stop.is_set():
            if mode == "continuous":
                if not await run_periodic(db, "exchange", 0.0, job):
                    await asyncio.sleep(0.02)
            else:
                await run_periodic(db, "exchange", EXCHANGE_EVERY, job)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), TICK_S)
    finally:
        await db.close()


@contextlib.contextmanager
def _worker(url: str, mode: str, cafile: Path, folder: Path) -> Any:
    ready = folder / f"worker-{mode}.ready"
    ready.unlink(missing_ok=True)
    env = {**os.environ, "KEYLINK_LOG_LEVEL": "ERROR"}
    proc = subprocess.Popen([sys.executable, "-m", "bench.bench_exchange", "worker", url, mode,
                             str(cafile), str(ready)], cwd=PROJECT_ROOT, env=env)
    try:
        for _ in range(600):
            if ready.exists():
                break
            if proc.poll() is not None:
                raise RuntimeError("the worker exited")
            time.sleep(0.05)
        else:
            raise RuntimeError("the worker did not start")
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


# The world and its departures.


def _record(kind: str, key: str, data: dict[str, Any]) -> bytes:
    return orjson.dumps({"kind": kind, "key": key, "version": 1, "data": data}) + b"\n"


def _world_records(run: str, shipments: list[str]) -> list[bytes]:
    """The plant's records: the parties, the places, the truck, the contract, and per
    shipment a heat and 60 coils of the customer's on the shipment's one leg (``run``
    keeps a run's heats and coils apart from an earlier one's in a reused database)."""
    t = datetime.now(UTC).replace(microsecond=0)
    day = t.date()
    out = [
        _record("organization", "BENCH-MILL", {"name": "Bench steelworks", "kind": "mill"}),
        _record("organization", CUSTOMER, {"name": "Bench Auto", "kind": "customer"}),
        _record("organization", "BENCH-ROAD", {"name": "Bench Road", "kind": "carrier"}),
        _record("site", "BENCH-PLANT", {"name": "Bench works", "kind": "plant",
                                        "organization": "BENCH-MILL", "latitude": 31.9386,
                                        "longitude": 118.7553, "geofenceRadiusM": 1500}),
        _record("site", "BENCH-AUTO-WH", {"name": "Bench Auto press shop",
                                          "kind": "customer_warehouse",
                                          "organization": CUSTOMER, "latitude": 31.3526,
                                          "longitude": 118.4332, "geofenceRadiusM": 500}),
        _record("spec", "DC04-0.8x1250", {"grade": "DC04", "standard": "EN 10130",
                                          "product": "cold_rolled", "thicknessMm": "0.800",
                                          "widthMm": "1250.0"}),
        _record("vehicle", "BENCH-TRK-1", {"kind": "truck", "name": "Truck A-B1234",
                                           "plate": "A-B1234", "carrier": "BENCH-ROAD"}),
        _record("contract", "BENCH-2026-0001", {
            "customer": CUSTOMER, "currency": "CNY", "signedOn": str(day - timedelta(days=30)),
            "lines": [{"lineNo": 1, "spec": "DC04-0.8x1250",
                       "quantityT": f"{len(shipments) * COILS * 13}.000",
                       "unitPrice": "5120.00", "deliveryFrom": str(day),
                       "deliveryTo": str(day + timedelta(days=60)),
                       "deliverySite": "BENCH-AUTO-WH", "transportMode": "road",
                       "transitDays": 2}]}),
    ]
    for n, number in enumerate(shipments):
        heat = f"BH{run}-{n:05d}"
        out.append(_record("heat", heat, {
            "grade": "DC04", "site": "BENCH-PLANT", "weightT": "251.400",
            "tappedAt": (t - timedelta(days=10)).isoformat()}))
        coils = [f"BC{run}-{n:05d}{k:02d}" for k in range(COILS)]
        out.extend(_record("coil", coil, {
            "kind": "cold_rolled", "heat": heat, "spec": "DC04-0.8x1250",
            "contract": "BENCH-2026-0001", "lineNo": 1, "thicknessMm": "0.800",
            "widthMm": "1250.0", "weightKg": f"{11800 + 7 * k}.5", "qualityStatus": "released",
            "producedAt": (t - timedelta(days=3)).isoformat()}) for k, coil in enumerate(coils))
        out.append(_record("shipment", number, {"carrier": "BENCH-ROAD", "legs": [{
            "mode": "road", "vehicle": "BENCH-TRK-1", "origin": "BENCH-PLANT",
            "destination": "BENCH-AUTO-WH", "plannedDeparture": t.isoformat(),
            "plannedArrival": (t + timedelta(hours=5)).isoformat(), "coils": coils}]}))
    return out


async def _build(db: Database, run: str, shipments: list[str]) -> float:
    """The world through the feeds, in one batch; returns the seconds it took."""
    records = _world_records(run, shipments)

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(records), 500):
            yield b"".join(records[i:i + 500])

    started = time.perf_counter()
    result = await run_batch(db, BENCH, ndjson_lines(chunks()))
    if result.rejected:
        raise RuntimeError(f"the plant's records were refused: {result.rejections[:3]}")
    return time.perf_counter() - started


@dataclass(frozen=True)
class Leg:
    id: int
    shipment_id: int
    vehicle_id: int
    origin_site_id: int
    number: str

    @property
    def document(self) -> str:
        """The name its dispatch advice travels under."""
        return f"DESADV-{self.number}-1.edi"


async def _legs(db: Database, numbers: list[str]) -> list[Leg]:
    rows = await db.fetch(
        "SELECT l.id, l.shipment_id, l.vehicle_id, l.origin_site_id, s.number"
        " FROM shipment_leg l JOIN shipment s ON s.id = l.shipment_id"
        " WHERE s.number = ANY($1::text[]) ORDER BY s.number", numbers)
    return [Leg(**dict(r)) for r in rows]


async def _depart(db: Database, legs: list[Leg]) -> float:
    """The legs leave, as detection records it, in one transaction; returns when it
    committed (unix time)."""
    async with db.transaction() as tx:
        for leg in legs:
            at = datetime.now(UTC)
            await advance_leg(tx, leg.id, "departed", at=at)
            await record_shipment_event(tx, leg.shipment_id, leg.id, leg.vehicle_id,
                                        "departed", at, {"site_id": leg.origin_site_id,
                                                         "source": "gps"},
                                        f"departed:{leg.id}")
    return time.time()


async def _arrived(db: Database, peers: Peers, since: int, names: list[str],
                   seconds: float) -> dict[str, tuple[float, int]]:
    """Waits until every document named is at the partner; fails at once on a document
    that failed."""
    deadline = time.monotonic() + seconds
    while True:
        got = peers.arrivals(since)
        if all(n in got for n in names):
            return got
        bad = await db.fetchrow("SELECT name, status, last_error FROM exchange_document"
                                " WHERE status IN ('failed', 'dead')"
                                " AND name = ANY($1::text[]) LIMIT 1", names)
        if bad is not None:
            raise RuntimeError(f"{bad['name']} {bad['status']}: {bad['last_error']}")
        if time.monotonic() > deadline:
            missing = [n for n in names if n not in got]
            raise RuntimeError(f"{len(missing)} of {len(names)} documents did not arrive")
        await asyncio.sleep(0.02)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * p))]


# The phases.


async def _backlog(db: Database, peers: Peers, url: str, legs: list[Leg], warmup: Leg
                   ) -> dict[str, Any]:
    with _worker(url, "continuous", peers.cert, peers.folder):
        since = peers.mark()
        await _depart(db, [warmup])  # the worker's first connection, untimed
        await _arrived(db, peers, since, [warmup.document], 60)
        since = peers.mark()
        committed = await _depart(db, legs)
        got = await _arrived(db, peers, since, [leg.document for leg in legs],
                             60 + 2 * len(legs))
    sizes = {r["name"]: r["size"] for r in await db.fetch(
        "SELECT name, octet_length(body) AS size FROM exchange_document"
        " WHERE name = ANY($1::text[])", [leg.document for leg in legs])}
    assert all(got[name][1] == size for name, size in sizes.items()), "bytes lost"
    last = max(got[leg.document][0] for leg in legs)
    return {"documents": len(legs), "seconds": last - committed,
            "per_s": len(legs) / (last - committed)}


async def _bare(db: Database, peers: Peers, config: TransportConfig, legs: list[Leg]
                ) -> dict[str, Any]:
    """The same bytes under the same names, by the transport alone."""
    to = await resolve_code(db, ADDRESS)
    assert to is not None
    target = endpoint(to)
    rows = await db.fetch(
        "SELECT name, content_type, body FROM exchange_document WHERE name = ANY($1::text[])"
        " AND address_id = $2 ORDER BY id", [leg.document for leg in legs], to.address.id)
    assert len(rows) == len(legs)
    await send(target, name="WARMUP.edi", body=bytes(rows[0]["body"]),
               content_type=rows[0]["content_type"], message_id="bench-warmup", config=config)
    since = peers.mark()
    calls: dict[str, float] = {}
    first = time.time()
    for n, row in enumerate(rows):
        calls[row["name"]] = time.time()
        await send(target, name=row["name"], body=bytes(row["body"]),
                   content_type=row["content_type"], message_id=f"bench-bare-{n}",
                   config=config)
    got = await _arrived(db, peers, since, list(calls), 60)
    latencies = [got[name][0] - at for name, at in calls.items()]
    sizes = {len(bytes(r["body"])) for r in rows}
    assert all(got[r["name"]][1] == len(bytes(r["body"])) for r in rows)
    last = max(got[name][0] for name in calls)
    return {"documents": len(rows), "seconds": last - first,
            "per_s": len(rows) / (last - first), "p50_ms": _pct(latencies, 0.5),
            "p99_ms": _pct(latencies, 0.99), "bytes": max(sizes)}


async def _latency(db: Database, peers: Peers, url: str, mode: str, legs: list[Leg],
                   warmup: Leg, rate: float) -> dict[str, Any]:
    with _worker(url, mode, peers.cert, peers.folder):
        since = peers.mark()
        await _depart(db, [warmup])
        await _arrived(db, peers, since, [warmup.document], 60)
        since = peers.mark()
        committed: dict[str, float] = {}
        start = time.monotonic()
        for n, leg in enumerate(legs):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            committed[leg.document] = await _depart(db, [leg])
        behind = time.monotonic() - start - (len(legs) - 1) / rate
        got = await _arrived(db, peers, since, list(committed), 60 + 2 * len(legs))
    made = {r["name"]: r["made"] for r in await db.fetch(
        "SELECT name, extract(epoch FROM created_at)::float8 AS made FROM exchange_document"
        " WHERE name = ANY($1::text[])", list(committed))}
    latencies = [got[name][0] - at for name, at in committed.items()]
    to_made = [made[name] - at for name, at in committed.items()]
    to_peer = [got[name][0] - made[name] for name in committed]
    return {"documents": len(legs), "rate": rate, "producer_behind_s": behind,
            "p50_ms": _pct(latencies, 0.5), "p99_ms": _pct(latencies, 0.99),
            "max_ms": 1000 * max(latencies),
            "made_p50_ms": _pct(to_made, 0.5), "made_p99_ms": _pct(to_made, 0.99),
            "sent_p50_ms": _pct(to_peer, 0.5), "sent_p99_ms": _pct(to_peer, 0.99)}


async def _check_documents(db: Database, legs: list[Leg], status: str) -> None:
    """Every departure made one document, in the state its transport's receipt gives,
    carrying every coil of the leg as a package."""
    rows = await db.fetch("SELECT name, status, body FROM exchange_document"
                          " WHERE name = ANY($1::text[])", [leg.document for leg in legs])
    assert len(rows) == len(legs), (len(rows), len(legs))
    assert {r["status"] for r in rows} == {status}, {r["status"] for r in rows}
    body = bytes(rows[0]["body"]).decode("latin-1")
    assert body.count("GIN+BJ+") == COILS, body.count("GIN+BJ+")


async def _transport(db: Database, peers: Peers, url: str, transport: str,
                     legs: list[Leg], args: argparse.Namespace) -> dict[str, Any]:
    org = await db.fetchval("SELECT id FROM organization WHERE code = $1", CUSTOMER)
    await put_address(db, BENCH, peers.address(transport, org), policy=LOCAL)
    n, m = args.departures, args.latency
    backlog, steady, scheduled = legs[1:1 + n], legs[2 + n:2 + n + m], legs[3 + n + m:]
    out: dict[str, Any] = {"backlog": await _backlog(db, peers, url, backlog, legs[0])}
    out["bare"] = await _bare(db, peers, _transport_config(peers.cert), backlog)
    out["continuous"] = await _latency(db, peers, url, "continuous", steady, legs[1 + n],
                                       args.rate)
    out["scheduled"] = await _latency(db, peers, url, "scheduled", scheduled,
                                      legs[2 + n + m], args.rate)
    await _check_documents(db, legs, "acknowledged" if transport == "https" else "sent")
    return out


def _database(tmp: Path) -> tuple[str, Any]:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    from api.embedded import Postgres

    pg = Postgres(tmp / "pg")
    pg.start()
    return pg.url, pg


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    per_transport = args.departures + 2 * args.latency + 3
    with tempfile.TemporaryDirectory(prefix="keylink-bench-exchange-") as tmp:
        folder = Path(tmp)
        url, pg = _database(folder)
        peers = Peers(folder)
        try:
            await migrate(url, PROJECT_ROOT / "domain" / "migrations")
            db = await Database.connect(url, min_size=1, max_size=4)
            peers.start()
            try:
                run = datetime.now(UTC).strftime("%y%m%d%H%M%S")
                numbers = {t: [f"BS{run}-{t[0].upper()}{i:05d}" for i in range(per_transport)]
                           for t in ("https", "sftp")}
                seconds = await _build(db, run, numbers["https"] + numbers["sftp"])
                out: dict[str, Any] = {"coils": COILS, "feed_s": seconds}
                for transport in ("https", "sftp"):
                    legs = await _legs(db, numbers[transport])
                    out[transport] = await _transport(db, peers, url, transport, legs, args)
            finally:
                peers.stop()
                await db.close()
            return out
        finally:
            if pg is not None:
                pg.stop()


def _report(f: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\nDESADV (EDIFACT) of {COILS} coils, {f['https']['bare']['bytes']:,} bytes;"
          f" {args.departures} departures committed at once, then {args.latency} at"
          f" {args.rate:g}/s (the world fed in {f['feed_s']:.1f} s)")
    for transport in ("https", "sftp"):
        t = f[transport]
        b, q, c, s = t["bare"], t["backlog"], t["continuous"], t["scheduled"]
        print(f"\n{transport.upper():6} {'':42} {'docs/s':>7} {'p50 ms':>8} {'p99 ms':>8}")
        print(f"  {'bare transport, same bytes (baseline)':48} {b['per_s']:7.1f}"
              f" {b['p50_ms']:8.0f} {b['p99_ms']:8.0f}")
        print(f"  {'exchange, backlog: departure to partner':48} {q['per_s']:7.1f}")
        print(f"  {'exchange, steady: worker passes back to back':48} {'':7}"
              f" {c['p50_ms']:8.0f} {c['p99_ms']:8.0f}")
        print(f"  {f'exchange, steady: job every {EXCHANGE_EVERY:g} s (keylink push)':48}"
              f" {'':7} {s['p50_ms']:8.0f} {s['p99_ms']:8.0f}")
        print(f"  ratio exchange/bare: docs/s {q['per_s'] / b['per_s']:.2f};"
              f" latency p50 x{c['p50_ms'] / b['p50_ms']:.1f} back to back,"
              f" x{s['p50_ms'] / b['p50_ms']:.0f} scheduled")
        print(f"  back to back: commit to document made p50 {c['made_p50_ms']:.0f} ms"
              f" (p99 {c['made_p99_ms']:.0f}), made to partner p50 {c['sent_p50_ms']:.0f} ms"
              f" (p99 {c['sent_p99_ms']:.0f}); producer behind by"
              f" {c['producer_behind_s']:.2f} s")


def main() -> None:
    if sys.argv[1:2] == ["peer"]:
        root, https_port, sftp_port, cert, key, host_key, arrivals = sys.argv[2:9]
        _peer(Path(root), int(https_port), int(sftp_port), Path(cert), Path(key),
              Path(host_key), Path(arrivals))
        return
    if sys.argv[1:2] == ["worker"]:
        url, mode, cafile, ready = sys.argv[2:6]
        asyncio.run(_work(url, mode, Path(cafile), Path(ready)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--departures", type=int, default=200,
                        help="departures committed at once, per transport")
    parser.add_argument("--latency", type=int, default=40,
                        help="departures at a steady rate, per transport and schedule")
    parser.add_argument("--rate", type=float, default=4.0, help="steady departures a second")
    parser.add_argument("--quick", action="store_true",
                        help="a short run: 20 departures at once, 10 at the steady rate")
    args = parser.parse_args()
    if args.quick:
        args.departures, args.latency = 20, 10
    if not (1 <= args.departures <= 5000 and 2 <= args.latency <= 1000
            and 0 < args.rate <= 100):
        parser.error("--departures is 1 to 5000, --latency 2 to 1000, --rate up to 100")
    figures = asyncio.run(_run(args))
    _report(figures, args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "exchange.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""Plant feed import: records applied per second against COPY of the same rows.

    python -m bench.bench_import [--coils 200000] [--small 50000] [--trickle-seconds 10]
    python -m bench.bench_import --quick        # a smoke test: a few thousand coils

Starts an embedded PostgreSQL (or uses DATABASE_URL as a server on which it creates and
drops databases of its own; it never writes the database that URL names) and generates
an initial load as an NDJSON file: the mill and a customer with its contracts, then the
heats, their slabs (ten a heat), a hot-rolled coil rolled from each slab and two
cold-rolled coils slit from each hot-rolled one, every coil with its genealogy; and a
certificate for each cold-rolled coil when `domain/feeds/kinds.py` has a `certificate`
kind. Then, in the same run:

- import: a child process (``bench/importer.py``) streams the file through
  ``domain.feeds.batch.run_batch(..., ndjson_lines(...))`` in one all-or-nothing batch
  into a fresh database (or runs ``keylink import FILE`` when that command exists), and
  reports the time from the first line read to the batch's result and its peak RSS
  (VmHWM). It does so for two sizes (``--small`` and ``--coils`` coils): the peak does
  not grow with the file.
- baseline: the rows the import wrote to the kinds' tables (heats, slabs, coils,
  genealogy, certificates) read back, the tables truncated, and the same rows
  written again with binary ``COPY``, indexes, checks and foreign keys in place, in one
  transaction. The import writes more than this (each record's version in
  ``feed_record``, one or two events per record in the outbox), checks every record,
  and resolves every key: the baseline is a ceiling, not a peer. The database is then
  vacuumed, analysed and checkpointed, as after any initial load.
- trickle: records arriving one at a time at 100 a second (a coil's quality status
  changing), each applied in a batch of its own, all in the benchmark's process. For
  each, from calling ``run_batch`` with a one-record stream: when it returned (the
  change committed); when ``domain.material.coils_by_numbers`` (the read behind the
  API's ``coil(coilNumber:)``) shows the change; and, for every tenth record, when the
  GraphQL API answers ``coil(coilNumber:) { qualityStatus }`` with it (the Starlette
  app called through ASGI in this process, as mill staff). Not every record through
  GraphQL: a request costs the API about 5 ms of CPU, and a hundred a second in the
  same process would measure the reads rather than the feed.

Prints records per second beside the COPY rate and their ratio (aims: 20,000 records/s
and a quarter of the COPY rate), both peaks, and the trickle's p50/p99 (aim: p99 under
200 ms). Results go to bench/results/import.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from api.app import create_app
from api.auth import TokenCodec
from api.context import Services
from api.embedded import Postgres
from api.embedded.postgres import with_database
from bench.importer import ACTOR, rss_kb
from domain.db import Database
from domain.feeds.batch import ndjson_lines, run_batch
from domain.feeds.fields import Field
from domain.feeds.kinds import KINDS
from domain.material import coils_by_numbers
from domain.migrate import migrate
from domain.tenancy import Scope
from settings import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "bench" / "results"
MILL, CUSTOMER, PLANT, SPEC = "BENCH-MILL", "BENCH-CUST", "BENCH-PLANT", "DC04-0.8x1250"
CONTRACTS = 20
SLABS_PER_HEAT = 10
_START = datetime(2026, 11, 1, tzinfo=UTC)
_VERSION = 1_764_547_200_000_000
# The tables the baseline copies, parents first.
_TABLES = ("heat", "slab", "coil", "genealogy_edge")


# -- the file ------------------------------------------------------------------------
class Plant:
    """The records of an initial load of ``coils`` coils, generated as they are
    written, never held whole."""

    def __init__(self, coils: int, *, certificates: bool) -> None:
        self.hot = (coils + 2) // 3
        self.cold = coils - self.hot
        self.slabs = self.hot
        self.heats = (self.slabs + SLABS_PER_HEAT - 1) // SLABS_PER_HEAT
        self.certificates = self.cold if certificates else 0

    @property
    def coils(self) -> int:
        return self.hot + self.cold

    @property
    def records(self) -> int:
        return len(self.head()) + self.heats + self.slabs + self.coils + self.certificates

    def head(self) -> list[dict[str, Any]]:
        contracts = [_record("contract", f"BENCH-K{n:03d}", {
            "customer": CUSTOMER, "signedOn": "2026-10-01",
            "lines": [{"lineNo": 1, "spec": SPEC, "quantityT": "5000.000",
                       "unitPrice": "5120.00", "deliveryFrom": "2026-12-01",
                       "deliveryTo": "2027-03-31", "transportMode": "road"}]})
            for n in range(CONTRACTS)]
        return [
            _record("organization", MILL, {"name": "Bench mill", "kind": "mill"}),
            _record("organization", CUSTOMER, {"name": "Bench customer", "kind": "customer"}),
            _record("site", PLANT, {"name": "Bench works", "kind": "plant",
                                    "organization": MILL, "latitude": 31.94,
                                    "longitude": 118.76, "geofenceRadiusM": 1500}),
            _record("spec", SPEC, {"grade": "DC04", "standard": "EN 10130",
                                   "product": "cold_rolled", "thicknessMm": "0.800",
                                   "widthMm": "1250.0"}),
            *contracts,
        ]

    def lines(self) -> Iterator[bytes]:
        for record in self.head():
            yield orjson.dumps(record)
        for n in range(self.heats):
            yield orjson.dumps(_record("heat", heat_no(n), {
                "grade": "DC04", "site": PLANT, "tappedAt": _at(n * 40),
                "weightT": "251.400", "chemistry": {"C": "0.0030", "Mn": "0.18",
                                                    "P": "0.012", "S": "0.008"}}))
        for n in range(self.slabs):
            yield orjson.dumps(_record("slab", slab_no(n), {
                "heat": heat_no(n // SLABS_PER_HEAT), "weightKg": _kg(_slab_kg(n)),
                "thicknessMm": "230.0", "widthMm": "1300.0", "lengthMm": "10200.0",
                "castAt": _at(n * 4 + 60)}))
        for n in range(self.hot):
            yield orjson.dumps(_record("coil", hot_no(n), self.hot_data(n)))
        for n in range(self.cold):
            yield orjson.dumps(_record("coil", cold_no(n), self.cold_data(n)))
        if self.certificates:
            template = certificate_template()
            for n in range(self.certificates):
                yield orjson.dumps(_record("certificate", f"Q{cold_no(n)}",
                                           certificate_data(template, n)))

    def hot_data(self, n: int) -> dict[str, Any]:
        kg = _slab_kg(n) - 100
        return {"kind": "hot_rolled", "heat": heat_no(n // SLABS_PER_HEAT),
                "slab": slab_no(n), "thicknessMm": "3.000", "widthMm": "1280.0",
                "weightKg": _kg(kg), "qualityStatus": "released",
                "producedAt": _at(n * 4 + 600),
                "parents": [{"slab": slab_no(n), "operation": "roll",
                             "inputWeightKg": _kg(_slab_kg(n)), "outputWeightKg": _kg(kg),
                             "occurredAt": _at(n * 4 + 600)}]}

    def cold_data(self, n: int, status: str | None = None) -> dict[str, Any]:
        parent = n // 2
        share = (_slab_kg(parent) - 100) / 2
        kg = share - 50
        return {"kind": "cold_rolled", "heat": heat_no(parent // SLABS_PER_HEAT),
                "spec": SPEC, "contract": f"BENCH-K{n % CONTRACTS:03d}", "lineNo": 1,
                "thicknessMm": "0.800", "widthMm": "1250.0", "weightKg": _kg(kg),
                "qualityStatus": status or ("pending" if n % 4 == 3 else "released"),
                "producedAt": _at(parent * 4 + 6000 + n % 2),
                "parents": [{"coil": hot_no(parent), "operation": "slit",
                             "inputWeightKg": _kg(share), "outputWeightKg": _kg(kg),
                             "occurredAt": _at(parent * 4 + 6000 + n % 2)}]}

    def write(self, path: Path) -> None:
        with path.open("wb") as out:
            for line in self.lines():
                out.write(line)
                out.write(b"\n")


def heat_no(n: int) -> str:
    return f"BH{n:07d}"


def slab_no(n: int) -> str:
    return f"BS{n:07d}"


def hot_no(n: int) -> str:
    return f"BHR{n:07d}"


def cold_no(n: int) -> str:
    return f"BCR{n // 2:07d}{'AB'[n % 2]}"


def _record(kind: str, key: str, data: dict[str, Any], version: int = _VERSION,
            ) -> dict[str, Any]:
    return {"kind": kind, "key": key, "version": version, "data": data}


def _slab_kg(n: int) -> int:
    return 24_000 + (n % 40) * 20


def _kg(kg: float) -> str:
    return f"{kg:.1f}"


def _at(minutes: int) -> str:
    return (_START + timedelta(minutes=minutes)).isoformat()


# -- certificates, when the kind exists ----------------------------------------------
def certificate_template() -> dict[str, Any]:
    """A certificate's data: the example's in docs/examples/plant.ndjson when it has
    one, otherwise built from the kind's declared fields."""
    example = PROJECT_ROOT / "docs" / "examples" / "plant.ndjson"
    for line in example.read_bytes().splitlines():
        doc = orjson.loads(line) if line.strip() else {}
        if doc.get("kind") == "certificate" and isinstance(doc.get("data"), dict):
            return dict(doc["data"])
    kind = KINDS["certificate"]
    return {f.name: _value(f, n) for n, f in enumerate(kind.fields)
            if f.required or f.ref is not None}


def certificate_data(template: dict[str, Any], n: int) -> dict[str, Any]:
    """The template with its references pointing at cold-rolled coil ``n``."""
    refs = {"coil": cold_no(n), "heat": heat_no(n // 2 // SLABS_PER_HEAT),
            "organization": CUSTOMER, "site": PLANT, "spec": SPEC, "slab": None}
    data = dict(template)
    for f in KINDS["certificate"].fields:
        if f.ref is not None and f.ref.kind in refs:
            if refs[f.ref.kind] is None:
                data.pop(f.name, None)
            else:
                data[f.name] = refs[f.ref.kind]
    return data


def _value(f: Field, position: int) -> Any:
    if f.ref is not None:
        return f.ref.kind
    if f.type == "enum":
        return f.values[0]
    if f.type in ("int", "number", "decimal"):
        low = f.minimum if f.minimum is not None else f.exclusive_minimum or 0
        value = Decimal(str(low)) + 100 + 50 * position
        if f.maximum is not None:
            value = min(value, Decimal(str(f.maximum)))
        if f.type == "int":
            return int(value)
        return float(value) if f.type == "number" else f"{value:.{f.scale or 1}f}"
    return {"text": "BENCH1", "timestamp": _at(9000), "date": "2026-11-30", "bool": True,
            "object": {}, "array": []}.get(f.type)


async def certificates_fit(server: Server) -> bool:
    """Whether the certificates built here are accepted: a small plant with them is
    checked in a dry run (their references resolved, nothing written)."""
    if "certificate" not in KINDS:
        return False
    url = await server.fresh("bench_import_trial")
    lines = [(n, line) for n, line in enumerate(Plant(30, certificates=True).lines(), 1)]

    async def stream() -> AsyncIterator[tuple[int, bytes]]:
        for line in lines:
            yield line

    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        result = await run_batch(db, ACTOR, stream(), mode="each", dry_run=True)
    finally:
        await db.close()
    refused = [r for r in result.rejections if r.kind == "certificate"]
    if len(refused) < result.rejected:
        raise RuntimeError(f"the generated plant is refused: {result.as_json()}")
    if refused:
        print(f"the certificate kind refuses the certificates generated here "
              f"({refused[0].field}: {refused[0].reason}): they are left out")
    return not refused


# -- the importer, in a process of its own ------------------------------------------
def _import_command() -> bool:
    """Whether the CLI at hand has `keylink import` (an older checkout's may not)."""
    from api.cli import build_parser

    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return any("import" in a.choices for a in actions)


def _import(path: Path, url: str) -> dict[str, Any]:
    """Imports ``path`` in a child process; its time and its peak RSS."""
    env = {**os.environ, "DATABASE_URL": url, "KEYLINK_LOG_LEVEL": "WARNING"}
    if _import_command():
        command = [str(Path(sys.executable).parent / "keylink"), "import", str(path)]
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT,
                                stdout=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:  # its peak, read until it exits
            with contextlib.suppress(OSError, ValueError):
                peak = max(peak, rss_kb("VmHWM", str(proc.pid)))
            time.sleep(0.05)
        if proc.returncode:
            raise RuntimeError(f"keylink import exited with {proc.returncode}")
        return {"seconds": time.perf_counter() - started, "status": "committed",
                "peak_kb": peak, "command": "keylink import"}
    out = subprocess.run([sys.executable, "-m", "bench.importer", str(path), url],
                         env=env, cwd=PROJECT_ROOT, check=True, capture_output=True)
    figures: dict[str, Any] = json.loads(out.stdout)
    if figures["status"] != "committed":
        raise RuntimeError(f"the import was {figures['status']}: {figures['rejections']}")
    return {**figures, "command": "run_batch"}


# -- databases -----------------------------------------------------------------------
class Server:
    """The embedded server, or DATABASE_URL's; databases of the benchmark's own."""

    def __init__(self, tmp: Path) -> None:
        self._pg: Postgres | None = None
        self.admin = os.environ.get("DATABASE_URL", "")
        if not self.admin:
            self._pg = Postgres(tmp / "pg")
            self._pg.start()
            self.admin = self._pg.admin_url
        self.made: list[str] = []

    async def fresh(self, name: str) -> str:
        """A new database ``name``, migrated."""
        conn = await asyncpg.connect(self.admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.made.append(name)
        url = with_database(self.admin, name)
        await migrate(url, PROJECT_ROOT / "domain" / "migrations")
        return url

    async def close(self) -> None:
        try:
            conn = await asyncpg.connect(self.admin)
            try:
                for name in self.made:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
        finally:
            if self._pg is not None:
                self._pg.stop()


async def _check(url: str, plant: Plant) -> None:
    conn = await asyncpg.connect(url)
    try:
        coils = await conn.fetchval("SELECT count(*) FROM coil")
        edges = await conn.fetchval("SELECT count(*) FROM genealogy_edge")
    finally:
        await conn.close()
    if coils != plant.coils or edges != plant.coils:
        raise RuntimeError(f"{coils} coils and {edges} genealogy edges stored, "
                           f"{plant.coils} of each expected")


# -- the baseline --------------------------------------------------------------------
async def _copy_rate(url: str, tables: tuple[str, ...]) -> tuple[float, int]:
    """The tables' rows read back, the tables truncated, and the rows COPYed in again:
    seconds, rows."""
    conn = await asyncpg.connect(url)
    try:
        dumps: dict[str, bytes] = {}
        for table in tables:
            buffer = io.BytesIO()
            await conn.copy_from_table(table, output=buffer, format="binary")
            dumps[table] = buffer.getvalue()
        rows = sum([await conn.fetchval(f"SELECT count(*) FROM {t}") for t in tables])
        # CASCADE: the tables that refer to these (inspections, scans, ...) are empty here.
        await conn.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        await conn.execute("CHECKPOINT")
        started = time.perf_counter()
        async with conn.transaction():
            for table in tables:
                await conn.copy_to_table(table, source=io.BytesIO(dumps[table]),
                                         format="binary")
        seconds = time.perf_counter() - started
        # Settled, as after any initial load, before the trickle: autovacuum working
        # through half a million new rows, or a checkpoint writing out the pages the
        # load dirtied, would otherwise run beside it.
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return seconds, rows


# -- the trickle ---------------------------------------------------------------------
TRICKLE_QUERY = "query($n: String!) { coil(coilNumber: $n) { qualityStatus } }"
# Every how many trickled records one is also read through GraphQL.
GRAPHQL_EVERY = 10


async def _lines(line: bytes) -> AsyncIterator[bytes]:
    yield line


class _GraphQL:
    """The API's Starlette app in this process, as mill quality staff, called directly
    through ASGI (no HTTP client's work in what is measured)."""

    def __init__(self, db: Database) -> None:
        secret = secrets.token_hex(32)
        settings = Settings(jwt_secret=secret, rate_limit_per_minute=0)
        codec = TokenCodec.from_settings(settings)
        token = codec.issue(org=MILL, roles=["quality"], subject="bench", ttl_seconds=3600)
        services = Services(db=db, codec=codec, settings=settings)
        self.app = create_app(settings, services=services)
        self.app.state.services = services
        self.headers = [(b"authorization", f"Bearer {token}".encode()),
                        (b"content-type", b"application/json")]

    async def coil_status(self, coil_no: str) -> str | None:
        body = orjson.dumps({"query": TRICKLE_QUERY, "variables": {"n": coil_no}})
        done = asyncio.Event()
        parts: list[bytes] = []
        request = {"type": "http.request", "body": body, "more_body": False}

        async def receive() -> dict[str, Any]:
            nonlocal request
            if request:
                message, request = request, {}
                return message
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if not message.get("more_body"):
                    done.set()

        await self.app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                        "method": "POST", "scheme": "http", "path": "/graphql",
                        "raw_path": b"/graphql", "query_string": b"", "root_path": "",
                        "headers": [*self.headers,
                                    (b"content-length", str(len(body)).encode())],
                        "client": ("127.0.0.1", 40000), "server": ("keylink.bench", 80)},
                       receive, send)
        coil = orjson.loads(b"".join(parts))["data"]["coil"]
        return coil["qualityStatus"].lower() if coil else None


async def _until(holds: Callable[[], Awaitable[bool]]) -> None:
    """Asks until ``holds`` (the first answer after a commit should already)."""
    for _ in range(10_000):
        if await holds():
            return
        await asyncio.sleep(0.001)
    raise RuntimeError("a trickled change never became visible")


async def _trickle(url: str, plant: Plant, seconds: float, rate: float,
                   ) -> dict[str, list[float]]:
    """Coils' quality status changing at ``rate`` a second, each record a batch of its
    own, all in this process: when ``run_batch`` returned; when the coil reads changed
    through the domain read the API's coil query uses; and, for every tenth record, when
    the API's GraphQL answered with it."""
    db = await Database.connect(url, min_size=4, max_size=16)
    api = _GraphQL(db)
    everything = Scope.everything()
    latencies: dict[str, list[float]] = {"applied": [], "visible": [], "graphql": []}

    async def one(k: int, *, graphql: bool) -> None:
        n = k % plant.cold
        status = ("blocked", "released", "downgraded")[k // plant.cold % 3]
        line = orjson.dumps(_record("coil", cold_no(n), plant.cold_data(n, status),
                                    version=_VERSION + 1 + k))
        started = time.perf_counter()
        result = await run_batch(db, ACTOR, ndjson_lines(_lines(line)))
        latencies["applied"].append(time.perf_counter() - started)
        if result.applied != 1:
            raise RuntimeError(f"a trickled record was not applied: {result.as_json()}")

        async def stored() -> bool:
            coils = await coils_by_numbers(db, everything, [cold_no(n)])
            return [c.quality_status for c in coils] == [status]

        async def answered() -> bool:
            return await api.coil_status(cold_no(n)) == status

        await _until(stored)
        latencies["visible"].append(time.perf_counter() - started)
        if graphql:
            await _until(answered)
            latencies["graphql"].append(time.perf_counter() - started)

    try:
        # Warm-up: the first requests build the schema's caches.
        for k in range(5):
            await one(k, graphql=True)
        for figures in latencies.values():
            figures.clear()
        tasks = []
        began = time.perf_counter()
        for k in range(int(seconds * rate)):
            await asyncio.sleep(max(0.0, began + k / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(5 + k, graphql=k % GRAPHQL_EVERY == 0)))
        await asyncio.gather(*tasks)
    finally:
        await db.close()
    return latencies


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"records": len(ordered), "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "max_ms": 1000 * ordered[-1]}


# -- the run -------------------------------------------------------------------------
async def _run(args: argparse.Namespace) -> dict[str, Any]:
    """Each phase's figures, printed as soon as they are measured."""
    with tempfile.TemporaryDirectory(prefix="keylink-bench-import-") as tmp:
        root = Path(tmp)
        server = Server(root)
        try:
            certificates = await certificates_fit(server)
            figures: dict[str, Any] = {"certificates": certificates}
            for label, coils in (("small", args.small), ("large", args.coils)):
                plant = Plant(coils, certificates=certificates)
                path = root / f"{label}.ndjson"
                plant.write(path)
                url = await server.fresh(f"bench_import_{label}")
                done = await asyncio.to_thread(_import, path, url)
                await _check(url, plant)
                f = figures[label] = {**done, "coils": plant.coils, "records": plant.records,
                                      "bytes": path.stat().st_size,
                                      "per_s": plant.records / done["seconds"]}
                path.unlink()
                print(f"import ({f['command']}) of {f['records']:,} records ({f['coils']:,} "
                      f"coils with heats, slabs, genealogy"
                      f"{', certificates' if certificates else ''}; {f['bytes'] / 1e6:.0f} MB"
                      f" of NDJSON), one all-or-nothing batch: {f['seconds']:.1f} s, "
                      f"{f['per_s']:,.0f} records/s; importer's peak RSS "
                      f"{f['peak_kb'] / 1024:.0f} MB", flush=True)
            tables = _TABLES + ((KINDS["certificate"].table,) if certificates else ())
            seconds, rows = await _copy_rate(url, tables)
            f = figures["copy"] = {"seconds": seconds, "rows": rows,
                                   "records_per_s": plant.records / seconds,
                                   "rows_per_s": rows / seconds}
            print(f"baseline: COPY of the same {rows:,} rows into {', '.join(tables)}: "
                  f"{seconds:.1f} s, {f['records_per_s']:,.0f} records/s", flush=True)
            cpu = time.process_time()
            latencies = await _trickle(url, plant, args.trickle_seconds, 100.0)
            cpu = time.process_time() - cpu
            t = figures["trickle"] = {
                **{name: _percentiles(values) for name, values in latencies.items()},
                "cpu_ms_per_record": 1000 * cpu / len(latencies["visible"])}
            print(f"trickle at 100/s: visible p50 {t['visible']['p50_ms']:.1f} ms, "
                  f"p99 {t['visible']['p99_ms']:.1f} ms", flush=True)
            return figures
        finally:
            await server.close()


def _coils(text: str) -> int:
    """At least a slab's worth (a hot-rolled coil and the two slit from it), at most
    five million (a 2.5 GB file)."""
    n = int(text)
    if not 3 <= n <= 5_000_000:
        raise argparse.ArgumentTypeError("between 3 and 5,000,000 coils")
    return n


def _seconds(text: str) -> float:
    n = float(text)
    if not 0.1 <= n <= 600:
        raise argparse.ArgumentTypeError("between 0.1 and 600 seconds")
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--coils", type=_coils, default=200_000)
    parser.add_argument("--small", type=_coils, default=50_000,
                        help="coils in the smaller file, for the memory figure")
    parser.add_argument("--trickle-seconds", type=_seconds, default=10.0)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 3,000 and 1,000 coils, 2 s trickles")
    args = parser.parse_args()
    if args.quick:
        args.coils, args.small, args.trickle_seconds = 3_000, 1_000, 2.0
    if args.trickle_seconds * 100 + 5 > Plant(args.coils, certificates=False).cold:
        # Each trickled record changes a coil of its own.
        parser.error("the trickle needs a cold-rolled coil for each of its records: "
                     "more --coils or fewer --trickle-seconds")
    f = asyncio.run(_run(args))
    large, small, copy, trickle = f["large"], f["small"], f["copy"], f["trickle"]
    ratio = large["per_s"] / copy["records_per_s"]
    print(f"\ninitial load: {large['records']:,} records ({large['coils']:,} coils with "
          f"heats, slabs and genealogy{', certificates' if f['certificates'] else ''}), "
          f"{large['bytes'] / 1e6:.0f} MB of NDJSON, one all-or-nothing batch")
    print(f"  COPY of the same rows ({copy['rows']:,})   : {copy['records_per_s']:9,.0f} "
          f"records/s  ({copy['seconds']:.1f} s)")
    print(f"  import ({large['command']})          : {large['per_s']:9,.0f} records/s  "
          f"({large['seconds']:.1f} s)")
    print(f"  ratio import/COPY: {ratio:.2f}  (aims: 20,000 records/s, 0.25 of COPY)")
    print("peak RSS of the importer:")
    for s in (small, large):
        print(f"  {s['coils']:>9,} coils: {s['peak_kb'] / 1024:6.0f} MB"
              f"  ({s['per_s']:,.0f} records/s)")
    applied, visible, graphql = trickle["applied"], trickle["visible"], trickle["graphql"]
    print(f"trickle, {visible['records']} single records at 100/s, each its own batch "
          f"({trickle['cpu_ms_per_record']:.1f} ms of this process's CPU a record):")
    print(f"  run_batch returned (committed)    : p50 {applied['p50_ms']:6.1f} ms, "
          f"p99 {applied['p99_ms']:6.1f} ms")
    print(f"  visible to the API's coil read    : p50 {visible['p50_ms']:6.1f} ms, "
          f"p99 {visible['p99_ms']:6.1f} ms  (aim: p99 under 200)")
    print(f"  answered by GraphQL (1 in {GRAPHQL_EVERY}) : p50 {graphql['p50_ms']:6.1f} ms, "
          f"p99 {graphql['p99_ms']:6.1f} ms")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "import.json").write_text(json.dumps({**f, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()

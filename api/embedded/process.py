"""What every embedded server shares: its interface, the child process it runs as, its port.

Redis and the broker are our children, in their own session so that a Ctrl-C
reaches us alone and we stop them in order; on Linux they also get SIGTERM should
we die without stopping them. A pid file lets the next start stop a copy that
outlived a killed parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

# The package's logger, whichever of its modules logs.
log = logging.getLogger("api.embedded")

LOCALHOST = "127.0.0.1"
STOP_TIMEOUT = 10.0
START_TIMEOUT = 30.0


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


def alive(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"

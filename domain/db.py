"""The database handle the domain layer reads and writes through.

A thin shell over an asyncpg pool that (1) sets the codecs every connection needs
(jsonb with exact decimals), (2) counts statements, so a test can prove that a query
costs a fixed number of round trips, and (3) gives transactions the same interface
as the pool, so domain functions take either.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, Protocol

import asyncpg

Record = asyncpg.Record

_statement_counter: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "statement_counter", default=None
)


@contextlib.contextmanager
def count_statements() -> Any:
    """Collect the SQL of every statement run in this context (tests, diagnostics)."""
    seen: list[str] = []
    token = _statement_counter.set(seen)
    try:
        yield seen
    finally:
        _statement_counter.reset(token)


def _note(sql: str) -> None:
    seen = _statement_counter.get()
    if seen is not None:
        seen.append(sql)


def _json_dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # JSON numbers would pass through float and round: keep the exact digits as text.
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def decimals(values: dict[str, Any]) -> dict[str, Decimal]:
    """A jsonb map of exact numbers (stored as decimal strings) back to Decimals."""
    return {k: Decimal(str(v)) for k, v in values.items()}


def json_loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def json_dumps(value: Any) -> str:
    return _json_dumps(value)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_json_dumps, decoder=json_loads, format="text"
    )
    await conn.set_type_codec(
        "json", schema="pg_catalog", encoder=_json_dumps, decoder=json_loads, format="text"
    )


class Executor(Protocol):
    async def fetch(self, sql: str, *args: Any) -> list[Record]: ...
    async def fetchrow(self, sql: str, *args: Any) -> Record | None: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...
    async def execute(self, sql: str, *args: Any) -> str: ...
    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None: ...


class _Runner:
    """Statement methods shared by the pool handle and a transaction."""

    _target: Any

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        _note(sql)
        rows: list[Record] = await self._target.fetch(sql, *args)
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        _note(sql)
        row: Record | None = await self._target.fetchrow(sql, *args)
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        _note(sql)
        return await self._target.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        _note(sql)
        status: str = await self._target.execute(sql, *args)
        return status

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        _note(sql)
        await self._target.executemany(sql, args)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (unlock, close cursors, unlisten, reset
    settings): one round trip on every release, and a request releases a connection per
    statement. Pooled connections never carry session state here: LISTEN and session
    advisory locks use connections of their own, and nothing SETs a session setting. The
    pool still rolls back a transaction left open."""


class Transaction(_Runner):
    def __init__(self, conn: Any) -> None:  # a Connection or its pool proxy
        self._target = conn
        self.connection = conn


class Database(_Runner):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._target = pool
        self.pool = pool

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 2, max_size: int = 10) -> Database:
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, init=_init_connection,
            command_timeout=60, reset=_keep_session,
        )
        return cls(pool)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield Transaction(conn)

    async def close(self, *, within: float | None = None) -> None:
        """Closes the pool, waiting for its connections to be given back; ``within``
        bounds the wait, after which the connections still out are cut."""
        if within is None:
            await self.pool.close()
            return
        try:
            await asyncio.wait_for(self.pool.close(), within)
        except TimeoutError:
            self.pool.terminate()

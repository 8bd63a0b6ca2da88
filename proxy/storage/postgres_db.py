"""The PostgreSQL backend: one database shared by several Hermes replicas, on one machine or many.

The driver is asyncpg: asyncio-native, the binary protocol, and prepared
statements cached per connection, so a point read or write costs one round
trip (psycopg 3 is as well kept, but its async path measured slower in
asyncpg's and psycopg's own benchmarks, and Hermes needs nothing it adds).

Units run at READ COMMITTED, PostgreSQL's default, on a connection of their
own from a pool. What has to be exact across replicas is the budget, and it
is kept exact by a lock rather than by SERIALIZABLE retries: a reservation's
unit first takes a transaction-level advisory lock (`lock_budget`), so the
read of the day's spend, the check and the insert of the hold happen as if
alone, and every later statement sees the holds committed before it. Settling
and releasing are single UPDATEs on one row (`WHERE state = 'held'`), atomic
by themselves; they only ever lower what is spent or held, so they need not
wait for the lock. Under contention a serialisable transaction would abort
and retry exactly the reservations that matter most, and a lock queues them.

The statements are store.py's, in SQLite's spelling: `?` placeholders
become `$1, $2, ...`, and the migrations' `INTEGER PRIMARY KEY` and `REAL`
an identity column and double precision (a REAL here is 4 bytes, too
coarse for money).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

import asyncpg

from proxy.errors import StoreUnavailable
from proxy.storage.database import Database
from proxy.storage.migrations import migrate

T = TypeVar("T")
log = logging.getLogger("hermes")

POOL_SIZE = 10  # connections per replica: units are milliseconds long, a call holds none while it waits upstream
TIMEOUT_S = 15.0  # as SQLite's busy timeout: how long a statement or a wait for a connection may take
# Advisory lock keys (any two 64-bit numbers no other application on the database uses).
MIGRATION_LOCK = 0x4845524D45530001  # "HERMES" 1
BUDGET_LOCK = 0x4845524D45530002
# Errors after which the whole unit is simply tried again.
_RETRY = (asyncpg.exceptions.SerializationError, asyncpg.exceptions.DeadlockDetectedError)


class PostgresDatabase(Database):
    """A pool of asyncpg connections to one database."""

    dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=POOL_SIZE, timeout=TIMEOUT_S,
                                             command_timeout=TIMEOUT_S)
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _unavailable(exc) from None
        database = cls(pool)
        try:
            await database.atomic(database._migrate)
        except BaseException:
            await database.close()
            raise
        return database

    async def close(self) -> None:
        await super().close()
        await self._pool.close()

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        connection = self._unit_connection()
        if connection is None:
            await self.atomic(lambda: self.execute(sql, params))
            return
        await _guarded(connection.execute(_postgres(sql), *params))

    async def insert(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        connection = self._unit_connection()
        if connection is None:
            return await self.atomic(lambda: self.insert(sql, params))
        return int(await _guarded(connection.fetchval(_postgres(sql) + " RETURNING id", *params)))

    async def fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        connection = self._unit_connection() or self._pool
        return [_row(record) for record in await _guarded(connection.fetch(_postgres(sql), *params))]

    async def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return await self.fetch(sql, params)

    async def lock_budget(self) -> None:
        await self.execute("SELECT pg_advisory_xact_lock(?)", (BUDGET_LOCK,))

    def json_text(self, column: str, *path: str) -> str:
        keys = ",".join(path)
        return f"(({column})::jsonb #>> '{{{keys}}}')"

    async def _migrate(self) -> None:
        # Replicas starting together take turns; the lock ends with the unit's transaction.
        await self.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        await migrate(self)

    async def _transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, 100):
            try:
                return await self._attempt(work)
            except _RETRY:
                await asyncio.sleep(random.uniform(0.001, 0.01) * min(attempt, 10))
        return await self._attempt(work)

    async def _attempt(self, work: Callable[[], Awaitable[T]]) -> T:
        try:
            async with self._pool.acquire() as connection:
                async with connection.transaction():
                    return await self._inside(connection, work)
        except _RETRY:
            raise
        except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _unavailable(exc) from None


async def _guarded(statement: Awaitable[T]) -> T:
    """`statement`'s result, with asyncpg's errors as Hermes's (a unit's retryable ones left as they are)."""
    try:
        return await statement
    except _RETRY:
        raise
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise _unavailable(exc) from None


def _unavailable(exc: BaseException) -> StoreUnavailable:
    """The one place asyncpg's errors become Hermes's: a 503 that says what is wrong, never a 500."""
    log.warning("database error: %s: %s", type(exc).__name__, exc)
    return StoreUnavailable(f"Hermes's database is unavailable ({type(exc).__name__}: {exc}); try again shortly.")


def _row(record: asyncpg.Record) -> dict[str, Any]:
    # SUM and AVG of integers are NUMERIC here; SQLite gives numbers, and so does this.
    return {key: float(value) if isinstance(value, Decimal) else value for key, value in record.items()}


_QUOTED_OR_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\$\$.*?\$\$|\?", re.DOTALL)


@lru_cache(maxsize=512)
def _postgres(sql: str) -> str:
    """store.py's SQLite spelling of `sql` in PostgreSQL's: numbered placeholders, and the column types."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) != "?":
            return match.group(0)  # a string literal or a function body: left as written
        count += 1
        return f"${count}"

    sql = _QUOTED_OR_PLACEHOLDER.sub(number, sql)
    sql = re.sub(r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)

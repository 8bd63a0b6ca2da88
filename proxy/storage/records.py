"""What the store's parts share: the database, its units of work, and the time stamps they write.

store.py's Store is made of these parts (store_sessions.py, store_keys.py); each
writes its SQL once, in what SQLite and PostgreSQL both speak.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timezone
from typing import Any, TypeVar

from proxy.storage.database import Database

T = TypeVar("T")


class Records:
    """A part of the store: statements on one database, time-stamped by one clock (tests move it on)."""

    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._clock = clock or utc_now

    def now(self) -> str:
        """The time stamp rows are written with: ISO 8601, UTC."""
        return self._clock().isoformat()

    async def atomic(self, work: Callable[[], Awaitable[T]],
                     abandoned: Callable[[T], Awaitable[None]] | None = None) -> T:
        """Run `work` as one transaction, whole even if the caller is cancelled (transactions.py)."""
        return await self._db.atomic(work, abandoned)

    async def run_to_end(self, work: Coroutine[Any, Any, T],
                         abandoned: Callable[[T], Awaitable[None]] | None = None) -> T:
        """Await `work`, which goes on to its end if the caller is cancelled."""
        return await self._db.run_to_end(work, abandoned)

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task running `work` to its end, whoever awaits it (await it through `asyncio.shield`)."""
        return self._db.spawn(work)

    async def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        await self._db.execute(sql, params)

    async def rows(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        """The rows of one read-only query, as dicts, off the calls' path (reports.py builds on this)."""
        return await self._db.rows(sql, params)

    def json_text(self, column: str, *path: str) -> str:
        """SQL for the text at `path` in the JSON of `column`, in this backend's dialect (for reports)."""
        return self._db.json_text(column, *path)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)

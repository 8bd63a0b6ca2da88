"""The SQLite backend: one file on this machine, shared safely by every Hermes process using it.

WAL mode with `synchronous=NORMAL`: a commit is in the WAL when it returns,
so a killed process loses nothing committed, and no fsync waits on the hot
path; an OS crash or power cut can lose the commits since the WAL was last
synced (at each checkpoint), never corrupt the file (see the README).

Two connections: the calls' own statements (point reads and writes on
indexed rows) run on the event loop's thread (sqlite_inline.py), and
`rows`, for reports that scan whole tables, on aiosqlite's thread, read-only.
A unit takes SQLite's write lock at BEGIN (`BEGIN IMMEDIATE`), so a
read-check-write such as a budget reservation is atomic across every process
sharing the file, not only within this one.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from proxy.storage.database import Database
from proxy.storage.migrations import migrate
from proxy.storage.sqlite_errors import BUSY_TIMEOUT_MS, is_locked, retrying_when_locked, unavailable
from proxy.storage.sqlite_group import CommitGroups
from proxy.storage.sqlite_inline import InlineConnection

T = TypeVar("T")
# Pages freed per unit of `reclaim`: 4 MB, a few milliseconds of the write lock.
RECLAIM_PAGES = 1000


class SQLiteDatabase(Database):
    """The inline connection for the calls, a read-only aiosqlite one for reports."""

    dialect = "sqlite"

    def __init__(self, db: InlineConnection, reports: aiosqlite.Connection) -> None:
        super().__init__()
        self._db = db
        self._reports = reports
        self._write_lock = asyncio.Lock()  # one connection: its units take turns
        self._waiting: list[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]] = []  # the next batch
        self._groups = CommitGroups(db, self._write_lock.locked, self.spawn)

    @classmethod
    async def open(cls, path: Path) -> SQLiteDatabase:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = InlineConnection(path)  # transactions are ours, never implicit
        try:
            await retrying_when_locked(db.set_up_wal)  # another process may be setting the file up too
            reports = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
        except BaseException:
            await db.close()
            raise
        reports.row_factory = aiosqlite.Row
        database = cls(db, reports)
        try:
            await reports.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # Under the write lock: processes starting together on one file take turns,
            # and each sees what the one before it applied.
            await database.atomic(lambda: migrate(database))
        except BaseException:
            await database.close()
            raise
        return database

    async def close(self) -> None:
        await super().close()
        self._groups.commit()
        await self._db.close()
        await self._reports.close()

    async def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        await self.insert(sql, params)

    async def insert(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        async def write() -> int:
            return int(self._db.run(sql, params).lastrowid or 0)

        return await (write() if self._inside_unit() else self.atomic(write))

    async def fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        if self._inside_unit():
            return self._db.dicts(sql, params)  # a lock here fails the whole unit, which is tried again whole

        async def read() -> list[dict[str, Any]]:
            return self._db.dicts(sql, params)

        return await retrying_when_locked(read)

    async def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        async def read() -> list[dict[str, Any]]:
            return [dict(row) for row in await self._reports.execute_fetchall(sql, params)]  # one trip

        return await retrying_when_locked(read)

    async def lock_budget(self) -> None:
        """Nothing more to do: the unit's BEGIN IMMEDIATE holds the file's write lock already."""

    def json_text(self, column: str, *path: str) -> str:
        return f"json_extract({column}, '$.{'.'.join(path)}')"

    async def atomic(self, work: Callable[[], Awaitable[T]],
                     abandoned: Callable[[T], Awaitable[None]] | None = None) -> T:
        """As `Transactions.atomic`, in the caller's own task when the file's write lock is free.

        A unit's statements run where they are awaited (sqlite_inline.py), so
        a unit that gets the lock at once never gives the event loop a chance
        to cancel it half-way: it runs to its end here, without the task of
        its own and the two trips round the loop that costs (a tenth of a
        relayed call's time). Under load it shares its COMMIT with the units
        of the same turn of the loop (sqlite_group.py). Only a unit that must
        wait, for this connection or for another process's lock, waits in a
        task of its own.
        """
        if self._inside_unit():
            return await work()
        await self._db.writable()  # before anything starts: waiting here leaves nothing half-done
        if not self._write_lock.locked():
            try:
                async with self._write_lock:  # free: taken without waiting
                    if not self._groups.wanted():
                        return await self._alone(work)
                    group = self._groups.join()
                    try:
                        result = await self._in_savepoint(work)
                    except BaseException:
                        if not group.units and group is self._groups.open:  # nothing else in it: free the file
                            self._groups.commit()
                        raise
            except sqlite3.Error as exc:
                if not is_locked(exc):  # "locked" can only come from BEGIN: nothing has run
                    raise unavailable(exc) from None
            else:
                await self._groups.wait(group, None if abandoned is None else lambda: abandoned(result))
                return result
        return await super().atomic(work, abandoned)  # another process has the file: wait for it

    async def _alone(self, work: Callable[[], Awaitable[T]]) -> T:
        """`work` in a transaction of its own, committed before it returns."""
        if self._db.in_transaction:  # cannot happen; heal rather than fail every later write
            self._db.rollback()
        self._db.run("BEGIN IMMEDIATE")
        try:
            result = await self._inside(self._db, work)
        except BaseException:
            self._db.rollback()
            raise
        self._db.commit()
        self._groups.committed_alone()
        return result

    async def _in_savepoint(self, work: Callable[[], Awaitable[T]]) -> T:
        """`work` inside the open transaction, undone alone if it fails."""
        self._db.run("SAVEPOINT unit")
        try:
            result = await self._inside(self._db, work)
        except BaseException as exc:
            if self._db.in_transaction:
                self._db.run("ROLLBACK TO unit")
                self._db.run("RELEASE unit")
            elif self._groups.open is not None and isinstance(exc, sqlite3.Error):
                # SQLite undid the whole transaction (a full disk, an I/O error): the group's other units too.
                self._groups.lose(self._groups.open, unavailable(exc))
            raise
        self._db.run("RELEASE unit")
        return result

    async def reclaim(self) -> None:
        """Free pages back to the file system, RECLAIM_PAGES per unit, then the WAL copied back and emptied.

        A file made before auto_vacuum was on is rebuilt once (VACUUM, on a
        thread): writers wait for that one copy, seconds for hundreds of MB.
        """
        try:
            if self._db.run("PRAGMA auto_vacuum").fetchone()[0] == 0:
                await asyncio.to_thread(_vacuum, self._db.path)
        except sqlite3.Error as exc:
            raise unavailable(exc) from None

        async def step() -> int:
            self._db.run(f"PRAGMA incremental_vacuum({RECLAIM_PAGES})").fetchall()
            return int(self._db.run("PRAGMA freelist_count").fetchone()[0])

        while await self.atomic(step):
            await asyncio.sleep(0)  # requests go between the steps
        try:
            await asyncio.to_thread(_checkpoint, self._db.path)
        except sqlite3.Error as exc:
            raise unavailable(exc) from None

    async def _transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        """A unit that waited: it joins the next batch, which runs every waiting unit in one transaction.

        Units wait while another process holds the file, and every one of them
        meeting its lock would otherwise wait its own turn and take it alone: two
        workers on one file relayed fewer calls than one. A batch takes the lock
        once, runs each unit inside a savepoint (one that fails is rolled back
        alone) and commits them together; each caller returns after that commit.
        """
        self._groups.others_write()
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, done))
        if not self._write_lock.locked():  # no batch is gathering: this one gathers, for every unit waiting
            async with self._write_lock:
                try:
                    await retrying_when_locked(self._run_waiting)
                except BaseException as exc:  # the batch never began, or did not commit: none of it happened
                    for _, waiting in self._drain():
                        if isinstance(exc, Exception):
                            waiting.set_exception(exc)
                        else:
                            waiting.cancel()
                    if not isinstance(exc, Exception):
                        raise
        return await done

    def _drain(self) -> list[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]]:
        batch, self._waiting = [w for w in self._waiting if not w[1].done()], []
        return batch

    async def _run_waiting(self) -> None:
        """One batch: BEGIN IMMEDIATE, each waiting unit in a savepoint, COMMIT; then each caller its result."""
        await self._db.writable()
        self._groups.commit()  # the units that ran before this batch gathered go first
        if self._db.in_transaction:  # cannot happen; heal rather than fail every later write
            self._db.rollback()
        self._db.run("BEGIN IMMEDIATE")  # "locked": retrying_when_locked waits, and more units gather
        ran: list[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any], Any]] = []
        pending: list[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]] = []
        try:
            while self._waiting:  # units run inline: none can join once a unit has begun, but one may add one
                pending = self._drain()
                while pending:
                    work, done = pending[0]
                    try:
                        ran.append((work, done, await self._in_savepoint(work)))
                    except Exception as exc:
                        done.set_exception(unavailable(exc) if isinstance(exc, sqlite3.Error) else exc)
                    pending.pop(0)
            self._db.commit()
        except BaseException:
            self._db.rollback()
            # Rolled back with the rest, or not run: each is run again, or fails with the batch, never left waiting.
            self._waiting[:0] = [(work, done) for work, done, _ in ran] + pending
            raise
        for _, done, result in ran:
            if not done.done():
                done.set_result(result)


def _vacuum(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("VACUUM")
    finally:
        conn.close()


def _checkpoint(path: Path, tries: int = 50) -> None:
    """Copy the WAL back and empty it (TRUNCATE), so the space freed leaves the WAL file too.

    Tried again while the Checkpointer's own checkpoint runs (that one answers "busy" at once).
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        for _ in range(tries):
            [(busy, _, _)] = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            if not busy:
                return
            time.sleep(0.1)
    finally:
        conn.close()
